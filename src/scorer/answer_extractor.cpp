// Answer extraction (for TARa and the `answer` scorer): the case's extractor, else the rubric's.
#include <cctype>
#include <stdexcept>
#include <string_view>

#include "scorer/json_support.h"
#include "scorer/number_finder.h"
#include "scorer/pcre_regex.h"
#include "scorer/scorer.h"
#include "util/text_policy.h"
#include "util/sha256.h"
#include "util/utf8.h"

namespace wobble {
namespace {

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// The first (or last) non-blank line, trimmed, as a view into `output`: nothing is copied until the
// one line is chosen.
std::optional<std::string_view> nonblank_line(std::string_view output, bool last) {
  std::optional<std::string_view> found;
  size_t start = 0;
  while (start <= output.size()) {
    size_t nl = output.find('\n', start);
    std::string_view line = trim(output.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (!line.empty()) {
      found = line;
      if (!last) break;
    }
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return found;
}

// An answer is a short span of the output. One longer than kMaxAnswerBytes (a one-paragraph output
// under `first-line`, a regex group of `.*`, a large JSON value) is stored as its first
// kAnswerPrefixBytes, its length and its SHA-256, so that the database never holds an output twice
// while equal answers still compare equal (TARa) and unequal ones unequal.
constexpr size_t kMaxAnswerBytes = 1024;
constexpr size_t kAnswerPrefixBytes = 256;

std::string compact_answer(std::string span) {
  if (span.size() <= kMaxAnswerBytes) return span;
  Sha256 h;
  h.update(span);
  return span.substr(0, utf8_floor(span, kAnswerPrefixBytes)) + "... [answer of " +
         std::to_string(span.size()) + " bytes, sha256 " + h.hex_digest() + "]";
}

}  // namespace

std::optional<std::string> extract_answer(const Case& c, const std::string& output) {
  auto answer = extract_answer_full(c, output);
  if (answer) *answer = compact_answer(std::move(*answer));
  return answer;
}

std::optional<std::string> extract_answer_full(const Case& c, const std::string& output) {
  const std::optional<ExtractorSpec>& spec = c.answer_extractor ? c.answer_extractor : c.rubric.answer_extractor;
  if (!spec) return std::nullopt;
  const auto& k = spec->kind;
  if (k == "number") {
    auto n = last_number(output);
    if (!n) return std::nullopt;
    return output.substr(n->start, n->end - n->start);
  }
  if (k == "first-line" || k == "last-line") {
    auto line = nonblank_line(output, k == "last-line");
    if (!line) return std::nullopt;
    return std::string(*line);
  }
  if (k == "regex") {
    try {
      PcreRegex re(spec->args.value("pattern", ""), false, true, false);
      int group = spec->args.value("group", re.capture_count() > 0 ? 1 : 0);
      auto r = re.search(output, group);
      if (r.error || !r.match) return std::nullopt;
      if (group > 0) {
        if (!r.match->group) return std::nullopt;
        return output.substr(r.match->group->first, r.match->group->second - r.match->group->first);
      }
      return output.substr(r.match->start, r.match->end - r.match->start);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (k == "json-path") {
    auto j = locate_json(output, true, nullptr);
    if (!j) return std::nullopt;
    try {
      const nlohmann::json* v = json_path_get(j->value, spec->args.value("path", "$"));
      if (!v) return std::nullopt;
      return v->is_string() ? v->get<std::string>() : dump_json(*v);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace wobble
