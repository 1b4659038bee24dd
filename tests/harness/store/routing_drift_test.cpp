// Routing metrics against hand-computed values on traces built in the test.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/routing_drift.h"

using namespace wobble;

namespace {

// A trace over 2 layers, 4 experts, k = 2, one token per entry of `sets` (same set at both layers).
std::vector<uint8_t> trace_of(const std::vector<std::pair<uint16_t, uint16_t>>& sets, float entropy = 1.f) {
  moe::RoutingTrace t(2, 4, 2);
  for (auto [a, b] : sets)
    for (uint32_t l = 0; l < 2; ++l) {
      uint16_t e[2] = {a, b};
      float w[2] = {0.6f, 0.4f};
      t.append(l, e, w, entropy, 0.1f);
    }
  return t.serialize();
}

SampleRecord sample(const std::string& variant, int repeat, std::vector<int32_t> prompt, std::vector<int32_t> gen,
                    std::vector<uint8_t> trace, Outcome o = Outcome::kPass) {
  SampleRecord s;
  s.case_id = "c";
  s.variant_id = variant;
  s.repeat = repeat;
  s.ok = true;
  s.output = "x";
  s.prompt_token_ids = std::move(prompt);
  s.token_ids = std::move(gen);
  s.routing_trace = std::move(trace);
  CriterionResult r;
  r.criterion_id = "k";
  r.outcome = o;
  s.scores.push_back(r);
  return s;
}

}  // namespace

TEST(RoutingMetrics, JensenShannonAndOverlap) {
  EXPECT_DOUBLE_EQ(jensen_shannon({0.5, 0.5}, {0.5, 0.5}), 0.0);
  EXPECT_DOUBLE_EQ(jensen_shannon({1, 0}, {0, 1}), 1.0);
  // p = (1, 0), q = (0.5, 0.5): m = (0.75, 0.25); JSD = 0.5*log2(1/0.75) + 0.5*(0.5*log2(0.5/0.75) + 0.5*log2(0.5/0.25)).
  double want = 0.5 * std::log2(1 / 0.75) + 0.5 * (0.5 * std::log2(0.5 / 0.75) + 0.5 * std::log2(2.0));
  EXPECT_NEAR(jensen_shannon({1, 0}, {0.5, 0.5}), want, 1e-12);
  uint16_t a[2] = {1, 2}, b[2] = {2, 3}, c[2] = {2, 1};
  EXPECT_DOUBLE_EQ(topk_overlap(a, b), 0.5);
  EXPECT_DOUBLE_EQ(topk_overlap(a, c), 1.0);
}

