// wobble rescore RUN [--suite FILE | --rubric FILE] [--judge-repeats K]
//
// Grades the stored outputs of RUN again, with the rubrics as they are now, into a new run whose
// plan records RUN as its source. The model is never called: outputs, prompts, tokens, traces and
// the model's attempts are copied; deterministic criteria are scored again and judge criteria go
// to the judge, whose gradings are reused from the database when the same (judge, prompt version,
// task, output, criterion, k-index) was graded before.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "util/utc_time.h"
#include "judge/judge_pool.h"
#include "runner/runner.h"
#include "suite/rubric_loader.h"
#include "suite/suite.h"
#include "util/error.h"
#include "util/periodic_thread.h"
#include "util/text_policy.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

// Every templated argument of the new rubrics must resolve with each case's vars before anything
// is stored (the same check load_suite makes).
void check_rubric_templates(const Suite& s) {
  for (const auto& c : s.cases)
    for (const auto& k : c.rubric.criteria) {
      try {
        render_template(dump_json(k.args), c.vars, "case '" + c.id + "'");
      } catch (const ConfigError& e) {
        throw ConfigError(k.source, 0, "args", std::string(e.what()) + " (criterion '" + k.id + "')");
      }
    }
}

// The source run's plan with the new rubrics (and judge) applied.
RunPlan rescore_plan(const RunRecord& source, const std::string& suite_path, const std::string& rubric_path,
                     std::optional<int> judge_repeats) {
  RunPlan plan = source.plan;
  plan.source_run_id = source.id;
  plan.overrides["rescore_of"] = std::to_string(source.id);
  if (!suite_path.empty()) {
    Suite now = load_suite(suite_path);
    for (auto& c : plan.suite.cases) {
      const Case* match = nullptr;
      for (const auto& n : now.cases)
        if (n.id == c.id) match = &n;
      if (!match)
        throw ConfigError(suite_path, 0, "cases",
                          "case '" + c.id + "' of run " + std::to_string(source.id) +
                              " is not in this suite; rescore needs a rubric for every stored case");
      c.rubric = match->rubric;
      c.answer_extractor = match->answer_extractor;
    }
    if (now.judge) plan.suite.judge = now.judge;
    plan.overrides["suite"] = suite_path;
  } else if (!rubric_path.empty()) {
    Rubric r = load_rubric_file(rubric_path);
    for (auto& c : plan.suite.cases) c.rubric = r;
    plan.overrides["rubric"] = rubric_path;
  }
  if (JudgePool::suite_needs_judge(plan.suite) && !plan.suite.judge)
    throw Error(kExitUsage, "the rubrics use the judge scorer, but run " + std::to_string(source.id) +
                                "'s suite has no 'judge:' block; give --suite with a judge block");
  if (judge_repeats) {
    if (!plan.suite.judge) throw Error(kExitUsage, "--judge-repeats needs a judge: no criterion uses the judge scorer");
    plan.suite.judge->repeats = *judge_repeats;
    for (auto& c : plan.suite.cases)
      for (auto& k : c.rubric.criteria)
        if (k.scorer == "judge" && k.args.contains("judge") && k.args["judge"].is_object()) k.args["judge"].erase("repeats");
    plan.overrides["judge_repeats"] = std::to_string(*judge_repeats);
  }
  check_rubric_templates(plan.suite);
  plan.suite.content_hash = suite_content_hash(plan.suite);
  return plan;
}

