// Progress on stderr: a redrawn bar on a TTY (done/total, rate, ETA, failures); plain lines
// every 10% or 5 s otherwise; nothing when quiet. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace wobble {

class Progress {
 public:
  Progress(int64_t total, bool quiet);
  void update(int64_t done, int64_t failed);
  void finish(int64_t done, int64_t failed);

 private:
  void draw(int64_t done, int64_t failed, bool final);
  int64_t total_;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  int last_decile_ = -1;
  std::mutex mu_;
};

}  // namespace wobble
