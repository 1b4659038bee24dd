// PeriodicThread: calls a function every `interval` on its own thread until stop(), which wakes it
// at once (a plain sleep loop makes whoever joins it wait out the rest of the interval: up to
// 20 ms added to every run's wall time). Ownership: holds the thread; the destructor stops it.
// Thread safety: stop() may be called from one thread; fn runs only on the owned thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace wobble {

class PeriodicThread {
 public:
  PeriodicThread(std::chrono::milliseconds interval, std::function<void()> fn)
      : thread_([this, interval, fn = std::move(fn)] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!stopped_) {
            lock.unlock();
            fn();
            lock.lock();
            cv_.wait_for(lock, interval, [this] { return stopped_; });
          }
        }) {}
  ~PeriodicThread() { stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Wakes the thread and joins it; fn is not called again once this returns. Idempotent.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;  // last: started once the members it uses exist
};

}  // namespace wobble
