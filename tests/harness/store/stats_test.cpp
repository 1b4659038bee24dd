// Statistics against hand-computed values, stability verdicts and first divergence.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/gate.h"
#include "analysis/stability.h"
#include "analysis/stats.h"

using namespace wobble;

TEST(Stats, WilsonInterval) {
  // n = 10, c = 7: p = 0.7, z = 1.96 -> [0.3968, 0.8922] (hand computation).
  auto w = wilson_interval(10, 7);
  EXPECT_NEAR(w.lo, 0.39676, 1e-4);
  EXPECT_NEAR(w.hi, 0.89221, 1e-4);
  auto zero = wilson_interval(10, 0);
  EXPECT_DOUBLE_EQ(zero.lo, 0.0);
  EXPECT_NEAR(zero.hi, 0.27753, 1e-4);  // z²/(n+z²)
  auto all = wilson_interval(10, 10);
  EXPECT_NEAR(all.lo, 0.72247, 1e-4);
  EXPECT_DOUBLE_EQ(all.hi, 1.0);
  auto one = wilson_interval(1, 1);
  EXPECT_NEAR(one.lo, 0.20654, 1e-4);
  auto none = wilson_interval(0, 0);
  EXPECT_EQ(none.lo, 0.0);
  EXPECT_EQ(none.hi, 1.0);
}

