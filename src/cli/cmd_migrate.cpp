// wobble migrate [--db PATH]: upgrade an existing database to this wobble's schema in place.
//
// Read-only commands (runs, show, report, gate, compare, trend, merge's inputs) never migrate; they
// name this command when a database is older than the tool.
#include <sqlite3.h>

#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "store/store.h"
#include "util/error.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

// PRAGMA user_version of an existing wobble database, read without writing anything. A file that
// is not SQLite, or a SQLite file without wobble's runs table, is refused: migrating it would add
// wobble's tables to someone else's database.
int stored_version(const std::string& path) {
  sqlite3* db = nullptr;
  int version = -1;
  bool has_runs = false;
  auto query = [&](const char* sql, auto&& on_row) {
    sqlite3_stmt* st = nullptr;
    bool ok = sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK;
    if (ok && sqlite3_step(st) == SQLITE_ROW) on_row(st);
    sqlite3_finalize(st);
    return ok;
  };
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    query("PRAGMA user_version", [&](sqlite3_stmt* st) { version = sqlite3_column_int(st, 0); });
    query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'", [&](sqlite3_stmt*) { has_runs = true; });
  }
  sqlite3_close(db);
  if (version < 0) throw StoreError("'" + path + "' is not a SQLite database");
  if (!has_runs) throw StoreError("'" + path + "' is not a wobble database (it has no runs table)");
  return version;
}

int migrate_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble migrate [options]");
  std::string db = "wobble.db";
  opts.add_options()("help,h", "show this help")("db", value_with_default(&db), "SQLite database to upgrade in place");
  po::variables_map vm;
  constexpr const char* kHelpTail =
      "\nApplies the pending schema migrations (each in one transaction). The database must exist;\n"
      "one from a newer wobble is refused. Exit codes: 0 upgraded or already current, 4 database error.\n";
  if (parse_or_help(opts, nullptr, args, vm, kHelpTail)) return kExitOk;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(db, ec)) throw StoreError("no such database: " + db);
  int before = stored_version(db);
  Store store = Store::open(db);  // migrates
  int after = store.schema_version();
  if (before == after)
    std::cout << db << ": schema version " << after << ", already current\n";
  else
    std::cout << db << ": schema version " << before << " -> " << after << "\n";
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("migrate", "upgrade a database to this wobble's schema (read-only commands never do)", migrate_command);

}  // namespace wobble::cli
