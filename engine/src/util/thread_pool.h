// A fixed set of worker threads for data-parallel loops.
//
// Determinism: parallel_for only splits an index range; each index is processed by exactly one
// thread with the same arithmetic whatever the thread count, so kernels that write disjoint outputs
// per index give bit-identical results for 1..N threads.
// Latency: a decode step issues a few hundred short loops, so dispatch must cost microseconds, not
// a futex round trip each. Workers spin on an atomic generation counter for a bounded time after
// each job (about 50-100 us) before sleeping on a condition variable; the caller runs chunk 0
// itself and spins for the others. No allocation per call.
// Thread safety: parallel_for may be called from one thread at a time per pool.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace moe {

// A non-owning reference to a callable void(int64_t begin, int64_t end, int thread): valid only
// while the callable it was made from is alive (i.e. for the duration of one parallel_for).
class RangeFn {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  RangeFn(F&& f)  // NOLINT: implicit by design, like std::function_ref
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, int64_t b, int64_t e, int t) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e, t); }) {}
  void operator()(int64_t begin, int64_t end, int thread) const { call_(object_, begin, end, thread); }

 private:
  void* object_;
  void (*call_)(void*, int64_t, int64_t, int);
};

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  // Calls fn(begin, end, thread_index) over a partition of [0, n) into size() contiguous chunks
  // (thread t gets chunk t); returns when all are done.
  void parallel_for(int64_t n, RangeFn fn);

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace moe
