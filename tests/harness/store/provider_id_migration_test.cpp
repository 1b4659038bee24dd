// The providers migration rebuilds the samples table so its unique key includes the provider id:
// every row of an older database (and its scores and attempts) must survive, and two providers
// must be able to store the same (case, variant, repeat) while one provider still cannot store it
// twice.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/schema.h"
#include "store/store.h"
#include "support/scratch.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << "\n" << sql;
}

// The newest migration before the providers one: the one whose SQL creates samples_with_provider.
size_t providers_migration() {
  const auto& m = schema_migrations();
  for (size_t i = 0; i < m.size(); ++i)
    if (std::string(m[i]).find("samples_with_provider") != std::string::npos) return i;
  return m.size();
}

SampleRecord sample(int64_t run, const std::string& provider, int repeat) {
  SampleRecord s;
  s.run_id = run;
  s.provider_id = provider;
  s.case_id = "c";
  s.variant_id = "v";
  s.repeat = repeat;
  s.prompt = "p";
  s.ok = true;
  s.output = provider + " says hi";
  s.finish_reason = "stop";
  CriterionResult r;
  r.criterion_id = "k";
  r.outcome = Outcome::kPass;
  r.score = 1;
  s.scores.push_back(r);
  return s;
}

}  // namespace

TEST(ProviderIdMigration, OlderSamplesKeepTheirScoresAndAttemptsAndGetTheEmptyProviderId) {
  const size_t at = providers_migration();
  ASSERT_LT(at, schema_migrations().size());
  fs::path p = testsupport::scratch_path("provider-migration.db");
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  for (size_t i = 0; i < at; ++i) exec(db, schema_migrations()[i]);
  exec(db, "PRAGMA user_version = " + std::to_string(at));
  exec(db, "INSERT INTO runs (suite_name, suite_path, suite_hash, suite_snapshot, provider, model_id, sampling, repeats, "
           "tool_version, started_at, status, shard, expected_samples) VALUES ('s','s.yaml','h',"
           "'{\"name\":\"s\",\"variants\":[{\"id\":\"v\"}],\"cases\":[{\"id\":\"c\",\"repeats\":2}]}',"
           "'{\"kind\":\"local\"}','m','{}',2,'t','2026-01-01T00:00:00Z','complete','',2)");
  for (int r = 0; r < 2; ++r) {
    exec(db, "INSERT INTO samples (run_id, case_id, variant_id, repeat_index, prompt, ok, output, finish_reason, "
             "prompt_tokens, completion_tokens, latency_s, error, seed) VALUES (1,'c','v'," + std::to_string(r) +
                 ",'p',1,'out" + std::to_string(r) + "','stop',1,1,0.1,'',7)");
    exec(db, "INSERT INTO scores VALUES (" + std::to_string(r + 1) + ",'k','pass',1,0,0,'','','')");
    exec(db, "INSERT INTO attempts VALUES (" + std::to_string(r + 1) + ",0,200,'ok','',0.1,0)");
  }
  sqlite3_close(db);

  Store st = Store::open(p.string());
  EXPECT_EQ(st.schema_version(), int(schema_migrations().size()));
  auto samples = st.samples(1);
  ASSERT_EQ(samples.size(), 2u);
  for (const auto& s : samples) {
    EXPECT_EQ(s.provider_id, "");
    ASSERT_EQ(s.scores.size(), 1u) << "the rebuild must not cascade-delete scores";
    EXPECT_EQ(s.attempts.size(), 1u);
  }
  EXPECT_EQ(samples[1].output, "out1");
  // Foreign keys are back on after migrating: deleting the run still cascades.
  EXPECT_TRUE(st.delete_run(1));
  sqlite3_stmt* q;
  ASSERT_EQ(sqlite3_prepare_v2(st.handle(), "SELECT COUNT(*) FROM scores", -1, &q, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 0);
  sqlite3_finalize(q);
}

TEST(ProviderIdMigration, TwoProvidersStoreTheSameRepeatButOneProviderCannotStoreItTwice) {
  fs::path p = testsupport::scratch_path("provider-unique.db");
  Store st = Store::open(p.string());
  RunRecord r;
  r.suite_name = "s";
  r.plan.suite.name = "s";
  r.provider = r.sampling = nlohmann::json::object();
  r.started_at = "2026-01-01T00:00:00Z";
  int64_t id = st.create_run(r);
  st.insert_samples({sample(id, "a", 0), sample(id, "b", 0), sample(id, "a", 1)});
  EXPECT_EQ(st.completed_work(id),
            (std::set<WorkItem>{{"a", "c", "v", 0}, {"a", "c", "v", 1}, {"b", "c", "v", 0}}));
  EXPECT_EQ(st.completed_triples(id).size(), 2u);
  EXPECT_THROW(st.insert_samples({sample(id, "b", 1), sample(id, "a", 0)}), StoreError);
  EXPECT_EQ(st.samples(id).size(), 3u);  // the failed batch was rolled back whole
}
