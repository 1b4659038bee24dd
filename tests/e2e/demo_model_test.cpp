// End to end on the bundled demo model (engine/models/wobble-demo-moe.gguf; skipped when absent):
// the engine reproduces the training framework's greedy tokens, a rerun reproduces every sample
// and its routing, temperature > 0 varies outputs, and a SIGKILLed run resumes without duplicates.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "moe/model.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "store/store.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-moe.gguf";
const std::string kExpect = std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/demo/expectations.json";

#define REQUIRE_DEMO_MODEL()                                                          \
  if (!fs::exists(kModel)) GTEST_SKIP() << "demo model not found at " << kModel;

// A small suite on the demo model: 2 cases x 2 variants x `repeats`. The questions are held-out ones
// the model is least sure of (engine/README.md, Demo model): it answers most sums right in every
// repeat even at temperature 1.5, so only such questions vary.
std::string write_suite(const std::string& dir, double temperature, int repeats, int max_tokens = 24) {
  std::string rubrics = std::string(WOBBLE_SOURCE_DIR) + "/rubrics/";
  std::string s = "name: demo-e2e\nprovider: {kind: local, model_path: \"" + kModel +
                  "\", threads: 1, max_concurrency: 2}\nsampling: {temperature: " + std::to_string(temperature) +
                  ", max_tokens: " + std::to_string(max_tokens) + ", seed: 11}\nrepeats: " + std::to_string(repeats) +
                  "\nvariants:\n  - id: plain\n    messages: [{user: \"{{question}}\"}]\n  - id: role\n    messages: "
                  "[{system: \"Role: math expert\"}, {user: \"{{question}}\"}]\ncases:\n"
                  "  - {id: add, vars: {question: \"What is 64 + 65?\", answer: \"129\"}, rubric: \"" + rubrics +
                  "demo-arithmetic.yaml\"}\n  - {id: sub, vars: {question: \"Compute 49 - 42.\", answer: \"7\"}, "
                  "rubric: \"" + rubrics + "demo-arithmetic.yaml\"}\n";
  std::string path = dir + "/suite.yaml";
  write_text_file(path, s);
  return path;
}

int64_t run_id_of(const ProcessResult& r) { return std::stoll(r.out); }

}  // namespace

// The engine against the trainer's own greedy decoding (the expectations file it wrote).
void expect_torch_greedy_tokens(const std::string& model, const std::string& expectations) {
  auto j = nlohmann::json::parse(read_text_file(expectations));
  auto m = moe::Model::load(model);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  int matched = 0, total = 0;
  for (const auto& c : j["cases"]) {
    std::vector<int32_t> prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    auto ids = (*m)->tokenizer().encode(c["prompt"].get<std::string>(), moe::EncodeOptions{false, true});
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, prompt) << c["name"];  // the engine's tokenizer agrees with the trainer's
    auto s = moe::Session::create(*m, moe::SessionOptions{0, 1, false});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->prefill(prompt).ok());
    // First-step logits: the torch top-5 within 2e-2 (F16 weights, different summation order).
    auto top = c["top5_ids"].get<std::vector<int32_t>>();
    auto vals = c["top5_logits"].get<std::vector<float>>();
    for (size_t i = 0; i < top.size(); ++i) EXPECT_NEAR((*s)->logits()[size_t(top[i])], vals[i], 2e-2f) << c["name"];
    // Greedy continuation token by token, fed like the trainer (including the end-of-turn token).
    auto want = c["greedy_ids"].get<std::vector<int32_t>>();
    for (size_t i = 0; i < want.size(); ++i) {
      auto l = (*s)->logits();
      int32_t best = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
      ++total;
      if (best != want[i]) break;
      ++matched;
      if (i + 1 < want.size()) {
        ASSERT_TRUE((*s)->step(best).ok());
      }
    }
  }
  EXPECT_GT(total, 0);
  EXPECT_EQ(matched, total) << "greedy tokens matching the training framework";
}

TEST(DemoModel, EngineReproducesTorchGreedyTokens) {
  REQUIRE_DEMO_MODEL();
  expect_torch_greedy_tokens(kModel, kExpect);
}

