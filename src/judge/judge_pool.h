// JudgePool: grades the `scorer: judge` criteria of finished samples on worker threads, so judge
// calls overlap with model calls and with each other, bounded by the judge's max_concurrency.
//
// Scheduling: the runner (and rescore) scores a sample's deterministic criteria at once and hands
// the sample to submit(); the pool queues one task per (judge criterion, k-index), each a judge
// call (plus up to max_malformed_retries more when the reply is not the JSON asked for). When the
// last task of a sample finishes, the pool folds each criterion's k gradings into its
// CriterionResult (scorer/judge.h), attaches the gradings and calls `done` with the sample, from a
// pool thread. submit() blocks while too many samples wait (memory stays bounded when the judge is
// slower than the model).
//
// Cancellation: cancel() makes queued tasks finish as kCancelled without a call and cancels
// in-flight ones (the provider's own cancel flag). A sample with a cancelled grading is not passed
// to `done` but counted in dropped(): nothing half-graded is stored, and `run --resume` runs that
// sample again (model and judge).
//
// Faults: a judge provider failure or an unusable reply is a grading fault (data); the pool never
// throws out of a task. Construction throws like make_provider (bad judge provider block, model
// file missing). Thread-safe: submit() may be called from many threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "provider/provider.h"
#include "scorer/judge.h"
#include "store/store.h"
#include "suite/suite.h"

namespace wobble {

class JudgePool {
 public:
  using Done = std::function<void(SampleRecord)>;
  // Looks up a reusable grading by cache key (rescore); called from submit()'s thread.
  using CacheLookup = std::function<std::optional<JudgeGrading>(const std::string& key)>;

  // Builds one judge provider per distinct effective judge of the suite's judge criteria.
  JudgePool(const Suite& suite, const std::string& suite_dir);
  ~JudgePool();  // cancels what is left and joins the workers
  JudgePool(const JudgePool&) = delete;
  JudgePool& operator=(const JudgePool&) = delete;

  // True when the suite has at least one judge criterion (otherwise no pool is needed).
  static bool suite_needs_judge(const Suite& suite);
  bool case_needs_judge(const Case& c) const;
  void preflight();  // Provider::preflight of every judge provider; throws RuntimeError

  // `r.scores` already holds every criterion's result (judge ones as placeholders). `prompt` is the
  // task as sent to the model. With a lookup, a grading found by cache key is reused (no call).
  void submit(SampleRecord r, const Case& c, const RenderedPrompt& prompt, Done done,
              const CacheLookup* lookup = nullptr);
  void wait_idle();  // until every submitted sample is done or dropped
  void cancel();

  int64_t calls() const { return calls_.load(); }
  int64_t cache_hits() const { return cache_hits_.load(); }
  int64_t gradings() const { return gradings_.load(); }
  int64_t faults() const { return faults_.load(); }
  int64_t dropped() const { return dropped_.load(); }

 private:
  struct Judge;
  struct SampleJob;
  struct Task {
    std::shared_ptr<SampleJob> job;
    size_t criterion;  // index into job->criteria
    int k;
  };
  void worker();
  void run_task(const Task& t);
  void finish_task(const std::shared_ptr<SampleJob>& job);

  std::vector<std::unique_ptr<Judge>> judges_;
  std::map<std::string, Judge*> judge_by_key_;  // criterion key (case id + '\x1f' + criterion id) -> judge
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable work_cv_, room_cv_, idle_cv_;
  std::deque<Task> queue_;
  int64_t pending_samples_ = 0;
  int64_t max_pending_ = 0;
  bool closing_ = false;
  std::atomic<int64_t> calls_{0}, cache_hits_{0}, gradings_{0}, faults_{0}, dropped_{0};
  std::vector<std::thread> threads_;
};

}  // namespace wobble
