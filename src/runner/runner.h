// The runner: executes every (case, variant, repeat) triple of a run plan against a provider and
// stores samples, scores and attempts.
//
// Workers (provider.max_concurrency threads) call Provider::complete; a single writer thread
// stores results in batched transactions, retrying for a bounded time while another process holds
// the database lock. One process at a time executes a run: it holds the run's lease (store.h)
// and heartbeats it from the writer thread.
//
// Stopping: the first SIGINT/SIGTERM prints how many requests are in flight, cancels them (HTTP
// transfers, backoff waits, decode loops), stores what finished and marks the run "interrupted";
// a second one exits the process at once (exit code 130; SQLite's journal keeps the database
// consistent and --resume completes the run). Judge criteria are graded after the model sample
// completes, on the judge pool (judge/judge_pool.h); a sample is stored only once all its gradings
// are in, so a stop drops samples whose gradings were cancelled and --resume runs them again.
// A circuit breaker stops a run whose requests all
// fail (status "failed").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "provider/provider.h"
#include "store/store.h"
#include "suite/suite.h"

namespace wobble {

class JudgePool;

struct RunOptions {
  std::string db_path = "wobble.db";
  int concurrency = 0;       // 0: the plan's provider.max_concurrency
  bool quiet = false;
  size_t batch_size = 64;
  std::string tool_version;
  // How long the writer keeps retrying a batch while another process holds the database lock
  // (on top of SQLite's 5 s busy timeout per try) before it gives up.
  double busy_retry_s = 120;
  // Grades `scorer: judge` criteria (judge/judge_pool.h). When null and the suite has judge
  // criteria, the runner builds one from the plan's judge block. Must outlive the call.
  JudgePool* judges = nullptr;
};

struct RunOutcome {
  int64_t run_id = 0;
  int64_t planned = 0;       // triples this invocation had to execute
  int64_t executed = 0;      // stored (ok or failed)
  int64_t failed = 0;        // provider failures after retries
  bool interrupted = false;
  bool breaker_tripped = false;  // stopped because requests kept failing; `stop_reason` says why
  std::string stop_reason;
  double wall_s = 0;
  std::string status;
  bool all_failed() const { return executed > 0 && failed == executed; }
};

// Every triple of the plan, in case, variant, repeat order, restricted to the plan's shard.
std::vector<Triple> plan_triples(const RunPlan& plan);
// Every sample to take: each provider of the suite (in its order) x plan_triples(). A shard holds
// every provider of its triples, so shards of a multi-provider run stay paired.
std::vector<WorkItem> plan_work(const RunPlan& plan);

// The set-up provider for each ProviderSpec::id of the plan; not owned, must outlive the call.
using ProviderMap = std::map<std::string, Provider*>;

// Starts a new run of `plan`. Each provider runs its share with its own max_concurrency workers
// (or opts.concurrency each) and its own circuit breaker; one tripping stops the whole run.
RunOutcome run_plan(const RunPlan& plan, const ProviderMap& providers, const RunOptions& opts);
// Continues run `run_id` from its stored plan: executes only the work items without an ok sample.
// Throws Error(kExitUsage) naming the holder when another live process holds the run's lease.
RunOutcome resume_run(int64_t run_id, const ProviderMap& providers, const RunOptions& opts);
// Single-provider forms; throw Error(kExitUsage) when the plan has several providers.
RunOutcome run_plan(const RunPlan& plan, Provider& provider, const RunOptions& opts);
RunOutcome resume_run(int64_t run_id, Provider& provider, const RunOptions& opts);

// Installs SIGINT/SIGTERM handlers (see the header comment); stop_requested() reads the flag.
void install_stop_handlers();
bool stop_requested();
void request_stop();  // for tests

}  // namespace wobble
