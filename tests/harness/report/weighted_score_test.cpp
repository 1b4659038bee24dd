// Criterion weights: each sample's weighted score sum(w * score) / sum(w) over its scored criteria,
// against values computed by hand; the group and run means; the min_weighted_score gate; and the
// reports that show them.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "analysis/gate.h"
#include "analysis/stability.h"
#include "report/report.h"

using namespace wobble;

namespace {

CriterionResult res(const std::string& id, Outcome o, double score) {
  CriterionResult r;
  r.criterion_id = id;
  r.outcome = o;
  r.score = score;
  return r;
}

SampleRecord sample(const std::string& case_id, int repeat, std::vector<CriterionResult> scores, bool ok = true) {
  SampleRecord s;
  s.case_id = case_id;
  s.variant_id = "v";
  s.repeat = repeat;
  s.ok = ok;
  s.output = ok ? "out " + std::to_string(repeat) : "";
  s.scores = std::move(scores);
  return s;
}

// Case "c" weighs a 1, b 3, n 2 (a numeric scorer), z 0. Case "e" has only z. Case "d" is not in
// the snapshot, so its criteria weigh 1.
RunRecord run_with_weights() {
  RunRecord run;
  run.id = 1;
  run.suite_name = "w";
  run.status = "complete";
  auto crit = [](const char* id, double w) { return nlohmann::json{{"id", id}, {"weight", w}}; };
  run.plan.suite = suite_from_json(
      {{"name", "w"},
       {"cases",
        {{{"id", "c"}, {"rubric", {{"criteria", {crit("a", 1), crit("b", 3), crit("n", 2), crit("z", 0)}}}}},
         {{"id", "e"}, {"rubric", {{"criteria", {crit("z", 0)}}}}}}}});
  return run;
}

std::vector<SampleRecord> samples() {
  using O = Outcome;
  return {
      // (1*1 + 3*0 + 2*0.5 + 0*1) / (1 + 3 + 2 + 0) = 2/6
      sample("c", 0, {res("a", O::kPass, 1), res("b", O::kFail, 0), res("n", O::kPass, 0.5), res("z", O::kPass, 1)}),
      // n unscored is left out, not counted as 0: (1 + 3) / (1 + 3) = 1
      sample("c", 1, {res("a", O::kPass, 1), res("b", O::kPass, 1), res("n", O::kUnscored, 0), res("z", O::kFail, 0)}),
      // a provider failure has no weighted score
      sample("c", 2, {}, /*ok=*/false),
      // nothing scored: none
      sample("c", 3, {res("a", O::kUnscored, 0), res("b", O::kUnscored, 0)}),
      // (1*0 + 3*1 + 2*0.25) / 6 = 3.5/6
      sample("c", 4, {res("a", O::kFail, 0), res("b", O::kPass, 1), res("n", O::kFail, 0.25)}),
      // not in the snapshot: weight 1
      sample("d", 0, {res("k", O::kPass, 1), res("m", O::kFail, 0), res("q", O::kPass, 1)}),
      // only weight-0 criteria scored: none
      sample("e", 0, {res("z", O::kPass, 1)}),
  };
}

}  // namespace

TEST(WeightedScore, PerSampleAgainstHandValues) {
  RunRecord run = run_with_weights();
  CriterionWeights w = criterion_weights(run.plan.suite);
  EXPECT_EQ(w["c"]["b"], 3);
  EXPECT_EQ(w["c"]["z"], 0);
  auto s = samples();
  const double expected[] = {2.0 / 6, 1.0, NAN, NAN, 3.5 / 6, 2.0 / 3, NAN};
  for (size_t i = 0; i < s.size(); ++i) {
    auto got = weighted_score(s[i], w);
    if (std::isnan(expected[i])) {
      EXPECT_FALSE(got.has_value()) << i;
    } else {
      ASSERT_TRUE(got.has_value()) << i;
      EXPECT_NEAR(*got, expected[i], 1e-12) << i;
    }
  }
}

