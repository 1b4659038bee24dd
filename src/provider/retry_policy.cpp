#include "provider/retry_policy.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace wobble {

double RetryPolicy::backoff(int next_attempt, std::optional<double> retry_after, uint64_t& rng_state) const {
  if (retry_after) return std::clamp(*retry_after, 0.0, retry_after_cap_s);
  // splitmix64 step for jitter.
  rng_state += 0x9E3779B97F4A7C15ull;
  uint64_t z = rng_state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  double u = double(z >> 11) * (1.0 / 9007199254740992.0);
  double ceiling = std::min(cap_s, base_s * std::pow(2.0, std::max(0, next_attempt - 2)));
  return u * ceiling;
}

std::optional<double> parse_retry_after(const std::string& value) {
  size_t b = value.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  std::string v = value.substr(b);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  if (!v.empty() && std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) || c == '.'; })) {
    try {
      double s = std::stod(v);
      if (std::isfinite(s) && s >= 0) return s;
    } catch (...) {
    }
    return std::nullopt;
  }
  std::tm tm{};
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
  time_t when = timegm(&tm);
  double delta = std::difftime(when, std::time(nullptr));
  return std::max(0.0, delta);
}

}  // namespace wobble
