// Several providers in one suite, end to end against the scripted fake server: a model that is
// right 9 times in 10 against one right every other time, on the same repeats (same seeds), must
// give exactly the paired McNemar counts the script implies; command-line overrides must be
// recorded in the plan and reach the endpoint.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "runner/seeds.h"
#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

constexpr uint64_t kSeed = 11;
constexpr int kRepeats = 10;

// Repeat r of case c, from the per-repeat seed both providers share.
std::map<uint64_t, std::pair<std::string, int>> seed_table() {
  std::map<uint64_t, std::pair<std::string, int>> t;
  for (const char* c : {"q1", "q2"})
    for (int r = 0; r < kRepeats; ++r) t[derive_seed(kSeed, c, "plain", r)] = {c, r};
  return t;
}

// "good-model" misses repeat 9 only (90%); "bad-model" is right on even repeats (50%).
bool scripted_right(const std::string& model, int repeat) {
  if (model == "good-model") return repeat != 9;
  return repeat % 2 == 0;
}

struct Fixture {
  std::string dir, suite, db;
};

Fixture write_suite(const std::string& tag) {
  Fixture f;
  f.dir = make_temp_dir(tag);
  f.db = f.dir + "/w.db";
  f.suite = f.dir + "/suite.yaml";
  write_text_file(f.dir + "/cases.jsonl",
                  "{\"id\": \"q1\", \"vars\": {\"q\": \"What is 2+3?\", \"answer\": \"5\"}}\n"
                  "{\"id\": \"q2\", \"vars\": {\"q\": \"What is 4*6?\", \"answer\": \"24\"}}\n");
  write_text_file(f.suite,
                  "name: paired\n"
                  "providers:\n"
                  "  - id: good\n    kind: openai\n    base_url: ${WOBBLE_T_URL}\n    model: good-model\n"
                  "    max_attempts: 1\n"
                  "  - id: bad\n    kind: openai\n    base_url: ${WOBBLE_T_URL}\n    model: ${WOBBLE_T_BAD}\n"
                  "    max_attempts: 1\n"
                  "sampling: {seed: 11, max_tokens: 8, temperature: 0.7}\n"
                  "repeats: 10\n"
                  "variants: [{id: plain, prompt: \"{{q}}\"}]\n"
                  "rubric:\n  criteria:\n    - {id: right, scorer: contains, args: {value: \"{{answer}}\"}}\n"
                  "cases_file: cases.jsonl\n");
  return f;
}

struct Seen {
  std::mutex mu;
  std::multiset<std::string> models;
  std::set<double> temperatures;
};

}  // namespace

