// Subcommands of the `wobble` executable register themselves here; main() dispatches by name.
//
// Each command lives in its own cmd_<name>.cpp, parses its own options with
// Boost.Program_options, and returns an ExitCode (src/util/error.h). Exceptions escaping a command
// are mapped to a message and an exit code by main().
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace wobble::cli {

using CommandFn = std::function<int(const std::vector<std::string>& args)>;

struct Command {
  std::string name;
  std::string summary;  // one line for `wobble --help`
  CommandFn run;
};

std::map<std::string, Command>& command_table();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string summary, CommandFn fn) {
    std::string key = name;
    command_table()[key] = Command{std::move(name), std::move(summary), std::move(fn)};
  }
};

// Global options every command accepts, filled by main() before dispatch.
struct GlobalOptions {
  bool color = false;  // stderr is a TTY and NO_COLOR is unset
};
GlobalOptions& global_options();

}  // namespace wobble::cli

#define WOBBLE_CLI_CONCAT_INNER_(a, b) a##b
#define WOBBLE_CLI_CONCAT_(a, b) WOBBLE_CLI_CONCAT_INNER_(a, b)
#define WOBBLE_REGISTER_COMMAND(name, summary, fn) \
  static ::wobble::cli::CommandRegistrar WOBBLE_CLI_CONCAT_(wobble_cmd_, __LINE__)(name, summary, fn)
