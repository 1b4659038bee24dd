// wobble merge (shard databases into one run) and wobble trend (a suite's runs over time), on
// databases built here with known contents.
#include <gtest/gtest.h>

#include <sstream>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "analysis/trend.h"
#include "moe/routing.h"
#include "store/merge.h"
#include "store/store.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("wobble-merge-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// A suite of 2 cases × 1 variant × 2 repeats = 4 planned samples.
RunRecord suite_run(const std::string& shard, const std::string& model = "m-1") {
  RunRecord run;
  run.suite_name = "nightly";
  run.suite_path = "/checkout-" + shard + "/suites/nightly.yaml";  // shards run from different checkouts
  run.suite_hash = "abc123";
  run.plan.suite = suite_from_json({{"name", "nightly"},
                        {"source_path", run.suite_path},
                        {"variants", {{{"id", "v"}}}},
                        {"cases", {{{"id", "a"}, {"repeats", 2}}, {{"id", "b"}, {"repeats", 2}}}}});
  run.provider = {{"kind", "local"}};
  run.model_id = model;
  run.sampling = {{"temperature", 0.7}};
  run.repeats = 2;
  run.tool_version = "0.1.0";
  run.started_at = "2026-11-0" + std::to_string(shard.empty() ? 1 : shard[0] - '0' + 1) + "T00:00:00Z";
  run.status = "complete";
  run.shard = shard;
  if (!shard.empty()) parse_shard_text(shard, run.plan.shard_index, run.plan.shard_count);
  return run;
}

SampleRecord sample(int64_t run_id, const std::string& case_id, int repeat, bool ok, const std::string& output,
                    bool pass = true, std::vector<uint8_t> trace = {}) {
  SampleRecord s;
  s.run_id = run_id;
  s.case_id = case_id;
  s.variant_id = "v";
  s.repeat = repeat;
  s.prompt = "p";
  s.ok = ok;
  s.output = ok ? output : "";
  s.error = ok ? "" : "HTTP 500";
  s.routing_trace = std::move(trace);
  if (ok) {
    CriterionResult r;
    r.criterion_id = "k";
    r.outcome = pass ? Outcome::kPass : Outcome::kFail;
    r.score = pass ? 1 : 0;
    r.evidence = {0, 1, output.substr(0, 1)};
    s.scores.push_back(r);
  }
  s.attempts = {{1, ok ? 200 : 500, ok ? "ok" : "http_error", ok ? "" : "HTTP 500", 0.01, 0}};
  return s;
}

int64_t write_run(const std::string& db, const RunRecord& run, std::vector<SampleRecord> samples) {
  Store store = Store::open(db);
  RunRecord r = run;
  r.expected_samples = int64_t(samples.size());
  int64_t id = store.create_run(r);
  for (auto& s : samples) s.run_id = id;
  store.insert_samples(samples);
  return id;
}

}  // namespace

TEST(Merge, ShardsBecomeOneCompleteRunWithoutDuplicates) {
  TempDir dir;
  // Shard 0/2 has case a; shard 1/2 has case b, but its repeat 1 failed; a rerun of shard 1/2 in a
  // third database has both repeats of b ok, and overlaps.
  write_run(dir.file("s0.db"), suite_run("0/2"), {sample(0, "a", 0, true, "A0"), sample(0, "a", 1, true, "A1")});
  write_run(dir.file("s1.db"), suite_run("1/2"), {sample(0, "b", 0, true, "B0"), sample(0, "b", 1, false, "")});
  write_run(dir.file("s1-rerun.db"), suite_run("1/2"),
            {sample(0, "b", 0, true, "B0-different"), sample(0, "b", 1, true, "B1", false)});
  MergeResult r = merge_databases(dir.file("out.db"), {dir.file("s0.db"), dir.file("s1.db"), dir.file("s1-rerun.db")});
  EXPECT_EQ(r.input_runs, 3);
  EXPECT_EQ(r.expected, 4);
  EXPECT_EQ(r.samples, 4);
  EXPECT_EQ(r.duplicates, 2);  // b/0 twice, b/1 twice
  EXPECT_EQ(r.conflicts, 1);   // b/0: "B0" kept, "B0-different" left out
  EXPECT_EQ(r.status, "complete");
  Store out = Store::open(dir.file("out.db"));
  auto run = out.get_run(r.run_id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->shard, "");
  EXPECT_EQ(run->status, "complete");
  EXPECT_EQ(run->expected_samples, 4);
  EXPECT_EQ(run->started_at, "2026-11-01T00:00:00Z");  // the earliest shard's start
  auto samples = out.samples(r.run_id);
  ASSERT_EQ(samples.size(), 4u);
  EXPECT_EQ(samples[2].case_id, "b");
  EXPECT_EQ(samples[2].output, "B0");  // first input wins among ok samples
  EXPECT_TRUE(samples[3].ok);          // the ok rerun replaced the failure
  EXPECT_EQ(samples[3].output, "B1");
  ASSERT_EQ(samples[3].scores.size(), 1u);
  EXPECT_EQ(samples[3].scores[0].outcome, Outcome::kFail);
  EXPECT_EQ(samples[3].attempts.size(), 1u);
}

