// Inputs that mean something, or an error (issue 11 §5), through the real `wobble` binary:
// read-only commands on a missing or foreign database, cross-suite baselines, `latest`, --help
// defaults as written, and the suggestion for a mistyped command. Databases are built here with
// the Store API, so no provider is needed.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "store/schema.h"
#include "store/store.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A suite snapshot shaped like suite_to_json()'s: one variant, the given cases each with the
// criteria "a" (weight 1) and "b" (weight 3).
nlohmann::json snapshot(const std::string& name, const std::vector<std::string>& cases,
                        const std::string& b_pattern = "x") {
  nlohmann::json j = {{"name", name}, {"gate", nlohmann::json::object()}};
  j["variants"] = {{{"id", "plain"}, {"prompt", "Q: {{q}}"}, {"messages", nlohmann::json::array()}}};
  j["cases"] = nlohmann::json::array();
  for (const auto& c : cases)
    j["cases"].push_back(
        {{"id", c},
         {"vars", {{"q", c}}},
         {"repeats", 2},
         {"rubric",
          {{"name", "r"},
             {"criteria",
            {{{"id", "a"}, {"weight", 1}, {"scorer", "contains"}, {"args", {{"value", "a"}}}, {"not", false}},
             {{"id", "b"}, {"weight", 3}, {"scorer", "regex"}, {"args", {{"pattern", b_pattern}}}, {"not", false}}}}}}});
  return j;
}

CriterionResult result(const std::string& id, bool pass) {
  CriterionResult r;
  r.criterion_id = id;
  r.outcome = pass ? Outcome::kPass : Outcome::kFail;
  r.score = pass ? 1 : 0;
  return r;
}

// A complete run of `snap` with 2 repeats per case: "a" always passes, "b" passes when b_passes.
int64_t add_run(Store& store, const nlohmann::json& snap, bool b_passes) {
  RunRecord run;
  run.suite_name = snap["name"];
  run.suite_path = "suite.yaml";
  run.suite_hash = "hash-of-" + run.suite_name;
  run.plan.suite = suite_from_json(snap);
  run.provider = {{"kind", "openai"}};
  run.model_id = "m";
  run.sampling = nlohmann::json::object();
  run.repeats = 2;
  run.tool_version = "test";
  run.started_at = "2026-01-01T00:00:00Z";
  run.status = "complete";
  run.expected_samples = int64_t(snap["cases"].size()) * 2;
  int64_t id = store.create_run(run);
  std::vector<SampleRecord> batch;
  for (const auto& c : snap["cases"])
    for (int r = 0; r < 2; ++r) {
      SampleRecord s;
      s.run_id = id;
      s.case_id = c["id"];
      s.variant_id = "plain";
      s.repeat = r;
      s.prompt = "p";
      s.ok = true;
      s.output = "a";
      s.finish_reason = "stop";
      s.scores = {result("a", true), result("b", b_passes)};
      batch.push_back(s);
    }
  store.insert_samples(batch);
  return id;
}

ProcessResult run_wobble(std::vector<std::string> args) {
  args.insert(args.begin(), WOBBLE_EXE);
  return run_process(args);
}

}  // namespace

TEST(ReadOnlyCommands, MissingDatabaseIsExit4AndNoFileIsCreated) {
  std::string dir = make_temp_dir("ro");
  std::string db = dir + "/typo.db";
  const std::vector<std::vector<std::string>> commands = {
      {"runs", "--db", db},
      {"show", "1", "--db", db},
      {"report", "1", "--db", db},
      {"report", "latest", "--db", db, "--format", "json"},
      {"gate", "1", "--db", db, "--max-unstable", "0"},
      {"compare", "1", "2", "--db", db},
      {"trend", "--suite", "s", "--db", db},
  };
  for (const auto& cmd : commands) {
    auto r = run_wobble(cmd);
    EXPECT_EQ(r.exit_code, 4) << cmd[0] << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "no such database: " + db)) << cmd[0] << ": " << r.err;
    for (const char* ext : {"", "-wal", "-shm", "-journal"})
      EXPECT_FALSE(fs::exists(db + ext)) << cmd[0] << " created " << db << ext;
  }
  // merge's inputs are read the same way: a missing input is refused and not created.
  auto m = run_wobble({"merge", dir + "/out.db", db});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_FALSE(fs::exists(db));
  // migrate upgrades only what exists.
  auto mg = run_wobble({"migrate", "--db", db});
  EXPECT_EQ(mg.exit_code, 4) << mg.err;
  EXPECT_FALSE(fs::exists(db));
}

