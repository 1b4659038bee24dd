// wobble run SUITE.yaml | --resume RUN_ID
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "provider/provider.h"
#include "runner/runner.h"
#include "suite/suite.h"
#include "util/error.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

void parse_shard(const std::string& s, int& index, int& count) {
  int i = -1, n = -1;
  char extra;
  if (std::sscanf(s.c_str(), "%d/%d%c", &i, &n, &extra) != 2 || n < 1 || i < 0 || i >= n)
    throw Error(kExitUsage, "--shard must be i/N with 0 <= i < N, got '" + s + "'");
  index = i;
  count = n;
}

int run_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble run [SUITE.yaml] [options]");
  std::string suite_path, db = "wobble.db", shard;
  std::vector<std::string> case_ids, tags;
  int repeats = 0, concurrency = 0;
  int64_t resume = 0;
  opts.add_options()("help,h", "show this help")
      ("suite", po::value(&suite_path), "suite file (YAML or JSON)")
      ("db", po::value(&db)->default_value(db), "SQLite database to write to")
      ("case", po::value(&case_ids)->composing(), "run only this case id (repeatable)")
      ("tag", po::value(&tags)->composing(), "run only cases with this tag (repeatable)")
      ("repeats", po::value(&repeats), "override the suite's repeats for every case")
      ("concurrency", po::value(&concurrency), "override provider.max_concurrency")
      ("resume", po::value(&resume), "continue run RUN_ID: execute only its missing samples")
      ("shard", po::value(&shard), "run shard i/N of the work (deterministic split)")
      ("json", "print the outcome as JSON")
      ("quiet,q", "no progress output");
  po::positional_options_description pos;
  pos.add("suite", 1);
  po::variables_map vm;
  constexpr const char* kHelpTail =
      "\nPrints the run id on stdout; progress goes to stderr.\nExit codes: 0 run complete, 2 bad suite or options, "
      "3 interrupted or provider setup failure, 4 database error.\n";
  if (parse_or_help(opts, &pos, args, vm, kHelpTail)) return kExitOk;
  RunOptions ro;
  ro.db_path = db;
  ro.concurrency = concurrency;
  ro.quiet = vm.count("quiet") > 0;
  ro.tool_version = WOBBLE_VERSION;
  if (!shard.empty()) parse_shard(shard, ro.shard_index, ro.shard_count);

  if (resume > 0) {
    Store store = Store::open(db);
    auto run = store.get_run(resume);
    if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(resume) + " in " + db);
    if (suite_path.empty()) suite_path = run->suite_path;
    if (!case_ids.empty() || !tags.empty() || repeats > 0 || !shard.empty())
      throw Error(kExitUsage, "--resume continues a run as it was planned; --case, --tag, --repeats and --shard "
                              "cannot be combined with it");
    Suite suite = load_suite(suite_path);
    if (suite.content_hash != run->suite_hash)
      throw Error(kExitUsage, "suite '" + suite_path + "' (or one of its rubrics) changed since run " +
                                  std::to_string(resume) + " started; resuming would mix two suites");
    // Filters and overrides recorded in the snapshot define the planned work.
    std::vector<std::string> ids;
    for (const auto& c : run->suite_snapshot["cases"]) ids.push_back(c.value("id", ""));
    filter_cases(suite, ids, {});
    for (auto& c : suite.cases)
      for (const auto& sc : run->suite_snapshot["cases"])
        if (sc.value("id", "") == c.id) c.repeats = sc.value("repeats", suite.repeats_for(c));
    auto provider = make_provider(suite.provider, std::filesystem::path(suite_path).parent_path().string());
    install_stop_handlers();
    RunOutcome out = resume_run(resume, suite, *provider, ro);
    std::cerr << "run " << out.run_id << ": resumed, " << out.executed << "/" << out.planned << " missing samples run, "
              << out.failed << " failed\n";
    if (vm.count("json"))
      std::cout << nlohmann::json{{"run_id", out.run_id}, {"status", out.status}, {"executed", out.executed},
                                  {"failed", out.failed}}.dump() << "\n";
    else
      std::cout << out.run_id << "\n";
    if (out.interrupted) {
      std::cerr << "interrupted; continue with: wobble run --resume " << out.run_id << " --db " << db << "\n";
      return kExitRuntime;
    }
    return kExitOk;
  }

  if (suite_path.empty()) throw Error(kExitUsage, "a suite file is required (see 'wobble run --help')");
  Suite suite = load_suite(suite_path);
  filter_cases(suite, case_ids, tags);
  if (suite.cases.empty()) throw Error(kExitUsage, "no case matches the --case/--tag filters");
  if (repeats > 0) {
    if (repeats > 10000) throw Error(kExitUsage, "--repeats must be at most 10000");
    for (auto& c : suite.cases) c.repeats = repeats;
  }
  auto provider = make_provider(suite.provider, std::filesystem::path(suite_path).parent_path().string());
  install_stop_handlers();
  RunOutcome out = run_suite(suite, *provider, ro);
  if (!ro.quiet)
    std::cerr << "run " << out.run_id << ": " << out.executed << "/" << out.planned << " samples in " << out.wall_s
              << " s, " << out.failed << " failed after retries\n";
  if (vm.count("json"))
    std::cout << nlohmann::json{{"run_id", out.run_id}, {"status", out.status}, {"planned", out.planned},
                                {"executed", out.executed}, {"failed", out.failed}, {"wall_s", out.wall_s}}.dump()
              << "\n";
  else
    std::cout << out.run_id << "\n";
  if (out.interrupted) {
    std::cerr << "interrupted; continue with: wobble run --resume " << out.run_id << " --db " << db << "\n";
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("run", "run a suite: every case x variant, N repeats", run_command);

}  // namespace wobble::cli
