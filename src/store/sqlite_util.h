// Minimal RAII over SQLite statements and transactions; every failure throws StoreError with
// SQLite's message and the statement that failed.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wobble {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind_blob(int i, const void* data, size_t n);  // n == 0 binds NULL
  Stmt& bind_null(int i);
  bool step();  // true while a row is available
  void run();   // step to completion, then reset
  void reset();

  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  std::vector<uint8_t> blob(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

void exec_sql(sqlite3* db, const char* sql);
bool is_busy(int sqlite_rc);  // SQLITE_BUSY or SQLITE_LOCKED, extended codes included

class Transaction {
 public:
  explicit Transaction(sqlite3* db);  // BEGIN IMMEDIATE
  ~Transaction();                     // ROLLBACK unless committed
  void commit();

 private:
  sqlite3* db_;
  bool done_ = false;
};

}  // namespace wobble
