// Entry point of `wobble`: dispatches to a registered subcommand and maps every failure to a
// message on stderr and a documented exit code.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

#include <boost/program_options/errors.hpp>

#include "cli/command.h"
#include "util/error.h"
#include "util/text_policy.h"

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
    std::cerr << "wobble: unknown command '" << name << "'\n\n";
    print_usage(std::cerr);
    return kExitUsage;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    return it->second.run(args);
  } catch (const Error& e) {
    // Messages may quote a file, a server or a model: the terminal rule (util/text_policy.h).
    std::cerr << "wobble " << name << ": " << term_text(e.what()) << "\n";
    return e.exit_code();
  } catch (const boost::program_options::error& e) {
    std::cerr << "wobble " << name << ": " << e.what() << " (see 'wobble " << name << " --help')\n";
    return kExitUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << "wobble " << name << ": out of memory\n";
    return kExitRuntime;
  } catch (const std::exception& e) {
    std::cerr << "wobble " << name << ": " << term_text(e.what()) << "\n";
    return kExitRuntime;
  }
}
