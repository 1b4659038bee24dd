// A compiled PCRE2 pattern with match and depth limits, so a hostile pattern or input cannot hang
// a run: hitting a limit is reported as an error (the caller marks the result unscored).
// Immutable after construction; match() is thread-safe (match data is per call).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wobble {

struct RegexMatch {
  size_t start = 0, end = 0;           // of the whole match
  std::optional<std::pair<size_t, size_t>> group;  // of the requested group, when it took part
};

struct RegexResult {
  bool error = false;          // limit hit or bad input; `message` says which
  std::string message;
  std::optional<RegexMatch> match;
};

class PcreRegex {
 public:
  // Throws ConfigError-free std::invalid_argument with PCRE2's message and offset on a bad pattern.
  PcreRegex(const std::string& pattern, bool case_insensitive, bool multiline, bool dotall);
  ~PcreRegex();
  PcreRegex(const PcreRegex&) = delete;
  PcreRegex& operator=(const PcreRegex&) = delete;

  // Finds the first match in `subject` at or after `offset`. Subjects that are not valid UTF-8
  // are matched byte-wise by a non-UTF twin of the pattern.
  RegexResult search(std::string_view subject, int group = 0, size_t offset = 0) const;
  uint32_t capture_count() const;

  static constexpr uint32_t kMatchLimit = 1'000'000;
  static constexpr uint32_t kDepthLimit = 10'000;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

bool is_valid_utf8(std::string_view s);

}  // namespace wobble
