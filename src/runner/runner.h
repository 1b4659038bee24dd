// The runner: executes every (case, variant, repeat) triple of a suite against a provider and
// stores samples, scores and attempts.
//
// Workers (provider.max_concurrency threads) call Provider::complete; a single writer thread
// stores results in batched transactions. SIGINT/SIGTERM stop new dispatches; finished work is
// flushed and the run is marked "interrupted" so `wobble run --resume ID` can finish it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "provider/provider.h"
#include "store/store.h"
#include "suite/suite.h"

namespace wobble {

struct RunOptions {
  std::string db_path = "wobble.db";
  int concurrency = 0;       // 0: the suite's provider.max_concurrency
  int shard_index = 0, shard_count = 1;
  bool quiet = false;
  size_t batch_size = 64;
  std::string tool_version;
};

struct RunOutcome {
  int64_t run_id = 0;
  int64_t planned = 0;       // triples this invocation had to execute
  int64_t executed = 0;      // stored (ok or failed)
  int64_t failed = 0;        // provider failures after retries
  bool interrupted = false;
  double wall_s = 0;
  std::string status;
};

// Every triple of the suite, in case, variant, repeat order, restricted to the shard.
std::vector<Triple> plan_triples(const Suite& suite, int shard_index, int shard_count);

// Starts a new run. `provider` must outlive the call.
RunOutcome run_suite(const Suite& suite, Provider& provider, const RunOptions& opts);
// Continues run `run_id`: executes only the triples without an ok sample.
RunOutcome resume_run(int64_t run_id, const Suite& suite, Provider& provider, const RunOptions& opts);

// Installs SIGINT/SIGTERM handlers that request a graceful stop; stop_requested() reads the flag.
void install_stop_handlers();
bool stop_requested();
void request_stop();  // for tests

}  // namespace wobble
