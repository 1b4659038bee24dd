// wobble gate RUN [--baseline RUN] [thresholds]: exit 0 pass, 1 gate failed, 2 usage error.
#include <future>
#include <iostream>

#include <boost/program_options.hpp>

#include "analysis/compare.h"
#include "analysis/gate.h"
#include "analysis/routing_drift.h"
#include <cstdio>
#include "cli/cli_util.h"
#include "cli/command.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

int gate_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble gate RUN_ID [options]");
  std::string run_ref, baseline_ref;
  std::string db = "wobble.db";
  GateSpec cli;
  int max_unstable = -1, pass_k = 0;
  double min_pass = -1, max_drop = -1, alpha = -1, max_jsd = -1, min_overlap = -1, min_weighted = -1, min_pass_hat_k = -1;
  std::string max_failures;
  opts.add_options()("help,h", "show this help")("run", po::value(&run_ref), "run id to gate, or 'latest'")
      ("db", po::value(&db)->default_value(db), "SQLite database")
      ("baseline", po::value(&baseline_ref), "compare with this run (id or 'latest'): flag criteria whose pass rate fell")
      ("allow-suite-change", "with --baseline: accept a baseline of a different suite; only shared criteria are compared")
      ("max-unstable", po::value(&max_unstable), "fail when more (case, variant, criterion) triples are unstable")
      ("min-pass-rate", po::value(&min_pass), "fail when the overall pass rate is lower (0..1)")
      ("min-weighted-score", po::value(&min_weighted), "fail when the mean weighted score of the samples is lower (0..1)")
      ("min-pass-hat-k", po::value(&min_pass_hat_k),
       "fail when any criterion's pass^k (chance that k repeats all pass) is lower (0..1)")
      ("pass-k", po::value(&pass_k), "the k of --min-pass-hat-k (default 3; capped at each criterion's repeats)")
      ("max-pass-rate-drop", po::value(&max_drop), "with --baseline: fail on a larger absolute drop (0..1)")
      ("alpha", po::value(&alpha), "with --baseline: significance level of the Fisher test (default 0.05)")
      ("max-routing-jsd", po::value(&max_jsd), "with --baseline: fail when any layer's expert-usage JSD is larger")
      ("min-topk-overlap", po::value(&min_overlap), "with --baseline: fail when prompt top-k overlap is smaller")
      ("max-provider-failures", po::value(&max_failures),
       "samples that may fail at the provider: a count (3) or a share (5%); default 0")
      ("json", "print the result as JSON");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  constexpr const char* kHelpTail =
      "\nThresholds default to the suite's gate: block. Exit codes: 0 pass, 1 gate failed, "
      "2 usage or configuration error, 4 database error.\n";
  if (parse_or_help(opts, &pos, args, vm, kHelpTail)) return kExitOk;
  if (run_ref.empty()) throw Error(kExitUsage, "a run id (or 'latest') is required");
  if (vm.count("max-unstable")) {
    if (max_unstable < 0) throw Error(kExitUsage, "--max-unstable must be >= 0");
    cli.max_unstable = max_unstable;
  }
  auto unit = [](double v, const char* name) {
    if (v < 0 || v > 1) throw Error(kExitUsage, std::string("--") + name + " must be between 0 and 1");
    return v;
  };
  if (vm.count("min-pass-rate")) cli.min_pass_rate = unit(min_pass, "min-pass-rate");
  if (vm.count("min-weighted-score")) cli.min_weighted_score = unit(min_weighted, "min-weighted-score");
  if (vm.count("min-pass-hat-k")) cli.min_pass_hat_k = unit(min_pass_hat_k, "min-pass-hat-k");
  if (vm.count("pass-k")) {
    if (pass_k < 1 || pass_k > 10000) throw Error(kExitUsage, "--pass-k must be between 1 and 10000");
    cli.pass_k = pass_k;
  }
  if (vm.count("max-pass-rate-drop")) cli.max_pass_rate_drop = unit(max_drop, "max-pass-rate-drop");
  if (vm.count("alpha")) cli.alpha = unit(alpha, "alpha");
  if (vm.count("max-routing-jsd")) cli.max_routing_jsd = unit(max_jsd, "max-routing-jsd");
  if (vm.count("min-topk-overlap")) cli.min_topk_overlap = unit(min_overlap, "min-topk-overlap");
  if (vm.count("max-provider-failures")) {
    cli.max_provider_failures = FailureBudget::parse(max_failures);
    if (!cli.max_provider_failures)
      throw Error(kExitUsage, "--max-provider-failures must be a count (e.g. 3) or a share (e.g. 5%), got '" +
                                  max_failures + "'");
  }

  Store store = Store::open_read_only(db);
  int64_t run_id = resolve_run_id(store, run_ref, db);
  int64_t baseline_id = baseline_ref.empty() ? 0 : resolve_run_id(store, baseline_ref, db, "--baseline");
  if (baseline_id == run_id)
    throw Error(kExitUsage, "--baseline is run " + std::to_string(run_id) + ", the run being gated; a run cannot be its own baseline");
  // The baseline and the routing are read on connections of their own alongside: each run of a large
  // database takes seconds. The gate reads outcomes and weighted scores only (no output or score text).
  std::future<RunAnalysis> base_read;
  if (baseline_id > 0)
    base_read = std::async(std::launch::async, [&db, baseline_id] {
      Store other = Store::open_read_only(db);
      return analyze_run(other, baseline_id, 3, 0, AnalysisReads::outcomes_only());
    });
  // The routing thresholds come from the command line or the suite's gate: block, which only the run
  // knows; its plan is read first (cheap next to the samples) so the routing read can start at once.
  std::future<RoutingAnalysis> routing_read;
  if (baseline_id > 0) {
    auto run = store.get_run(run_id);
    const GateSpec early = merge_gate(run->plan.suite.gate, cli);
    if (early.max_routing_jsd || early.min_topk_overlap)
      routing_read = std::async(std::launch::async, [&db, run_id, baseline_id, early] {
        Store other = Store::open_read_only(db);
        // The gate checks the JSD and the prompt overlap; it shows no noise floor, so none is computed.
        return analyze_routing(other, run_id, baseline_id, early.max_routing_jsd.value_or(1.0),
                               early.min_topk_overlap.value_or(0.0), false);
      });
  }
  RunAnalysis a = analyze_run(store, run_id, 3, 0, AnalysisReads::outcomes_only());
  GateSpec spec = merge_gate(a.run.plan.suite.gate, cli);
  std::optional<RunAnalysis> base;
  if (base_read.valid()) base = base_read.get();
  std::optional<SuiteMatch> suite_match;
  if (base) {
    suite_match = match_suites(a, *base);
    require_same_suite(*suite_match, vm.count("allow-suite-change") > 0);
  }
  if (!has_thresholds(spec) && !base)
    throw Error(kExitUsage, "no gate thresholds: set them in the suite's gate: block or pass --max-unstable, "
                            "--min-pass-rate, --min-weighted-score, --min-pass-hat-k, --max-provider-failures or --baseline");
  GateResult g = evaluate_gate(a, spec, base ? &*base : nullptr);
  if (suite_match && (!suite_match->same || suite_match->dropped() > 0)) {
    // Allowed, but never silent: say what was left out; nothing shared means nothing was compared.
    bool any = suite_match->criteria_common > 0;
    g.checks.push_back({"suite_change", any, suite_match->dropped_sentence()});
    g.passed = g.passed && any;
  }
  if (base && (spec.max_routing_jsd || spec.min_topk_overlap)) {
    RoutingAnalysis r = routing_read.get();
    if (r.baseline.empty()) {
      g.checks.push_back({"routing_drift", false, "no routing traces to compare with the baseline"});
      g.passed = false;
    } else {
      int flagged = 0;
      std::string which;
      for (const auto& d : r.baseline)
        if (d.flagged) {
          ++flagged;
          which += (which.empty() ? "" : ", ") + d.case_id + "/" + d.variant_id;
        }
      char buf[160];
      std::snprintf(buf, sizeof buf, "max per-layer JSD %.3f, min prompt top-k overlap %.3f over %zu groups; ",
                    r.baseline_max_jsd, r.baseline_min_overlap, r.baseline.size());
      g.checks.push_back({"routing_drift", flagged == 0, std::string(buf) + std::to_string(flagged) + " flagged" +
                                                             (which.empty() ? "" : ": " + which)});
      g.passed = g.passed && flagged == 0;
    }
  }
  if (vm.count("json")) {
    std::cout << dump_json(g.to_json(), 2) << "\n";
  } else {
    std::cout << "gate for run " << run_id << ": " << (g.passed ? "PASSED" : "FAILED") << "\n";
    for (const auto& c : g.checks)
      std::cout << "  [" << (c.passed ? "ok" : "FAIL") << "] " << term_line(c.name) << ": " << term_line(c.detail) << "\n";
  }
  return g.passed ? kExitOk : kExitGateFailed;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("gate", "CI gate: exit 1 when thresholds or a baseline comparison fail", gate_command);

}  // namespace wobble::cli
