// Progress on stderr: a redrawn bar on a TTY (done/total, rate, ETA, failures); plain lines
// every 10% or 5 s otherwise; nothing when quiet. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "provider/provider.h"

namespace wobble {

// Also a RetryObserver: requests waiting to be retried are shown with the last cause, e.g.
// "retrying 3 (429, waiting 1.0 s)".
class Progress : public RetryObserver {
 public:
  Progress(int64_t total, bool quiet);
  void update(int64_t done, int64_t failed);
  void finish(int64_t done, int64_t failed);
  void waiting(const Attempt& failed, double wait_s) override;
  void resumed() override;

 private:
  void draw(int64_t done, int64_t failed, bool final);
  std::string retry_text() const;
  int64_t total_;
  int64_t done_ = 0, failed_ = 0;
  int retrying_ = 0;
  int64_t retries_ = 0;
  std::string last_retry_;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int last_decile_ = -1;
  std::mutex mu_;
};

}  // namespace wobble