int rescore_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble rescore RUN [options]");
  std::string run_ref, db = "wobble.db", suite_path, rubric_path;
  int judge_repeats = 0;
  opts.add_options()("help,h", "show this help")
      ("run", po::value(&run_ref), "the run whose stored outputs are graded again (an id or 'latest')")
      ("db", po::value(&db)->default_value(db), "SQLite database (the new run is written to it)")
      ("suite", po::value(&suite_path), "take each case's rubric (and the judge block) from this suite file")
      ("rubric", po::value(&rubric_path), "grade every case with this rubric file")
      ("judge-repeats", po::value(&judge_repeats), "gradings per output and judge criterion (k, 1..25), overriding the suite")
      ("no-preflight", "skip the check that the judge endpoint answers")
      ("json", "print the outcome as JSON")
      ("quiet,q", "no summary on stderr");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  constexpr const char* kHelpTail =
      "\nPrints the new run's id on stdout. The model is never called. Judge gradings already in the database for "
      "the same judge, prompt version, task, output, criterion and k-index are reused, so rescoring an unchanged "
      "rubric again makes no judge call. An interrupted rescore is not resumed: run it again (finished gradings "
      "are reused).\nExit codes: 0 complete, 2 bad options or rubric, 3 interrupted or judge setup failure, "
      "4 database error.\n";
  if (parse_or_help(opts, &pos, args, vm, kHelpTail)) return kExitOk;
  if (run_ref.empty()) throw Error(kExitUsage, "give the run to rescore: wobble rescore RUN");
  if (!suite_path.empty() && !rubric_path.empty()) throw Error(kExitUsage, "give --suite or --rubric, not both");
  std::optional<int> k;
  if (vm.count("judge-repeats")) {
    if (judge_repeats < 1 || judge_repeats > 25) throw Error(kExitUsage, "--judge-repeats must be 1..25");
    k = judge_repeats;
  }
  const bool quiet = vm.count("quiet") > 0;
  std::error_code ec;
  if (!std::filesystem::exists(db, ec)) throw StoreError("no such database: " + db);
  Store store = Store::open(db);
  int64_t source_id = resolve_run_id(store, run_ref, db, "RUN");
  auto source = store.get_run(source_id);
  if (!source) throw Error(kExitUsage, "no run with id " + std::to_string(source_id) + " in " + db);
  if (source->status == "running")
    std::cerr << "warning: run " << source_id << " is still marked running; only the samples stored so far are rescored\n";
  RunPlan plan = rescore_plan(*source, suite_path, rubric_path, k);
  auto t0 = std::chrono::steady_clock::now();

  std::unique_ptr<JudgePool> judges;
  if (JudgePool::suite_needs_judge(plan.suite)) {
    judges = std::make_unique<JudgePool>(plan.suite, plan.suite_dir);
    if (!vm.count("no-preflight")) judges->preflight();
  }
  std::vector<SampleRecord> source_samples = store.samples(source_id, true);

  RunRecord rec = *source;
  rec.id = 0;
  rec.plan = plan;
  rec.suite_hash = plan.suite.content_hash;
  rec.tool_version = WOBBLE_VERSION;
  rec.started_at = utc_now();
  rec.finished_at.clear();
  rec.status = "running";
  RunLease lease = RunLease::for_this_process();
  const int64_t run_id = store.create_run(rec, &lease);

  std::map<std::string, const Case*> cases;
  for (const auto& c : plan.suite.cases) cases[c.id] = &c;
  std::map<std::string, const Variant*> variants;
  for (const auto& v : plan.suite.variants) variants[v.id] = &v;

  install_stop_handlers();
  PeriodicThread watcher(std::chrono::milliseconds(20), [&] {
    if (stop_requested() && judges) judges->cancel();
  });
  std::mutex done_mu;
  std::vector<SampleRecord> graded;
  int64_t skipped = 0;
  JudgePool::CacheLookup lookup = [&](const std::string& key) { return store.cached_grading(key); };
  try {
    for (auto& s : source_samples) {
      if (stop_requested()) break;
      SampleRecord r = std::move(s);
      r.id = 0;
      r.run_id = run_id;
      r.scores.clear();
      r.judge_gradings.clear();
      auto cit = cases.find(r.case_id);
      auto vit = variants.find(r.variant_id);
      if (cit == cases.end() || vit == variants.end()) {  // a sample outside the plan (merged runs): kept out
        ++skipped;
        continue;
      }
      const Case& c = *cit->second;
      if (r.ok) {
        // Split again with this tool's rules, except a server's separate field, which only the
        // stored record holds.
        if (r.reasoning_form != ReasoningForm::kField) r.set_parts(split_output(r.output));
        r.extracted_answer = extract_answer(c, r.answer_text());
        r.scores = score_output(c, r.output, r.parts());
      }
      if (r.ok && judges && judges->case_needs_judge(c) && !r.output.empty()) {
        judges->submit(std::move(r), c, render_prompt(*vit->second, c),
                       [&](SampleRecord done) {
                         std::lock_guard<std::mutex> lock(done_mu);
                         graded.push_back(std::move(done));
                       },
                       &lookup);
      } else {
        std::lock_guard<std::mutex> lock(done_mu);
        graded.push_back(std::move(r));
      }
    }
    if (judges) judges->wait_idle();
  } catch (...) {
    watcher.stop();
    throw;
  }
  watcher.stop();
  for (size_t i = 0; i < graded.size(); i += 64)
    store.insert_samples(std::vector<SampleRecord>(graded.begin() + int64_t(i),
                                                   graded.begin() + int64_t(std::min(graded.size(), i + 64))));
  const bool interrupted = stop_requested() || (judges && judges->dropped() > 0);
  const std::string status = interrupted ? "interrupted" : "complete";
  store.set_run_status_as(run_id, lease.owner, status, !interrupted);
  store.release_lease(run_id, lease.owner);

  const int64_t calls = judges ? judges->calls() : 0, hits = judges ? judges->cache_hits() : 0;
  const int64_t gradings = judges ? judges->gradings() : 0, faults = judges ? judges->faults() : 0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) {
    std::cerr << "rescore of run " << source_id << " -> run " << run_id << ": " << graded.size() << " samples, "
              << gradings << " judge gradings (" << calls << " judge calls, " << hits << " reused from the cache";
    if (gradings > 0) std::cerr << ", hit rate " << int(100.0 * double(hits) / double(gradings) + 0.5) << "%";
    std::cerr << "), " << faults << " judge faults, " << wall << " s; the model was not called\n";
    if (skipped > 0) std::cerr << "note: " << skipped << " stored samples are outside the run's plan and were left out\n";
  }
  if (vm.count("json"))
    std::cout << dump_json(nlohmann::json{{"run_id", run_id},      {"source_run_id", source_id},
                                          {"status", status},      {"samples", graded.size()},
                                          {"judge_gradings", gradings}, {"judge_calls", calls},
                                          {"cache_hits", hits},    {"judge_faults", faults},
                                          {"wall_s", wall}})
              << "\n";
  else
    std::cout << run_id << "\n";
  if (interrupted) {
    std::cerr << "interrupted; run 'wobble rescore " << source_id << "' again (stored gradings are reused)\n";
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("rescore", "grade a run's stored outputs again with the current rubrics (no model call)",
                        rescore_command);

}  // namespace wobble::cli
