// Schema v2: a v1 database migrates with its runs readable through the typed plan; processes that
// share a database coordinate (schema creation, leases, a writer waiting for the lock).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "store/schema.h"
#include "store/store.h"
#include "support/scratch.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

std::string fresh_db(const std::string& tag) {
  fs::path p = testsupport::scratch_path("wobble-v2-" + tag + ".db");
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p.string() + ext);
  return p.string();
}

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << "\n" << sql;
}

RunLease lease(const std::string& owner, int64_t pid = getpid()) {
  RunLease l = RunLease::for_this_process();
  l.owner = owner;
  l.pid = pid;
  return l;
}

RunRecord record() {
  RunRecord r;
  r.suite_name = "s";
  r.suite_path = "s.yaml";
  r.suite_hash = "h";
  r.plan.suite.name = "s";
  r.plan.suite.repeats = 2;
  r.provider = {{"kind", "local"}};
  r.model_id = "m";
  r.sampling = nlohmann::json::object();
  r.tool_version = "t";
  r.started_at = "2026-01-01T00:00:00Z";
  return r;
}

}  // namespace

TEST(StoreV2, AVersionOneDatabaseMigratesAndItsRunsReadThroughThePlan) {
  std::string path = fresh_db("v1");
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  exec(db, schema_migrations()[0]);
  exec(db, "PRAGMA user_version = 1");
  // A v1 run of `--case add --repeats 2` (the snapshot's per-case repeats are the effective ones)
  // on shard 1/2, with one sample.
  const char* snapshot =
      R"({"name":"demo","repeats":5,"variants":[{"id":"v","prompt":"{{q}}","messages":[]}],)"
      R"("cases":[{"id":"add","vars":{"q":"1+1"},"repeats":2,"tags":[],"sampling":{},"answer_extractor":null,)"
      R"("rubric":{"name":"r","criteria":[{"id":"ok","scorer":"contains","args":{"value":"2"},"weight":1,"not":false}]}}],)"
      R"("gate":{"max_unstable":0},"provider":{"kind":"local"},"sampling":{"temperature":0.5}})";
  exec(db, std::string("INSERT INTO runs (suite_name, suite_path, suite_hash, suite_snapshot, provider, model_id, "
                       "sampling, repeats, tool_version, started_at, status, shard, expected_samples) VALUES "
                       "('demo','suites/demo.yaml','abc','") + snapshot +
               "','{\"kind\":\"local\"}','m','{}',5,'0.1.0','2026-01-01T00:00:00Z','complete','1/2',1)");
  exec(db, "INSERT INTO samples (run_id, case_id, variant_id, repeat_index, prompt, ok, output, finish_reason, "
           "prompt_tokens, completion_tokens, latency_s, error, seed) VALUES (1,'add','v',1,'1+1',1,'2','stop',3,1,0.1,'',7)");
  sqlite3_close(db);

  Store st = Store::open(path);
  EXPECT_EQ(st.schema_version(), int(schema_migrations().size()));
  auto run = st.get_run(1);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->plan.shard_index, 1);
  EXPECT_EQ(run->plan.shard_count, 2);
  ASSERT_EQ(run->plan.suite.cases.size(), 1u);
  EXPECT_EQ(run->plan.suite.repeats_for(run->plan.suite.cases[0]), 2);
  EXPECT_EQ(run->plan.repeats_text(), "2");
  EXPECT_EQ(run->plan.suite.gate.max_unstable, 0);
  EXPECT_EQ(run->plan.suite.cases[0].rubric.criteria[0].args["value"], "2");
  EXPECT_DOUBLE_EQ(*run->plan.suite.sampling.temperature, 0.5);
  auto samples = st.samples(1);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].model_reported, "");
  EXPECT_TRUE(samples[0].logprobs.empty());
  EXPECT_EQ(samples[0].output_original_bytes, -1);
  // The migrated database takes v2 rows next to the v1 one.
  SampleRecord s = samples[0];
  s.repeat = 0;
  s.model_reported = "m@x";
  s.logprobs = {{"2", -0.25, {{"2", -0.25}, {"3", -1.5}}}};
  s.output_original_bytes = 1 << 20;
  st.insert_samples({s});
  auto again = st.samples(1);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].model_reported, "m@x");
  ASSERT_EQ(again[0].logprobs.size(), 1u);
  EXPECT_EQ(again[0].logprobs[0].top[1].first, "3");
  EXPECT_DOUBLE_EQ(again[0].logprobs[0].top[1].second, -1.5);
  EXPECT_EQ(again[0].output_original_bytes, 1 << 20);
}

TEST(StoreV2, ProcessesCreatingOneDatabaseFileDoNotRace) {
  // Separate connections lock like separate processes. 25 rounds of 4 openers on a new file.
  for (int round = 0; round < 25; ++round) {
    std::string path = fresh_db("race" + std::to_string(round));
    std::atomic<int> failures{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        try {
          Store st = Store::open(path);
          st.create_run(record());
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          failures.fetch_add(1);
        }
      });
    go.store(true);
    for (auto& t : ts) t.join();
    ASSERT_EQ(failures.load(), 0) << "round " << round;
    EXPECT_EQ(Store::open(path).list_runs().size(), 4u);
  }
}

TEST(StoreV2, OneProcessHoldsARunAndStatusChangesOnlyForTheHolder) {
  Store st = Store::open(fresh_db("lease"));
  RunLease a = lease("owner-a");
  int64_t id = st.create_run(record(), &a);
  // Another live holder is refused and named.
  auto held = st.acquire_lease(id, lease("owner-b"), 120);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->owner, "owner-a");
  EXPECT_EQ(held->pid, getpid());
  // Only the holder may change the status (compare-and-set).
  EXPECT_FALSE(st.set_run_status_as(id, "owner-b", "failed", true));
  EXPECT_EQ(st.get_run(id)->status, "running");
  EXPECT_TRUE(st.set_run_status_as(id, "owner-a", "complete", true));
  EXPECT_EQ(st.get_run(id)->status, "complete");
  // A stale heartbeat can be taken over; so can the lease of a process that no longer exists.
  EXPECT_FALSE(st.acquire_lease(id, lease("owner-b"), -1.0));
  EXPECT_EQ(st.lease_of(id)->owner, "owner-b");
  EXPECT_FALSE(st.set_run_status_as(id, "owner-a", "failed", true));  // a was taken over
  st.release_lease(id, "owner-b");
  EXPECT_FALSE(st.lease_of(id));
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a pid that is certainly gone
  RunLease dead = lease("owner-dead", child);
  EXPECT_FALSE(st.acquire_lease(id, dead, 120));
  EXPECT_FALSE(st.acquire_lease(id, lease("owner-c"), 120));
  EXPECT_EQ(st.lease_of(id)->owner, "owner-c");
}
