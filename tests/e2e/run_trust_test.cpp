// End to end: what a CI pipeline sees when the provider fails. An unreachable endpoint, a refused
// key or an unknown model stop `wobble run` before anything is stored; requests that all fail trip
// the circuit breaker; a run in which every sample failed exits 3 and no gate passes it; Ctrl-C
// against a hanging endpoint stops at once and --resume completes the run exactly.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <regex>
#include <thread>

#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

const std::string kKey = "sk-trust-SECRET-77";

// 2 cases x 2 variants x `repeats`; every output passes.
std::string write_suite(const std::string& dir, const std::string& base_url, int repeats = 3,
                        const std::string& provider_extra = "") {
  std::string text = "name: trust\nprovider:\n  kind: openai\n  base_url: " + base_url +
                     "\n  model: m\n  api_key_env: WOBBLE_TRUST_KEY\n  timeout: 30\n  max_concurrency: 2\n"
                     "  max_attempts: 2\n" + provider_extra +
                     "repeats: " + std::to_string(repeats) +
                     "\nvariants:\n  - {id: a, prompt: \"Q {{n}}\"}\n  - {id: b, prompt: \"Question {{n}}\"}\n"
                     "cases:\n"
                     "  - {id: one, vars: {n: \"1\"}, rubric: [{id: ok, scorer: contains, args: {value: \"yes\"}}]}\n"
                     "  - {id: two, vars: {n: \"2\"}, rubric: [{id: ok, scorer: contains, args: {value: \"yes\"}}]}\n";
  std::string path = dir + "/suite.yaml";
  write_text_file(path, text);
  return path;
}

const std::map<std::string, std::string> kEnv = {{"WOBBLE_TRUST_KEY", kKey}};

std::string run_status(const std::string& db, int64_t id) {
  Store s = Store::open(db);
  auto r = s.get_run(id);
  return r ? r->status : "";
}

std::string integrity(const std::string& db) {
  sqlite3* h = nullptr;
  sqlite3_open(db.c_str(), &h);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr);
  std::string out = sqlite3_step(st) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(st, 0)) : "";
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// Waits (up to 5 s) until the server has received `n` completion requests.
void wait_for_requests(const FakeOpenAIServer& server, int n) {
  for (int i = 0; i < 500 && server.completion_requests() < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(server.completion_requests(), n);
}

}  // namespace

TEST(RunTrust, UnreachableEndpointFailsBeforeAnythingIsStored) {
  std::string dir = make_temp_dir("trust-down");
  // Port 1 on loopback: nothing listens there.
  std::string suite = write_suite(dir, "http://127.0.0.1:1/v1");
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", dir + "/w.db", "--quiet"}, kEnv);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("cannot reach the endpoint http://127.0.0.1:1/v1"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/w.db"));
}

TEST(RunTrust, RefusedKeyAndUnknownEndpointAreNamed) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-401");
  std::string suite = write_suite(dir, server.base_url());
  server.refuse_with(401);
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", dir + "/w.db", "--quiet"}, kEnv);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("refused the API key from $WOBBLE_TRUST_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kKey), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/w.db"));

  server.refuse_with(404);
  std::string no_v1_dir = make_temp_dir("trust-404");
  std::string no_v1 = write_suite(no_v1_dir, "http://127.0.0.1:" + std::to_string(server.port()));
  r = run_process({WOBBLE_EXE, "run", no_v1, "--db", dir + "/w.db", "--quiet"}, kEnv);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no such endpoint or model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean base_url http://127.0.0.1:" + std::to_string(server.port()) + "/v1?"),
            std::string::npos) << r.err;
  EXPECT_EQ(server.completion_requests(), 0);  // refused at the door: no completion was sent

  // A server that lists models but not the suite's: one 1-token request decides, and it succeeds.
  server.refuse_with(0);
  server.set_models({"served-a", "served-b"});
  r = run_process({WOBBLE_EXE, "run", suite, "--db", dir + "/w.db", "--quiet"}, kEnv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.completion_requests(), 1 + 12);  // the probe, then the run
}

