// The SQLite store: schema, migrations, round trips, uniqueness, rollback, resume triples.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/store.h"
#include "support/scratch.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

std::string temp_db(const std::string& tag) {
  fs::path p = testsupport::scratch_path("wobble-store-" + tag + ".db");
  fs::remove(p);
  fs::remove(p.string() + "-wal");
  fs::remove(p.string() + "-shm");
  return p.string();
}

RunRecord run_record() {
  RunRecord r;
  r.suite_name = "s";
  r.suite_path = "suites/s.yaml";
  r.suite_hash = "abc";
  r.plan.suite = suite_from_json({{"name", "s"}});
  r.provider = {{"kind", "openai"}};
  r.model_id = "m";
  r.sampling = {{"temperature", 0.5}};
  r.repeats = 2;
  r.tool_version = "0.1.0";
  r.started_at = "2026-01-01T00:00:00Z";
  r.status = "running";
  r.expected_samples = 2;
  return r;
}

SampleRecord sample(int64_t run, const std::string& c, int repeat, bool ok = true) {
  SampleRecord s;
  s.run_id = run;
  s.case_id = c;
  s.variant_id = "v";
  s.repeat = repeat;
  s.prompt = "p";
  s.ok = ok;
  s.output = ok ? "out ✓" : "";
  s.error = ok ? "" : "HTTP 500";
  s.finish_reason = "stop";
  s.seed = 0xFFFFFFFFFFFFFFF0ull;
  s.extracted_answer = "42";
  s.prompt_token_ids = {1, -2, 300000};
  s.token_ids = {7};
  s.routing_trace = {0, 1, 2, 255};
  CriterionResult cr;
  cr.criterion_id = "k";
  cr.outcome = Outcome::kFail;
  cr.score = 0.25;
  cr.evidence = {3, 6, "abc"};
  cr.reason = "why";
  cr.expected = "x";
  if (ok) s.scores.push_back(cr);
  s.attempts.push_back({1, 500, "http_error", "HTTP 500", 0.1, 0.5});
  if (ok) s.attempts.push_back({2, 200, "ok", "", 0.2, 0});
  return s;
}

}  // namespace

TEST(Store, CreatesSchemaAndRoundTripsEveryField) {
  std::string path = temp_db("roundtrip");
  Store st = Store::open(path);
  EXPECT_EQ(st.schema_version(), kSchemaVersion);
  int64_t id = st.create_run(run_record());
  st.insert_samples({sample(id, "a", 0), sample(id, "a", 1, false)});
  auto got = st.samples(id, true);
  ASSERT_EQ(got.size(), 2u);
  const auto& s = got[0];
  EXPECT_EQ(s.output, "out ✓");
  EXPECT_EQ(s.seed, 0xFFFFFFFFFFFFFFF0ull);
  EXPECT_EQ(s.extracted_answer, "42");
  EXPECT_EQ(s.prompt_token_ids, (std::vector<int32_t>{1, -2, 300000}));
  EXPECT_EQ(s.routing_trace, (std::vector<uint8_t>{0, 1, 2, 255}));
  ASSERT_EQ(s.scores.size(), 1u);
  EXPECT_EQ(s.scores[0].evidence.text, "abc");
  EXPECT_EQ(s.scores[0].evidence.start, 3);
  EXPECT_DOUBLE_EQ(s.scores[0].score, 0.25);
  ASSERT_EQ(s.attempts.size(), 2u);
  EXPECT_DOUBLE_EQ(s.attempts[0].retry_after_s, 0.5);
  EXPECT_FALSE(got[1].ok);
  EXPECT_EQ(got[1].output, "");
  EXPECT_TRUE(st.samples(id, false)[0].routing_trace.empty());
  auto run = st.get_run(id);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->sampling["temperature"], 0.5);
  st.set_run_status(id, "complete", true);
  EXPECT_EQ(st.get_run(id)->status, "complete");
  EXPECT_FALSE(st.get_run(id)->finished_at.empty());
  EXPECT_FALSE(st.get_run(id + 1));
}

