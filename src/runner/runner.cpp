#include "runner/runner.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "judge/judge_pool.h"
#include "runner/output_cap.h"
#include "runner/progress.h"
#include "util/utc_time.h"
#include "runner/seeds.h"
#include "scorer/scorer.h"
#include "util/error.h"
#include "util/periodic_thread.h"

namespace wobble {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_in_flight{0};

// Async-signal-safe: only atomics, write(2) and _exit(2).
void on_signal(int) {
  if (g_stop.exchange(true)) {
    static const char kAbort[] = "\nwobble: aborted at once (the database stays consistent; --resume continues)\n";
    (void)!write(STDERR_FILENO, kAbort, sizeof kAbort - 1);
    _exit(130);
  }
  char buf[128];
  size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof buf) buf[n++] = *s++;
  };
  put("\nstopping: ");
  int k = g_in_flight.load();
  char digits[12];
  int d = 0;
  do {
    digits[d++] = char('0' + k % 10);
    k /= 10;
  } while (k > 0 && d < 11);
  while (d > 0 && n < sizeof buf) buf[n++] = digits[--d];
  put(" requests in flight (Ctrl-C again to abort now)\n");
  (void)!write(STDERR_FILENO, buf, n);
}

constexpr double kLeaseStaleS = 120;   // a live holder heartbeats every few seconds
constexpr double kHeartbeatS = 5;

// Single writer: takes finished samples from workers and stores them in batches; heartbeats the
// run's lease. A batch refused because another process holds the lock is retried with backoff
// for up to busy_retry_s; past that (or on any other database error) the writer stops and
// close() rethrows.
class BatchWriter {
 public:
  BatchWriter(Store& store, size_t batch_size, int64_t run_id, std::string owner, double busy_retry_s,
              std::atomic<bool>& stop_dispatch)
      : store_(store), batch_size_(batch_size), run_id_(run_id), owner_(std::move(owner)),
        busy_retry_s_(busy_retry_s), stop_dispatch_(stop_dispatch), thread_([this] { loop(); }) {}
  ~BatchWriter() {
    try {
      close();
    } catch (...) {
    }
  }

  void push(SampleRecord r) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(r));
    if (queue_.size() >= batch_size_) cv_.notify_one();
  }

  // Flushes everything and stops; rethrows a store failure.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
        return;
      }
      closed_ = true;
    }
    cv_.notify_one();
    thread_.join();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void store_batch(const std::vector<SampleRecord>& batch) {
    auto t0 = std::chrono::steady_clock::now();
    double wait = 0.05;
    for (;;) {
      try {
        store_.insert_samples(batch);
        return;
      } catch (const StoreError& e) {
        double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!e.busy()) throw;
        if (waited >= busy_retry_s_)
          throw StoreError("gave up storing " + std::to_string(batch.size()) + " samples after " +
                           std::to_string(int(waited)) + " s: another process kept the database locked (" +
                           e.what() + "); what was stored before stays, --resume runs the rest");
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        wait = std::min(wait * 2, 2.0);
      }
    }
  }

  void loop() {
    auto last_beat = std::chrono::steady_clock::now();
    for (;;) {
      std::vector<SampleRecord> batch;
      bool done;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(1), [&] { return closed_ || queue_.size() >= batch_size_; });
        while (!queue_.empty()) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        done = closed_;
      }
      if (!failed_) {
        try {
          if (!batch.empty()) store_batch(batch);
          auto now = std::chrono::steady_clock::now();
          if (now - last_beat > std::chrono::duration<double>(kHeartbeatS)) {
            last_beat = now;
            store_.heartbeat(run_id_, owner_);
          }
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu_);
          error_ = std::current_exception();
          failed_ = true;
          stop_dispatch_.store(true);  // nothing more can be stored; stop dispatching
        }
      }
      if (done) return;
    }
  }

  Store& store_;
  size_t batch_size_;
  int64_t run_id_;
  std::string owner_;
  double busy_retry_s_;
  std::atomic<bool>& stop_dispatch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SampleRecord> queue_;
  bool closed_ = false, failed_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// Trips when `limit` samples in a row failed at the provider and the failures span more than one
