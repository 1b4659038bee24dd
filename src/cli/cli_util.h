// Helpers shared by subcommands: option parsing with --help, writing output to a file or stdout
// atomically, run references ("latest"), and the checks every run-selection flag gets.
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/program_options.hpp>

namespace wobble {
class Store;
struct Suite;
}  // namespace wobble

namespace wobble::cli {

// Parses a subcommand's arguments into vm. Option errors propagate as program_options errors,
// which main() reports with exit code 2. Returns true when --help was given: the options and then
// `help_epilogue` have been printed to stdout and the command should return kExitOk.
bool parse_or_help(const boost::program_options::options_description& opts,
                   const boost::program_options::positional_options_description* positional,
                   const std::vector<std::string>& args, boost::program_options::variables_map& vm,
                   std::string_view help_epilogue = {});

// Calls write(os) with stdout when path is empty or "-", else with a temporary file that is then
// renamed over `path`, so a failed report never leaves a half-written file. Throws RuntimeError.
void write_output(const std::string& path, const std::function<void(std::ostream&)>& write);

// The shortest text that reads back as `v` ("0.1", not Boost's "0.10000000000000001").
template <class T>
std::string default_text(const T& v) {
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  } else {
    return std::string(v);
  }
}

// po::value(var) with *var as its default, shown in --help as written in the source:
//   ("alpha", value_with_default(&alpha), "...")   prints  --alpha arg (=0.05)
template <class T>
boost::program_options::typed_value<T>* value_with_default(T* var) {
  return boost::program_options::value(var)->default_value(*var, default_text(*var));
}

// A run as the user names it: a positive id, or "latest" (the highest run id in the database).
// Throws Error(kExitUsage) for anything else or for an id that is not in the database, naming
// `what` (e.g. "--baseline") and `db_path`.
int64_t resolve_run_id(const Store& store, const std::string& ref, const std::string& db_path,
                       const std::string& what = "run");

// The run-selection flags of `wobble run`, checked the way suite fields are. Unset optionals were
// not given on the command line.
struct RunFlags {
  std::vector<std::string> case_ids;  // --case, repeatable
  std::vector<std::string> tags;      // --tag, repeatable
  std::optional<long long> repeats;      // --repeats: 1..10000 (the suite's own bound)
  std::optional<long long> concurrency;  // --concurrency: 1..1024 (provider.max_concurrency's bound)
};

// Throws Error(kExitUsage) when a flag is out of range, when a --case names no case of `suite`, or
// when a --tag is carried by no case (each message names the flag and the unknown value, with the
// closest known one when there is one). Call it before filter_cases().
void validate_run_flags(const Suite& suite, const RunFlags& flags);

}  // namespace wobble::cli
