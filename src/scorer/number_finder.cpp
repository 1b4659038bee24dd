#include "scorer/number_finder.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace wobble {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// Scans a number starting at i (which holds a digit, or a sign/dot before one). Returns its end.
size_t scan(std::string_view t, size_t i) {
  size_t j = i;
  if (j < t.size() && (t[j] == '-' || t[j] == '+')) ++j;
  while (j < t.size()) {
    if (digit(t[j])) {
      ++j;
      continue;
    }
    // A thousands separator: ',' between a digit and exactly three digits ("1,234").
    bool group = t[j] == ',' && j > i && digit(t[j - 1]) && j + 3 < t.size() &&
                 digit(t[j + 1]) && digit(t[j + 2]) && digit(t[j + 3]) &&
                 (j + 4 == t.size() || !digit(t[j + 4]));
    if (!group) break;
    ++j;
  }
  if (j + 1 < t.size() && t[j] == '.' && digit(t[j + 1])) {
    ++j;
    while (j < t.size() && digit(t[j])) ++j;
  }
  if (j + 1 < t.size() && (t[j] == 'e' || t[j] == 'E')) {
    size_t k = j + 1;
    if (k < t.size() && (t[k] == '-' || t[k] == '+')) ++k;
    if (k < t.size() && digit(t[k])) {
      while (k < t.size() && digit(t[k])) ++k;
      j = k;
    }
  }
  return j;
}

std::vector<FoundNumber> all_numbers(std::string_view t, bool stop_after_first) {
  std::vector<FoundNumber> out;
  size_t i = 0;
  while (i < t.size()) {
    bool starts = digit(t[i]) ||
                  ((t[i] == '-' || t[i] == '+') && i + 1 < t.size() && digit(t[i + 1]) &&
                   (i == 0 || !std::isalnum(static_cast<unsigned char>(t[i - 1]))));
    if (!starts) {
      ++i;
      continue;
    }
    size_t end = scan(t, i);
    std::string s;
    for (size_t k = i; k < end; ++k)
      if (t[k] != ',') s += t[k];
    char* e = nullptr;
    double v = std::strtod(s.c_str(), &e);
    if (e && *e == '\0' && std::isfinite(v)) {
      out.push_back({v, i, end});
      if (stop_after_first) break;
    }
    i = std::max(end, i + 1);
  }
  return out;
}

}  // namespace

std::optional<double> parse_number(std::string_view text) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  std::string_view t = text.substr(b, e - b);
  if (t.empty()) return std::nullopt;
  auto nums = all_numbers(t, true);
  if (nums.empty() || nums[0].start != 0 || nums[0].end != t.size()) return std::nullopt;
  return nums[0].value;
}

std::optional<FoundNumber> first_number(std::string_view text) {
  auto n = all_numbers(text, true);
  if (n.empty()) return std::nullopt;
  return n.front();
}

std::optional<FoundNumber> last_number(std::string_view text) {
  auto n = all_numbers(text, false);
  if (n.empty()) return std::nullopt;
  return n.back();
}

}  // namespace wobble