// (case, variant) group (unless the work has only one group): one case whose prompt the endpoint
// rejects is data, every request failing is a broken setup.
class CircuitBreaker {
 public:
  CircuitBreaker(int limit, bool single_group) : limit_(limit), single_group_(single_group) {}
  // Returns true when this failure trips the breaker.
  bool failed(const std::string& case_id, const std::string& variant_id, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu_);
    ++streak_;
    groups_.insert(case_id + '\x1f' + variant_id);
    last_error_ = error;
    return limit_ > 0 && streak_ >= limit_ && (single_group_ || groups_.size() > 1);
  }
  void succeeded() {
    std::lock_guard<std::mutex> lock(mu_);
    streak_ = 0;
    groups_.clear();
  }
  std::string reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::to_string(streak_) + " samples in a row failed at the provider; the last error: " + last_error_;
  }

 private:
  int limit_;
  bool single_group_;
  mutable std::mutex mu_;
  int streak_ = 0;
  std::set<std::string> groups_;
  std::string last_error_;
};

// One provider's share of the work: its own workers (its max_concurrency) and circuit breaker, so
// a slow or broken endpoint neither starves nor hides behind another provider.
struct Lane {
  const ProviderSpec* spec = nullptr;
  Provider* provider = nullptr;
  std::vector<const WorkItem*> todo;
  std::vector<std::pair<size_t, size_t>> groups;  // [begin, end) ranges of todo run together
  std::atomic<size_t> next{0};  // next group
  std::unique_ptr<CircuitBreaker> breaker;
};

