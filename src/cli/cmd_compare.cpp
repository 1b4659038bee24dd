// wobble compare RUN_A RUN_B [--format md|json|html] [--out FILE] [--allow-suite-change] [--only-moved]
#include <future>
#include <iostream>

#include <boost/program_options.hpp>

#include "analysis/compare.h"
#include "analysis/providers.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int compare_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble compare RUN_A RUN_B [options]");
  std::vector<std::string> refs;
  std::string db = "wobble.db", format = "md", out;
  std::vector<std::string> provider_pair;
  opts.add_options()("help,h", "show this help")("runs", po::value(&refs)->multitoken(), "two run ids ('latest' for the newest)")
      ("db", po::value(&db)->default_value(db), "SQLite database")
      ("format,f", po::value(&format)->default_value(format), "md | json | html")("out,o", po::value(&out), "write to FILE")
      ("allow-suite-change", "compare runs of different suites: only (case, variant, criterion) triples both have")
      ("only-moved", "list only the moved criteria (McNemar p < 0.05 or a verdict change) and their groups")
      ("providers", po::value(&provider_pair)->multitoken(),
       "A B: compare two providers of one run (wobble compare RUN --providers A B), paired by repeat");
  po::positional_options_description pos;
  pos.add("runs", 2);
  po::variables_map vm;
  if (parse_or_help(opts, &pos, args, vm)) return kExitOk;
  CompareOptions co;
  co.only_moved = vm.count("only-moved") > 0;
  if (vm.count("providers")) {
    if (refs.size() != 1 || provider_pair.size() != 2)
      throw Error(kExitUsage, "give one run and two provider ids: wobble compare RUN --providers A B");
    if (format != "md" && format != "json" && format != "html")
      throw Error(kExitUsage, "--format must be md, json or html, got '" + format + "'");
    Store store = Store::open_read_only(db);
    int64_t id = resolve_run_id(store, refs[0], db, "RUN");
    RunComparison c = compare_providers(store, id, provider_pair[0], provider_pair[1]);
    write_output(out, [&](std::ostream& os) {
      if (format == "json") os << dump_json(comparison_json(c, co), 2) << "\n";
      else if (format == "html") render_comparison_html(c, os, co);
      else render_comparison_markdown(c, os, co);
    });
    return kExitOk;
  }
  if (refs.size() != 2) throw Error(kExitUsage, "give two run ids: wobble compare RUN_A RUN_B");
  if (format != "md" && format != "json" && format != "html")
    throw Error(kExitUsage, "--format must be md, json or html, got '" + format + "'");
  Store store = Store::open_read_only(db);
  int64_t id_a = resolve_run_id(store, refs[0], db, "RUN_A"), id_b = resolve_run_id(store, refs[1], db, "RUN_B");
  if (id_a == id_b) throw Error(kExitUsage, "RUN_A and RUN_B are both run " + std::to_string(id_a) + "; give two different runs");
  // Run B and the routing are read on connections of their own alongside: each run of a large
  // database takes seconds. The comparison shows outcomes, unique outputs and TARr: no score text,
  // no logprobs.
  const AnalysisReads reads{false, true, false};
  auto b_read = std::async(std::launch::async, [&db, id_b, reads] {
    Store other = Store::open_read_only(db);
    return analyze_run(other, id_b, 3, 0, reads);
  });
  auto routing_read = std::async(std::launch::async, [&db, id_a, id_b] {
    Store other = Store::open_read_only(db);
    return analyze_routing(other, id_b, id_a);
  });
  RunAnalysis a = analyze_run(store, id_a, 3, 0, reads);
  RunAnalysis b = b_read.get();
  RoutingAnalysis routing = routing_read.get();
  RunComparison c = compare_runs(a, b);
  require_same_suite(c.suite, vm.count("allow-suite-change") > 0);
  if (!c.suite.same || c.suite.dropped() > 0) std::cerr << "note: " << c.suite.dropped_sentence() << "\n";
  c.routing = std::move(routing);
  write_output(out, [&](std::ostream& os) {
    if (format == "json") os << dump_json(comparison_json(c, co), 2) << "\n";
    else if (format == "html") render_comparison_html(c, os, co);
    else render_comparison_markdown(c, os, co);
  });
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("compare", "compare two runs: pass-rate deltas (McNemar), verdicts, outputs, routing", compare_command);

}  // namespace wobble::cli