TEST(Store, SamplesComeInTheSuitesOrderOfCasesAndVariants) {
  Store st = Store::open(temp_db("order"));
  RunRecord r = run_record();
  // The suite lists case "zeta" before "alpha" and variant "y" before "x"; "stray" is not in it.
  r.plan.suite = suite_from_json({{"name", "s"},
                      {"cases", {{{"id", "zeta"}}, {{"id", "alpha"}}}},
                      {"variants", {{{"id", "y"}}, {{"id", "x"}}}}});
  int64_t id = st.create_run(r);
  std::vector<SampleRecord> batch;
  for (const char* c : {"alpha", "stray", "zeta"})
    for (const char* v : {"x", "y"})
      for (int rep : {1, 0}) {
        SampleRecord s = sample(id, c, rep);
        s.variant_id = v;
        batch.push_back(s);
      }
  st.insert_samples(batch);
  std::vector<std::string> got;
  for (const auto& s : st.samples(id)) got.push_back(s.case_id + "/" + s.variant_id + "#" + std::to_string(s.repeat));
  EXPECT_EQ(got, (std::vector<std::string>{"zeta/y#0", "zeta/y#1", "zeta/x#0", "zeta/x#1", "alpha/y#0", "alpha/y#1",
                                           "alpha/x#0", "alpha/x#1", "stray/y#0", "stray/y#1", "stray/x#0",
                                           "stray/x#1"}));
  // A snapshot without case and variant lists (older databases) keeps the alphabetical order.
  int64_t plain = st.create_run(run_record());
  st.insert_samples({sample(plain, "b", 0), sample(plain, "a", 1), sample(plain, "a", 0)});
  got.clear();
  for (const auto& s : st.samples(plain)) got.push_back(s.case_id + "#" + std::to_string(s.repeat));
  EXPECT_EQ(got, (std::vector<std::string>{"a#0", "a#1", "b#0"}));
}

TEST(Store, DuplicateTripleRollsBackTheWholeBatch) {
  std::string path = temp_db("dup");
  Store st = Store::open(path);
  int64_t id = st.create_run(run_record());
  st.insert_samples({sample(id, "a", 0)});
  EXPECT_THROW(st.insert_samples({sample(id, "b", 0), sample(id, "a", 0)}), StoreError);
  auto got = st.samples(id);
  ASSERT_EQ(got.size(), 1u);  // "b" was rolled back with the batch
  EXPECT_EQ(got[0].case_id, "a");
}

TEST(Store, ResumeReplacesFailedSamplesAndSkipsOkOnes) {
  std::string path = temp_db("resume");
  Store st = Store::open(path);
  int64_t id = st.create_run(run_record());
  st.insert_samples({sample(id, "a", 0), sample(id, "a", 1, false)});
  auto done = st.completed_triples(id);
  EXPECT_EQ(done.size(), 1u);
  EXPECT_TRUE(done.count({"a", "v", 0}));
  st.insert_samples({sample(id, "a", 1)});  // the retried triple replaces the failed row
  auto got = st.samples(id);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[1].ok);
  EXPECT_EQ(got[1].attempts.size(), 2u);  // the failed row's attempts went with it
  EXPECT_EQ(st.completed_triples(id).size(), 2u);
}

TEST(Store, ReopeningKeepsDataAndRefusesNewerSchemas) {
  std::string path = temp_db("reopen");
  {
    Store st = Store::open(path);
    st.create_run(run_record());
  }
  {
    Store st = Store::open(path);
    EXPECT_EQ(st.list_runs().size(), 1u);
    EXPECT_EQ(st.list_runs("other").size(), 0u);
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    Store::open(path);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.exit_code(), kExitDatabase);
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST(Store, MigratesAnEmptyVersionZeroDatabase) {
  std::string path = temp_db("v0");
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE unrelated (x)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  Store st = Store::open(path);
  EXPECT_EQ(st.schema_version(), kSchemaVersion);
  EXPECT_EQ(st.create_run(run_record()), 1);
}

TEST(Store, NotADatabaseIsAClearError) {
  std::string path = temp_db("garbage");
  FILE* f = fopen(path.c_str(), "wb");
  fputs("this is not sqlite, just text that is long enough to look like a header.........", f);
  fclose(f);
  try {
    Store::open(path);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}
