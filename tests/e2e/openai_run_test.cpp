// End to end: `wobble run` against the scripted fake server with injected faults, then the
// database and `wobble report --format json` must show exactly the scripted variance.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <regex>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <tuple>

#include "runner/seeds.h"
#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

const std::string kSuite = std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/suites/e2e-openai.yaml";
const std::string kKey = "sk-test-SECRET-4242";

// Every triple's seed, as the runner derives it (suite seed 42).
std::map<uint64_t, std::tuple<std::string, std::string, int>> seed_table(int repeats) {
  std::map<uint64_t, std::tuple<std::string, std::string, int>> t;
  for (const char* c : {"add", "mul"})
    for (const char* v : {"plain", "expert"})
      for (int r = 0; r < repeats; ++r) t[derive_seed(42, c, v, r)] = {c, v, r};
  return t;
}

// Scripted outputs. add/plain: 3 of 4 correct; add/expert: all correct; mul/plain: 2 of 4 correct
// and two formats; mul/expert: all correct except repeat 3 which always fails at the provider.
std::string scripted(const std::string& c, const std::string& v, int r) {
  if (c == "add" && v == "plain") return r == 2 ? "Answer: 6" : "Answer: 5";
  if (c == "add") return "Answer: 5";
  if (v == "plain") return r % 2 == 0 ? "Answer: 24" : "I think the answer is maybe 23";
  return "Answer: 24";
}

std::string suite_for(const std::string& base_url, const std::string& dir, double timeout) {
  std::string text = read_text_file(kSuite);
  text = std::regex_replace(text, std::regex("http://127.0.0.1:1/v1"), base_url);
  text = std::regex_replace(text, std::regex("timeout: 2"), "timeout: " + std::to_string(timeout));
  text = std::regex_replace(text, std::regex("\\.\\./rubrics/"), std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/rubrics/");
  std::string path = dir + "/suite.yaml";
  write_text_file(path, text);
  return path;
}

}  // namespace

