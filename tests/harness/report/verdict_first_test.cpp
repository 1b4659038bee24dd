// Issue 17 §2: every format leads with the verdict; unstable criteria come most unstable first with
// their quoted disagreement; --only-unstable limits every section; variants are compared per
// criterion; latency percentiles; the routing permutation test; the SVG details the HTML relies on;
// and the metric table that the docs embed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "analysis/metric_definitions.h"
#include "analysis/routing_drift.h"
#include "analysis/stability.h"
#include "report/report.h"
#include "report/svg_chart.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

SampleRecord sample(const std::string& case_id, const std::string& variant, int repeat,
                    std::vector<std::pair<std::string, bool>> results) {
  SampleRecord s;
  s.id = 1000 + repeat;
  s.case_id = case_id;
  s.variant_id = variant;
  s.repeat = repeat;
  s.ok = true;
  s.output = "answer " + std::to_string(repeat);
  s.latency_s = 1;
  for (const auto& [id, pass] : results) {
    CriterionResult r;
    r.criterion_id = id;
    r.outcome = pass ? Outcome::kPass : Outcome::kFail;
    r.score = pass ? 1 : 0;
    r.reason = pass ? "ok" : "wrong";
    r.expected = "42";
    r.evidence = {0, 6, pass ? "good-" + std::to_string(repeat) : "bad-" + std::to_string(repeat)};
    s.scores.push_back(r);
  }
  return s;
}

// One criterion per case, passing on the first `passes` of `n` repeats:
//   q1: 1/5 (|p-.5| = .3)  q2: 3/5 (.1)  q3: 2/4 (0, wide)  q4: 5/10 (0, narrower)  q5: 5/5  q6: 0/5
RunAnalysis ordered_run() {
  RunRecord run;
  run.id = 7;
  run.suite_name = "order";
  run.status = "complete";
  run.model_id = "openai:m";
  std::vector<SampleRecord> ss;
  auto add = [&](const std::string& c, int passes, int n) {
    for (int r = 0; r < n; ++r) ss.push_back(sample(c, "v", r, {{"crit", r < passes}}));
  };
  add("q1", 1, 5);
  add("q2", 3, 5);
  add("q3", 2, 4);
  add("q4", 5, 10);
  add("q5", 5, 5);
  add("q6", 0, 5);
  return analyze_samples(run, ss);
}

std::string md_of(const RunAnalysis& a, ReportOptions o = {}) {
  std::ostringstream os;
  render_markdown(a, os, nullptr, o);
  return os.str();
}

// Positions of the case ids in `text`, in the order they are given; npos when missing.
std::vector<size_t> positions(const std::string& text, const std::vector<std::string>& needles) {
  std::vector<size_t> out;
  for (const auto& n : needles) out.push_back(text.find(n));
  return out;
}

void expect_increasing(const std::vector<size_t>& p, const std::string& text) {
  for (size_t i = 0; i < p.size(); ++i) ASSERT_NE(p[i], std::string::npos) << i << "\n" << text;
  for (size_t i = 1; i < p.size(); ++i) EXPECT_LT(p[i - 1], p[i]) << i << "\n" << text;
}

}  // namespace

TEST(VerdictFirst, UnstableCriteriaAreOrderedByPassRateNearestHalfThenWiderInterval) {
  RunAnalysis a = ordered_run();
  ASSERT_EQ(a.unstable, 4);
  EXPECT_EQ(a.stable_pass, 1);
  EXPECT_EQ(a.stable_fail, 1);
  std::vector<std::string> order;
  for (size_t i : a.criteria_by_instability()) order.push_back(a.criteria[i].case_id);
  EXPECT_EQ(order, (std::vector<std::string>{"q3", "q4", "q2", "q1", "q6", "q5"}));

  // The same order in every format.
  const std::string md = md_of(a);
  expect_increasing(positions(md, {"## Verdict", "| q3 |", "| q4 |", "| q2 |", "| q1 |", "## Other criteria", "| q6 |",
                                   "q5 / v"}),
                    md);
  nlohmann::json j = report_json(a);
  ASSERT_EQ(j["verdict"]["unstable"].size(), 4u);
  EXPECT_EQ(j["verdict"]["unstable"][0]["case"], "q3");
  EXPECT_EQ(j["verdict"]["unstable"][3]["case"], "q1");
  EXPECT_EQ(j["verdict"]["counts"]["stable_fail"], 1);
  EXPECT_EQ(j["criteria"][4]["case"], "q6");  // stable-fail before stable-pass
  std::ostringstream junit, summary;
  render_junit(a, junit);
  render_summary(a, summary);
  expect_increasing(positions(junit.str(), {"<properties>", "wobble.unstable.1\" value=\"q3/", "wobble.unstable.4\" value=\"q1/",
                                            "</properties>", "classname=\"order.q3.v\"", "classname=\"order.q1.v\"",
                                            "classname=\"order.q6.v\"", "classname=\"order.q5.v\""}),
                    junit.str());
  expect_increasing(positions(summary.str(), {"Verdict", "| q3 |", "| q4 |", "| q2 |", "| q1 |", "Stable-fail", "| q6 |"}),
                    summary.str());
  std::ostringstream html;
  render_html(a, html);
  expect_increasing(positions(html.str(), {"id=\"verdict\"", "q3 / v / <b>crit", "q1 / v / <b>crit", "id=\"pass-rates\""}),
                    html.str());
}