TEST(Stats, PassAtKAndPassHatK) {
  // n = 5, c = 2, k = 2: pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass^2 = C(2,2)/C(5,2) = 1/10.
  EXPECT_NEAR(pass_at_k(5, 2, 2), 0.7, 1e-12);
  EXPECT_NEAR(pass_hat_k(5, 2, 2), 0.1, 1e-12);
  // n = 1.
  EXPECT_DOUBLE_EQ(pass_at_k(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(1, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(pass_hat_k(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(pass_hat_k(1, 0, 1), 0.0);
  // c = 0 and c = n.
  EXPECT_DOUBLE_EQ(pass_at_k(10, 0, 3), 0.0);
  EXPECT_DOUBLE_EQ(pass_hat_k(10, 0, 3), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 10, 3), 1.0);
  EXPECT_DOUBLE_EQ(pass_hat_k(10, 10, 3), 1.0);
  // k = 1 is the pass rate.
  EXPECT_NEAR(pass_at_k(10, 3, 1), 0.3, 1e-12);
  EXPECT_NEAR(pass_hat_k(10, 3, 1), 0.3, 1e-12);
  // pass@k with n - c < k.
  EXPECT_DOUBLE_EQ(pass_at_k(4, 3, 2), 1.0);
  EXPECT_TRUE(std::isnan(pass_at_k(3, 1, 4)));
}

TEST(Stats, FisherExact) {
  // Baseline 10/10, current 3/10. One-sided: P(a >= 10) with margins row1 10, col1 13, N 20 =
  // C(13,10)C(7,0)/C(20,10) = 286/184756.
  EXPECT_NEAR(fisher_exact_less(10, 0, 3, 7), 286.0 / 184756.0, 1e-12);
  // Tea tasting: [[3,1],[1,3]] two-sided p = 0.4857.
  EXPECT_NEAR(fisher_exact_two_sided(3, 1, 1, 3), 0.485714, 1e-5);
  EXPECT_NEAR(fisher_exact_less(3, 1, 1, 3), 17.0 / 70.0, 1e-9);
  EXPECT_DOUBLE_EQ(fisher_exact_less(0, 0, 0, 0), 1.0);
}

TEST(Stats, FleissKappaTextbookExample) {
  // Fleiss (1971)-style worked example from Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210.
  std::vector<std::vector<int64_t>> m = {{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0},
                                         {2, 2, 8, 1, 1}, {7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2},
                                         {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7}};
  EXPECT_NEAR(fleiss_kappa(m), 0.20993, 1e-4);
  EXPECT_TRUE(std::isnan(fleiss_kappa({{4, 0}, {4, 0}})));  // everyone always agrees on one category
  EXPECT_NEAR(fleiss_kappa({{4, 0}, {0, 4}}), 1.0, 1e-12);  // perfect agreement
}

TEST(Stats, Summary) {
  auto s = summarize({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.sd, 1.290994, 1e-6);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 4);
  EXPECT_EQ(summarize({}).n, 0);
}

namespace {

SampleRecord scored(const std::string& c, const std::string& v, int repeat, const std::string& out,
                    std::vector<Outcome> outcomes) {
  SampleRecord s;
  s.case_id = c;
  s.variant_id = v;
  s.repeat = repeat;
  s.ok = true;
  s.output = out;
  int i = 0;
  for (auto o : outcomes) {
    CriterionResult r;
    r.criterion_id = "k" + std::to_string(i++);
    r.outcome = o;
    r.score = o == Outcome::kPass ? 1 : 0;
    s.scores.push_back(r);
  }
  return s;
}

}  // namespace

TEST(Stability, VerdictsFlipsAndDivergence) {
  using O = Outcome;
  RunRecord run;
  run.id = 1;
  run.status = "complete";
  std::vector<SampleRecord> s = {
      scored("a", "v", 0, "The answer is 5.", {O::kPass, O::kFail, O::kUnscored}),
      scored("a", "v", 1, "The answer is 6.", {O::kFail, O::kFail, O::kUnscored}),
      scored("a", "v", 2, "The answer is 5.", {O::kPass, O::kFail, O::kUnscored}),
      scored("a", "v", 3, "The answer is 5!", {O::kPass, O::kFail, O::kUnscored}),
  };
  SampleRecord failed;
  failed.case_id = "a";
  failed.variant_id = "v";
  failed.repeat = 4;
  failed.ok = false;
  s.push_back(failed);
  RunAnalysis a = analyze_samples(run, s, 2);
  ASSERT_EQ(a.criteria.size(), 3u);
  const auto& k0 = a.criteria[0];
  EXPECT_EQ(k0.n, 4);
  EXPECT_EQ(k0.passes, 3);
  EXPECT_EQ(k0.unscored, 1);  // the provider failure
  EXPECT_EQ(k0.verdict, Verdict::kUnstable);
  EXPECT_EQ(k0.flips, 2);
  EXPECT_EQ(k0.k, 2);
  EXPECT_NEAR(k0.pass_hat_k, 0.5, 1e-12);  // C(3,2)/C(4,2)
  EXPECT_EQ(k0.outcomes.back(), "error");
  EXPECT_EQ(a.criteria[1].verdict, Verdict::kStableFail);
  EXPECT_EQ(a.criteria[2].verdict, Verdict::kUnscored);
  EXPECT_EQ(a.unstable, 1);
  EXPECT_EQ(a.failed_samples, 1);
  ASSERT_EQ(a.groups.size(), 1u);
  EXPECT_EQ(a.groups[0].unique_outputs, 3);
  EXPECT_FALSE(a.groups[0].tar_r);
  const auto& d = a.groups[0].divergence;
  ASSERT_TRUE(d.diverged);
  EXPECT_EQ(d.byte_offset, 14);  // "The answer is " then 5 vs 6
  EXPECT_EQ(d.repeat_b, 1);
  EXPECT_EQ(d.continuation_a, "5.");
  EXPECT_EQ(d.continuation_b, "6.");
}

TEST(Stability, DivergenceCountsCodePointsAndBacksOffToACharacterBoundary) {
  // "é" is C3 A9 and "è" is C3 A8: bytes differ at offset 3, the character starts at 2.
  auto d = first_divergence({{0, "ab\xC3\xA9x"}, {1, "ab\xC3\xA8x"}});
  ASSERT_TRUE(d.diverged);
  EXPECT_EQ(d.byte_offset, 2);
  EXPECT_EQ(d.char_offset, 2);
  EXPECT_EQ(d.continuation_a, "\xC3\xA9x");
  auto same = first_divergence({{0, "x"}, {1, "x"}});
  EXPECT_FALSE(same.diverged);
  auto prefix = first_divergence({{0, "abc"}, {1, "abcdef"}});
  EXPECT_EQ(prefix.byte_offset, 3);
  EXPECT_EQ(prefix.continuation_a, "");
  EXPECT_EQ(prefix.continuation_b, "def");
}

TEST(Gate, ThresholdsAndBaselineRegression) {
  using O = Outcome;
  RunRecord run;
  run.id = 2;
  run.status = "complete";
  std::vector<SampleRecord> base, cur;
  for (int r = 0; r < 10; ++r) {
    base.push_back(scored("a", "v", r, "x", {O::kPass}));
    cur.push_back(scored("a", "v", r, "x", {r < 3 ? O::kPass : O::kFail}));
  }
  RunAnalysis b = analyze_samples(run, base), c = analyze_samples(run, cur);
  GateSpec spec;
  spec.max_unstable = 0;
  auto g = evaluate_gate(c, spec, nullptr);
  EXPECT_FALSE(g.passed);
  spec.max_unstable = 1;
  EXPECT_TRUE(evaluate_gate(c, spec, nullptr).passed);
  g = evaluate_gate(c, spec, &b);
  EXPECT_FALSE(g.passed);
  bool found = false;
  for (const auto& chk : g.checks)
    if (chk.name == "pass_rate_drop") {
      found = true;
      EXPECT_NE(chk.detail.find("p = 0.002"), std::string::npos) << chk.detail;  // 286/184756
    }
  EXPECT_TRUE(found);
  spec.min_pass_rate = 0.5;
  EXPECT_FALSE(evaluate_gate(c, spec, nullptr).passed);
  RunRecord running = run;
  running.status = "interrupted";
  GateSpec none;
  EXPECT_FALSE(evaluate_gate(analyze_samples(running, base), none, nullptr).passed);
}
