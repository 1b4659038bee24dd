// End to end: `scorer: judge` against scripted judges on the loopback server (consistent,
// coin-flip, hallucinating, malformed, slow, missing-evidence), then `wobble rescore`: no model
// call, judge calls only where the cache has nothing, and compare shows the moved verdicts.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <tuple>

#include "runner/seeds.h"
#include "scorer/judge.h"
#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

constexpr int kRepeats = 4;

const char* kCases[] = {"consistent", "coin", "halluc", "malformed", "slow", "missing", "unquoted"};

std::string suite_text(const std::string& base_url, const std::string& consistent_rubric = "behaviour: consistent") {
  std::string s = "name: judge-e2e\nprovider:\n  kind: openai\n  base_url: " + base_url +
                  "\n  model: fake-model\n  max_concurrency: 4\n  max_attempts: 2\n  timeout: 5\n"
                  "sampling: {temperature: 0.7, max_tokens: 32, seed: 42}\nrepeats: " +
                  std::to_string(kRepeats) +
                  "\njudge:\n  provider: {kind: openai, base_url: " + base_url +
                  ", model: fake-judge, max_attempts: 2, timeout: 5}\n  repeats: 3\n  max_concurrency: 1\n"
                  "variants:\n  - id: plain\n    prompt: \"Q: {{topic}}\"\ncases:\n";
  for (const char* c : kCases) {
    std::string rubric = std::string(c) == "consistent" ? consistent_rubric : "behaviour: " + std::string(c);
    s += "  - id: " + std::string(c) + "\n    vars: {topic: " + c + "}\n    rubric:\n      - id: judged\n"
         "        scorer: judge\n        args: {rubric: \"" + rubric + "\"" +
         (std::string(c) == "missing" ? ", expect_missing: true" : "") +
         "}\n      - id: has-answer\n        scorer: contains\n        args: {value: answer}\n";
  }
  return s;
}

// The model: consistent's output alternates between right and wrong by repeat; the rest is fixed.
std::string model_output(const std::string& c, int r) {
  if (c == "consistent") return r % 2 == 0 ? "The answer is 5.\nDone." : "The answer is 7.\nDone.";
  return "The answer is  Paris,\nthe capital.";
}

struct Scripted {
  std::map<uint64_t, std::tuple<std::string, int>> seeds;
  std::atomic<int64_t> coin{0};
  Scripted() {
    for (const char* c : kCases)
      for (int r = 0; r < kRepeats; ++r) seeds[derive_seed(42, c, "plain", r)] = {c, r};
  }
  std::string respond(const nlohmann::json& req) {
    if (auto j = judge_request(req)) {
      const std::string& b = j->criterion;
      if (b == "behaviour: consistent")
        return j->output.find("is 5") != std::string::npos ? judge_reply("pass", {"The answer is 5."})
                                                           : judge_reply("fail", {"The answer is 7."});
      if (b == "behaviour: never") return judge_reply("fail", {"The answer"});
      // One judge thread and one sample's k tasks queued together: p,f,p then f,p,f per output.
      if (b == "behaviour: coin") return judge_reply(coin.fetch_add(1) % 2 == 0 ? "pass" : "fail", {"Paris"});
      if (b == "behaviour: halluc") return judge_reply("pass", {"The moon is made of cheese"});
      if (b == "behaviour: malformed") return "Sure! The verdict is pass.";
      // Whitespace differs from the output (two spaces, a newline): normalisation must find it.
      if (b == "behaviour: slow") return "```json\n" + judge_reply("pass", {"is Paris, the capital"}) + "\n```";
      if (b == "behaviour: missing") return judge_reply("fail", {}, "no number given");
      if (b == "behaviour: unquoted") return judge_reply("fail", {});
      return "?";
    }
    auto [c, r] = seeds.at(req["seed"].get<uint64_t>());
    return model_output(c, r);
  }
};


std::map<std::string, std::vector<std::string>> outcomes(const Store& st, int64_t run, const std::string& crit) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& s : st.samples(run))
    for (const auto& r : s.scores)
      if (r.criterion_id == crit) out[s.case_id].push_back(outcome_name(r.outcome));
  return out;
}

}  // namespace

