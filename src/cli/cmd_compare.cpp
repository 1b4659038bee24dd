// wobble compare RUN_A RUN_B [--format md|json|html] [--out FILE]
#include <iostream>

#include <boost/program_options.hpp>

#include "analysis/compare.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int compare_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble compare RUN_A RUN_B [options]");
  std::vector<int64_t> ids;
  std::string db = "wobble.db", format = "md", out;
  opts.add_options()("help,h", "show this help")("runs", po::value(&ids)->multitoken(), "two run ids")
      ("db", po::value(&db)->default_value(db), "SQLite database")
      ("format,f", po::value(&format)->default_value(format), "md | json | html")("out,o", po::value(&out), "write to FILE");
  po::positional_options_description pos;
  pos.add("runs", 2);
  po::variables_map vm;
  if (parse_or_help(opts, &pos, args, vm)) return kExitOk;
  if (ids.size() != 2) throw Error(kExitUsage, "give two run ids: wobble compare RUN_A RUN_B");
  if (format != "md" && format != "json" && format != "html")
    throw Error(kExitUsage, "--format must be md, json or html, got '" + format + "'");
  Store store = Store::open(db);
  RunAnalysis a = analyze_run(store, ids[0]), b = analyze_run(store, ids[1]);
  if (a.run.suite_name != b.run.suite_name)
    std::cerr << "note: comparing runs of different suites ('" << term_line(a.run.suite_name) << "' and '" << term_line(b.run.suite_name)
              << "'); only matching (case, variant, criterion) triples are paired\n";
  RunComparison c = compare_runs(a, b);
  c.routing = analyze_routing(store, ids[1], ids[0]);
  write_output(out, [&](std::ostream& os) {
    if (format == "json") os << dump_json(comparison_json(c), 2) << "\n";
    else if (format == "html") render_comparison_html(c, os);
    else render_comparison_markdown(c, os);
  });
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("compare", "compare two runs: pass-rate deltas (McNemar), verdicts, outputs, routing", compare_command);

}  // namespace wobble::cli
