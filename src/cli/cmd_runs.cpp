// wobble runs: list stored runs. wobble show RUN: samples with scores and evidence.
#include <iomanip>
#include <iostream>

#include <boost/program_options.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "report/report.h"
#include "store/store.h"
#include "util/error.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

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
  if (vm.count("json")) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : runs)
      j.push_back({{"id", r.id}, {"suite", r.suite_name}, {"model_id", r.model_id}, {"status", r.status},
                   {"started_at", r.started_at}, {"finished_at", r.finished_at}, {"shard", r.shard},
                   {"expected_samples", r.expected_samples}});
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  if (vm.count("id-only")) {
    for (const auto& r : runs) std::cout << r.id << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(6) << "ID" << std::setw(24) << "SUITE" << std::setw(12) << "STATUS"
            << std::setw(22) << "STARTED" << "MODEL\n";
  for (const auto& r : runs)
    std::cout << std::setw(6) << r.id << std::setw(24) << r.suite_name.substr(0, 23) << std::setw(12) << r.status
              << std::setw(22) << r.started_at << r.model_id << "\n";
  return kExitOk;
}

int show_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble show RUN_ID [options]");
  std::string run_ref;
  std::string db = "wobble.db", case_id;
  opts.add_options()("help,h", "show this help")("run", po::value(&run_ref), "run id, or 'latest'")
      ("db", po::value(&db)->default_value(db), "SQLite database")("case", po::value(&case_id), "only this case")
      ("json", "print JSON");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (parse_or_help(opts, &pos, args, vm)) return kExitOk;
  if (run_ref.empty()) throw Error(kExitUsage, "a run id (or 'latest') is required");
  Store store = Store::open_read_only(db);
  int64_t run_id = resolve_run_id(store, run_ref, db);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : store.samples(run_id)) {
    if (!case_id.empty() && s.case_id != case_id) continue;
    if (vm.count("json")) {
      nlohmann::json sj = {{"case", s.case_id}, {"variant", s.variant_id}, {"repeat", s.repeat}, {"ok", s.ok},
                           {"output", s.output}, {"error", s.error}, {"seed", s.seed},
                           {"attempts", nlohmann::json::array()}, {"scores", nlohmann::json::array()}};
      for (const auto& a : s.attempts)
        sj["attempts"].push_back({{"index", a.index}, {"http_status", a.http_status}, {"outcome", a.outcome},
                                  {"error", a.error}, {"latency_s", a.latency_s}, {"retry_after_s", a.retry_after_s}});
      for (const auto& c : s.scores)
        sj["scores"].push_back({{"criterion", c.criterion_id}, {"outcome", outcome_name(c.outcome)},
                                {"score", c.score}, {"evidence_start", c.evidence.start},
                                {"evidence_end", c.evidence.end}, {"evidence", c.evidence.text}, {"reason", c.reason}});
      out.push_back(sj);
      continue;
    }
    std::cout << "== " << s.case_id << " / " << s.variant_id << " #" << s.repeat << " (seed " << s.seed << ", "
              << s.attempts.size() << " attempt(s))\n";
    if (!s.ok) {
      std::cout << "  provider failure: " << s.error << "\n";
      continue;
    }
    std::cout << "  output: " << md_inline(s.output, 300) << "\n";
    for (const auto& c : s.scores)
      std::cout << "  " << std::setw(9) << outcome_name(c.outcome) << " " << c.criterion_id << ": " << c.reason
                << (c.evidence.start >= 0 ? " @" + std::to_string(c.evidence.start) + "-" + std::to_string(c.evidence.end) : "")
                << "\n";
  }
  if (vm.count("json")) std::cout << out.dump(2) << "\n";
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("runs", "list stored runs", runs_command);
WOBBLE_REGISTER_COMMAND("show", "show a run's samples with scores and evidence", show_command);

}  // namespace wobble::cli
