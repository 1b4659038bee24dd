// wobble run SUITE.yaml | --resume RUN_ID
#include <algorithm>
#include <filesystem>
#include <map>
#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "judge/judge_pool.h"
#include "provider/provider.h"
#include "runner/runner.h"
#include "suite/suite.h"
#include "util/error.h"
#include "util/text_policy.h"
#include "util/url.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ",") + i;
  return s;
}

std::string absolute_dir_of(const std::string& path) {
  std::error_code ec;
  auto dir = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path();
  return ec ? std::filesystem::path(path).parent_path().string() : dir.lexically_normal().string();
}

// The command-line settings that retarget a suite, as stored in the run plan's overrides (keys are
// the flag names) and applied again from there when a resume cross-checks the suite file.
constexpr const char* kRetargetKeys[] = {"provider", "model", "base-url", "model-path", "temperature", "batch-variant"};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Applies --provider, --model, --base-url, --model-path and --temperature (given in `ov`) to
// `suite`. --model/--base-url retarget an openai provider and --model-path a local one; with
// several providers they need --provider to pick exactly one, since silently pointing every
// provider at one model would turn a comparison into a self-comparison.
void apply_retarget(Suite& suite, const std::map<std::string, std::string>& ov) {
  auto specs = suite.run_providers();
  std::vector<std::string> all_ids;
  for (const auto& p : specs) all_ids.push_back(p.id.empty() ? "(unnamed)" : p.id);
  if (auto it = ov.find("provider"); it != ov.end()) {
    std::vector<ProviderSpec> kept;
    for (const auto& id : split_commas(it->second)) {
      auto found = std::find_if(specs.begin(), specs.end(), [&](const ProviderSpec& p) { return p.id == id; });
      if (found == specs.end())
        throw Error(kExitUsage, "--provider '" + id + "' is not a provider of suite '" + suite.name +
                                    "' (its providers: " + joined(all_ids) + ")");
      if (std::none_of(kept.begin(), kept.end(), [&](const ProviderSpec& p) { return p.id == id; }))
        kept.push_back(*found);
    }
    specs = kept;
  }
  const bool retarget = ov.count("model") || ov.count("base-url") || ov.count("model-path");
  if (retarget && specs.size() != 1)
    throw Error(kExitUsage, "--model, --base-url and --model-path change one provider, and suite '" + suite.name +
                                "' runs " + std::to_string(specs.size()) + " (" + joined(all_ids) +
                                "); pick one with --provider ID");
  if (retarget) {
    ProviderSpec& p = specs.front();
    const std::string who = p.id.empty() ? "the suite's provider" : "provider '" + p.id + "'";
    if ((ov.count("model") || ov.count("base-url")) && p.kind != "openai")
      throw Error(kExitUsage, "--model and --base-url apply to an openai provider; " + who + " is " + p.kind +
                                  " (use --model-path)");
    if (ov.count("model-path") && p.kind != "local")
      throw Error(kExitUsage, "--model-path applies to a local provider; " + who + " is " + p.kind +
                                  " (use --model and --base-url)");
    if (auto it = ov.find("model"); it != ov.end()) {
      if (it->second.empty()) throw Error(kExitUsage, "--model must not be empty");
      p.model = it->second;
    }
    if (auto it = ov.find("base-url"); it != ov.end()) {
      std::string url = it->second;
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
        throw Error(kExitUsage, "--base-url must start with http:// or https://");
      if (url_has_userinfo(url))
        throw Error(kExitUsage, "--base-url must not carry credentials; name the key's environment variable in "
                                "provider.api_key_env");
      while (!url.empty() && url.back() == '/') url.pop_back();
      p.base_url = url;
    }
    if (auto it = ov.find("model-path"); it != ov.end()) p.model_path = it->second;
  }
  if (ov.count("batch-variant")) {
    bool any_local = false;
    for (auto& p : specs)
      if (p.kind == "local") p.batch_variance = any_local = true;
    if (!any_local) throw Error(kExitUsage, "--batch-variant applies to local providers, and this run has none");
  }
  if (suite.providers.empty()) {
    suite.provider = specs.front();
  } else {
    suite.providers = specs;
    suite.provider = specs.front();
  }
  if (auto it = ov.find("temperature"); it != ov.end()) {
    double t = 0;
    size_t used = 0;
    try {
      t = std::stod(it->second, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != it->second.size() || !(t >= 0 && t <= 100))
      throw Error(kExitUsage, "--temperature must be a number from 0 to 100, got '" + it->second + "'");
    suite.sampling.temperature = t;
    for (auto& c : suite.cases)
      if (c.sampling.temperature) c.sampling.temperature = t;
    for (auto& p : suite.providers)
      if (p.sampling.temperature) p.sampling.temperature = t;
    if (suite.provider.sampling.temperature) suite.provider.sampling.temperature = t;
  }
}

// Prints the outcome and maps it to the exit code: 3 when the run was interrupted, stopped by the
// circuit breaker, or every sample failed at the provider.
int finish(const RunOutcome& out, const std::string& db, bool json, bool quiet, bool resumed) {
  if (!quiet || out.failed > 0 || out.breaker_tripped)
    std::cerr << "run " << out.run_id << ": " << (resumed ? "resumed, " : "") << out.executed << "/" << out.planned
              << " samples in " << out.wall_s << " s, " << out.failed << " failed after retries\n";
  if (json)
    std::cout << dump_json(nlohmann::json{{"run_id", out.run_id},     {"status", out.status},
                                {"planned", out.planned},   {"executed", out.executed},
                                {"failed", out.failed},     {"wall_s", out.wall_s},
                                {"stop_reason", out.stop_reason}})
              << "\n";
  else
    std::cout << out.run_id << "\n";
  const std::string resume = "wobble run --resume " + std::to_string(out.run_id) + " --db " + db;
  if (out.breaker_tripped) {
    std::cerr << "error: run " << out.run_id << " stopped (status failed): " << term_text(out.stop_reason)
              << "\nfix the cause, then continue with: " << resume << "\n";
    return kExitRuntime;
  }
  if (out.interrupted) {
    std::cerr << "interrupted; continue with: " << resume << "\n";
    return kExitRuntime;
  }
  if (out.all_failed()) {
    std::cerr << "error: every sample of run " << out.run_id << " failed at the provider; the last error is in "
              << "'wobble show " << out.run_id << " --db " << db << "'\n";
    return kExitRuntime;
  }
  if (out.failed > 0)
    std::cerr << "warning: " << out.failed << " samples failed at the provider; gates fail on them unless "
              << "max_provider_failures allows it\n";
  return kExitOk;
}

// Every provider of the plan, set up (and preflighted) before any sample is taken, so a typo in the
// second provider's URL fails the run at once instead of after the first provider's work.
struct ProviderSetup {
  std::vector<std::unique_ptr<Provider>> owned;
  ProviderMap map;
  std::unique_ptr<JudgePool> judges;  // when a criterion uses the judge scorer
};

ProviderSetup make_providers(const RunPlan& plan, bool preflight) {
  ProviderSetup set;
  for (const auto& spec : plan.suite.run_providers()) {
    set.owned.push_back(make_provider(spec, plan.suite_dir));
    if (preflight) {
      try {
        set.owned.back()->preflight();
      } catch (const Error& e) {
        if (plan.suite.providers.empty()) throw;
        throw Error(e.exit_code(), "provider '" + spec.id + "': " + e.what());
      }
    }
    set.map[spec.id] = set.owned.back().get();
  }
  if (JudgePool::suite_needs_judge(plan.suite)) {
    set.judges = std::make_unique<JudgePool>(plan.suite, plan.suite_dir);
    if (preflight) set.judges->preflight();
  }
  return set;
}

int run_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble run [SUITE.yaml] [options]");
  std::string suite_path, db = "wobble.db", shard;
  std::vector<std::string> case_ids, tags;
  int repeats = 0, concurrency = 0;
  std::vector<std::string> provider_ids;
  std::string model, base_url, model_path, temperature;
  std::string resume_ref;
  int64_t resume = 0;
  opts.add_options()("help,h", "show this help")
      ("suite", po::value(&suite_path), "suite file (YAML or JSON)")
      ("db", po::value(&db)->default_value(db), "SQLite database to write to")
      ("case", po::value(&case_ids)->composing(), "run only this case id (repeatable)")
      ("tag", po::value(&tags)->composing(), "run only cases with this tag (repeatable)")
      ("repeats", po::value(&repeats), "override the suite's repeats for every case (1..10000)")
      ("concurrency", po::value(&concurrency), "override max_concurrency of every provider (1..1024)")
      ("provider", po::value(&provider_ids)->composing(), "run only the provider with this id (repeatable)")
      ("model", po::value(&model), "run an openai provider on this model instead (one provider: see --provider)")
      ("base-url", po::value(&base_url), "send an openai provider's requests to this URL instead (one provider)")
      ("model-path", po::value(&model_path), "run a local provider on this GGUF file instead (one provider)")
      ("temperature", po::value(&temperature), "override the suite's and every case's temperature (0..100)")
      ("resume", po::value(&resume_ref), "continue run RUN_ID (or 'latest') from its stored plan: execute only its missing samples "
                                     "(a suite file, if given, must match the plan)")
      ("shard", po::value(&shard), "run shard i/N of the work (deterministic split)")
      ("batch-variant", "decode repeats like a batching server (batch-dependent expert capacity and summation "
                        "order; local providers; recorded with the run)")
      ("no-preflight", "skip the check that the endpoint answers, accepts the key and knows the model")
      ("json", "print the outcome as JSON")
      ("quiet,q", "no progress output");
  po::positional_options_description pos;
  pos.add("suite", 1);
  po::variables_map vm;
  constexpr const char* kHelpTail =
      "\nPrints the run id on stdout; progress goes to stderr. Ctrl-C stops within a second and keeps what finished "
      "(a second Ctrl-C aborts at once).\nExit codes: 0 run complete, 2 bad suite or options, 3 provider setup "
      "failure, every sample failed, circuit breaker or interrupted, 4 database error.\n";
  if (parse_or_help(opts, &pos, args, vm, kHelpTail)) return kExitOk;
  RunFlags flags{case_ids, tags, {}, {}};
  if (vm.count("repeats")) flags.repeats = repeats;
  if (vm.count("concurrency")) flags.concurrency = concurrency;
  // Ranges first (they need no suite), then the filters once the suite is loaded.
  validate_run_flags(Suite{}, RunFlags{{}, {}, flags.repeats, flags.concurrency});
  RunOptions ro;
  ro.db_path = db;
  ro.concurrency = concurrency;
  ro.quiet = vm.count("quiet") > 0;
  ro.tool_version = WOBBLE_VERSION;
  const bool preflight = !vm.count("no-preflight");

  if (vm.count("resume")) {
    if (!case_ids.empty() || !tags.empty() || vm.count("repeats") || !shard.empty() || !provider_ids.empty() ||
        vm.count("model") || vm.count("base-url") || vm.count("model-path") || vm.count("temperature") ||
        vm.count("batch-variant"))
      throw Error(kExitUsage, "--resume continues a run as it was planned; --case, --tag, --repeats, --shard, "
                              "--provider, --model, --base-url, --model-path, --temperature and --batch-variant cannot be "
                              "combined "
                              "with it");
    RunPlan plan;
    {
      std::error_code ec;
      if (!std::filesystem::exists(db, ec)) throw StoreError("no such database: " + db);
      Store store = Store::open(db);  // may migrate an older database; resuming writes anyway
      resume = resolve_run_id(store, resume_ref, db, "--resume");
      auto run = store.get_run(resume);
      if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(resume) + " in " + db);
      plan = run->plan;
      if (plan.source_run_id > 0)
        throw Error(kExitUsage, "run " + std::to_string(resume) + " is a rescore of run " +
                                    std::to_string(plan.source_run_id) + " and never calls the model; run 'wobble rescore " +
                                    std::to_string(plan.source_run_id) + "' again instead (stored gradings are reused)");
    }
    if (!suite_path.empty()) {
      // Optional cross-check: the suite as it is now, filtered and overridden like the plan.
      Suite now = load_suite(suite_path);
      std::vector<std::string> ids;
      for (const auto& c : plan.suite.cases) ids.push_back(c.id);
      filter_cases(now, ids, {});
      for (auto& c : now.cases)
        for (const auto& pc : plan.suite.cases)
          if (pc.id == c.id && plan.overrides.count("repeats")) c.repeats = pc.repeats;
      std::map<std::string, std::string> retarget;
      for (const char* key : kRetargetKeys)
        if (auto it = plan.overrides.find(key); it != plan.overrides.end()) retarget[key] = it->second;
      apply_retarget(now, retarget);
      std::string change = describe_suite_change(plan.suite, now);
      if (!change.empty())
        throw Error(kExitUsage, "suite '" + suite_path + "' changed since run " + std::to_string(resume) +
                                    " started (" + change + "); resuming would mix two suites. Run it without the "
                                    "suite file to continue the run as planned");
    }
    auto providers = make_providers(plan, preflight);
    ro.judges = providers.judges.get();
    install_stop_handlers();
    RunOutcome out = resume_run(resume, providers.map, ro);
    return finish(out, db, vm.count("json") > 0, ro.quiet, true);
  }

  if (suite_path.empty()) throw Error(kExitUsage, "a suite file is required (see 'wobble run --help')");
  RunPlan plan;
  plan.suite = load_suite(suite_path);
  validate_run_flags(plan.suite, flags);
  filter_cases(plan.suite, case_ids, tags);
  if (!case_ids.empty()) plan.overrides["case"] = joined(case_ids);
  if (!tags.empty()) plan.overrides["tag"] = joined(tags);
  if (vm.count("repeats")) {
    plan.suite.repeats = repeats;
    for (auto& c : plan.suite.cases) c.repeats = repeats;
    plan.overrides["repeats"] = std::to_string(repeats);
  }
  if (vm.count("concurrency")) plan.overrides["concurrency"] = std::to_string(concurrency);
  std::map<std::string, std::string> retarget;
  if (!provider_ids.empty()) retarget["provider"] = joined(provider_ids);
  if (vm.count("model")) retarget["model"] = model;
  if (vm.count("base-url")) retarget["base-url"] = base_url;
  if (vm.count("model-path")) retarget["model-path"] = model_path;
  if (vm.count("temperature")) retarget["temperature"] = temperature;
  if (vm.count("batch-variant")) retarget["batch-variant"] = "true";
  apply_retarget(plan.suite, retarget);
  for (const auto& [k, v] : retarget)
    plan.overrides[k] = k == "base-url" ? url_without_userinfo(v) : v;
  if (!shard.empty() && !parse_shard_text(shard, plan.shard_index, plan.shard_count))
    throw Error(kExitUsage, "--shard must be i/N with 0 <= i < N, got '" + shard + "'");
  plan.suite_dir = absolute_dir_of(suite_path);
  auto providers = make_providers(plan, preflight);
  ro.judges = providers.judges.get();
  install_stop_handlers();
  RunOutcome out = run_plan(plan, providers.map, ro);
  return finish(out, db, vm.count("json") > 0, ro.quiet, false);
}

}  // namespace

WOBBLE_REGISTER_COMMAND("run", "run a suite: every case x variant, N repeats", run_command);

}  // namespace wobble::cli
