// Token-bucket limiter shared by all workers of one provider: at most `rate` acquisitions per
// second on average, bursts of at most `burst`. rate <= 0 disables it. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

namespace wobble {

class RateLimiter {
 public:
  explicit RateLimiter(double rate, double burst = 1);
  void acquire();  // blocks until a token is available

 private:
  double rate_, burst_, tokens_;
  std::chrono::steady_clock::time_point last_;
  std::mutex mu_;
};

}  // namespace wobble
