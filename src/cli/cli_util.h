// Helpers shared by subcommands: option parsing with --help, writing output to a file or stdout
// atomically.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

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

}  // namespace wobble::cli
