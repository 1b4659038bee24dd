#include "runner/progress.h"

#include <unistd.h>

#include <cstdio>

namespace wobble {

Progress::Progress(int64_t total, bool quiet)
    : total_(total), quiet_(quiet), tty_(isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void Progress::update(int64_t done, int64_t failed) {
  if (quiet_) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_print_ < std::chrono::milliseconds(100) && done < total_) return;
  } else {
    int decile = total_ ? int(done * 10 / total_) : 10;
    if (decile == last_decile_ && now - last_print_ < std::chrono::seconds(5)) return;
    last_decile_ = decile;
  }
  last_print_ = now;
  draw(done, failed, false);
}

void Progress::finish(int64_t done, int64_t failed) {
  if (quiet_) return;
  std::lock_guard<std::mutex> lock(mu_);
  draw(done, failed, true);
}

void Progress::draw(int64_t done, int64_t failed, bool final) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? double(done) / elapsed : 0;
  double eta = rate > 0 ? double(total_ - done) / rate : 0;
  if (tty_) {
    const int width = 30;
    int filled = total_ ? int(width * done / total_) : width;
    std::fprintf(stderr, "\r[");
    for (int i = 0; i < width; ++i) std::fputc(i < filled ? '#' : '.', stderr);
    std::fprintf(stderr, "] %lld/%lld  %.1f/s  ETA %.0fs  failed %lld ", (long long)done, (long long)total_, rate,
                 eta, (long long)failed);
    if (final) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "progress: %lld/%lld samples, %.1f/s, ETA %.0fs, %lld failed\n", (long long)done,
                 (long long)total_, rate, eta, (long long)failed);
  }
  std::fflush(stderr);
}

}  // namespace wobble