TEST(ReadOnlyCommands, ReadingLeavesTheDatabaseUnchanged) {
  std::string dir = make_temp_dir("ro-same");
  std::string db = dir + "/w.db";
  {
    Store store = Store::open(db);
    add_run(store, snapshot("s", {"c1"}), true);
  }
  ASSERT_FALSE(fs::exists(db + "-wal"));  // a clean close checkpoints and removes it
  std::string before = read_text_file(db);
  for (const auto& cmd : std::vector<std::vector<std::string>>{{"runs", "--db", db},
                                                               {"report", "1", "--db", db, "--format", "json"},
                                                               {"show", "1", "--db", db},
                                                               {"gate", "1", "--db", db, "--max-unstable", "0"},
                                                               {"trend", "--suite", "s", "--db", db}}) {
    auto r = run_wobble(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.err;
  }
  EXPECT_EQ(read_text_file(db), before);
  EXPECT_FALSE(fs::exists(db + "-wal"));
  EXPECT_FALSE(fs::exists(db + "-shm"));
}

TEST(ReadOnlyCommands, ForeignOrNewerOrOlderDatabasesAreExplained) {
  std::string dir = make_temp_dir("ro-foreign");
  std::string text = dir + "/notes.txt";
  write_text_file(text, "this is not a database, just some words that are long enough to fill a page header.....");
  auto r = run_wobble({"runs", "--db", text});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "not a wobble database")) << r.err;

  std::string newer = dir + "/newer.db", older = dir + "/older.db";
  for (const auto& [path, version] : {std::pair{newer, 99}, std::pair{older, 0}}) {
    { Store::open(path); }
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, ("PRAGMA user_version = " + std::to_string(version)).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  r = run_wobble({"report", "1", "--db", newer});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "newer than this wobble")) << r.err;
  std::string before = read_text_file(older);
  r = run_wobble({"runs", "--db", older});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "older than this wobble")) << r.err;
  EXPECT_TRUE(contains(r.err, "wobble migrate --db " + older)) << r.err;
  EXPECT_EQ(read_text_file(older), before);  // not migrated behind the user's back
}

TEST(Migrate, AVersion1DatabaseIsRefusedByReadersAndUpgradedByMigrate) {
  std::string dir = make_temp_dir("migrate-v1");
  std::string db = dir + "/v1.db";
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, schema_migrations()[0], nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "PRAGMA user_version = 1", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  std::string before = read_text_file(db);
  auto r = run_wobble({"runs", "--db", db});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "schema version 1, older than this wobble's " + std::to_string(kSchemaVersion))) << r.err;
  EXPECT_EQ(read_text_file(db), before);
  r = run_wobble({"migrate", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "schema version 1 -> " + std::to_string(kSchemaVersion))) << r.out;
  r = run_wobble({"runs", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Migrate, CurrentDatabaseIsLeftAsIs) {
  std::string dir = make_temp_dir("migrate");
  std::string db = dir + "/w.db";
  { Store::open(db); }
  auto r = run_wobble({"migrate", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "already current")) << r.out;
  // A SQLite file that is not wobble's is not given wobble's tables.
  std::string other = dir + "/other.db";
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  r = run_wobble({"migrate", "--db", other});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "not a wobble database")) << r.err;
}