TEST(WeightedScore, GroupAndRunMeansAndTheGate) {
  RunAnalysis a = analyze_samples(run_with_weights(), samples());
  ASSERT_EQ(a.weighted_scores.size(), a.samples.size());
  // Run: (2/6 + 1 + 3.5/6 + 2/3) / 4 = (4 + 12 + 7 + 8) / 48 = 31/48.
  EXPECT_EQ(a.weighted.n, 4);
  EXPECT_NEAR(a.weighted.mean, 31.0 / 48, 1e-12);
  EXPECT_NEAR(a.weighted.min, 2.0 / 6, 1e-12);
  EXPECT_NEAR(a.weighted.max, 1.0, 1e-12);
  const GroupStability* c = nullptr;
  for (const auto& g : a.groups)
    if (g.case_id == "c") c = &g;
  ASSERT_NE(c, nullptr);
  // Group c: (2/6 + 1 + 3.5/6) / 3 = 23/36.
  EXPECT_EQ(c->weighted.n, 3);
  EXPECT_NEAR(c->weighted.mean, 23.0 / 36, 1e-12);

  GateSpec spec;
  spec.max_provider_failures = FailureBudget::parse("1");  // sample c #2 failed at the provider
  spec.min_weighted_score = 0.65;  // 31/48 = 0.6458 < 0.65
  GateResult g = evaluate_gate(a, spec, nullptr);
  EXPECT_FALSE(g.passed);
  bool found = false;
  for (const auto& ch : g.checks)
    if (ch.name == "min_weighted_score") {
      found = true;
      EXPECT_FALSE(ch.passed);
      EXPECT_NE(ch.detail.find("mean weighted score 0.646 over 4 samples, minimum 0.650"), std::string::npos) << ch.detail;
      EXPECT_NE(ch.detail.find("c/v 0.639"), std::string::npos) << ch.detail;
    }
  EXPECT_TRUE(found);
  spec.min_weighted_score = 0.64;
  EXPECT_TRUE(evaluate_gate(a, spec, nullptr).passed);
  // From the suite's gate: block (as stored with the run), overridden by the command line.
  GateSpec from_suite = suite_from_json({{"name", "w"}, {"gate", {{"min_weighted_score", 0.9}}}}).gate;
  ASSERT_TRUE(from_suite.min_weighted_score.has_value());
  EXPECT_EQ(suite_to_json(suite_from_json({{"name", "w"}, {"gate", {{"min_weighted_score", 0.9}}}}))["gate"]["min_weighted_score"], 0.9);
  EXPECT_EQ(*from_suite.min_weighted_score, 0.9);
  GateSpec cli;
  cli.min_weighted_score = 0.5;
  EXPECT_EQ(*merge_gate(from_suite, cli).min_weighted_score, 0.5);
}

TEST(WeightedScore, NothingScoredNeverPassesTheGate) {
  RunRecord run = run_with_weights();
  RunAnalysis a = analyze_samples(run, {sample("c", 0, {}, false), sample("e", 0, {res("z", Outcome::kPass, 1)})});
  EXPECT_EQ(a.weighted.n, 0);
  GateSpec spec;
  spec.min_weighted_score = 0;
  GateResult g = evaluate_gate(a, spec, nullptr);
  EXPECT_FALSE(g.passed);
}

TEST(WeightedScore, ShownInTheReports) {
  RunAnalysis a = analyze_samples(run_with_weights(), samples());
  nlohmann::json j = report_json(a);
  EXPECT_NEAR(j["samples"][0]["weighted_score"].get<double>(), 2.0 / 6, 1e-12);
  EXPECT_TRUE(j["samples"][2]["weighted_score"].is_null());  // the provider failure
  EXPECT_EQ(j["summary"]["weighted_score"]["n"], 4);
  EXPECT_NEAR(j["summary"]["weighted_score"]["mean"].get<double>(), 31.0 / 48, 1e-12);
  EXPECT_NEAR(j["groups"][0]["weighted_score"]["mean"].get<double>(), 23.0 / 36, 1e-12);

  std::ostringstream md;
  ReportOptions detail;
  detail.detail = true;  // the per-repeat tables come only with --detail
  render_markdown(a, md, nullptr, detail);
  EXPECT_NE(md.str().find("| Run | Score | Weighted | Failure modes | Notes |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("| v #0 | 3/4 | 0.33 |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("| v #3 | 0/0 | n/a |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("weighted score mean 0.65 over 4 samples"), std::string::npos) << md.str();

  std::ostringstream html;
  render_html(a, html);
  EXPECT_NE(html.str().find("<th>Weighted</th>"), std::string::npos);
  EXPECT_NE(html.str().find("<td class=\"num\">0.58</td>"), std::string::npos);  // repeat 4: 3.5/6
}
