// Fixed worker pool; see thread_pool.h for the determinism and latency contract.
#include "util/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace moe {
namespace {

// Pause iterations a worker spins before sleeping (a pause is roughly 10-40 ns on x86).
constexpr int kSpinIterations = 1 << 13;

}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;
  // Job slot, published by the release increment of `generation`.
  std::optional<RangeFn> job;
  int64_t job_n = 0;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  // Sleeping workers wait here; `sleepers` tells the caller whether a notify is needed.
  std::mutex mu;
  std::condition_variable wake;
  std::atomic<int> sleepers{0};

  void run_chunk(int t) const {
    int64_t chunk = (job_n + n_threads - 1) / n_threads;
    int64_t begin = std::min<int64_t>(job_n, chunk * t);
    int64_t end = std::min<int64_t>(job_n, begin + chunk);
    if (begin < end) (*job)(begin, end, t);
  }

  void worker_loop(int t) {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g = generation.load(std::memory_order_acquire);
      for (int i = 0; g == seen && i < kSpinIterations; ++i) {
        _mm_pause();
        g = generation.load(std::memory_order_acquire);
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(mu);
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        wake.wait(lock, [&] {
          g = generation.load(std::memory_order_acquire);
          return g != seen || stop.load(std::memory_order_acquire);
        });
        sleepers.fetch_sub(1, std::memory_order_seq_cst);
      }
      if (stop.load(std::memory_order_acquire)) return;
      seen = g;
      run_chunk(t);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl) {
  if (n_threads <= 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
  impl_->n_threads = n_threads;
  for (int t = 1; t < n_threads; ++t) impl_->workers.emplace_back([this, t] { impl_->worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop.store(true, std::memory_order_release);
    impl_->generation.fetch_add(1, std::memory_order_acq_rel);
  }
  impl_->wake.notify_all();
  for (auto& w : impl_->workers) w.join();
  delete impl_;
}

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::parallel_for(int64_t n, RangeFn fn) {
  if (n <= 0) return;
  Impl& im = *impl_;
  if (im.n_threads == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  im.job.emplace(fn);
  im.job_n = n;
  im.pending.store(im.n_threads - 1, std::memory_order_relaxed);
  {
    // Under the lock so that a worker between its predicate check and its wait cannot miss it.
    std::lock_guard<std::mutex> lock(im.mu);
    im.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  if (im.sleepers.load(std::memory_order_seq_cst) > 0) im.wake.notify_all();
  im.run_chunk(0);
  // Spin for the others; yield now and then in case a worker was descheduled on a busy machine.
  for (int i = 1; im.pending.load(std::memory_order_acquire) != 0; ++i) {
    if (i % kSpinIterations == 0) std::this_thread::yield();
    else _mm_pause();
  }
  im.job.reset();
}

}  // namespace moe