TEST(RoutingMetrics, UsageRepetitionOverlapAndDivergences) {
  // Prompt of 2 tokens, then generated tokens. Repeat 1 matches repeat 0's token ids for 1 generated
  // token, and its routing differs at trace token 2 (the first generated position).
  auto r0 = sample("v", 0, {5, 6}, {7, 8, 9}, trace_of({{0, 1}, {0, 1}, {2, 3}, {2, 3}}));
  auto r1 = sample("v", 1, {5, 6}, {7, 4, 9}, trace_of({{0, 1}, {0, 1}, {2, 0}, {1, 3}}), Outcome::kFail);
  RoutingAnalysis r = analyze_routing_samples({r0, r1}, nullptr, 0.1, 0.8);
  ASSERT_TRUE(r.has_traces);
  ASSERT_EQ(r.groups.size(), 1u);
  const auto& g = r.groups[0];
  // Repeat 0: selections per layer e0,e1,e0,e1,e2,e3,e2,e3 -> usage (0.25, 0.25, 0.25, 0.25): CV 0.
  EXPECT_DOUBLE_EQ(g.repeats[0].usage[0][0], 0.25);
  EXPECT_DOUBLE_EQ(g.repeats[0].load_cv, 0.0);
  // Repetition: token 1 repeats token 0, token 2 does not, token 3 repeats token 2 -> 2/3.
  EXPECT_NEAR(g.repeats[0].repetition, 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(g.repeats[0].entropy, 1.0, 1e-3);
  EXPECT_DOUBLE_EQ(g.prompt_overlap, 1.0);
  EXPECT_DOUBLE_EQ(g.prompt_exact, 1.0);
  // Generated: token ids agree for 1 token -> trace position 2 compared: {2,3} vs {2,0} -> overlap 0.5.
  EXPECT_EQ(g.gen_compared, 1);
  EXPECT_DOUBLE_EQ(g.gen_overlap, 0.5);
  EXPECT_DOUBLE_EQ(g.gen_exact, 0.0);
  ASSERT_TRUE(g.first_routing_divergence);
  EXPECT_EQ(g.first_routing_divergence->first, 2);
  EXPECT_EQ(g.first_routing_divergence->second, 0u);
  ASSERT_TRUE(g.first_output_divergence_token);
  EXPECT_EQ(*g.first_output_divergence_token, 1);
}

TEST(RoutingMetrics, VariantAndBaselineJsd) {
  auto a = sample("plain", 0, {1}, {}, trace_of({{0, 1}}));
  auto b = sample("role", 0, {1}, {}, trace_of({{2, 3}}), Outcome::kFail);
  RoutingAnalysis r = analyze_routing_samples({a, b}, nullptr, 0.1, 0.8);
  ASSERT_EQ(r.variants.size(), 1u);
  EXPECT_DOUBLE_EQ(r.variants[0].mean_jsd, 1.0);  // disjoint experts
  EXPECT_DOUBLE_EQ(r.variants[0].pass_rate_a, 1.0);
  EXPECT_DOUBLE_EQ(r.variants[0].pass_rate_b, 0.0);
  // Baseline: identical routing is not flagged; moved routing is.
  std::vector<SampleRecord> same = {a};
  RoutingAnalysis s = analyze_routing_samples({a}, &same, 0.1, 0.8);
  ASSERT_EQ(s.baseline.size(), 1u);
  EXPECT_DOUBLE_EQ(s.baseline[0].mean_jsd, 0.0);
  EXPECT_DOUBLE_EQ(s.baseline[0].prompt_overlap, 1.0);
  EXPECT_FALSE(s.baseline[0].flagged);
  auto moved = a;
  moved.routing_trace = trace_of({{0, 2}});
  std::vector<SampleRecord> base = {moved};
  RoutingAnalysis d = analyze_routing_samples({a}, &base, 0.1, 0.8);
  EXPECT_DOUBLE_EQ(d.baseline[0].prompt_overlap, 0.5);
  EXPECT_TRUE(d.baseline[0].flagged);
  // A corrupt trace blob is skipped, not fatal.
  auto bad = a;
  bad.routing_trace = {1, 2, 3};
  EXPECT_FALSE(analyze_routing_samples({bad}, nullptr, 0.1, 0.8).has_traces);
}

namespace {

// An ids-only trace (as a server reports it) over 1 layer, k = 1; n_expert inferred from the ids
// unless given.
std::vector<uint8_t> ids_trace(const std::vector<uint16_t>& ids, uint32_t n_expert_known = 0) {
  uint32_t n = n_expert_known;
  for (auto e : ids) n = std::max<uint32_t>(n, e + 1u);
  auto t = moe::RoutingTrace::ids_only(1, n, 1, n_expert_known != 0);
  for (auto e : ids) t.append_ids(0, &e);
  return t.serialize();
}

}  // namespace

TEST(RoutingMetrics, IdsOnlyTracesGiveIdMetricsAndSayWhyTheRestIsNa) {
  // Repeat 0 uses experts up to 3, repeat 1 up to 5: the inferred widths differ (4 vs 6) and the
  // group's usage must be laid out at 6. Prompt of 3 tokens; repeat 1's prompt routing differs at
  // token 1; generated token ids part at index 1, routing of generated token 0 equal.
  auto r0 = sample("v", 0, {1, 2, 3}, {7, 8}, ids_trace({0, 1, 3, 2}));
  auto r1 = sample("v", 1, {1, 2, 3}, {7, 9}, ids_trace({0, 5, 3, 2}));
  auto r2 = sample("w", 0, {1, 2, 3}, {7, 8}, ids_trace({4, 4, 4, 4}));
  auto absent = sample("w", 1, {}, {}, {});
  absent.routing_error = "the response has no choices[0].routed_experts";
  RoutingAnalysis r = analyze_routing_samples({r0, r1, r2, absent}, nullptr, 0.1, 0.8);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_TRUE(r.ids_only);
  const auto& g = r.groups[0];
  EXPECT_EQ(g.n_expert, 6u);
  ASSERT_EQ(g.usage.size(), 1u);
  ASSERT_EQ(g.usage[0].size(), 6u);
  EXPECT_DOUBLE_EQ(g.usage[0][5], 1.0 / 8.0);  // one of 8 selections
  EXPECT_DOUBLE_EQ(g.usage[0][4], 0.0);
  EXPECT_TRUE(std::isnan(g.entropy));
  EXPECT_FALSE(g.entropy_na.empty());
  EXPECT_TRUE(std::isnan(g.load_cv));
  EXPECT_NE(g.load_cv_na.find("n_experts"), std::string::npos);
  ASSERT_TRUE(g.first_prompt_divergence);
  EXPECT_EQ(*g.first_prompt_divergence, std::make_pair(int64_t(1), uint32_t(0)));
  EXPECT_FALSE(g.first_generated_divergence);
  EXPECT_EQ(g.first_output_divergence_token, 1);
  EXPECT_EQ(g.repeats_compared, 1);
  EXPECT_EQ(g.prompt_divergent_repeats, 1);
  EXPECT_DOUBLE_EQ(g.prompt_exact, 2.0 / 3.0);
  EXPECT_EQ(g.gen_compared, 1);
  // Variants v and w: usage at widths 6 and 5, compared at 6; w used expert 4 only.
  ASSERT_EQ(r.variants.size(), 1u);
  EXPECT_DOUBLE_EQ(r.variants[0].jsd[0], 1.0);
  EXPECT_EQ(r.absent_samples, 1);
  ASSERT_EQ(r.absent.size(), 1u);
  EXPECT_EQ(r.absent[0].second, 1);
  // With the expert count known, load CV is a number: 2 of 8 experts used evenly.
  auto k0 = sample("v", 0, {1}, {}, ids_trace({0, 1}, 8));
  RoutingAnalysis known = analyze_routing_samples({k0}, nullptr, 0.1, 0.8);
  ASSERT_EQ(known.groups.size(), 1u);
  EXPECT_TRUE(known.groups[0].load_cv_na.empty());
  // shares 0.5, 0.5, 0 x 6; mean 1/8; sd = sqrt((2 * (0.375)^2 + 6 * (0.125)^2) / 8)
  EXPECT_NEAR(known.groups[0].load_cv, std::sqrt((2 * 0.375 * 0.375 + 6 * 0.125 * 0.125) / 8) / 0.125, 1e-12);
}