TEST(VerdictFirst, JsonTextStartsWithTheVerdictAndEndsWithTheSamples) {
  std::string text = report_json_text(report_json(ordered_run()));
  EXPECT_EQ(text.rfind("{\n  \"verdict\": {", 0), 0u) << text.substr(0, 200);
  size_t samples = text.find("\n  \"samples\": ");
  ASSERT_NE(samples, std::string::npos);
  EXPECT_EQ(text.find("\n  \"", samples + 1), std::string::npos) << "samples is not the last key";
  // Re-indenting kept it valid and equal to the document.
  EXPECT_EQ(nlohmann::json::parse(text), report_json(ordered_run()));
}

// The text `wobble report --format json` writes section by section is the whole document's text,
// with empty arrays and with --only-unstable.
TEST(VerdictFirst, StreamedJsonIsTheWholeDocumentsText) {
  const RunAnalysis a = ordered_run();
  for (bool only_unstable : {false, true}) {
    ReportOptions o;
    o.only_unstable = only_unstable;
    std::ostringstream os;
    write_report_json(os, a, nullptr, o);
    EXPECT_EQ(os.str(), report_json_text(report_json(a, nullptr, o))) << only_unstable;
  }
  RunAnalysis empty;
  std::ostringstream os;
  write_report_json(os, empty);
  EXPECT_EQ(os.str(), report_json_text(report_json(empty)));
}

TEST(VerdictFirst, DisagreementQuotesTheLowestPassingAndFailingRepeats) {
  RunAnalysis a = ordered_run();
  for (const auto& c : a.criteria) {
    if (c.case_id == "q2") {  // passes on repeats 0-2, fails on 3-4
      ASSERT_TRUE(c.disagreement.pass && c.disagreement.fail);
      EXPECT_EQ(c.disagreement.pass->repeat, 0);
      EXPECT_EQ(c.disagreement.pass->text, "good-0");
      EXPECT_EQ(c.disagreement.fail->repeat, 3);
      EXPECT_EQ(c.disagreement.fail->text, "bad-3");
      EXPECT_EQ(c.disagreement.fail->reason, "wrong");
      EXPECT_EQ(c.expected, "42");
    }
    if (c.verdict != Verdict::kUnstable) EXPECT_FALSE(c.disagreement.pass || c.disagreement.fail) << c.case_id;
  }
  const std::string md = md_of(a);
  EXPECT_NE(md.find("| #0 “good-0”: ok | #3 “bad-3”: wrong |"), std::string::npos) << md;
}

TEST(VerdictFirst, PerRepeatTablesOnlyWithDetail) {
  RunAnalysis a = ordered_run();
  EXPECT_EQ(md_of(a).find("## Per-repeat results"), std::string::npos);
  ReportOptions o;
  o.detail = true;
  const std::string md = md_of(a, o);
  expect_increasing(positions(md, {"## Verdict", "## Run", "## Per-repeat results", "## Appendix"}), md);
}