RunOutcome execute(int64_t run_id, const std::string& owner, const std::vector<WorkItem>& todo, const RunPlan& plan,
                   const ProviderMap& providers, Store& store, const RunOptions& opts) {
  const Suite& suite = plan.suite;
  RunOutcome out;
  out.run_id = run_id;
  out.planned = int64_t(todo.size());
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, const Case*> cases;
  for (const auto& c : suite.cases) cases[c.id] = &c;
  std::map<std::string, const Variant*> variants;
  for (const auto& v : suite.variants) variants[v.id] = &v;

  const std::vector<ProviderSpec> specs = suite.run_providers();
  std::vector<std::unique_ptr<Lane>> lanes;
  std::map<std::string, Lane*> lane_of;
  for (const auto& spec : specs) {
    auto it = providers.find(spec.id);
    if (it == providers.end() || !it->second)
      throw Error(kExitRuntime, "no provider was set up for '" + spec.id + "'");
    auto lane = std::make_unique<Lane>();
    lane->spec = &spec;
    lane->provider = it->second;
    lane_of[spec.id] = lane.get();
    lanes.push_back(std::move(lane));
  }
  for (const auto& t : todo) {
    auto it = lane_of.find(std::get<0>(t));
    if (it == lane_of.end()) throw Error(kExitRuntime, "work for unknown provider '" + std::get<0>(t) + "'");
    it->second->todo.push_back(&t);
  }
  for (auto& lane : lanes) {
    std::set<std::pair<std::string, std::string>> groups;
    for (const auto* t : lane->todo) groups.emplace(std::get<1>(*t), std::get<2>(*t));
    lane->breaker = std::make_unique<CircuitBreaker>(lane->spec->circuit_breaker, groups.size() <= 1);
  }

  Progress progress(out.planned, opts.quiet);
  std::atomic<int64_t> done{0}, failed{0};
  // Set by a store failure or the circuit breaker; stops dispatch and cancels in-flight requests.
  std::atomic<bool> stop_run{false};
  std::atomic<bool> cancel{false};
  std::atomic<bool> tripped{false};
  std::unique_ptr<JudgePool> own_judges;
  JudgePool* judges = opts.judges;
  if (!judges && JudgePool::suite_needs_judge(suite)) {
    own_judges = std::make_unique<JudgePool>(suite, plan.suite_dir);
    judges = own_judges.get();
  }
  std::mutex reason_mu;
  std::string trip_reason;
  BatchWriter writer(store, opts.batch_size, run_id, owner, opts.busy_retry_s, stop_run);

  // Forwards the global stop and the run's own stop into the one flag providers watch.
  PeriodicThread watcher(std::chrono::milliseconds(20), [&] {
    if (g_stop.load() || stop_run.load()) {
      cancel.store(true);
      if (judges) judges->cancel();
    }
  });

  // Stores one finished request; false when the worker must stop (a cancelled request).
  auto record = [&](Lane& lane, const CompletionRequest& req, Completion comp) -> bool {
    const std::string& provider_id = lane.spec->id;
    const std::string& case_id = req.case_id;
    const std::string& variant_id = req.variant_id;
    const Case& c = *cases.at(case_id);
    // A cancelled request is neither a result nor a provider failure: nothing is stored and
    // --resume runs it again.
    if (comp.cancelled) return false;
    SampleRecord r;
    r.run_id = run_id;
    r.provider_id = provider_id;
    r.case_id = case_id;
    r.variant_id = variant_id;
    r.repeat = req.repeat;
    r.prompt = req.prompt.as_text();
    r.ok = comp.ok;
    r.finish_reason = comp.finish_reason;
    r.prompt_tokens = comp.prompt_tokens;
    r.completion_tokens = comp.completion_tokens;
    r.latency_s = comp.latency_s;
    r.error = comp.error;
    r.seed = req.sampling.seed;
    r.model_reported = comp.model_reported;
    r.attempts = comp.attempts;
    if (comp.ok) {
      r.output_original_bytes = cap_output(comp.text, size_t(lane.spec->max_output_bytes), r.finish_reason);
      // A server's separate thinking field is held to the same cap; the sample is then marked cut.
      std::string reasoning_finish = r.finish_reason;
      if (cap_output(comp.reasoning, size_t(lane.spec->max_output_bytes), reasoning_finish) >= 0)
        r.finish_reason = reasoning_finish;
      r.output = std::move(comp.text);
      r.set_parts(split_output(r.output, comp.reasoning, r.finish_reason));
      r.extracted_answer = extract_answer(c, r.answer_text());
      r.scores = score_output(c, r.output, r.parts());
      r.prompt_token_ids = std::move(comp.prompt_token_ids);
      r.token_ids = std::move(comp.token_ids);
      r.routing_trace = std::move(comp.routing_trace);
      r.routing_error = std::move(comp.routing_error);
      r.logprobs = std::move(comp.logprobs);
      lane.breaker->succeeded();
      if (judges && judges->case_needs_judge(c)) {
        judges->submit(std::move(r), c, req.prompt, [&](SampleRecord graded) {
          writer.push(std::move(graded));
          progress.update(done.fetch_add(1) + 1, failed.load());
        });
        return true;
      }
    } else {
      failed.fetch_add(1);
      if (lane.breaker->failed(case_id, variant_id, comp.error) && !tripped.exchange(true)) {
        {
          std::lock_guard<std::mutex> lock(reason_mu);
          trip_reason = (specs.size() > 1 ? "provider '" + provider_id + "': " : std::string()) +
                        lane.breaker->reason();
        }
        stop_run.store(true);
      }
    }
    writer.push(std::move(r));
    progress.update(done.fetch_add(1) + 1, failed.load());
    return true;
  };

  // Workers take whole groups: up to provider.group_size() consecutive repeats of one (case,
  // variant) (the work list is in case, variant, repeat order, resumed or sharded alike), which a
  // batching provider runs as one batch; every repeat keeps its own seed and its own record.
  auto work = [&](Lane& lane) {
    for (;;) {
      if (cancel.load() || g_stop.load() || stop_run.load()) return;
      size_t gi = lane.next.fetch_add(1);
      if (gi >= lane.groups.size()) return;
      const auto [begin, end] = lane.groups[gi];
      std::vector<CompletionRequest> reqs;
      for (size_t i = begin; i < end; ++i) {
        const auto& [provider_id, case_id, variant_id, repeat] = *lane.todo[i];
        const Case& c = *cases.at(case_id);
        const Variant& v = *variants.at(variant_id);
        CompletionRequest req;
        req.case_id = case_id;
        req.variant_id = variant_id;
        req.repeat = repeat;
        req.prompt = render_prompt(v, c);
        req.sampling = suite.sampling_for(c, *lane.spec);
        // The seed does not depend on the provider: repeat r of every provider is asked the same
        // way, which is what pairs them in `compare --providers`.
        req.sampling.seed = derive_seed(req.sampling.seed, case_id, variant_id, repeat);
        req.cancel = &cancel;
        req.retry_observer = &progress;
        reqs.push_back(std::move(req));
      }
      std::vector<Completion> comps;
      g_in_flight.fetch_add(int(reqs.size()));
      try {
        if (reqs.size() == 1) comps.push_back(lane.provider->complete(reqs[0]));
        else comps = lane.provider->complete_group(reqs);
      } catch (const std::exception& e) {  // a provider bug must not take the run down
        comps.clear();
        for (size_t i = 0; i < reqs.size(); ++i) {
          comps.emplace_back();
          comps.back().ok = false;
          comps.back().error = std::string("provider raised: ") + e.what();
        }
      }
      g_in_flight.fetch_sub(int(reqs.size()));
      if (comps.size() != reqs.size()) {  // a provider bug again: every request fails, as data
        comps.assign(reqs.size(), Completion{});
        for (auto& c : comps) c.error = "provider returned a wrong number of completions for a group";
      }
      bool go_on = true;
      for (size_t i = 0; i < reqs.size(); ++i) go_on = record(lane, reqs[i], std::move(comps[i])) && go_on;
      if (!go_on) return;
    }
  };
  for (auto& lane : lanes) {
    const size_t g = size_t(std::max(1, lane->provider->group_size()));
    for (size_t i = 0; i < lane->todo.size();) {
      size_t j = i + 1;
      while (j < lane->todo.size() && j - i < g && std::get<1>(*lane->todo[j]) == std::get<1>(*lane->todo[i]) &&
             std::get<2>(*lane->todo[j]) == std::get<2>(*lane->todo[i]))
        ++j;
      lane->groups.emplace_back(i, j);
      i = j;
    }
  }
  std::vector<std::thread> pool;
  for (auto& lane : lanes) {
    int workers = opts.concurrency > 0 ? opts.concurrency : lane->spec->max_concurrency;
    workers = std::max(0, std::min<int>(workers, int(std::min<size_t>(lane->groups.size(), 1 << 20))));
    for (int w = 0; w < workers; ++w) pool.emplace_back(work, std::ref(*lane));
  }
  for (auto& t : pool) t.join();
  if (judges) judges->wait_idle();  // the watcher still forwards a stop to the judges meanwhile
  watcher.stop();
  std::exception_ptr store_error;
  try {
    writer.close();
  } catch (...) {
    store_error = std::current_exception();
  }
  progress.finish(done.load(), failed.load());
  out.executed = done.load();
  out.failed = failed.load();
  out.breaker_tripped = tripped.load();
  if (out.breaker_tripped) out.stop_reason = trip_reason;
  out.interrupted = !out.breaker_tripped && g_stop.load() && out.executed < out.planned;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (store_error) {
    try {
      store.set_run_status_as(run_id, owner, "failed", true);
      store.release_lease(run_id, owner);
    } catch (...) {
    }
    std::rethrow_exception(store_error);
  }
  out.status = out.breaker_tripped ? "failed" : out.interrupted ? "interrupted" : "complete";
  if (!store.set_run_status_as(run_id, owner, out.status, out.status == "complete"))
    throw StoreError("run " + std::to_string(run_id) + " was taken over by another process while this one ran; "
                     "its status was left to that process");
  store.release_lease(run_id, owner);
  return out;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
bool stop_requested() { return g_stop.load(); }
void request_stop() { g_stop.store(true); }

std::vector<Triple> plan_triples(const RunPlan& plan) {
  std::vector<Triple> out;
  const Suite& suite = plan.suite;
  for (const auto& c : suite.cases)
    for (const auto& v : suite.variants)
      for (int r = 0; r < suite.repeats_for(c); ++r)
        if (in_shard(c.id, v.id, r, plan.shard_index, plan.shard_count)) out.emplace_back(c.id, v.id, r);
  return out;
}

std::vector<WorkItem> plan_work(const RunPlan& plan) {
  std::vector<WorkItem> out;
  const auto triples = plan_triples(plan);
  for (const auto& p : plan.suite.run_providers())
    for (const auto& [c, v, r] : triples) out.emplace_back(p.id, c, v, r);
  return out;
}

namespace {

ProviderMap single(const RunPlan& plan, Provider& provider) {
  auto specs = plan.suite.run_providers();
  if (specs.size() != 1)
    throw Error(kExitUsage, "this run has " + std::to_string(specs.size()) + " providers; set up each of them");
  return {{specs.front().id, &provider}};
}

std::string model_id_of(const RunPlan& plan, const ProviderMap& providers) {
  auto specs = plan.suite.run_providers();
  if (specs.size() == 1) return providers.at(specs.front().id)->model_id();
  std::string id;  // "a: model-1, b: model-2"
  for (const auto& s : specs) id += (id.empty() ? "" : ", ") + s.id + ": " + providers.at(s.id)->model_id();
  return id;
}

}  // namespace

RunOutcome run_plan(const RunPlan& plan, Provider& provider, const RunOptions& opts) {
  return run_plan(plan, single(plan, provider), opts);
}

RunOutcome resume_run(int64_t run_id, Provider& provider, const RunOptions& opts) {
  Store store = Store::open(opts.db_path);
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in " + opts.db_path);
  return resume_run(run_id, single(run->plan, provider), opts);
}

RunOutcome run_plan(const RunPlan& plan, const ProviderMap& providers, const RunOptions& opts) {
  for (const auto& spec : plan.suite.run_providers())
    if (!providers.count(spec.id) || !providers.at(spec.id))
      throw Error(kExitRuntime, "no provider was set up for '" + spec.id + "'");
  Store store = Store::open(opts.db_path);
  auto todo = plan_work(plan);
  RunRecord rec;
  rec.suite_name = plan.suite.name;
  rec.suite_path = plan.suite.source_path;
  rec.suite_hash = plan.suite.content_hash;
  rec.plan = plan;
  rec.provider = plan.suite.provider.to_json();
  rec.model_id = model_id_of(plan, providers);
  rec.sampling = Sampling::resolve(plan.suite.sampling).to_json();
  rec.repeats = plan.suite.repeats;
  rec.tool_version = opts.tool_version;
  rec.started_at = utc_now();
  rec.status = "running";
  rec.shard = plan.shard_text();
  rec.expected_samples = int64_t(todo.size());
  RunLease lease = RunLease::for_this_process();
  int64_t id = store.create_run(rec, &lease);
  return execute(id, lease.owner, todo, plan, providers, store, opts);
}

RunOutcome resume_run(int64_t run_id, const ProviderMap& providers, const RunOptions& opts) {
  Store store = Store::open(opts.db_path);
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in " + opts.db_path);
  RunLease lease = RunLease::for_this_process();
  if (auto holder = store.acquire_lease(run_id, lease, kLeaseStaleS)) {
    double ago = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                 holder->heartbeat_at;
    throw Error(kExitUsage, "run " + std::to_string(run_id) + " is being executed by process " +
                                std::to_string(holder->pid) + " on " + holder->host + " (last heartbeat " +
                                std::to_string(int(ago)) + " s ago); wait for it to finish or stop it first");
  }
  auto done = store.completed_work(run_id);
  std::vector<WorkItem> todo;
  for (auto& t : plan_work(run->plan))
    if (!done.count(t)) todo.push_back(t);
  store.set_run_status_as(run_id, lease.owner, "running", false);
  return execute(run_id, lease.owner, todo, run->plan, providers, store, opts);
}

}  // namespace wobble
