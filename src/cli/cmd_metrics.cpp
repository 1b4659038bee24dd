// wobble metrics: prints the metric definitions every report uses, as one Markdown table (the
// table in reports/README.md is this output; a test keeps the two equal).
#include <iostream>

#include <boost/program_options.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "report/report.h"
#include "util/error.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int metrics_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble metrics [options]");
  opts.add_options()("help,h", "show this help");
  po::variables_map vm;
  if (parse_or_help(opts, nullptr, args, vm)) return kExitOk;
  render_metrics_markdown(std::cout);
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("metrics", "print the definition of every metric in the reports (a Markdown table)", metrics_command);

}  // namespace wobble::cli
