#include "provider/rate_limiter.h"

#include <algorithm>
#include <thread>

namespace wobble {

RateLimiter::RateLimiter(double rate, double burst)
    : rate_(rate), burst_(std::max(1.0, burst)), tokens_(std::max(1.0, burst)), last_(std::chrono::steady_clock::now()) {}

void RateLimiter::acquire() {
  if (rate_ <= 0) return;
  for (;;) {
    std::chrono::duration<double> wait{};
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto now = std::chrono::steady_clock::now();
      tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
      last_ = now;
      if (tokens_ >= 1) {
        tokens_ -= 1;
        return;
      }
      wait = std::chrono::duration<double>((1 - tokens_) / rate_);
    }
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace wobble
