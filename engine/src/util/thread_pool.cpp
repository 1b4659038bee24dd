// Fixed worker pool; see thread_pool.h for the determinism contract.
#include "util/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace moe {

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable start_cv, done_cv;
  const std::function<void(int64_t, int64_t, int)>* job = nullptr;
  int64_t job_n = 0;
  uint64_t generation = 0;
  int pending = 0;
  bool stop = false;

  // Thread t (0 = caller) takes a contiguous chunk of [0, n).
  void run_chunk(int t) {
    int64_t chunk = (job_n + n_threads - 1) / n_threads;
    int64_t begin = std::min<int64_t>(job_n, chunk * t);
    int64_t end = std::min<int64_t>(job_n, begin + chunk);
    if (begin < end) (*job)(begin, end, t);
  }

  void worker_loop(int t) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        start_cv.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      run_chunk(t);
      std::lock_guard<std::mutex> lock(mu);
      if (--pending == 0) done_cv.notify_one();
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
    impl_->stop = true;
  }
  impl_->start_cv.notify_all();
  for (auto& w : impl_->workers) w.join();
  delete impl_;
}

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  if (impl_->n_threads == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->job = &fn;
    impl_->job_n = n;
    impl_->pending = impl_->n_threads - 1;
    ++impl_->generation;
  }
  impl_->start_cv.notify_all();
  impl_->run_chunk(0);
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->done_cv.wait(lock, [&] { return impl_->pending == 0; });
  impl_->job = nullptr;
}

}  // namespace moe