TEST(CrossSuite, GateBaselineAndCompareRefuseADifferentSuite) {
  std::string dir = make_temp_dir("xsuite");
  std::string db = dir + "/w.db";
  int64_t base = 0, run = 0, same = 0;
  {
    Store store = Store::open(db);
    base = add_run(store, snapshot("alpha", {"c1", "c2"}), true);
    run = add_run(store, snapshot("beta", {"c1"}), false);
    same = add_run(store, snapshot("alpha", {"c1", "c2"}), true);
  }
  std::string sb = std::to_string(base), sr = std::to_string(run), ss = std::to_string(same);
  auto g = run_wobble({"gate", sr, "--baseline", sb, "--db", db});
  EXPECT_EQ(g.exit_code, 2) << g.out << g.err;
  EXPECT_TRUE(contains(g.err, "different suites")) << g.err;
  EXPECT_TRUE(contains(g.err, "'beta' (definition sha256 ")) << g.err;
  EXPECT_TRUE(contains(g.err, "'alpha' (definition sha256 ")) << g.err;
  EXPECT_TRUE(contains(g.err, "case 'c2' only in run " + sb)) << g.err;
  EXPECT_TRUE(contains(g.err, "--allow-suite-change")) << g.err;
  auto c = run_wobble({"compare", sb, sr, "--db", db});
  EXPECT_EQ(c.exit_code, 2) << c.err;
  EXPECT_TRUE(contains(c.err, "different suites")) << c.err;

  // Allowed: only the shared triples are compared, and the output says how many were dropped
  // (c2/plain/a and c2/plain/b exist only in the baseline). b fell from 2/2 to 0/2.
  g = run_wobble({"gate", sr, "--baseline", sb, "--db", db, "--allow-suite-change", "--max-pass-rate-drop", "0.5"});
  EXPECT_EQ(g.exit_code, 1) << g.out << g.err;
  EXPECT_TRUE(contains(g.out, "2 (case, variant, criterion) triples present in only one run left out")) << g.out;
  EXPECT_TRUE(contains(g.out, "compared 2 criteria with baseline run " + sb)) << g.out;
  EXPECT_TRUE(contains(g.out, "c1/plain/b: pass rate 1.000 -> 0.000")) << g.out;
  c = run_wobble({"compare", sb, sr, "--db", db, "--allow-suite-change", "--format", "json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["suite"]["same"], false);
  EXPECT_EQ(j["suite"]["criteria_dropped"], 2);
  EXPECT_EQ(j["suite"]["criteria_compared"], 2);
  EXPECT_EQ(j["criteria"].size(), 2u);
  c = run_wobble({"compare", sb, sr, "--db", db, "--allow-suite-change"});
  EXPECT_TRUE(contains(c.out, "**Suites differ**")) << c.out;
  EXPECT_TRUE(contains(c.out, "2 (case, variant, criterion) triples present in only one run left out")) << c.out;

  // The same suite needs no flag.
  g = run_wobble({"gate", ss, "--baseline", sb, "--db", db});
  EXPECT_EQ(g.exit_code, 0) << g.out << g.err;
  c = run_wobble({"compare", sb, ss, "--db", db});
  EXPECT_EQ(c.exit_code, 0) << c.err;
}

TEST(CrossSuite, SameNameWithAChangedCriterionIsADifferentSuite) {
  std::string dir = make_temp_dir("xsuite2");
  std::string db = dir + "/w.db";
  {
    Store store = Store::open(db);
    add_run(store, snapshot("alpha", {"c1"}, "x"), true);
    add_run(store, snapshot("alpha", {"c1"}, "y"), true);
  }
  auto g = run_wobble({"gate", "2", "--baseline", "1", "--db", db});
  EXPECT_EQ(g.exit_code, 2);
  EXPECT_TRUE(contains(g.err, "case 'c1' is defined differently")) << g.err;
}

TEST(Latest, AcceptedWhereverARunIdIs) {
  std::string dir = make_temp_dir("latest");
  std::string db = dir + "/w.db";
  {
    Store store = Store::open(db);
    add_run(store, snapshot("alpha", {"c1"}), true);
    add_run(store, snapshot("alpha", {"c1"}), true);
  }
  auto r = run_wobble({"report", "latest", "--db", db, "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["run"]["id"], 2);
  r = run_wobble({"show", "latest", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_wobble({"gate", "latest", "--baseline", "1", "--db", db});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "gate for run 2")) << r.out;
  r = run_wobble({"compare", "1", "latest", "--db", db, "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["run_b"]["id"], 2);
  // A run is never its own baseline, and junk is not a run id.
  r = run_wobble({"gate", "latest", "--baseline", "latest", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "cannot be its own baseline")) << r.err;
  r = run_wobble({"report", "lastest", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "'latest'")) << r.err;
  r = run_wobble({"report", "7", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "no run with id 7")) << r.err;
}

TEST(Latest, EmptyDatabaseSaysSo) {
  std::string dir = make_temp_dir("latest-empty");
  std::string db = dir + "/w.db";
  { Store::open(db); }
  auto r = run_wobble({"report", "latest", "--db", db});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "there are no runs in " + db)) << r.err;
}

TEST(Help, DefaultsArePrintedAsWritten) {
  auto r = run_wobble({"report", "--help"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "(=0.1)")) << r.out;
  EXPECT_TRUE(contains(r.out, "(=0.8)")) << r.out;
  EXPECT_FALSE(std::regex_search(r.out, std::regex("[0-9]\\.[0-9]*0000000"))) << r.out;
}

TEST(UnknownCommand, SuggestsTheClosest) {
  auto r = run_wobble({"reprot", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown command 'reprot' (did you mean 'report'?)")) << r.err;
  r = run_wobble({"gat"});
  EXPECT_TRUE(contains(r.err, "did you mean 'gate'?")) << r.err;
  r = run_wobble({"comp"});  // the only command it starts
  EXPECT_TRUE(contains(r.err, "did you mean 'compare'?")) << r.err;
  r = run_wobble({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(contains(r.err, "did you mean")) << r.err;
}