TEST(Merge, MissingShardLeavesAnInterruptedRunThatResumeCanFinish) {
  TempDir dir;
  write_run(dir.file("s0.db"), suite_run("0/2"), {sample(0, "a", 0, true, "A0"), sample(0, "a", 1, true, "A1")});
  MergeResult r = merge_databases(dir.file("out.db"), {dir.file("s0.db")});
  EXPECT_EQ(r.samples, 2);
  EXPECT_EQ(r.expected, 4);
  EXPECT_EQ(r.status, "interrupted");
  Store out = Store::open(dir.file("out.db"));
  EXPECT_EQ(out.completed_triples(r.run_id).size(), 2u);
}

TEST(Merge, RefusesDifferentSuitesOrConfigurationsAndWritesNothing) {
  TempDir dir;
  write_run(dir.file("s0.db"), suite_run("0/2"), {sample(0, "a", 0, true, "A0")});
  RunRecord other_model = suite_run("1/2", "m-2");
  write_run(dir.file("model.db"), other_model, {sample(0, "b", 0, true, "B0")});
  RunRecord other_sampling = suite_run("1/2");
  other_sampling.sampling = {{"temperature", 0.0}};
  write_run(dir.file("sampling.db"), other_sampling, {sample(0, "b", 0, true, "B0")});
  RunRecord other_suite = suite_run("1/2");
  other_suite.suite_hash = "def456";
  write_run(dir.file("suite.db"), other_suite, {sample(0, "b", 0, true, "B0")});
  RunRecord other_count = suite_run("1/3");
  write_run(dir.file("count.db"), other_count, {sample(0, "b", 0, true, "B0")});
  RunRecord filtered = suite_run("1/2");
  filtered.plan.suite.cases.erase(filtered.plan.suite.cases.begin() + 1);  // run with --case a
  write_run(dir.file("filtered.db"), filtered, {sample(0, "a", 1, true, "A1")});

  struct Want {
    const char* file;
    const char* field;
  } cases[] = {{"model.db", "model"}, {"sampling.db", "sampling"}, {"suite.db", "suite content hash"},
               {"count.db", "shard counts must match"}, {"filtered.db", "planned suite"}};
  for (const auto& w : cases) {
    try {
      merge_databases(dir.file("out.db"), {dir.file("s0.db"), dir.file(w.file)});
      ADD_FAILURE() << "merged " << w.file;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitUsage);
      std::string msg = e.what();
      EXPECT_NE(msg.find(dir.file(w.file)), std::string::npos) << msg;
      EXPECT_NE(msg.find(w.field), std::string::npos) << msg;
    }
  }
  // Nothing was written to the output for any refused merge.
  Store out = Store::open(dir.file("out.db"));
  EXPECT_TRUE(out.list_runs().empty());
  // Missing inputs and output-as-input are usage errors too.
  EXPECT_THROW(merge_databases(dir.file("out.db"), {dir.file("nope.db")}), Error);
  EXPECT_THROW(merge_databases(dir.file("s0.db"), {dir.file("s0.db")}), Error);
  EXPECT_FALSE(fs::exists(dir.file("nope.db")));
}

namespace {

std::vector<uint8_t> trace_with_expert(uint16_t e0) {
  moe::RoutingTrace t(1, 4, 1);
  uint16_t e[1] = {e0};
  float w[1] = {1.f};
  t.append(0, e, w, 0.5f, 0.1f);
  t.append(0, e, w, 0.5f, 0.1f);
  return t.serialize();
}

}  // namespace