TEST(JudgeEndToEnd, ScriptedJudgesAreGradedStoredAndSeparatedFromModelNoise) {
  Scripted script;
  FakeOpenAIServer server([&](const nlohmann::json& req) { return script.respond(req); },
                          [](const nlohmann::json& req, int) {
                            auto j = judge_request(req);
                            return j && j->criterion == "behaviour: slow" ? Fault::kSlow : Fault::kNone;
                          },
                          /*slow_seconds=*/0.2);
  std::string dir = make_temp_dir("judge");
  write_text_file(dir + "/suite.yaml", suite_text(server.base_url()));
  std::string db = dir + "/w.db";
  auto run = run_process({WOBBLE_EXE, "run", dir + "/suite.yaml", "--db", db, "--quiet", "--no-preflight"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const int64_t id = std::stoll(run.out);
  const int64_t samples = int64_t(std::size(kCases)) * kRepeats;
  EXPECT_EQ(server.completion_requests_for("fake-model"), samples);
  // 3 gradings per output; the malformed judge is asked 1 + 2 retries for each.
  EXPECT_EQ(server.completion_requests_for("fake-judge"), (samples - kRepeats) * 3 + kRepeats * 3 * 3);

  Store st = Store::open_read_only(db);
  auto by_case = outcomes(st, id, "judged");
  EXPECT_EQ(by_case["consistent"], (std::vector<std::string>{"pass", "fail", "pass", "fail"}));
  // Which repeat reaches the judge first varies; the alternation gives two of each either way.
  EXPECT_EQ(std::count(by_case["coin"].begin(), by_case["coin"].end(), "pass"), 2);
  EXPECT_EQ(std::count(by_case["coin"].begin(), by_case["coin"].end(), "fail"), 2);
  EXPECT_EQ(by_case["halluc"], std::vector<std::string>(kRepeats, "unscored"));
  EXPECT_EQ(by_case["malformed"], std::vector<std::string>(kRepeats, "unscored"));
  EXPECT_EQ(by_case["slow"], std::vector<std::string>(kRepeats, "pass"));
  EXPECT_EQ(by_case["missing"], std::vector<std::string>(kRepeats, "fail"));
  EXPECT_EQ(by_case["unquoted"], std::vector<std::string>(kRepeats, "unscored"));
  EXPECT_EQ(outcomes(st, id, "has-answer")["coin"], std::vector<std::string>(kRepeats, "pass"));

  auto gradings = st.judge_gradings(id);
  for (const auto& s : st.samples(id)) {
    const auto& gs = gradings[s.id];
    ASSERT_EQ(gs.size(), 3u) << s.case_id;
    for (const auto& g : gs) {
      EXPECT_FALSE(g.raw.empty());
      EXPECT_EQ(g.prompt_version, "judge-v1");
      if (s.case_id == "halluc") {
        EXPECT_EQ(g.fault, JudgeFault::kHallucinated);
      }
      if (s.case_id == "malformed") {
        EXPECT_EQ(g.fault, JudgeFault::kMalformed);
        EXPECT_EQ(g.calls, 3);
      }
      if (s.case_id == "unquoted") {
        EXPECT_EQ(g.fault, JudgeFault::kUnquotedFail);
      }
      if (s.case_id == "slow") {
        ASSERT_EQ(g.evidence.size(), 1u);
        // Byte offsets into the original output, whose whitespace differs from the quote's.
        EXPECT_EQ(s.output.substr(size_t(g.evidence[0].start), size_t(g.evidence[0].end - g.evidence[0].start)),
                  "is  Paris,\nthe capital");
      }
    }
    for (const auto& r : s.scores) {
      if (r.criterion_id != "judged") continue;
      if (s.case_id == "halluc") {
        EXPECT_NE(r.reason.find(kHallucinatedReason), std::string::npos) << r.reason;
      }
      if (s.case_id == "consistent" && r.outcome == Outcome::kPass) {
        EXPECT_EQ(s.output.substr(size_t(r.evidence.start), size_t(r.evidence.end - r.evidence.start)), "The answer is 5.");
      }
    }
  }

  auto rep = run_process({WOBBLE_EXE, "report", std::to_string(id), "--db", db, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  auto j = nlohmann::json::parse(rep.out);
  std::map<std::string, nlohmann::json> noise;
  for (const auto& n : j.at("judge")) noise[n["case"].get<std::string>()] = n;
  EXPECT_EQ(noise["consistent"]["verdict"], "unstable (model)");
  EXPECT_DOUBLE_EQ(noise["consistent"]["judge_unanimous"].get<double>(), 1.0);
  EXPECT_EQ(noise["coin"]["verdict"], "unstable (judge)");
  EXPECT_DOUBLE_EQ(noise["coin"]["judge_unanimous"].get<double>(), 0.0);
  EXPECT_EQ(noise["halluc"]["verdict"], "unscored");
  EXPECT_EQ(noise["halluc"]["hallucinated"], 12);
  EXPECT_EQ(noise["slow"]["verdict"], "stable-pass");
  auto md = run_process({WOBBLE_EXE, "report", std::to_string(id), "--db", db});
  EXPECT_NE(md.out.find("## Judge noise vs model noise"), std::string::npos);
}

TEST(JudgeEndToEnd, RescoreNeverCallsTheModelAndASecondRescoreCallsNothing) {
  Scripted script;
  FakeOpenAIServer server([&](const nlohmann::json& req) { return script.respond(req); });
  std::string dir = make_temp_dir("rescore");
  write_text_file(dir + "/suite.yaml", suite_text(server.base_url()));
  write_text_file(dir + "/edited.yaml", suite_text(server.base_url(), "behaviour: never"));
  std::string db = dir + "/w.db";
  auto run = run_process({WOBBLE_EXE, "run", dir + "/suite.yaml", "--db", db, "--quiet", "--no-preflight", "--case",
                          "consistent", "--case", "slow"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string source = std::to_string(std::stoll(run.out));
  const int64_t model_calls = server.completion_requests_for("fake-model");
  const int64_t judge_calls = server.completion_requests_for("fake-judge");
  EXPECT_EQ(model_calls, 2 * kRepeats);

  // The edited rubric changes one judge criterion: only its gradings are asked again.
  auto r1 = run_process({WOBBLE_EXE, "rescore", source, "--db", db, "--suite", dir + "/edited.yaml", "--json"});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto j1 = nlohmann::json::parse(r1.out);
  // A measurement for the record, not an assertion: judge calls per second on the loopback server.
  std::printf("[judge] first rescore: %lld judge calls in %.3f s (%.0f calls/s, judge max_concurrency 1)\n",
              (long long)j1["judge_calls"].get<int64_t>(), j1["wall_s"].get<double>(),
              double(j1["judge_calls"].get<int64_t>()) / std::max(1e-9, j1["wall_s"].get<double>()));
  EXPECT_EQ(server.completion_requests_for("fake-model"), model_calls);
  EXPECT_EQ(j1["judge_calls"], kRepeats * 3);
  EXPECT_EQ(j1["cache_hits"], kRepeats * 3);
  EXPECT_EQ(server.completion_requests_for("fake-judge"), judge_calls + kRepeats * 3);
  const std::string rescored = std::to_string(j1["run_id"].get<int64_t>());

  auto r2 = run_process({WOBBLE_EXE, "rescore", source, "--db", db, "--suite", dir + "/edited.yaml", "--json"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  auto j2 = nlohmann::json::parse(r2.out);
  EXPECT_EQ(j2["judge_calls"], 0);
  EXPECT_EQ(j2["cache_hits"], 2 * kRepeats * 3);
  EXPECT_EQ(server.completion_requests_for("fake-model"), model_calls);

  Store st = Store::open_read_only(db);
  auto plan = st.get_run(std::stoll(rescored))->plan;
  EXPECT_EQ(std::to_string(plan.source_run_id), source);
  EXPECT_EQ(outcomes(st, std::stoll(rescored), "judged")["consistent"], std::vector<std::string>(kRepeats, "fail"));
  EXPECT_EQ(outcomes(st, std::stoll(rescored), "judged")["slow"], std::vector<std::string>(kRepeats, "pass"));

  auto cmp = run_process({WOBBLE_EXE, "compare", source, rescored, "--db", db, "--format", "json"});
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  auto c = nlohmann::json::parse(cmp.out);
  int moved = 0;
  for (const auto& x : c.at("criteria")) {
    bool changed = x.at("verdict_a") != x.at("verdict_b");
    if (changed) {
      ++moved;
      EXPECT_EQ(x["case"], "consistent");
      EXPECT_EQ(x["criterion"], "judged");
      EXPECT_EQ(x["verdict_b"], "stable-fail");
    }
  }
  EXPECT_EQ(moved, 1);
  auto gate = run_process({WOBBLE_EXE, "gate", rescored, "--db", db, "--max-unstable", "0"});
  EXPECT_EQ(gate.exit_code, 0) << gate.out << gate.err;
  auto resume = run_process({WOBBLE_EXE, "run", "--resume", rescored, "--db", db});
  EXPECT_EQ(resume.exit_code, 2);
  EXPECT_NE(resume.err.find("rescore"), std::string::npos) << resume.err;
  EXPECT_EQ(server.completion_requests_for("fake-model"), model_calls);
}