TEST(VerdictFirst, OnlyUnstableLimitsEverySection) {
  RunAnalysis a = ordered_run();
  ReportOptions o;
  o.only_unstable = true;
  const std::string md = md_of(a, o);
  EXPECT_NE(md.find("| q3 |"), std::string::npos);
  EXPECT_EQ(md.find("q5"), std::string::npos) << md;
  EXPECT_EQ(md.find("q6"), std::string::npos) << md;
  nlohmann::json j = report_json(a, nullptr, o);
  EXPECT_EQ(j["criteria"].size(), 4u);
  for (const auto& c : j["criteria"]) EXPECT_EQ(c["verdict"], "unstable");
  for (const auto& s : j["samples"]) EXPECT_NE(s["case"], "q5");
  for (const auto& g : j["groups"]) EXPECT_NE(g["case"], "q6");
  std::ostringstream junit, html, summary;
  render_junit(a, junit, o);
  render_html(a, html, nullptr, o);
  render_summary(a, summary, o);
  EXPECT_EQ(junit.str().find("order.q5.v"), std::string::npos);
  EXPECT_NE(junit.str().find("tests=\"4\""), std::string::npos) << junit.str();
  EXPECT_EQ(html.str().find("q6 / v"), std::string::npos);
  EXPECT_EQ(html.str().find("Criteria across cases"), std::string::npos);
  // The routing section follows the same limit.
  RoutingAnalysis r;
  r.has_traces = true;
  for (const char* c : {"q3", "q5"}) {
    GroupRouting g;
    g.case_id = c;
    g.variant_id = "v";
    g.usage = {{0.5, 0.5}};
    r.groups.push_back(g);
  }
  std::ostringstream routed;
  render_routing_html(r, routed, &a, true);
  EXPECT_NE(routed.str().find("Expert usage: q3 / v"), std::string::npos);
  EXPECT_EQ(routed.str().find("Expert usage: q5 / v"), std::string::npos);
  EXPECT_EQ(summary.str().find("q6"), std::string::npos);
}

TEST(VerdictFirst, SuiteGateLeadsWhenTheSuiteSetsThresholds) {
  RunAnalysis a = ordered_run();
  EXPECT_NE(md_of(a).find("the suite sets no thresholds"), std::string::npos);
  a.run.plan.suite.gate.max_unstable = 2;
  const std::string md = md_of(a);
  EXPECT_NE(md.find("**Gate FAILED**"), std::string::npos) << md;
  EXPECT_LT(md.find("**Gate FAILED**"), md.find("| q3 |"));
  EXPECT_EQ(report_json(a)["verdict"]["gate"]["passed"], false);
  a.run.plan.suite.gate.max_unstable = 4;
  EXPECT_NE(md_of(a).find("**Gate PASSED**"), std::string::npos);
}

TEST(VariantDeltas, ComparedPerCriterionNotPooled) {
  // The case: `format` always passes and `correct` always fails under both variants, so the
  // pooled pass rate is 0.5 -> 0.5; and a second case where only `correct` moves.
  RunRecord run;
  run.status = "complete";
  std::vector<SampleRecord> ss;
  for (int r = 0; r < 5; ++r) {
    ss.push_back(sample("add-1", "no-role", r, {{"format", true}, {"correct", false}}));
    ss.push_back(sample("add-1", "role", r, {{"format", true}, {"correct", false}}));
    ss.push_back(sample("add-2", "no-role", r, {{"format", true}, {"correct", false}}));
    ss.push_back(sample("add-2", "role", r, {{"format", true}, {"correct", r < 4}}));
  }
  RunAnalysis a = analyze_samples(run, ss);
  ASSERT_EQ(a.variant_deltas.size(), 4u);
  const auto& d = a.variant_deltas[3];
  EXPECT_EQ(d.case_id, "add-2");
  EXPECT_EQ(d.variant_a, "no-role");
  EXPECT_EQ(d.variant_b, "role");
  EXPECT_EQ(d.criterion_id, "correct");
  EXPECT_DOUBLE_EQ(d.pass_rate_a, 0.0);
  EXPECT_DOUBLE_EQ(d.pass_rate_b, 0.8);
  EXPECT_DOUBLE_EQ(d.delta, 0.8);
  EXPECT_NEAR(d.fisher_p, 12.0 / 252, 1e-9);  // two-sided Fisher exact on [[0,5],[4,1]]: tables k=0 and k=4, 6/252 each
  EXPECT_EQ(variant_delta_text(a, "add-1", "no-role", "role"), "format 1.00→1.00, correct 0.00→0.00");
  const std::string md = md_of(a);
  EXPECT_NE(md.find("| add-2 | no-role → role | correct | 0/5 | 4/5 | +0.80 | 0.048 | stable-fail → unstable |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("3 (case, criterion) pairs have the same pass rate"), std::string::npos) << md;
}

TEST(Usage, LatencyPercentilesAndTokensPerProvider) {
  std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 5.5);
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.95), 9.55);
  EXPECT_DOUBLE_EQ(percentile_sorted({3}, 0.95), 3);
  EXPECT_TRUE(std::isnan(percentile_sorted({}, 0.5)));

  RunRecord run;
  run.status = "complete";
  run.model_id = "openai:gpt-x";
  std::vector<SampleRecord> ss;
  for (int r = 0; r < 10; ++r) {
    SampleRecord s = sample("c", "v", r, {{"x", true}});
    s.latency_s = double(10 - r);  // stored out of order
    s.prompt_tokens = 20;
    s.completion_tokens = r;       // mean 4.5
    ss.push_back(s);
  }
  SampleRecord failed = sample("c", "v", 10, {});
  failed.ok = false;
  failed.latency_s = 100;  // a failure's time is not a latency of an answer
  ss.push_back(failed);
  RunAnalysis a = analyze_samples(run, ss);
  ASSERT_EQ(a.usage.size(), 1u);
  const auto& u = a.usage[0];
  EXPECT_EQ(u.provider, "openai:gpt-x");
  EXPECT_EQ(u.samples, 11);
  EXPECT_EQ(u.failed, 1);
  EXPECT_DOUBLE_EQ(u.latency_p50, 5.5);
  EXPECT_DOUBLE_EQ(u.latency_p95, 9.55);
  EXPECT_DOUBLE_EQ(u.tokens_in_mean, 20);
  EXPECT_DOUBLE_EQ(u.tokens_out_mean, 4.5);
  EXPECT_NE(md_of(a).find("| `openai:gpt-x` | 11 | 1 | 5.500 s | 9.550 s | 20.0 | 4.5 |"), std::string::npos) << md_of(a);
}

