#include "runner/runner.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "runner/progress.h"
#include "runner/seeds.h"
#include "scorer/scorer.h"
#include "util/error.h"

namespace wobble {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Single writer: takes finished samples from workers and stores them in batches.
class BatchWriter {
 public:
  BatchWriter(Store& store, size_t batch_size) : store_(store), batch_size_(batch_size), thread_([this] { loop(); }) {}
  ~BatchWriter() { close(); }

  void push(SampleRecord r) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(r));
    if (queue_.size() >= batch_size_) cv_.notify_one();
  }

  // Flushes everything and stops; rethrows a store failure.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
    }
    cv_.notify_one();
    thread_.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop() {
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
      if (!batch.empty() && !error_) {
        try {
          store_.insert_samples(batch);
        } catch (...) {
          error_ = std::current_exception();
          g_stop.store(true);  // nothing more can be stored; stop dispatching
        }
      }
      if (done) return;
    }
  }

  Store& store_;
  size_t batch_size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SampleRecord> queue_;
  bool closed_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

RunOutcome execute(int64_t run_id, const std::vector<Triple>& todo, const Suite& suite, Provider& provider,
                   Store& store, const RunOptions& opts) {
  RunOutcome out;
  out.run_id = run_id;
  out.planned = int64_t(todo.size());
  auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, const Case*> cases;
  for (const auto& c : suite.cases) cases[c.id] = &c;
  std::map<std::string, const Variant*> variants;
  for (const auto& v : suite.variants) variants[v.id] = &v;

  int workers = opts.concurrency > 0 ? opts.concurrency : suite.provider.max_concurrency;
  workers = std::max(1, std::min<int>(workers, std::max<int64_t>(1, out.planned)));
  Progress progress(out.planned, opts.quiet);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0}, failed{0};
  BatchWriter writer(store, opts.batch_size);

  auto work = [&] {
    for (;;) {
      if (g_stop.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= todo.size()) return;
      const auto& [case_id, variant_id, repeat] = todo[i];
      const Case& c = *cases.at(case_id);
      const Variant& v = *variants.at(variant_id);
      CompletionRequest req;
      req.case_id = case_id;
      req.variant_id = variant_id;
      req.repeat = repeat;
      req.prompt = render_prompt(v, c);
      req.sampling = suite.sampling_for(c);
      req.sampling.seed = derive_seed(req.sampling.seed, case_id, variant_id, repeat);
      Completion comp;
      try {
        comp = provider.complete(req);
      } catch (const std::exception& e) {  // a provider bug must not take the run down
        comp.ok = false;
        comp.error = std::string("provider raised: ") + e.what();
      }
      SampleRecord r;
      r.run_id = run_id;
      r.case_id = case_id;
      r.variant_id = variant_id;
      r.repeat = repeat;
      r.prompt = req.prompt.as_text();
      r.ok = comp.ok;
      r.finish_reason = comp.finish_reason;
      r.prompt_tokens = comp.prompt_tokens;
      r.completion_tokens = comp.completion_tokens;
      r.latency_s = comp.latency_s;
      r.error = comp.error;
      r.seed = req.sampling.seed;
      r.attempts = comp.attempts;
      if (comp.ok) {
        r.output = comp.text;
        r.extracted_answer = extract_answer(c, comp.text);
        r.scores = score_output(c, comp.text);
        r.prompt_token_ids = std::move(comp.prompt_token_ids);
        r.token_ids = std::move(comp.token_ids);
        r.routing_trace = std::move(comp.routing_trace);
      } else {
        failed.fetch_add(1);
      }
      writer.push(std::move(r));
      progress.update(done.fetch_add(1) + 1, failed.load());
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  std::exception_ptr store_error;
  try {
    writer.close();
  } catch (...) {
    store_error = std::current_exception();
  }
  progress.finish(done.load(), failed.load());
  out.executed = done.load();
  out.failed = failed.load();
  out.interrupted = g_stop.load() && out.executed < out.planned;
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (store_error) {
    try {
      store.set_run_status(run_id, "failed", true);
    } catch (...) {
    }
    std::rethrow_exception(store_error);
  }
  out.status = out.interrupted ? "interrupted" : "complete";
  store.set_run_status(run_id, out.status, !out.interrupted);
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

std::vector<Triple> plan_triples(const Suite& suite, int shard_index, int shard_count) {
  std::vector<Triple> out;
  for (const auto& c : suite.cases)
    for (const auto& v : suite.variants)
      for (int r = 0; r < suite.repeats_for(c); ++r)
        if (in_shard(c.id, v.id, r, shard_index, shard_count)) out.emplace_back(c.id, v.id, r);
  return out;
}

RunOutcome run_suite(const Suite& suite, Provider& provider, const RunOptions& opts) {
  Store store = Store::open(opts.db_path);
  auto todo = plan_triples(suite, opts.shard_index, opts.shard_count);
  RunRecord rec;
  rec.suite_name = suite.name;
  rec.suite_path = suite.source_path;
  rec.suite_hash = suite.content_hash;
  rec.suite_snapshot = suite_to_json(suite);
  rec.provider = suite.provider.to_json();
  rec.model_id = provider.model_id();
  rec.sampling = Sampling::resolve(suite.sampling).to_json();
  rec.repeats = suite.repeats;
  rec.tool_version = opts.tool_version;
  rec.started_at = utc_now();
  rec.status = "running";
  if (opts.shard_count > 1) rec.shard = std::to_string(opts.shard_index) + "/" + std::to_string(opts.shard_count);
  rec.expected_samples = int64_t(todo.size());
  int64_t id = store.create_run(rec);
  return execute(id, todo, suite, provider, store, opts);
}

RunOutcome resume_run(int64_t run_id, const Suite& suite, Provider& provider, const RunOptions& opts) {
  Store store = Store::open(opts.db_path);
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in " + opts.db_path);
  int si = 0, sn = 1;
  if (!run->shard.empty()) std::sscanf(run->shard.c_str(), "%d/%d", &si, &sn);
  auto done = store.completed_triples(run_id);
  std::vector<Triple> todo;
  for (auto& t : plan_triples(suite, si, sn))
    if (!done.count(t)) todo.push_back(t);
  store.set_run_status(run_id, "running", false);
  return execute(run_id, todo, suite, provider, store, opts);
}

}  // namespace wobble
