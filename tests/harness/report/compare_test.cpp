// Run comparison: McNemar against hand-computed values and pairing by repeat index.
#include <gtest/gtest.h>

#include <sstream>

#include "analysis/compare.h"

using namespace wobble;

TEST(Compare, McNemarExact) {
  EXPECT_DOUBLE_EQ(mcnemar_exact(0, 0), 1.0);
  EXPECT_NEAR(mcnemar_exact(0, 5), 2.0 / 32.0, 1e-12);           // 2 * P(X <= 0), n = 5
  EXPECT_NEAR(mcnemar_exact(6, 1), 2.0 * 8.0 / 128.0, 1e-12);     // 2 * (1 + 7) / 2^7
  EXPECT_NEAR(mcnemar_exact(3, 3), 1.0, 1e-12);
}

TEST(Compare, PairsByRepeatAndCountsVerdictChanges) {
  auto make = [](int64_t id, std::vector<Outcome> outs) {
    RunRecord run;
    run.id = id;
    run.suite_name = "s";
    run.status = "complete";
    std::vector<SampleRecord> samples;
    for (size_t r = 0; r < outs.size(); ++r) {
      SampleRecord s;
      s.case_id = "c";
      s.variant_id = "v";
      s.repeat = int(r);
      s.ok = true;
      s.output = outs[r] == Outcome::kPass ? "good" : "bad " + std::to_string(r);
      CriterionResult cr;
      cr.criterion_id = "k";
      cr.outcome = outs[r];
      s.scores.push_back(cr);
      samples.push_back(s);
    }
    return analyze_samples(run, samples);
  };
  using O = Outcome;
  RunAnalysis a = make(1, {O::kPass, O::kPass, O::kPass, O::kPass, O::kPass, O::kFail});
  RunAnalysis b = make(2, {O::kFail, O::kFail, O::kFail, O::kFail, O::kFail, O::kPass});
  RunComparison c = compare_runs(a, b);
  ASSERT_EQ(c.criteria.size(), 1u);
  const auto& x = c.criteria[0];
  EXPECT_EQ(x.pairs, 6);
  EXPECT_EQ(x.only_a, 5);
  EXPECT_EQ(x.only_b, 1);
  EXPECT_NEAR(x.mcnemar_p, 2.0 * 7.0 / 64.0, 1e-12);  // n = 6, k = 1: 2 * (1 + 6) / 64
  EXPECT_NEAR(x.delta, 1.0 / 6.0 - 5.0 / 6.0, 1e-12);
  EXPECT_EQ(c.verdict_changes, 0);  // unstable in both
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].unique_a, 2);
  EXPECT_EQ(c.groups[0].unique_b, 6);
  std::ostringstream os;
  render_comparison_markdown(c, os);
  EXPECT_NE(os.str().find("| c | v | k | 5/6 | 1/6 | -0.67 | 6 | 5 | 1 | 0.219 | unstable |"), std::string::npos) << os.str();
  EXPECT_EQ(comparison_json(c)["criteria"][0]["only_a"], 5);
}
