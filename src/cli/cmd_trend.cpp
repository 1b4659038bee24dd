// wobble trend --suite NAME [--last N] [--format md|json|html] [--out FILE]
#include <iostream>

#include <boost/program_options.hpp>

#include "analysis/trend.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int trend_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble trend --suite NAME [options]");
  std::string db = "wobble.db", suite, format = "md", out;
  int last = 0;
  opts.add_options()("help,h", "show this help")("suite,s", po::value(&suite), "suite name (as in 'wobble runs')")
      ("last,n", po::value(&last)->default_value(last), "only the last N runs (0: all)")
      ("db", po::value(&db)->default_value(db), "SQLite database")
      ("format,f", po::value(&format)->default_value(format), "md | json | html")
      ("out,o", po::value(&out), "write to FILE instead of stdout");
  po::variables_map vm;
  if (parse_or_help(opts, nullptr, args, vm)) return kExitOk;
  if (suite.empty()) throw Error(kExitUsage, "--suite NAME is required (see 'wobble runs')");
  if (last < 0) throw Error(kExitUsage, "--last must be 0 (all) or positive");
  if (format != "md" && format != "json" && format != "html")
    throw Error(kExitUsage, "--format must be md, json or html, got '" + format + "'");
  Store store = Store::open_read_only(db);
  // Two connections read the runs (and the routing between them) two at a time.
  Trend t = compute_trend(store, suite, last, [&db] { return Store::open_read_only(db); }, 2);
  write_output(out, [&](std::ostream& os) {
    if (format == "json") os << dump_json(trend_json(t), 2) << "\n";
    else if (format == "html") render_trend_html(t, os);
    else render_trend_markdown(t, os);
  });
  if (!out.empty()) std::cerr << "trend written to " << out << "\n";
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("trend", "pass rates, unstable criteria and routing drift over a suite's runs", trend_command);

}  // namespace wobble::cli