TEST(ProvidersEndToEnd, TwoProvidersArePairedByRepeatWithTheScriptedMcNemarCounts) {
  auto seeds = seed_table();
  Seen seen;
  FakeOpenAIServer server([&](const nlohmann::json& req) {
    auto [c, r] = seeds.at(req["seed"].get<uint64_t>());
    std::string model = req["model"];
    {
      std::lock_guard<std::mutex> lock(seen.mu);
      seen.models.insert(model);
    }
    std::string answer = c == "q1" ? "5" : "24";
    return scripted_right(model, r) ? "It is " + answer + "." : std::string("It is 7.");
  });
  server.set_models({"good-model", "bad-model"});
  Fixture f = write_suite("providers-paired");
  std::map<std::string, std::string> env = {{"WOBBLE_T_URL", server.base_url()}, {"WOBBLE_T_BAD", "bad-model"}};
  auto run = run_process({WOBBLE_EXE, "run", f.suite, "--db", f.db, "--json", "--quiet"}, env);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto outcome = nlohmann::json::parse(run.out);
  EXPECT_EQ(outcome["planned"], 2 * 2 * kRepeats);  // providers x cases x repeats
  EXPECT_EQ(outcome["failed"], 0);
  EXPECT_EQ(seen.models.count("good-model"), size_t(2 * kRepeats));
  EXPECT_EQ(seen.models.count("bad-model"), size_t(2 * kRepeats));

  {
    Store store = Store::open(f.db);
    int64_t id = outcome["run_id"];
    auto samples = store.samples(id);
    ASSERT_EQ(samples.size(), size_t(4 * kRepeats));
    std::map<std::tuple<std::string, std::string, int>, uint64_t> seed_of;
    for (const auto& s : samples) seed_of[{s.provider_id, s.case_id, s.repeat}] = s.seed;
    for (const char* c : {"q1", "q2"})
      for (int r = 0; r < kRepeats; ++r)
        EXPECT_EQ(seed_of.at({"good", c, r}), seed_of.at({"bad", c, r})) << c << " #" << r;
    // The stored plan names the providers with ${ENV} expanded.
    auto rec = store.get_run(id);
    ASSERT_EQ(rec->plan.suite.providers.size(), 2u);
    EXPECT_EQ(rec->plan.suite.providers[1].model, "bad-model");
    EXPECT_EQ(rec->plan.suite.providers[0].base_url, server.base_url());
    EXPECT_EQ(rec->expected_samples, 4 * kRepeats);
  }

  // Resume works per provider: drop half of one provider's samples and only those are taken again.
  {
    Store store = Store::open(f.db);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(store.handle(),
                           "DELETE FROM samples WHERE provider_id = 'bad' AND repeat_index >= 5; "
                           "UPDATE runs SET status = 'interrupted'",
                           nullptr, nullptr, &err),
              SQLITE_OK)
        << (err ? err : "");
  }
  const size_t bad_before = seen.models.count("bad-model");
  auto resumed = run_process({WOBBLE_EXE, "run", "--resume", "latest", "--db", f.db, "--json", "--quiet"}, env);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(nlohmann::json::parse(resumed.out)["executed"], 2 * 5);
  EXPECT_EQ(seen.models.count("bad-model"), bad_before + 2 * 5);
  EXPECT_EQ(seen.models.count("good-model"), size_t(2 * kRepeats));

  // Paired statistics, per (case, variant, criterion): good passes 9/10, bad 5/10; discordant
  // pairs: good-only on odd repeats but 9 (1, 3, 5, 7) = 4, bad-only never; exact McNemar
  // p = 2 * 0.5^4 = 0.125.
  auto cmp = run_process({WOBBLE_EXE, "compare", "latest", "--providers", "good", "bad", "--db", f.db, "--format", "json"});
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  auto cj = nlohmann::json::parse(cmp.out);
  ASSERT_EQ(cj["criteria"].size(), 2u);
  for (const auto& x : cj["criteria"]) {
    EXPECT_EQ(x["variant"], "plain");
    EXPECT_EQ(x["n_a"], kRepeats);
    EXPECT_EQ(x["passes_a"], 9);
    EXPECT_EQ(x["passes_b"], 5);
    EXPECT_EQ(x["pairs"], kRepeats);
    EXPECT_EQ(x["only_a"], 4);
    EXPECT_EQ(x["only_b"], 0);
    EXPECT_DOUBLE_EQ(x["mcnemar_p"].get<double>(), 0.125);
    EXPECT_EQ(x["verdict_a"], "unstable");
  }
  EXPECT_NE(cj["run_a"]["model_id"].get<std::string>().find("good-model"), std::string::npos);

  // The report: providers side by side, and no statistic mixing the two models' repeats.
  auto rep = run_process({WOBBLE_EXE, "report", "latest", "--db", f.db, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  auto rj = nlohmann::json::parse(rep.out);
  ASSERT_TRUE(rj.contains("providers")) << rep.out.substr(0, 400);
  EXPECT_EQ(rj["providers"]["providers"][0]["id"], "good");
  EXPECT_DOUBLE_EQ(rj["providers"]["providers"][0]["pass_rate"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(rj["providers"]["providers"][1]["pass_rate"].get<double>(), 0.5);
  const auto& cell = rj["providers"]["criteria"][0]["by_provider"]["bad"];
  EXPECT_EQ(cell["passes"], 5);
  EXPECT_EQ(cell["n"], kRepeats);
  EXPECT_LT(cell["wilson_lo"].get<double>(), 0.5);
  EXPECT_GT(cell["wilson_hi"].get<double>(), 0.5);
  auto md = run_process({WOBBLE_EXE, "report", "latest", "--db", f.db});
  EXPECT_NE(md.out.find("## Providers side by side"), std::string::npos);
  EXPECT_NE(md.out.find("9/10"), std::string::npos);

  // --provider filters the report to one provider's samples.
  auto only = run_process({WOBBLE_EXE, "report", "latest", "--db", f.db, "--format", "json", "--provider", "good"});
  ASSERT_EQ(only.exit_code, 0) << only.err;
  auto oj = nlohmann::json::parse(only.out);
  EXPECT_FALSE(oj.contains("providers"));
  EXPECT_EQ(oj["run"]["model_id"], "good: good-model");
  auto unknown = run_process({WOBBLE_EXE, "report", "latest", "--db", f.db, "--provider", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("its providers: good, bad"), std::string::npos) << unknown.err;
}

TEST(ProvidersEndToEnd, OverridesRetargetOneProviderAndAreRecorded) {
  Seen seen;
  FakeOpenAIServer server([&](const nlohmann::json& req) {
    std::lock_guard<std::mutex> lock(seen.mu);
    seen.models.insert(req["model"].get<std::string>());
    seen.temperatures.insert(req["temperature"].get<double>());
    return std::string("It is 5 and 24.");
  });
  Fixture f = write_suite("providers-overrides");
  std::map<std::string, std::string> env = {{"WOBBLE_T_URL", "http://127.0.0.1:1/v1"}, {"WOBBLE_T_BAD", "bad-model"}};

  // --model on a two-provider suite without --provider is refused: it would be ambiguous.
  auto ambiguous = run_process({WOBBLE_EXE, "run", f.suite, "--db", f.db, "--model", "x", "--no-preflight"}, env);
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.err.find("pick one with --provider ID"), std::string::npos) << ambiguous.err;
  auto wrong_kind = run_process({WOBBLE_EXE, "run", f.suite, "--db", f.db, "--provider", "bad", "--model-path",
                                 "m.gguf", "--no-preflight"}, env);
  EXPECT_EQ(wrong_kind.exit_code, 2);
  EXPECT_NE(wrong_kind.err.find("--model-path applies to a local provider"), std::string::npos) << wrong_kind.err;
  auto unset = run_process({WOBBLE_EXE, "run", f.suite, "--db", f.db, "--no-preflight"},
                           {{"WOBBLE_T_URL", server.base_url()}});
  EXPECT_EQ(unset.exit_code, 2);
  EXPECT_NE(unset.err.find("providers[1].model: environment variable 'WOBBLE_T_BAD' is not set"), std::string::npos)
      << unset.err;

  auto run = run_process({WOBBLE_EXE, "run", f.suite, "--db", f.db, "--provider", "bad", "--model", "other-model",
                          "--base-url", server.base_url(), "--temperature", "0.25", "--repeats", "2", "--json",
                          "--quiet", "--no-preflight"},
                         env);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto outcome = nlohmann::json::parse(run.out);
  EXPECT_EQ(outcome["planned"], 2 * 2);  // one provider x two cases x two repeats
  EXPECT_EQ(seen.models, (std::multiset<std::string>{"other-model", "other-model", "other-model", "other-model"}));
  EXPECT_EQ(seen.temperatures, std::set<double>{0.25});
  {
    Store store = Store::open(f.db);
    auto rec = store.get_run(outcome["run_id"]);
    EXPECT_EQ(rec->plan.overrides,
              (std::map<std::string, std::string>{{"provider", "bad"}, {"model", "other-model"},
                                                  {"base-url", server.base_url()}, {"temperature", "0.25"},
                                                  {"repeats", "2"}}));
    ASSERT_EQ(rec->plan.suite.providers.size(), 1u);
    EXPECT_EQ(rec->plan.suite.providers[0].id, "bad");
    for (const auto& s : store.samples(rec->id)) EXPECT_EQ(s.provider_id, "bad");
  }
  auto md = run_process({WOBBLE_EXE, "report", "latest", "--db", f.db});
  EXPECT_NE(md.out.find("--model other-model"), std::string::npos) << md.out.substr(0, 800);
  EXPECT_NE(md.out.find("--temperature 0.25"), std::string::npos);
}
