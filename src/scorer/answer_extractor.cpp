// Answer extraction (for TARa and the `answer` scorer): the case's extractor, else the rubric's.
#include <cctype>
#include <stdexcept>

#include "scorer/json_support.h"
#include "scorer/number_finder.h"
#include "scorer/pcre_regex.h"
#include "scorer/scorer.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::optional<std::string> extract_answer(const Case& c, const std::string& output) {
  const std::optional<ExtractorSpec>& spec = c.answer_extractor ? c.answer_extractor : c.rubric.answer_extractor;
  if (!spec) return std::nullopt;
  const auto& k = spec->kind;
  if (k == "number") {
    auto n = last_number(output);
    if (!n) return std::nullopt;
    return output.substr(n->start, n->end - n->start);
  }
  if (k == "first-line" || k == "last-line") {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= output.size()) {
      size_t nl = output.find('\n', start);
      std::string line = trim(std::string_view(output).substr(start, nl == std::string::npos ? std::string::npos : nl - start));
      if (!line.empty()) lines.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    if (lines.empty()) return std::nullopt;
    return k == "first-line" ? lines.front() : lines.back();
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
