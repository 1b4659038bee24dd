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
  done_ = done;
  failed_ = failed;
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

void Progress::waiting(const Attempt& a, double wait_s) {
  if (quiet_) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++retrying_;
  const bool first = retries_++ == 0;
  std::string cause = a.http_status > 0 ? std::to_string(a.http_status) : a.outcome;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s, waiting %.1f s", cause.c_str(), wait_s);
  last_retry_ = buf;
  auto now = std::chrono::steady_clock::now();
  // Plain lines are rate-limited like progress lines, except the first retry (a log shows when a
  // storm began); a TTY redraws at once.
  if (!tty_ && !first && now - last_print_ < std::chrono::seconds(5)) return;
  last_print_ = now;
  draw(done_, failed_, false);
}

void Progress::resumed() {
  if (quiet_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (retrying_ > 0) --retrying_;
}

std::string Progress::retry_text() const {
  if (retries_ == 0) return "";
  if (retrying_ > 0) return "  retrying " + std::to_string(retrying_) + " (" + last_retry_ + ")";
  return "  retries " + std::to_string(retries_);
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
    std::fprintf(stderr, "] %lld/%lld  %.1f/s  ETA %.0fs  failed %lld%s\x1b[K", (long long)done, (long long)total_,
                 rate, eta, (long long)failed, retry_text().c_str());
    if (final) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "progress: %lld/%lld samples, %.1f/s, ETA %.0fs, %lld failed%s\n", (long long)done,
                 (long long)total_, rate, eta, (long long)failed, retry_text().c_str());
  }
  std::fflush(stderr);
}

}  // namespace wobble
