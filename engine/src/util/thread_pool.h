// A fixed set of worker threads for data-parallel loops.
//
// Determinism: parallel_for only splits an index range; each index is processed by exactly one
// thread with the same arithmetic whatever the thread count, so kernels that write disjoint outputs
// per index give bit-identical results for 1..N threads.
// Thread safety: parallel_for may be called from one thread at a time per pool.
#pragma once

#include <cstdint>
#include <functional>

namespace moe {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Calls fn(begin, end, thread_index) over a partition of [0, n); returns when all are done.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace moe
