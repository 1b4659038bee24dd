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

// compare leads with the verdict: regressions and improvements (McNemar p < 0.05 by direction of
// the discordant pairs), then the moved criteria most significant first, then the rest; with
// --only-moved the rest and the groups without a moved criterion are left out of every format.
TEST(Compare, LeadsWithTheVerdictAndListsMovedCriteriaMostSignificantFirst) {
  using O = Outcome;
  // Per criterion, 12 repeats in each run: "down" falls 12 → 0 passes (p = 2^-11), "up" rises 0 → 8
  // (p = 2^-7), "flip" goes stable-pass → unstable with one fail (p = 1, a verdict change), "same"
  // stays stable-pass. Criteria are listed in the suite's order: same, up, flip, down.
  auto make = [](int64_t id, bool second) {
    RunRecord run;
    run.id = id;
    run.suite_name = "s";
    run.status = "complete";
    std::vector<SampleRecord> samples;
    for (const std::string v : {"v1", "v2"})
      for (int r = 0; r < 12; ++r) {
        SampleRecord s;
        s.case_id = "c";
        s.variant_id = v;
        s.repeat = r;
        s.ok = true;
        s.output = "out";
        auto add = [&](const std::string& id, bool pass) {
          CriterionResult cr;
          cr.criterion_id = id;
          cr.outcome = pass ? O::kPass : O::kFail;
          cr.score = pass ? 1 : 0;
          s.scores.push_back(cr);
        };
        if (v == "v1") {
          add("same", true);
          add("up", second ? r < 8 : false);
          add("flip", second ? r != 5 : true);
        } else {
          add("down", second ? false : true);
          add("same", true);
        }
        samples.push_back(s);
      }
    return analyze_samples(run, samples);
  };
  RunComparison c = compare_runs(make(1, false), make(2, true));
  ASSERT_EQ(c.criteria.size(), 5u);
  EXPECT_EQ(c.regressions, 1);
  EXPECT_EQ(c.improvements, 1);
  EXPECT_EQ(c.verdict_changes, 3);  // down: stable-pass → stable-fail, up: stable-fail → unstable, flip
  ASSERT_EQ(c.moved.size(), 3u);
  EXPECT_EQ(c.criteria[c.moved[0]].criterion_id, "down");
  EXPECT_EQ(c.criteria[c.moved[1]].criterion_id, "up");
  EXPECT_EQ(c.criteria[c.moved[2]].criterion_id, "flip");
  EXPECT_EQ(comparison_verdict(c),
            "1 regression, 1 improvement (McNemar p < 0.05); 3 verdict changes; 5 paired criteria");

  std::ostringstream md;
  render_comparison_markdown(c, md);
  const std::string m = md.str();
  const size_t verdict = m.find("**1 regression, 1 improvement"), moved = m.find("## What moved"),
               rest = m.find("## Did not move (2,"), down = m.find("| c | v2 | down |"), up = m.find("| c | v1 | up |");
  ASSERT_NE(verdict, std::string::npos) << m;
  ASSERT_NE(rest, std::string::npos) << m;
  EXPECT_LT(verdict, moved);
  EXPECT_LT(moved, down);
  EXPECT_LT(down, up);
  EXPECT_LT(up, rest);
  EXPECT_GT(m.find("| c | v1 | same |"), rest);

  CompareOptions only;
  only.only_moved = true;
  std::ostringstream md_only, html_only;
  render_comparison_markdown(c, md_only, only);
  EXPECT_EQ(md_only.str().find("| c | v1 | same |"), std::string::npos) << md_only.str();
  EXPECT_NE(md_only.str().find("2 criteria did not move (listed without --only-moved)."), std::string::npos);
  render_comparison_html(c, html_only, only);
  EXPECT_EQ(html_only.str().find("<td>same</td>"), std::string::npos);
  EXPECT_NE(html_only.str().find("1 regression, 1 improvement"), std::string::npos);

  nlohmann::json j = comparison_json(c), jo = comparison_json(c, only);
  EXPECT_EQ(j["verdict"]["regressions"], 1);
  EXPECT_EQ(j["verdict"]["improvements"], 1);
  ASSERT_EQ(j["moved"].size(), 3u);
  EXPECT_EQ(j["moved"][0]["criterion"], "down");
  EXPECT_EQ(j["criteria"].size(), 5u);
  EXPECT_EQ(jo["criteria"].size(), 3u);
  EXPECT_EQ(jo["groups"].size(), 2u);  // both groups have a moved criterion

  // Nothing moved: the verdict says so, in every format.
  RunComparison same = compare_runs(make(1, false), make(3, false));
  EXPECT_TRUE(same.moved.empty());
  EXPECT_EQ(comparison_verdict(same),
            "Nothing moved: no criterion with McNemar p < 0.05 and no verdict change over 5 paired criteria");
  std::ostringstream md_same;
  render_comparison_markdown(same, md_same);
  EXPECT_NE(md_same.str().find("No criterion moved."), std::string::npos);
}