TEST(Trend, PointsOldestFirstWithPassRatesUnstableCountsAndRoutingDrift) {
  TempDir dir;
  std::string db = dir.file("t.db");
  // Run 1: a stable-pass, b stable-pass; expert 0 everywhere.
  write_run(db, suite_run(""), {sample(0, "a", 0, true, "x", true, trace_with_expert(0)),
                                sample(0, "a", 1, true, "x", true, trace_with_expert(0)),
                                sample(0, "b", 0, true, "y", true, trace_with_expert(0)),
                                sample(0, "b", 1, true, "y", true, trace_with_expert(0))});
  // Run 2: b flips (unstable); case a routes to expert 1 instead of 0 (JSD 1), b unchanged (JSD 0).
  write_run(db, suite_run(""), {sample(0, "a", 0, true, "x", true, trace_with_expert(1)),
                                sample(0, "a", 1, true, "x", true, trace_with_expert(1)),
                                sample(0, "b", 0, true, "y", true, trace_with_expert(0)),
                                sample(0, "b", 1, true, "z", false, trace_with_expert(0))});
  // A run of another suite is not part of the trend.
  RunRecord other = suite_run("");
  other.suite_name = "other";
  write_run(db, other, {sample(0, "a", 0, true, "x")});
  // Run 4: one failure, no traces.
  write_run(db, suite_run(""), {sample(0, "a", 0, true, "x", false), sample(0, "a", 1, true, "x", false),
                                sample(0, "b", 0, true, "y"), sample(0, "b", 1, false, "")});
  Store store = Store::open(db);
  Trend t = compute_trend(store, "nightly", 0);
  ASSERT_EQ(t.points.size(), 3u);
  EXPECT_EQ(t.points[0].run.id, 1);
  EXPECT_EQ(t.points[2].run.id, 4);
  EXPECT_DOUBLE_EQ(t.points[0].pass_rate, 1.0);
  EXPECT_EQ(t.points[0].unstable, 0);
  EXPECT_FALSE(t.points[0].mean_jsd);  // nothing before it
  EXPECT_DOUBLE_EQ(t.points[1].pass_rate, 0.75);
  EXPECT_EQ(t.points[1].unstable, 1);
  ASSERT_TRUE(t.points[1].mean_jsd);
  EXPECT_NEAR(*t.points[1].mean_jsd, 0.5, 1e-12);  // (1 + 0) / 2 groups
  EXPECT_NEAR(*t.points[1].max_jsd, 1.0, 1e-12);
  EXPECT_EQ(t.points[1].drift_groups, 2);
  EXPECT_NEAR(t.points[2].pass_rate, 1.0 / 3.0, 1e-12);  // 1 of 3 scored; the failed sample is not scored
  EXPECT_EQ(t.points[2].failed, 1);
  EXPECT_FALSE(t.points[2].mean_jsd);  // run 4 has no traces
  // --last 2 keeps the two newest, still oldest first.
  Trend last = compute_trend(store, "nightly", 2);
  ASSERT_EQ(last.points.size(), 2u);
  EXPECT_EQ(last.points[0].run.id, 2);
  EXPECT_EQ(last.points[1].run.id, 4);
  // The JSON carries the same numbers.
  auto j = trend_json(t);
  EXPECT_EQ(j["points"][1]["unstable"], 1);
  EXPECT_DOUBLE_EQ(j["points"][1]["routing_mean_jsd_vs_previous"].get<double>(), 0.5);
  EXPECT_TRUE(j["points"][0]["routing_mean_jsd_vs_previous"].is_null());
  EXPECT_THROW(compute_trend(store, "no-such-suite", 0), Error);
  // Read on two connections at once, the trend is the same, point for point.
  for (int threads : {2, 3}) {
    Trend parallel = compute_trend(store, "nightly", 0, [&db] { return Store::open_read_only(db); }, threads);
    EXPECT_EQ(trend_json(parallel).dump(), trend_json(t).dump()) << threads << " threads";
  }
  // Every format leads with the latest run against the one before it, then the largest drop.
  TrendVerdict v = trend_verdict(t);
  EXPECT_EQ(v.latest.rfind("Run 4 against run 2: pass rate 0.750 → 0.333 (-0.417), unstable 1 → ", 0), 0u) << v.latest;
  EXPECT_EQ(v.largest_drop, "Largest pass-rate drop over these runs: -0.417 from run 2 to run 4");
  std::ostringstream md;
  render_trend_markdown(t, md);
  EXPECT_LT(md.str().find(v.latest), md.str().find("| Run |")) << md.str();
  EXPECT_EQ(trend_json(t)["verdict"]["latest"], v.latest);
}