TEST(DemoModel, ThinkModelEngineReproducesTorchGreedyTokens) {
  const std::string think = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-think-moe.gguf";
  if (!fs::exists(think)) GTEST_SKIP() << "think demo model not found at " << think;
  expect_torch_greedy_tokens(think, std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/think/expectations.json");
}

TEST(DemoModel, SameSuiteAndSeedTwiceGivesIdenticalSamplesAndRouting) {
  REQUIRE_DEMO_MODEL();
  std::string dir = make_temp_dir("demo-det");
  std::string suite = write_suite(dir, 0.8, 3);
  std::string db = dir + "/w.db";
  auto a = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet"});
  auto b = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet", "--concurrency", "1"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  Store st = Store::open(db);
  auto sa = st.samples(run_id_of(a), true), sb = st.samples(run_id_of(b), true);
  ASSERT_EQ(sa.size(), 12u);
  ASSERT_EQ(sb.size(), 12u);
  std::set<std::string> distinct;
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].output, sb[i].output) << sa[i].case_id << "/" << sa[i].variant_id << "#" << sa[i].repeat;
    EXPECT_EQ(sa[i].token_ids, sb[i].token_ids);
    EXPECT_EQ(sa[i].routing_trace, sb[i].routing_trace);
    EXPECT_FALSE(sa[i].routing_trace.empty());
    // Usage counts every sampled token, the end-of-turn one included (as llama.cpp and vLLM
    // report it); the stored ids are the generated text's.
    const int64_t n_ids = int64_t(sa[i].token_ids.size());
    if (sa[i].finish_reason == "stop") {
      EXPECT_EQ(sa[i].completion_tokens, n_ids + 1) << sa[i].case_id;
    } else {
      EXPECT_EQ(sa[i].finish_reason, "length");
      EXPECT_EQ(sa[i].completion_tokens, n_ids);
      EXPECT_EQ(n_ids, 24);
    }
    distinct.insert(sa[i].case_id + sa[i].variant_id + sa[i].output);
  }
  // Temperature 0.8: the 3 repeats of a (case, variant) are not all the same text everywhere.
  EXPECT_GT(distinct.size(), 4u);
  auto rep = run_process({WOBBLE_EXE, "report", std::to_string(run_id_of(a)), "--db", db, "--format", "json"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  auto j = nlohmann::json::parse(rep.out);
  ASSERT_TRUE(j.contains("routing"));
  EXPECT_EQ(j["routing"]["groups"].size(), 4u);
  for (const auto& g : j["routing"]["groups"]) EXPECT_DOUBLE_EQ(g["prompt_exact"].get<double>(), 1.0);
}

TEST(DemoModel, TemperatureFlagsAnUnstableCriterion) {
  REQUIRE_DEMO_MODEL();
  std::string dir = make_temp_dir("demo-var");
  std::string suite = write_suite(dir, 1.5, 8, 12);
  std::string db = dir + "/w.db";
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rep = run_process({WOBBLE_EXE, "report", std::to_string(run_id_of(r)), "--db", db, "--format", "json"});
  auto j = nlohmann::json::parse(rep.out);
  EXPECT_GE(j["summary"]["unstable"].get<int>(), 1);
  auto gate = run_process({WOBBLE_EXE, "gate", std::to_string(run_id_of(r)), "--db", db, "--max-unstable", "0"});
  EXPECT_EQ(gate.exit_code, 1) << gate.out;
}

TEST(DemoModel, KilledRunResumesToExactlyAllSamples) {
  REQUIRE_DEMO_MODEL();
  std::string dir = make_temp_dir("demo-kill");
  // Long prose answers and many repeats so the run outlives the first batched write (1 s).
  std::string rubric = std::string(WOBBLE_SOURCE_DIR) + "/rubrics/demo-prose.yaml";
  std::string suite = dir + "/suite.yaml";
  write_text_file(suite, "name: demo-kill\nprovider: {kind: local, model_path: \"" + kModel +
                             "\", threads: 1}\nsampling: {temperature: 0.9, max_tokens: 64, seed: 3}\nrepeats: 60\n"
                             "variants:\n  - {id: plain, messages: [{user: \"{{q}}\"}]}\n  - {id: role, messages: "
                             "[{system: \"Role: writer\"}, {user: \"{{q}}\"}]}\ncases:\n  - {id: sea, vars: {q: "
                             "\"Write two sentences about the sea.\"}, rubric: \"" + rubric + "\"}\n  - {id: town, vars: "
                             "{q: \"Tell a short story about the city.\"}, rubric: \"" + rubric + "\"}\n");
  std::string db = dir + "/w.db";
  int pid = spawn_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet", "--concurrency", "1"});
  size_t seen = 0;
  // Up to 30 s: on a loaded machine the child can take a while to create its run.
  for (int i = 0; i < 3000 && seen == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    try {
      Store s = Store::open(db);
      auto runs = s.list_runs();
      if (!runs.empty()) seen = s.samples(runs[0].id).size();
    } catch (...) {
    }
  }
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  int64_t id;
  size_t before;
  {
    Store s = Store::open(db);
    auto runs = s.list_runs();
    ASSERT_FALSE(runs.empty()) << "the killed run never stored its run row";
    id = runs[0].id;
    before = s.samples(id).size();
  }
  ASSERT_LT(before, 240u) << "the run finished before it could be killed";
  auto r = run_process({WOBBLE_EXE, "run", "--resume", std::to_string(id), "--db", db, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Store s = Store::open(db);
  auto all = s.samples(id);
  EXPECT_EQ(all.size(), 240u);  // 2 cases x 2 variants x 60 repeats
  std::set<std::tuple<std::string, std::string, int>> keys;
  for (const auto& x : all) EXPECT_TRUE(keys.insert({x.case_id, x.variant_id, x.repeat}).second);
  EXPECT_EQ(s.get_run(id)->status, "complete");
}

TEST(DemoModel, ShardsMergedEqualTheUnshardedRunAndEveryReportRenders) {
  REQUIRE_DEMO_MODEL();
  std::string dir = make_temp_dir("demo-shards");
  std::string suite = write_suite(dir, 0.8, 3);
  std::string whole = dir + "/whole.db", merged = dir + "/merged.db";
  auto full = run_process({WOBBLE_EXE, "run", suite, "--db", whole, "--quiet"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  std::vector<std::string> merge_args = {WOBBLE_EXE, "merge", merged};
  for (int i = 0; i < 3; ++i) {
    std::string db = dir + "/shard" + std::to_string(i) + ".db";
    auto r = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet", "--shard", std::to_string(i) + "/3"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    merge_args.push_back(db);
  }
  merge_args.push_back(dir + "/shard1.db");  // given twice: its samples are duplicates, left out
  merge_args.push_back("--json");
  auto m = run_process(merge_args);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  auto mj = nlohmann::json::parse(m.out);
  EXPECT_EQ(mj["samples"], 12);
  EXPECT_EQ(mj["expected"], 12);
  EXPECT_EQ(mj["status"], "complete");
  EXPECT_GT(mj["duplicates"].get<int>(), 0);
  EXPECT_EQ(mj["conflicts"], 0);
  // Same seeds per (case, variant, repeat): the merged run is the unsharded run, sample for sample.
  Store a = Store::open(whole), b = Store::open(merged);
  auto sa = a.samples(run_id_of(full), true), sb = b.samples(mj["run_id"].get<int64_t>(), true);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].output, sb[i].output);
    EXPECT_EQ(sa[i].routing_trace, sb[i].routing_trace);
  }
  // A run of another suite in the inputs is refused with exit code 2.
  std::string other = dir + "/other.db";
  write_text_file(dir + "/other.yaml", read_text_file(suite).replace(0, 14, "name: other-e2e"));
  ASSERT_EQ(run_process({WOBBLE_EXE, "run", dir + "/other.yaml", "--db", other, "--quiet", "--shard", "0/3"}).exit_code, 0);
  auto refused = run_process({WOBBLE_EXE, "merge", dir + "/refused.db", dir + "/shard0.db", other});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("refusing to merge"), std::string::npos) << refused.err;
  // HTML run report (with routing), comparison and trend render from the merged database.
  std::string id = std::to_string(mj["run_id"].get<int64_t>());
  auto html = run_process({WOBBLE_EXE, "report", id, "--db", merged, "--format", "html"});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_NE(html.out.find("<section id=\"routing\">"), std::string::npos);
  EXPECT_NE(html.out.find("Expert usage: add / plain"), std::string::npos);
  auto again = run_process({WOBBLE_EXE, "run", suite, "--db", merged, "--quiet"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto cmp = run_process({WOBBLE_EXE, "compare", id, again.out.substr(0, again.out.find('\n')), "--db", merged, "--format", "html"});
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("0 verdict changes"), std::string::npos);
  auto trend = run_process({WOBBLE_EXE, "trend", "--suite", "demo-e2e", "--db", merged, "--format", "json"});
  ASSERT_EQ(trend.exit_code, 0) << trend.err;
  auto tj = nlohmann::json::parse(trend.out);
  ASSERT_EQ(tj["points"].size(), 2u);
  EXPECT_DOUBLE_EQ(tj["points"][1]["routing_max_jsd_vs_previous"].get<double>(), 0.0);  // same seeds, same routing
  EXPECT_EQ(tj["points"][0]["pass_rate"], tj["points"][1]["pass_rate"]);
}
