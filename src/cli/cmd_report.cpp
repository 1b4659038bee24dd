// wobble report RUN|latest --format md|json|html|junit|summary [--out FILE] [--detail] [--only-unstable]
#include <future>
#include <iostream>

#include <boost/program_options.hpp>

#include "analysis/providers.h"
#include "analysis/routing_drift.h"
#include "analysis/stability.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "report/report.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int report_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble report RUN_ID [options]");
  std::string run_ref, baseline_ref, provider;
  std::string db = "wobble.db", format = "md", out;
  int k = 3;
  double max_jsd = 0.1, min_overlap = 0.8;
  opts.add_options()("help,h", "show this help")("run", po::value(&run_ref), "run id (see 'wobble runs') or 'latest'")
      ("db", po::value(&db)->default_value(db), "SQLite database")
      ("format,f", po::value(&format)->default_value(format), "md | json | html | junit | summary")
      ("out,o", po::value(&out), "write to FILE instead of stdout")
      ("k", value_with_default(&k), "k for pass@k and pass^k (capped at n)")
      ("provider", po::value(&provider), "report only the samples of this provider (a run on several providers)")
      ("baseline", po::value(&baseline_ref), "compare routing with this run id or 'latest' (same cases and variants)")
      ("max-routing-jsd", value_with_default(&max_jsd), "flag layers whose JSD vs the baseline is larger")
      ("min-topk-overlap", value_with_default(&min_overlap), "flag prompts whose top-k overlap vs the baseline is smaller")
      ("detail", "md: add the per-repeat tables and every group's first divergence")
      ("only-unstable", "limit every section to unstable criteria and the (case, variant) groups that have one");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (parse_or_help(opts, &pos, args, vm)) return kExitOk;
  if (run_ref.empty()) throw Error(kExitUsage, "a run id (or 'latest') is required (see 'wobble runs')");
  if (k < 1) throw Error(kExitUsage, "--k must be at least 1");
  if (format != "md" && format != "json" && format != "html" && format != "junit" && format != "summary")
    throw Error(kExitUsage, "--format must be md, json, html, junit or summary, got '" + format + "'");
  Store store = Store::open_read_only(db);
  int64_t run_id = resolve_run_id(store, run_ref, db);
  int64_t baseline = baseline_ref.empty() ? 0 : resolve_run_id(store, baseline_ref, db, "--baseline");
  // The routing is read on a connection of its own alongside the analysis: on a large run each
  // takes seconds, and they share nothing.
  auto routing_read = std::async(std::launch::async, [&db, run_id, baseline, max_jsd, min_overlap] {
    Store other = Store::open_read_only(db);
    return analyze_routing(other, run_id, baseline > 0 ? std::optional<int64_t>(baseline) : std::nullopt, max_jsd,
                           min_overlap);
  });
  RunAnalysis a = vm.count("provider") ? analyze_provider(store, run_id, provider, k) : analyze_run(store, run_id, k);
  RoutingAnalysis routing = routing_read.get();
  ReportOptions ro;
  ro.detail = vm.count("detail") > 0;
  ro.only_unstable = vm.count("only-unstable") > 0;
  write_output(out, [&](std::ostream& os) {
    if (format == "json") {
      write_report_json(os, a, &routing, ro);
      os << "\n";
    }
    else if (format == "html") render_html(a, os, &routing, ro);
    else if (format == "junit") render_junit(a, os, ro);
    else if (format == "summary") render_summary(a, os, ro);
    else render_markdown(a, os, &routing, ro);
  });
  if (!out.empty()) std::cerr << "report written to " << out << "\n";
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("report", "render a run's stability report (md, json, html, junit, summary)", report_command);

}  // namespace wobble::cli