namespace {

// A repeat whose 2 layers × 4 experts usage puts `main` of each layer's selections on `expert`.
RepeatRouting repeat_on(int repeat, size_t expert, double main) {
  RepeatRouting r;
  r.repeat = repeat;
  r.tokens = 10;
  r.usage.assign(2, std::vector<double>(4, (1 - main) / 3));
  for (auto& l : r.usage) l[expert] = main;
  return r;
}

}  // namespace

TEST(RoutingNoiseTest, VariantsThatRouteDifferentlyMoveBeyondRepeatNoise) {
  std::vector<RepeatRouting> a, b;
  for (int r = 0; r < 5; ++r) {
    a.push_back(repeat_on(r, 0, 0.6 + 0.01 * r));
    b.push_back(repeat_on(r, 1, 0.6 + 0.01 * r));
  }
  RoutingNoise n = routing_permutation_test(a, b, routing_seed({"c", "a", "b"}));
  ASSERT_TRUE(n.tested);
  EXPECT_TRUE(n.exact);
  EXPECT_EQ(n.splits, 251);  // C(10, 5) - 1
  // Only the observed split and its mirror are as extreme: p = 2 / 252.
  EXPECT_NEAR(n.p_value, 2.0 / 252, 1e-12);
  EXPECT_TRUE(n.moved);
  EXPECT_GT(n.observed, 10 * n.noise_jsd);
}

TEST(RoutingNoiseTest, RepeatsFromOneDistributionStayWithinNoise) {
  std::vector<RepeatRouting> a, b;
  // The same alternation of experts on both sides: any difference is repeat-to-repeat noise.
  for (int r = 0; r < 5; ++r) {
    a.push_back(repeat_on(r, size_t(r % 2), 0.5));
    b.push_back(repeat_on(r, size_t((r + 1) % 2), 0.5));
  }
  RoutingNoise n = routing_permutation_test(a, b, routing_seed({"c", "a", "b"}));
  ASSERT_TRUE(n.tested);
  EXPECT_GT(n.p_value, 0.3);
  EXPECT_FALSE(n.moved);
  // Identical repeats: every split has JSD 0, so p = 1.
  std::vector<RepeatRouting> same(4, repeat_on(0, 2, 0.7));
  RoutingNoise z = routing_permutation_test(same, same, 1);
  EXPECT_DOUBLE_EQ(z.p_value, 1.0);
  EXPECT_FALSE(z.moved);
}

