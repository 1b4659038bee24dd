#include "scorer/scorer_args.h"

#include "suite/yaml_node.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace wobble {

ScorerArgs::ScorerArgs(const CriterionSpec& spec, std::set<std::string> allowed)
    : args_(spec.args), where_(spec.source) {
  if (!args_.is_object()) fail("", "args must be a mapping");
  for (const auto& [key, _] : args_.items()) {
    if (!allowed.count(key)) {
      std::string hint = closest_match(key, allowed);
      fail(key, "unknown argument for scorer '" + spec.scorer + "'" +
                    (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
  }
}

void ScorerArgs::fail(const std::string& key, const std::string& msg) const {
  throw ConfigError(where_, 0, key.empty() ? "args" : "args." + key, msg);
}

std::optional<std::string> ScorerArgs::opt_string(const std::string& key) const {
  if (!args_.contains(key) || args_[key].is_null()) return std::nullopt;
  const auto& v = args_[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return dump_json(v);
  fail(key, "expected a string");
}

std::string ScorerArgs::string(const std::string& key) const {
  auto v = opt_string(key);
  if (!v) fail(key, "is required");
  return *v;
}

std::optional<double> ScorerArgs::opt_number(const std::string& key) const {
  if (!args_.contains(key) || args_[key].is_null()) return std::nullopt;
  const auto& v = args_[key];
  if (!v.is_number()) fail(key, "expected a number");
  return v.get<double>();
}

bool ScorerArgs::flag(const std::string& key, bool dflt) const {
  if (!args_.contains(key)) return dflt;
  if (!args_[key].is_boolean()) fail(key, "expected true or false");
  return args_[key].get<bool>();
}

std::vector<std::string> ScorerArgs::string_list(const std::string& key) const {
  std::vector<std::string> out;
  if (!args_.contains(key)) return out;
  const auto& v = args_[key];
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) fail(key, "expected a list of strings");
  for (const auto& item : v) {
    if (!item.is_string()) fail(key, "expected a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string render_arg(const std::string& value, const Case& c, const std::string& criterion_id) {
  if (value.find("{{") == std::string::npos) return value;
  return render_template(value, c.vars, "criterion '" + criterion_id + "'");
}

CriterionResult make_result(Outcome o, double score, std::string reason, Evidence ev, std::string expected) {
  CriterionResult r;
  r.outcome = o;
  r.score = score;
  r.reason = std::move(reason);
  r.evidence = std::move(ev);
  r.expected = std::move(expected);
  return r;
}

CriterionResult unscored(std::string reason) { return make_result(Outcome::kUnscored, 0, std::move(reason)); }

std::string clip(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "…";
}

Evidence span(const std::string& output, size_t start, size_t end) {
  Evidence e;
  e.start = int64_t(start);
  e.end = int64_t(end);
  e.text = clip(output.substr(start, end - start), 400);
  return e;
}

}  // namespace wobble
