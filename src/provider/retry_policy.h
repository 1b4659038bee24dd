// Retry policy for remote providers: which outcomes are retried and how long to wait.
// Exponential backoff with full jitter (wait = uniform(0, min(cap, base * 2^attempt))), or the
// server's Retry-After when it sent one (capped). Thread-safe: each call takes its own RNG.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace wobble {

struct RetryPolicy {
  int max_attempts = 4;
  double base_s = 0.5;
  double cap_s = 30;
  double retry_after_cap_s = 120;

  static bool retryable_status(int http_status) { return http_status == 429 || http_status >= 500; }
  // Seconds to wait before attempt `next_attempt` (2-based). `rng_state` advances.
  double backoff(int next_attempt, std::optional<double> retry_after, uint64_t& rng_state) const;
};

// Parses a Retry-After header value: delta-seconds or an HTTP-date (relative to now).
std::optional<double> parse_retry_after(const std::string& value);

}  // namespace wobble
