// Judge noise vs model noise on hand-built gradings: a consistent judge on flipping outputs is the
// model's instability; a judge that disagrees with itself on frozen outputs is the judge's.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/judge_noise.h"

using namespace wobble;

namespace {

// One sample per entry of `verdicts` (its k gradings); the outcome is their majority.
std::pair<std::vector<SampleRecord>, std::map<int64_t, std::vector<JudgeGrading>>> build(
    const std::vector<std::vector<std::string>>& verdicts) {
  std::vector<SampleRecord> samples;
  std::map<int64_t, std::vector<JudgeGrading>> g;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    SampleRecord s;
    s.id = int64_t(i + 1);
    s.case_id = "c";
    s.variant_id = "v";
    s.repeat = int(i);
    int p = 0, f = 0;
    for (size_t k = 0; k < verdicts[i].size(); ++k) {
      JudgeGrading jg;
      jg.criterion_id = "j";
      jg.k_index = int(k);
      jg.verdict = verdicts[i][k];
      if (jg.verdict.empty()) jg.fault = JudgeFault::kHallucinated;
      (jg.verdict == "pass" ? p : jg.verdict == "fail" ? f : p) += jg.verdict.empty() ? 0 : 1;
      g[s.id].push_back(jg);
    }
    CriterionResult r;
    r.criterion_id = "j";
    r.outcome = 2 * p > int(verdicts[i].size()) ? Outcome::kPass : 2 * f > int(verdicts[i].size()) ? Outcome::kFail
                                                                                                   : Outcome::kUnscored;
    s.scores.push_back(r);
    samples.push_back(s);
  }
  return {samples, g};
}

}  // namespace

TEST(JudgeNoise, ConsistentJudgeOnFlippingOutputsBlamesTheModel) {
  auto [s, g] = build({{"pass", "pass", "pass"}, {"fail", "fail", "fail"}, {"pass", "pass", "pass"}, {"fail", "fail", "fail"}});
  auto n = judge_noise(s, g);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].verdict, "unstable (model)");
  EXPECT_DOUBLE_EQ(n[0].model_flip_rate, 2.0 * 2 * 2 / (4 * 3));
  EXPECT_DOUBLE_EQ(n[0].judge_unanimous, 1.0);
  EXPECT_DOUBLE_EQ(n[0].judge_disagreement, 0.0);
  EXPECT_DOUBLE_EQ(n[0].judge_kappa, 1.0);
}

TEST(JudgeNoise, CoinFlipJudgeOnFrozenOutputsBlamesTheJudge) {
  auto [s, g] = build({{"pass", "fail", "pass"}, {"fail", "pass", "fail"}, {"pass", "fail", "pass"}, {"fail", "pass", "fail"}});
  auto n = judge_noise(s, g);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].verdict, "unstable (judge)");
  EXPECT_DOUBLE_EQ(n[0].judge_unanimous, 0.0);
  EXPECT_NEAR(n[0].judge_disagreement, 2.0 / 3, 1e-12);
  EXPECT_LT(n[0].judge_kappa, 0);
}

TEST(JudgeNoise, HallucinatedGradingsAreFaultsNotVotes) {
  auto [s, g] = build({{"", "", "pass"}, {"", "", ""}});
  auto n = judge_noise(s, g);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].hallucinated, 5);
  EXPECT_EQ(n[0].verdict, "unscored");
  EXPECT_TRUE(std::isnan(n[0].judge_kappa));
  EXPECT_EQ(n[0].judged_outputs, 0);
}

TEST(JudgeNoise, FleissKappaMatchesTheTextbookExample) {
  // Two categories, 3 raters: identical rows give an undefined kappa; a perfect split of
  // unanimous subjects gives 1.
  EXPECT_TRUE(std::isnan(fleiss_kappa_varying({{3, 0}, {3, 0}})));
  EXPECT_DOUBLE_EQ(fleiss_kappa_varying({{3, 0}, {0, 3}}), 1.0);
  // P-bar = 1/3, P_e = 1/2 -> kappa = -1/3.
  EXPECT_NEAR(fleiss_kappa_varying({{2, 1}, {1, 2}}), -1.0 / 3, 1e-12);
}