TEST(RunTrust, CircuitBreakerStopsARunWhoseRequestsAllFailAndResumeFinishesIt) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-breaker");
  std::string suite = write_suite(dir, server.base_url(), 5, "  circuit_breaker: 4\n");
  std::string db = dir + "/w.db";
  server.refuse_with(401);
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet", "--no-preflight", "--json"}, kEnv);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("samples in a row failed at the provider; the last error: HTTP 401"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("wobble run --resume"), std::string::npos) << r.err;
  auto out = nlohmann::json::parse(r.out);
  int64_t id = out["run_id"];
  EXPECT_EQ(out["status"], "failed");
  EXPECT_EQ(run_status(db, id), "failed");
  // Stopped long before the 20 planned samples: 4 failures in a row that span two (case, variant)
  // groups (the first group's 5, then the next one's first), plus what was in flight.
  EXPECT_GE(out["executed"].get<int>(), 6);
  EXPECT_LE(out["executed"].get<int>(), 8);
  // The gate refuses the run: failed status and provider failures.
  auto gate = run_process({WOBBLE_EXE, "gate", std::to_string(id), "--db", db, "--max-unstable", "10"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out;
  EXPECT_NE(gate.out.find("[FAIL] provider_failures"), std::string::npos) << gate.out;

  // Fixed: --resume runs every sample that has no output yet and the run completes.
  server.refuse_with(0);
  r = run_process({WOBBLE_EXE, "run", "--resume", std::to_string(id), "--db", db, "--quiet"}, kEnv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Store store = Store::open(db);
  auto samples = store.samples(id);
  EXPECT_EQ(samples.size(), 20u);
  for (const auto& s : samples) EXPECT_TRUE(s.ok) << s.case_id << s.repeat;
  EXPECT_EQ(store.get_run(id)->status, "complete");
}

TEST(RunTrust, EverySampleFailedExitsThreeAndEveryFormatSaysSo) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-allfail");
  std::string suite = write_suite(dir, server.base_url(), 2, "  circuit_breaker: 0\n");
  std::string db = dir + "/w.db";
  server.refuse_with(500);
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet", "--no-preflight", "--json"}, kEnv);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("every sample of run"), std::string::npos) << r.err;
  std::string id = std::to_string(nlohmann::json::parse(r.out)["run_id"].get<int64_t>());

  auto gate = run_process({WOBBLE_EXE, "gate", id, "--db", db, "--max-unstable", "0"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out;
  EXPECT_NE(gate.out.find("[FAIL] scored_samples"), std::string::npos) << gate.out;
  // Even a gate that tolerates every failure cannot pass a run with nothing scored.
  gate = run_process({WOBBLE_EXE, "gate", id, "--db", db, "--max-unstable", "0", "--max-provider-failures", "100%"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out;

  auto md = run_process({WOBBLE_EXE, "report", id, "--db", db});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(md.out.find("> **Warning:** Every sample failed at the provider (8 of 8)"), md.out.find("\n\n") + 2)
      << md.out.substr(0, 400);
  auto summary = run_process({WOBBLE_EXE, "report", id, "--db", db, "--format", "summary"});
  EXPECT_NE(summary.out.find("Every sample failed"), std::string::npos) << summary.out;
  EXPECT_EQ(summary.out.find("every criterion stable-pass"), std::string::npos) << summary.out;
  auto json = run_process({WOBBLE_EXE, "report", id, "--db", db, "--format", "json"});
  auto j = nlohmann::json::parse(json.out);
  ASSERT_FALSE(j["alerts"].empty());
  EXPECT_EQ(j["failures"].size(), 8u);
  EXPECT_NE(j["failures"][0]["error"].get<std::string>().find("HTTP 500"), std::string::npos);
  auto junit = run_process({WOBBLE_EXE, "report", id, "--db", db, "--format", "junit"});
  EXPECT_NE(junit.out.find("errors=\"8\""), std::string::npos) << junit.out.substr(0, 300);
  EXPECT_NE(junit.out.find("<error type=\"provider_failure\""), std::string::npos);
  auto html = run_process({WOBBLE_EXE, "report", id, "--db", db, "--format", "html"});
  EXPECT_NE(html.out.find("<div class=\"alert\" role=\"alert\">Every sample failed"), std::string::npos);
}

TEST(RunTrust, CtrlCAgainstAHangingEndpointStopsAtOnceAndResumeCompletesIt) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-hang");
  std::string suite = write_suite(dir, server.base_url(), 3);
  std::string db = dir + "/w.db";
  server.hang(true);
  BackgroundProcess run({WOBBLE_EXE, "run", suite, "--db", db}, kEnv);
  wait_for_requests(server, 2);  // both workers have a request in flight
  auto t0 = std::chrono::steady_clock::now();
  run.signal(SIGINT);
  ProcessResult r = run.wait();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "SIGINT to exit against a hanging endpoint: %.3f s\n", seconds);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("stopping: 2 requests in flight (Ctrl-C again to abort now)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("continue with: wobble run --resume 1 --db " + db), std::string::npos) << r.err;
  EXPECT_EQ(run_status(db, 1), "interrupted");
  EXPECT_EQ(integrity(db), "ok");
  {
    Store store = Store::open(db);
    EXPECT_TRUE(store.samples(1).empty());  // cancelled requests are not failures
  }
  server.hang(false);
  // A mistyped database is named and not created.
  auto typo = run_process({WOBBLE_EXE, "run", "--resume", "1", "--db", db + ".typo", "--quiet"}, kEnv);
  EXPECT_EQ(typo.exit_code, 4) << typo.err;
  EXPECT_NE(typo.err.find("no such database: " + db + ".typo"), std::string::npos) << typo.err;
  EXPECT_FALSE(fs::exists(db + ".typo"));
  auto resumed = run_process({WOBBLE_EXE, "run", "--resume", "latest", "--db", db, "--quiet"}, kEnv);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  Store store = Store::open(db);
  EXPECT_EQ(store.samples(1).size(), 12u);
  EXPECT_EQ(store.get_run(1)->status, "complete");
}

TEST(RunTrust, SecondCtrlCAbortsAtOnceAndTheDatabaseStaysConsistent) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-abort");
  std::string suite = write_suite(dir, server.base_url(), 3);
  std::string db = dir + "/w.db";
  server.hang(true);
  BackgroundProcess run({WOBBLE_EXE, "run", suite, "--db", db}, kEnv);
  wait_for_requests(server, 1);
  run.signal(SIGINT);
  run.signal(SIGINT);
  ProcessResult r = run.wait();
  // Either the graceful stop won the race (3) or the second signal aborted (130); never a hang.
  EXPECT_TRUE(r.exit_code == 130 || r.exit_code == 3) << r.exit_code << r.err;
  EXPECT_EQ(integrity(db), "ok");
  server.hang(false);
  auto resumed = run_process({WOBBLE_EXE, "run", "--resume", "1", "--db", db, "--quiet"}, kEnv);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  Store store = Store::open(db);
  EXPECT_EQ(store.samples(1).size(), 12u);
}

TEST(RunTrust, SecondResumeOfALeasedRunIsRefusedNamingTheHolder) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-lease");
  std::string suite = write_suite(dir, server.base_url(), 3);
  std::string db = dir + "/w.db";
  server.hang(true);
  BackgroundProcess first({WOBBLE_EXE, "run", suite, "--db", db}, kEnv);
  wait_for_requests(server, 1);
  auto second = run_process({WOBBLE_EXE, "run", "--resume", "1", "--db", db, "--quiet"}, kEnv);
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_NE(second.err.find("is being executed by process " + std::to_string(first.pid())), std::string::npos)
      << second.err;
  first.signal(SIGINT);
  EXPECT_EQ(first.wait().exit_code, 3);
  EXPECT_EQ(run_status(db, 1), "interrupted");  // the refused resume changed nothing
  server.hang(false);
  auto resumed = run_process({WOBBLE_EXE, "run", "--resume", "1", "--db", db, "--quiet"}, kEnv);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
}

TEST(RunTrust, ResumeNeedsOnlyTheDatabaseAndRefusesAChangedSuiteNamingTheChange) {
  FakeOpenAIServer server([](const nlohmann::json&) { return std::string("yes"); });
  std::string dir = make_temp_dir("trust-anywhere");
  fs::create_directories(dir + "/checkout/suites");
  std::string suite = write_suite(dir + "/checkout/suites", server.base_url(), 3);
  std::string db = dir + "/w.db";
  server.hang(true);
  {
    BackgroundProcess run({WOBBLE_EXE, "run", "suites/suite.yaml", "--db", db, "--case", "one", "--repeats", "2"},
                          kEnv, dir + "/checkout");
    wait_for_requests(server, 1);
    run.signal(SIGINT);
    EXPECT_EQ(run.wait().exit_code, 3);
  }
  server.hang(false);
  // A changed suite given for the cross-check is refused, naming what changed.
  std::string text = read_text_file(suite);
  std::string changed = dir + "/changed.yaml";
  write_text_file(changed, std::regex_replace(text, std::regex("value: \"yes\""), "value: \"no\""));
  auto refused = run_process({WOBBLE_EXE, "run", "--resume", "1", "--db", db, changed}, kEnv, dir);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("case 'one' rubric changed"), std::string::npos) << refused.err;
  // The same suite under another path is accepted; without any suite the stored plan suffices,
  // from a directory where no suite or rubric exists.
  fs::rename(dir + "/checkout", dir + "/moved");
  auto same = run_process({WOBBLE_EXE, "run", "--resume", "1", "--db", db, dir + "/moved/suites/suite.yaml",
                           "--quiet", "--no-preflight"}, kEnv, "/");
  EXPECT_EQ(same.exit_code, 0) << same.err;
  Store store = Store::open(db);
  auto samples = store.samples(1);
  EXPECT_EQ(samples.size(), 4u);  // case one x 2 variants x 2 repeats (the --repeats override)
  // Every report prints the effective repeats, not the suite's 3.
  auto md = run_process({WOBBLE_EXE, "report", "1", "--db", db});
  EXPECT_NE(md.out.find(", repeats 2\n"), std::string::npos) << md.out.substr(0, 600);
  EXPECT_NE(md.out.find("- Overrides: --case one --repeats 2"), std::string::npos) << md.out.substr(0, 600);
  auto json = nlohmann::json::parse(run_process({WOBBLE_EXE, "report", "1", "--db", db, "--format", "json"}).out);
  EXPECT_EQ(json["run"]["repeats"], 2);
  EXPECT_EQ(json["run"]["repeats_per_case"]["one"], 2);
  auto html = run_process({WOBBLE_EXE, "report", "1", "--db", db, "--format", "html"});
  EXPECT_NE(html.out.find("</code>, repeats 2</dd>"), std::string::npos);
}

TEST(RunTrust, LogprobsAndReportedModelsAreStoredAndUsed) {
  FakeOpenAIServer server([](const nlohmann::json& req) {
    // Repeats of case one diverge on the second word.
    return request_prompt(req) == "Q 1" && req["seed"].get<uint64_t>() % 2 ? std::string("yes maybe so")
                                                                           : std::string("yes indeed so");
  });
  server.set_reported_model([](const nlohmann::json& req) {
    return req["seed"].get<uint64_t>() % 3 == 0 ? std::string("m-2024-06") : std::string("m-2024-08");
  });
  std::string dir = make_temp_dir("trust-logprobs");
  std::string suite = write_suite(dir, server.base_url(), 6, "  logprobs: true\n  top_logprobs: 2\n");
  std::string db = dir + "/w.db";
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet"}, kEnv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Store store = Store::open(db);
  auto samples = store.samples(1);
  ASSERT_EQ(samples.size(), 24u);
  const auto& s = samples[0];
  ASSERT_EQ(s.logprobs.size(), 3u);
  EXPECT_EQ(s.logprobs[1].token, s.output.substr(3, s.logprobs[1].token.size()));
  EXPECT_DOUBLE_EQ(s.logprobs[2].logprob, -0.30000000000000004);
  ASSERT_EQ(s.logprobs[0].top.size(), 2u);
  EXPECT_EQ(s.logprobs[0].top[1].first, "alt1");
  EXPECT_FALSE(s.model_reported.empty());

  auto j = nlohmann::json::parse(run_process({WOBBLE_EXE, "report", "1", "--db", db, "--format", "json"}).out);
  EXPECT_EQ(j["samples"][0]["logprobs"]["tokens"], 3);
  EXPECT_NEAR(j["samples"][0]["logprobs"]["mean"].get<double>(), -0.2, 1e-12);
  EXPECT_NEAR(j["samples"][0]["logprobs"]["min"].get<double>(), -0.3, 1e-12);
  bool found = false;
  for (const auto& g : j["groups"])
    if (g["case"] == "one" && g["variant"] == "a" && !g["divergence"].is_null()) {
      found = true;
      EXPECT_NEAR(g["divergence"]["token_a"]["prob"].get<double>(), std::exp(-0.2), 1e-12);
      EXPECT_NEAR(g["divergence"]["token_b"]["prob"].get<double>(), std::exp(-0.2), 1e-12);
    }
  EXPECT_TRUE(found);
  // Two model ids behind one endpoint: every report says so.
  EXPECT_EQ(j["run"]["reported_models"].size(), 2u);
  std::string alerts = j["alerts"].dump();
  EXPECT_NE(alerts.find("2 different model ids"), std::string::npos) << alerts;
  auto md = run_process({WOBBLE_EXE, "report", "1", "--db", db});
  EXPECT_NE(md.out.find("> **Warning:** The endpoint reported 2 different model ids"), std::string::npos);
}
