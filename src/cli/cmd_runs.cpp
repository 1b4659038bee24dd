// wobble runs: list stored runs with their sample counts, failures, pass rate and unstable count.
// wobble show RUN: every stored fact of a run's samples (prompt, output, tokens, latency, model,
// logprobs, each criterion with its evidence, every attempt).
//
// Every string that came from a model, a server or a file is printed through the terminal rule of
// util/text_policy.h (term_text / term_line) and every JSON document through dump_json.
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <set>

#include <boost/program_options.hpp>

#include "analysis/providers.h"
#include "analysis/stability.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "report/report.h"
#include "report/sample_view.h"
#include "store/store.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

std::string fixed(double x, int digits) {
  if (!std::isfinite(x)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// Per-run figures for the listing, from the same analysis every report uses.
struct RunFigures {
  int64_t samples = 0, failed = 0, scored = 0, passes = 0, unstable = 0;
  double pass_rate = NAN;  // NaN when nothing was scored
};

RunFigures figures(const Store& store, int64_t run_id) {
  RunAnalysis a = analyze_run(store, run_id, 3, 0, AnalysisReads::outcomes_only());  // figures only
  RunFigures f;
  f.samples = a.total_samples;
  f.failed = a.failed_samples;
  f.scored = a.scored;
  f.passes = a.passes;
  f.unstable = a.unstable;
  if (a.scored > 0) f.pass_rate = a.overall_pass_rate;
  return f;
}

int runs_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble runs [options]");
  std::string db = "wobble.db", suite;
  int limit = 0;
  opts.add_options()("help,h", "show this help")("db", po::value(&db)->default_value(db), "SQLite database")
      ("suite", po::value(&suite), "only runs of this suite name")
      ("limit", po::value(&limit), "at most N runs, newest first")
      ("last", "only the newest run")
      ("id-only", "print run ids only")
      ("json", "print JSON");
  po::variables_map vm;
  if (parse_or_help(opts, nullptr, args, vm)) return kExitOk;
  if (vm.count("last")) limit = 1;
  Store store = Store::open_read_only(db);
  auto runs = store.list_runs(suite, limit);
  if (vm.count("last") && runs.empty()) throw Error(kExitUsage, "no runs in " + db);
  if (vm.count("id-only")) {
    for (const auto& r : runs) std::cout << r.id << "\n";
    return kExitOk;
  }
  // Only the listed runs are analysed (--limit / --suite bound the work).
  std::vector<RunFigures> figs;
  figs.reserve(runs.size());
  for (const auto& r : runs) figs.push_back(figures(store, r.id));
  if (vm.count("json")) {
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& r = runs[i];
      const auto& f = figs[i];
      j.push_back({{"id", r.id}, {"suite", r.suite_name}, {"model_id", r.model_id}, {"status", r.status},
                   {"started_at", r.started_at}, {"finished_at", r.finished_at}, {"shard", r.shard},
                   {"expected_samples", r.expected_samples}, {"samples", f.samples}, {"failed_samples", f.failed},
                   {"scored", f.scored}, {"passes", f.passes}, {"pass_rate", finite_or_null(f.pass_rate)},
                   {"unstable", f.unstable}});
    }
    std::cout << dump_json(j, 2) << "\n";
    return kExitOk;
  }
  // Column widths count characters, so names with accents or CJK stay aligned.
  std::cout << pad_right("ID", 6) << pad_right("SUITE", 24) << pad_right("STATUS", 12) << pad_right("SAMPLES", 13)
            << pad_right("FAILED", 8) << pad_right("PASS", 7) << pad_right("UNSTABLE", 10) << pad_right("STARTED", 22)
            << "MODEL\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const auto& f = figs[i];
    std::string samples = std::to_string(f.samples) + "/" + std::to_string(r.expected_samples);
    std::cout << pad_right(std::to_string(r.id), 6) << pad_right(term_cell(r.suite_name, 23), 24)
              << pad_right(term_cell(r.status, 11), 12) << pad_right(samples, 13)
              << pad_right(std::to_string(f.failed), 8) << pad_right(fixed(f.pass_rate, 2), 7)
              << pad_right(std::to_string(f.unstable), 10) << pad_right(term_cell(r.started_at, 21), 22)
              << term_line(r.model_id) << "\n";
  }
  return kExitOk;
}

int show_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble show RUN_ID [options]");
  std::string run_ref;
  std::string db = "wobble.db", case_id;
  opts.add_options()("help,h", "show this help")("run", po::value(&run_ref), "run id, or 'latest'")
      ("db", po::value(&db)->default_value(db), "SQLite database")("case", po::value(&case_id), "only this case")
      ("logprobs", "list every token's logprob (and top alternatives) instead of a summary line")
      ("json", "print JSON (every field, logprobs included)");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (parse_or_help(opts, &pos, args, vm)) return kExitOk;
  if (run_ref.empty()) throw Error(kExitUsage, "a run id (or 'latest') is required");
  Store store = Store::open_read_only(db);
  int64_t run_id = resolve_run_id(store, run_ref, db);
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in " + db);
  std::vector<SampleRecord> samples = store.samples(run_id);
  if (vm.count("case")) {
    std::set<std::string> known;
    for (const auto& s : samples) known.insert(s.case_id);
    for (const auto& c : run->plan.suite.cases) known.insert(c.id);
    if (!known.count(case_id)) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + term_line(k, 60);
      throw Error(kExitUsage, "run " + std::to_string(run_id) + " has no case '" + term_line(case_id, 200) + "'" +
                                  (list.empty() ? "" : " (its cases: " + list + ")"));
    }
    std::erase_if(samples, [&](const SampleRecord& s) { return s.case_id != case_id; });
    if (samples.empty())
      std::cerr << "case '" << term_line(case_id) << "' has no stored samples in run " << run_id << "\n";
  }
  if (vm.count("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : samples) out.push_back(sample_json(s));
    std::cout << dump_json(out, 2) << "\n";
    return kExitOk;
  }
  std::cout << "run " << run_id << ": suite " << term_line(run->suite_name) << ", model " << term_line(run->model_id)
            << ", status " << term_line(run->status) << "\n";
  // Which provider each sample names ("on ID" in its header), and what the command line changed.
  if (!run->plan.suite.providers.empty()) {
    std::cout << "providers:";
    for (const auto& p : run->plan.suite.providers)
      std::cout << " " << term_line(p.id) << " (" << term_line(provider_model_text(p)) << ")";
    std::cout << "\n";
  }
  if (!run->plan.overrides.empty()) {
    std::cout << "overrides:";
    for (const auto& [k, v] : run->plan.overrides) std::cout << " --" << term_line(k) << " " << term_line(v);
    std::cout << "\n";
  }
  for (const auto& s : samples) render_sample_text(s, std::cout, vm.count("logprobs") > 0);
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("runs", "list stored runs: samples, failures, pass rate, unstable criteria", runs_command);
WOBBLE_REGISTER_COMMAND("show", "show a run's samples: prompt, output, scores with evidence, attempts, logprobs",
                        show_command);

}  // namespace wobble::cli