TEST(RoutingNoiseTest, SampledSplitsAreDeterministicForTheSameIds) {
  std::vector<RepeatRouting> a, b;
  for (int r = 0; r < 12; ++r) {  // C(24, 12) splits: too many to enumerate
    a.push_back(repeat_on(r, size_t(r % 3), 0.4 + 0.02 * r));
    b.push_back(repeat_on(r, size_t((r + 1) % 3), 0.4 + 0.02 * r));
  }
  RoutingNoise x = routing_permutation_test(a, b, routing_seed({"c", "a", "b"}));
  RoutingNoise y = routing_permutation_test(a, b, routing_seed({"c", "a", "b"}));
  EXPECT_FALSE(x.exact);
  EXPECT_EQ(x.splits, kRoutingRandomPermutations);
  EXPECT_EQ(x.p_value, y.p_value);
  EXPECT_EQ(x.noise_jsd, y.noise_jsd);
  EXPECT_NE(routing_seed({"c", "a", "b"}), routing_seed({"c", "ab", ""}));  // ids are separated
}

TEST(Svg, AZeroPassRateStillDrawsAVisibleBar) {
  std::string s = svg_interval_bars({{"c / v / stable-fail", 0, 0, 0.43, "v-stable-fail", "", ""}}, "t");
  size_t bar = s.find("<rect class=\"bar\"");
  ASSERT_NE(bar, std::string::npos);
  size_t w = s.find("width=\"", bar);
  double width = std::stod(s.substr(w + 7));
  EXPECT_GT(width, 0) << s;
}

TEST(Svg, HeatmapsOnOneScaleColourEqualValuesAlike) {
  HeatScale scale{0.5, false};
  std::string a = svg_heatmap({{0.25, 0.0}}, "layer", "expert", "a", scale);
  std::string b = svg_heatmap({{0.25, 0.5}}, "layer", "expert", "b", scale);
  auto first_fill = [](const std::string& s) {
    size_t f = s.find("fill=\"rgb(");
    return s.substr(f, s.find(')', f) - f);
  };
  // Without a shared scale each map would scale to its own maximum and 0.25 would differ.
  EXPECT_EQ(first_fill(a), first_fill(b));
  EXPECT_NE(svg_heatmap({{0.25, 0.0}}, "l", "e", "own").find(first_fill(svg_heatmap({{1.0}}, "l", "e", "x"))),
            std::string::npos);
  std::string bar = svg_colour_bar(scale, "usage");
  EXPECT_NE(bar.find(">0.500<"), std::string::npos) << bar;
  HeatScale diff{0.1, true};
  EXPECT_NE(svg_colour_bar(diff, "d").find(">-0.100<"), std::string::npos);
}

TEST(MetricTable, EveryMetricIsDefinedOnceAndRendered) {
  std::set<std::string_view> ids;
  for (const auto& m : metric_definitions()) {
    EXPECT_TRUE(ids.insert(m.id).second) << "duplicate id " << m.id;
    EXPECT_FALSE(m.definition.empty()) << m.id;
    EXPECT_FALSE(m.sources.empty()) << m.id;
  }
  ASSERT_NE(find_metric("routing_noise"), nullptr);
  std::ostringstream md;
  render_metrics_markdown(md);
  for (const auto& m : metric_definitions()) EXPECT_NE(md.str().find(std::string(m.name)), std::string::npos) << m.id;
  // The report's appendix is the same table, limited to the groups it shows.
  std::ostringstream only;
  render_metrics_markdown(only, {MetricGroup::kStability});
  EXPECT_EQ(only.str().find("Jensen-Shannon"), std::string::npos);
  EXPECT_NE(md_of(ordered_run()).find(only.str().substr(only.str().find("| **Verdict**"), 60)), std::string::npos);
}

TEST(MetricTable, TheDocsEmbedTheRenderedTable) {
  const fs::path readme = fs::path(WOBBLE_SOURCE_DIR) / "reports/README.md";
  if (!fs::exists(readme)) GTEST_SKIP() << readme << " does not exist yet";
  std::ifstream in(readme, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  const std::string begin = "<!-- metrics:begin -->\n", end = "<!-- metrics:end -->";
  size_t b = text.find(begin), e = text.find(end);
  ASSERT_NE(b, std::string::npos) << readme << " has no " << begin << " marker (put `wobble metrics` output there)";
  ASSERT_NE(e, std::string::npos) << readme << " has no " << end << " marker";
  ASSERT_LT(b, e);
  std::ostringstream md;
  render_metrics_markdown(md);
  EXPECT_EQ(text.substr(b + begin.size(), e - b - begin.size()), md.str())
      << "reports/README.md's metric table differs from `wobble metrics`; replace the lines between the markers with "
         "its output";
}
