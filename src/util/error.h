// Errors inside the harness, and the exit codes the CLI maps them to.
//
// The harness may throw these internally; src/cli catches every exception at the top and prints
// one clear message. Exit codes are documented in README.md and src/cli/README.md ("Exit codes") and stable:
//   0 success, 1 gate failed, 2 usage or configuration error (bad flag, suite, rubric),
//   3 runtime failure (provider setup, model load, I/O), 4 database error (open, schema, corrupt).
#pragma once

#include <stdexcept>
#include <string>

namespace wobble {

enum ExitCode : int {
  kExitOk = 0,
  kExitGateFailed = 1,
  kExitUsage = 2,
  kExitRuntime = 3,
  kExitDatabase = 4,
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ExitCode exit_code() const { return code_; }

 private:
  ExitCode code_;
};

// A suite, rubric or option that cannot be used. what() reads "file:line: field: message".
class ConfigError : public Error {
 public:
  ConfigError(const std::string& file, int line, const std::string& field, const std::string& msg)
      : Error(kExitUsage, format(file, line, field, msg)), file_(file), line_(line), field_(field) {}
  const std::string& file() const { return file_; }
  int line() const { return line_; }  // 1-based; 0 when unknown
  const std::string& field() const { return field_; }

 private:
  static std::string format(const std::string& file, int line, const std::string& field,
                            const std::string& msg) {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    if (!field.empty()) s += ": " + field;
    return s + ": " + msg;
  }
  std::string file_;
  int line_;
  std::string field_;
};

class StoreError : public Error {
 public:
  explicit StoreError(const std::string& msg, bool busy = false) : Error(kExitDatabase, msg), busy_(busy) {}
  // Another connection held the lock past the busy timeout (SQLITE_BUSY / SQLITE_LOCKED): the same
  // statement may succeed when tried again.
  bool busy() const { return busy_; }

 private:
  bool busy_ = false;
};

class RuntimeError : public Error {
 public:
  explicit RuntimeError(const std::string& msg) : Error(kExitRuntime, msg) {}
};

}  // namespace wobble
