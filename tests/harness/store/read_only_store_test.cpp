// Store::open_read_only: what the read-only commands open. It never creates a file, never
// migrates, refuses every write, and says what is wrong with a file it cannot read.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "store/store.h"
#include "support/scratch.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

std::string fresh(const std::string& tag) {
  std::string p = testsupport::scratch_path("wobble-ro-" + tag + ".db");
  for (const char* ext : {"", "-wal", "-shm", "-journal"}) fs::remove(p + ext);
  return p;
}

std::string bytes_of(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// The StoreError message of open_read_only(path); fails the test when it opens.
std::string open_error(const std::string& path) {
  try {
    Store::open_read_only(path);
  } catch (const StoreError& e) {
    EXPECT_EQ(e.exit_code(), kExitDatabase);
    return e.what();
  }
  ADD_FAILURE() << path << " opened";
  return "";
}

void set_user_version(const std::string& path, int v) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, ("PRAGMA user_version = " + std::to_string(v)).c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
}

}  // namespace

TEST(ReadOnlyStore, MissingPathIsNamedAndNotCreated) {
  std::string p = fresh("missing");
  EXPECT_EQ(open_error(p), "no such database: " + p);
  for (const char* ext : {"", "-wal", "-shm", "-journal"}) EXPECT_FALSE(fs::exists(p + ext)) << ext;
  EXPECT_NE(open_error(testsupport::scratch_dir().string()).find("is a directory"), std::string::npos);
}

TEST(ReadOnlyStore, ReadsButRefusesWritesAndLeavesNoFiles) {
  std::string p = fresh("reads");
  {
    Store w = Store::open(p);
    RunRecord r;
    r.suite_name = "s";
    r.provider = r.sampling = nlohmann::json::object();
    r.started_at = "2026-01-01T00:00:00Z";
    w.create_run(r);
  }
  std::string before = bytes_of(p);
  {
    Store ro = Store::open_read_only(p);
    EXPECT_EQ(ro.list_runs().size(), 1u);
    EXPECT_TRUE(ro.get_run(1).has_value());
    RunRecord r;
    r.suite_name = "x";
    r.provider = r.sampling = nlohmann::json::object();
    EXPECT_THROW(ro.create_run(r), StoreError);
    EXPECT_THROW(ro.set_run_status(1, "failed", true), StoreError);
  }
  EXPECT_EQ(bytes_of(p), before);
  EXPECT_FALSE(fs::exists(p + "-wal"));
  EXPECT_FALSE(fs::exists(p + "-shm"));
}

TEST(ReadOnlyStore, ForeignOlderAndNewerFilesAreExplained) {
  std::string text = fresh("text");
  std::ofstream(text) << std::string(200, 'x');
  EXPECT_NE(open_error(text).find("is not a wobble database"), std::string::npos);

  std::string empty = fresh("empty");
  std::ofstream(empty).flush();
  EXPECT_NE(open_error(empty).find("is not a wobble database (it has no runs table)"), std::string::npos);
  EXPECT_EQ(fs::file_size(empty), 0u);  // still empty: nothing was written

  std::string newer = fresh("newer");
  { Store::open(newer); }
  set_user_version(newer, 99);
  EXPECT_NE(open_error(newer).find("schema version 99, newer than this wobble understands"), std::string::npos);

  std::string older = fresh("older");
  { Store::open(older); }
  set_user_version(older, 0);  // a runs table at version 0 reads as a database from before version 1
  std::string before = bytes_of(older);
  std::string msg = open_error(older);
  EXPECT_NE(msg.find("schema version 0, older than this wobble's"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run 'wobble migrate --db " + older + "' first"), std::string::npos) << msg;
  EXPECT_EQ(bytes_of(older), before);
}
