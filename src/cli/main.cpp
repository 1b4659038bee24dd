// Entry point of `wobble`: dispatches to a registered subcommand and maps every failure to a
// message on stderr and a documented exit code.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options/errors.hpp>

#include "cli/command.h"
#include "util/error.h"

namespace wobble::cli {

std::map<std::string, Command>& command_table() {
  static std::map<std::string, Command> table;
  return table;
}

GlobalOptions& global_options() {
  static GlobalOptions opts;
  return opts;
}

}  // namespace wobble::cli

namespace {

// Edit distance counting an adjacent swap as one edit (optimal string alignment), so "reprot" is
// one edit from "report".
size_t swap_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The registered command closest to `name`: at most 2 edits and fewer than half its letters, or
// the only command it is a prefix of; "" when nothing is that close.
std::string closest_command(const std::string& name) {
  std::string best, prefix_of;
  size_t best_d = 3, prefixes = 0;
  for (const auto& [cmd, _] : wobble::cli::command_table()) {
    size_t d = swap_distance(name, cmd);
    if (d < best_d && 2 * d < name.size()) {
      best_d = d;
      best = cmd;
    }
    if (!name.empty() && cmd.rfind(name, 0) == 0) {
      ++prefixes;
      prefix_of = cmd;
    }
  }
  if (best.empty() && prefixes == 1) return prefix_of;
  return best;
}

void print_usage(std::ostream& os) {
  os << "wobble " WOBBLE_VERSION " - measures how much LLM outputs vary across repeated runs, and why\n\n"
        "usage: wobble <command> [options]   (wobble <command> --help for its options)\n\ncommands:\n";
  for (const auto& [name, cmd] : wobble::cli::command_table()) {
    os << "  " << name;
    for (size_t i = name.size(); i < 12; ++i) os << ' ';
    os << cmd.summary << "\n";
  }
  os << "\nexit codes: 0 ok, 1 gate failed, 2 usage/config error, 3 runtime failure, 4 database error\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wobble;
  cli::global_options().color = isatty(STDERR_FILENO) && std::getenv("NO_COLOR") == nullptr;
  if (argc < 2) {
    print_usage(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return kExitOk;
  }
  if (name == "--version") {
    std::cout << "wobble " WOBBLE_VERSION "\n";
    return kExitOk;
  }
  auto& table = cli::command_table();
  auto it = table.find(name);
  if (it == table.end()) {
    std::string hint = closest_command(name);
    std::cerr << "wobble: unknown command '" << name << "'"
              << (hint.empty() ? std::string() : " (did you mean '" + hint + "'?)") << "\n\n";
    print_usage(std::cerr);
    return kExitUsage;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    return it->second.run(args);
  } catch (const Error& e) {
    std::cerr << "wobble " << name << ": " << e.what() << "\n";
    return e.exit_code();
  } catch (const boost::program_options::error& e) {
    std::cerr << "wobble " << name << ": " << e.what() << " (see 'wobble " << name << " --help')\n";
    return kExitUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << "wobble " << name << ": out of memory\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << "wobble " << name << ": " << e.what() << "\n";
    return kExitRuntime;
  }
}