TEST(OpenAIEndToEnd, FaultsAreRetriedAndReportMatchesScriptedVariance) {
  auto seeds = seed_table(4);
  FakeOpenAIServer server(
      [&](const nlohmann::json& req) {
        auto [c, v, r] = seeds.at(req["seed"].get<uint64_t>());
        return scripted(c, v, r);
      },
      [&](const nlohmann::json& req, int attempt) {
        auto [c, v, r] = seeds.at(req["seed"].get<uint64_t>());
        if (c == "mul" && v == "expert" && r == 3) return Fault::k500;  // every attempt
        if (attempt > 1) return Fault::kNone;
        if (c == "add" && v == "plain") return std::vector<Fault>{Fault::k429, Fault::k500, Fault::kSlow, Fault::kDrop}[r];
        if (c == "add" && v == "expert" && r == 0) return Fault::kMalformed;
        return Fault::kNone;
      },
      /*slow_seconds=*/1.5);
  std::string dir = make_temp_dir("e2e");
  std::string suite = suite_for(server.base_url(), dir, 0.5);
  std::string db = dir + "/w.db";
  auto run = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--json", "--quiet"}, {{"WOBBLE_TEST_KEY", kKey}});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto outcome = nlohmann::json::parse(run.out);
  EXPECT_EQ(outcome["planned"], 16);
  EXPECT_EQ(outcome["executed"], 16);
  EXPECT_EQ(outcome["failed"], 1);
  EXPECT_EQ(server.last_authorization(), "Bearer " + kKey);

  Store store = Store::open(db);
  int64_t id = outcome["run_id"];
  auto samples = store.samples(id);
  ASSERT_EQ(samples.size(), 16u);
  std::map<std::tuple<std::string, std::string, int>, const SampleRecord*> by;
  for (const auto& s : samples) by[{s.case_id, s.variant_id, s.repeat}] = &s;
  // Faulted first attempts were retried and recorded.
  const char* first_outcome[] = {"http_error", "http_error", "timeout", "network"};
  for (int r = 0; r < 4; ++r) {
    const auto* s = by.at({"add", "plain", r});
    ASSERT_TRUE(s->ok) << r;
    ASSERT_EQ(s->attempts.size(), 2u) << r;
    EXPECT_EQ(s->attempts[0].outcome, first_outcome[r]) << r;
    EXPECT_EQ(s->attempts[1].outcome, "ok");
  }
  EXPECT_EQ(by.at({"add", "plain", 0})->attempts[0].http_status, 429);
  EXPECT_EQ(by.at({"add", "expert", 0})->attempts[0].outcome, "bad_response");
  const auto* failed = by.at({"mul", "expert", 3});
  EXPECT_FALSE(failed->ok);
  EXPECT_EQ(failed->output, "");
  EXPECT_EQ(failed->attempts.size(), 4u);
  EXPECT_TRUE(failed->scores.empty());

  // The key is in no stored byte and no message.
  std::string db_bytes = read_text_file(db) + read_text_file(db + "-wal");
  EXPECT_EQ(db_bytes.find(kKey), std::string::npos);
  EXPECT_EQ(run.err.find(kKey), std::string::npos);

  auto rep = run_process({WOBBLE_EXE, "report", std::to_string(id), "--db", db, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  auto j = nlohmann::json::parse(rep.out);
  std::map<std::string, nlohmann::json> crit;
  for (const auto& c : j["criteria"])
    crit[c["case"].get<std::string>() + "/" + c["variant"].get<std::string>() + "/" + c["criterion"].get<std::string>()] = c;
  EXPECT_EQ(crit["add/plain/correct"]["passes"], 3);
  EXPECT_EQ(crit["add/plain/correct"]["n"], 4);
  EXPECT_EQ(crit["add/plain/correct"]["verdict"], "unstable");
  EXPECT_EQ(crit["add/expert/correct"]["verdict"], "stable-pass");
  EXPECT_EQ(crit["mul/plain/correct"]["passes"], 2);
  EXPECT_EQ(crit["mul/plain/format"]["passes"], 2);
  EXPECT_EQ(crit["mul/plain/short"]["passes"], 2);
  EXPECT_EQ(crit["mul/plain/correct"]["flips"], 3);
  EXPECT_EQ(crit["mul/expert/correct"]["n"], 3);  // the failed sample is not a model failure
  EXPECT_EQ(crit["mul/expert/correct"]["unscored"], 1);
  EXPECT_EQ(j["summary"]["failed_samples"], 1);
  EXPECT_EQ(j["summary"]["unstable"], 4);  // add/plain/correct + 3 mul/plain criteria
  std::map<std::string, nlohmann::json> groups;
  for (const auto& g : j["groups"]) groups[g["case"].get<std::string>() + "/" + g["variant"].get<std::string>()] = g;
  EXPECT_EQ(groups["add/plain"]["unique_outputs"], 2);
  EXPECT_EQ(groups["add/plain"]["tar_r"], false);
  EXPECT_EQ(groups["add/plain"]["divergence"]["char_offset"], 8);  // "Answer: 5" vs "Answer: 6"
  EXPECT_EQ(groups["add/expert"]["tar_r"], true);
  EXPECT_EQ(groups["add/expert"]["tar_a"], true);
  EXPECT_EQ(groups["mul/plain"]["unique_answers"], 2);

  // The gate fails on unstable criteria (exit 1) and passes with a loose threshold (exit 0).
  auto gate = run_process({WOBBLE_EXE, "gate", std::to_string(id), "--db", db, "--max-unstable", "0"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out << gate.err;
  EXPECT_NE(gate.out.find("add/plain/correct (3/4)"), std::string::npos) << gate.out;
  // A loose instability threshold still fails on the provider failure (none tolerated by default)...
  gate = run_process({WOBBLE_EXE, "gate", std::to_string(id), "--db", db, "--max-unstable", "4"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out << gate.err;
  EXPECT_NE(gate.out.find("[FAIL] provider_failures: 1 of 16 samples"), std::string::npos) << gate.out;
  // ...and passes once one failure is allowed, as a count or as a share.
  gate = run_process({WOBBLE_EXE, "gate", std::to_string(id), "--db", db, "--max-unstable", "4",
                      "--max-provider-failures", "1"});
  EXPECT_EQ(gate.exit_code, 0) << gate.out << gate.err;
  gate = run_process({WOBBLE_EXE, "gate", std::to_string(id), "--db", db, "--max-unstable", "4",
                      "--max-provider-failures", "6.25%"});
  EXPECT_EQ(gate.exit_code, 0) << gate.out << gate.err;
  gate = run_process({WOBBLE_EXE, "gate", std::to_string(id), "--db", db, "--max-unstable", "4",
                      "--max-provider-failures", "6%"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out << gate.err;
}

TEST(OpenAIEndToEnd, KilledRunResumesToExactlyAllSamplesWithoutDuplicates) {
  auto seeds = seed_table(4);
  FakeOpenAIServer server(
      [&](const nlohmann::json& req) {
        auto [c, v, r] = seeds.at(req["seed"].get<uint64_t>());
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        return scripted(c, v, r);
      });
  std::string dir = make_temp_dir("resume");
  std::string suite = suite_for(server.base_url(), dir, 5);
  std::string db = dir + "/w.db";
  std::map<std::string, std::string> env = {{"WOBBLE_TEST_KEY", kKey}};
  int pid = spawn_process({WOBBLE_EXE, "run", suite, "--db", db, "--concurrency", "1", "--quiet"}, env);
  // Kill once some but not all samples are stored.
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      Store s = Store::open(db);
      auto runs = s.list_runs();
      if (!runs.empty() && s.samples(runs[0].id).size() >= 1) break;
    } catch (...) {
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  int64_t id;
  size_t before;
  {
    Store s = Store::open(db);
    auto runs = s.list_runs();
    ASSERT_EQ(runs.size(), 1u);
    id = runs[0].id;
    EXPECT_EQ(runs[0].status, "running");  // killed: nobody marked it
    before = s.samples(id).size();
  }
  ASSERT_GT(before, 0u);
  ASSERT_LT(before, 16u);
  auto resumed = run_process({WOBBLE_EXE, "run", "--resume", std::to_string(id), "--db", db, "--quiet"}, env);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  Store s = Store::open(db);
  auto samples = s.samples(id);
  EXPECT_EQ(samples.size(), 16u);
  std::set<std::tuple<std::string, std::string, int>> seen;
  for (const auto& x : samples) EXPECT_TRUE(seen.insert({x.case_id, x.variant_id, x.repeat}).second);
  EXPECT_EQ(s.get_run(id)->status, "complete");
  // Resumed samples carry the same seeds a fresh run would use.
  for (const auto& x : samples) EXPECT_EQ(x.seed, derive_seed(42, x.case_id, x.variant_id, x.repeat));
}

TEST(OpenAIEndToEnd, MissingKeyAndBadSuiteAreUsageOrRuntimeErrors) {
  std::string dir = make_temp_dir("bad");
  FakeOpenAIServer server([](const nlohmann::json&) { return "x"; });
  std::string suite = suite_for(server.base_url(), dir, 1);
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", dir + "/w.db"});  // WOBBLE_TEST_KEY unset
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("WOBBLE_TEST_KEY"), std::string::npos) << r.err;
  write_text_file(dir + "/bad.yaml", "name: x\nvariants:\n  - id: a\n    promt: hi\ncases: []\n");
  r = run_process({WOBBLE_EXE, "run", dir + "/bad.yaml", "--db", dir + "/w.db"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.yaml:4: variants[0].promt: unknown key (did you mean 'prompt'?)"), std::string::npos) << r.err;
}
