// The min_pass_hat_k gate: a known-flaky criterion accepted with a bound. pass^k = C(c, k) / C(n, k)
// with k capped at each criterion's scored repeats, recomputed with the gate's k; values by hand.
#include <gtest/gtest.h>

#include "analysis/gate.h"
#include "analysis/stability.h"

using namespace wobble;

namespace {

SampleRecord sample(const std::string& case_id, int repeat, Outcome o) {
  SampleRecord s;
  s.case_id = case_id;
  s.variant_id = "v";
  s.repeat = repeat;
  s.ok = true;
  s.output = "out";
  CriterionResult r;
  r.criterion_id = "ok";
  r.outcome = o;
  r.score = o == Outcome::kPass ? 1 : 0;
  s.scores.push_back(r);
  return s;
}

RunAnalysis analysis() {
  RunRecord run;
  run.id = 1;
  run.suite_name = "k";
  run.status = "complete";
  std::vector<SampleRecord> s;
  // Case "a": 9 of 10 pass. pass^3 = C(9,3)/C(10,3) = 84/120 = 0.7.
  for (int i = 0; i < 10; ++i) s.push_back(sample("a", i, i == 4 ? Outcome::kFail : Outcome::kPass));
  // Case "b": 2 repeats, both pass: k is capped at 2, pass^2 = 1.
  for (int i = 0; i < 2; ++i) s.push_back(sample("b", i, Outcome::kPass));
  return analyze_samples(run, s);
}

const GateCheck* find(const GateResult& g, const std::string& name) {
  for (const auto& c : g.checks)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

TEST(PassHatKGate, FailsBelowTheBoundAndNamesTheCriterion) {
  RunAnalysis a = analysis();
  GateSpec spec;
  spec.min_pass_hat_k = 0.71;
  GateResult g = evaluate_gate(a, spec, nullptr);
  const GateCheck* c = find(g, "min_pass_hat_k");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->passed);
  EXPECT_FALSE(g.passed);
  EXPECT_NE(c->detail.find("1 of 2 criteria have pass^3 below 0.710"), std::string::npos) << c->detail;
  EXPECT_NE(c->detail.find("a/v/ok 0.700 (9/10, k=3)"), std::string::npos) << c->detail;
  EXPECT_EQ(c->detail.find("b/v/ok"), std::string::npos) << c->detail;

  spec.min_pass_hat_k = 0.7;
  EXPECT_TRUE(evaluate_gate(a, spec, nullptr).passed);
}

TEST(PassHatKGate, TheGatesKNotTheReportsIsUsed) {
  RunAnalysis a = analysis();
  GateSpec spec;
  spec.min_pass_hat_k = 0.85;
  spec.pass_k = 1;  // pass^1 = 0.9
  EXPECT_TRUE(evaluate_gate(a, spec, nullptr).passed);
  spec.pass_k = 2;  // C(9,2)/C(10,2) = 36/45 = 0.8
  GateResult g = evaluate_gate(a, spec, nullptr);
  EXPECT_FALSE(g.passed);
  EXPECT_NE(find(g, "min_pass_hat_k")->detail.find("a/v/ok 0.800 (9/10, k=2)"), std::string::npos);
}

TEST(PassHatKGate, SuiteBlockRoundTripsAndTheCommandLineWins) {
  GateSpec s = suite_from_json({{"name", "k"}, {"gate", {{"min_pass_hat_k", 0.9}, {"pass_k", 5}}}}).gate;
  ASSERT_TRUE(s.min_pass_hat_k && s.pass_k);
  EXPECT_EQ(*s.min_pass_hat_k, 0.9);
  EXPECT_EQ(*s.pass_k, 5);
  auto j = suite_to_json(suite_from_json({{"name", "k"}, {"gate", {{"min_pass_hat_k", 0.9}, {"pass_k", 5}}}}));
  EXPECT_EQ(j["gate"]["pass_k"], 5);
  GateSpec cli;
  cli.pass_k = 2;
  GateSpec m = merge_gate(s, cli);
  EXPECT_EQ(*m.pass_k, 2);
  EXPECT_EQ(*m.min_pass_hat_k, 0.9);
}
