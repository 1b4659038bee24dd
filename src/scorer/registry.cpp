// The scorer table: every built-in scorer by name. `not` is applied here, for all of them.
#include <mutex>
#include <unordered_map>

#include "scorer/scorer_factories.h"
#include "suite/yaml_node.h"
#include "util/error.h"

namespace wobble {
namespace {

using Factory = std::unique_ptr<Scorer> (*)(const CriterionSpec&);

struct Entry {
  const char* name;
  Factory make;
};

const Entry kScorers[] = {
    {"contains", [](const CriterionSpec& s) { return make_contains_scorer(s, false); }},
    {"icontains", [](const CriterionSpec& s) { return make_contains_scorer(s, true); }},
    {"equals", make_equals_scorer},
    {"starts-with", make_starts_with_scorer},
    {"regex", make_regex_scorer},
    {"is-json", make_is_json_scorer},
    {"json-schema", make_json_schema_scorer},
    {"json-path", make_json_path_scorer},
    {"word-count", [](const CriterionSpec& s) { return make_count_scorer(s, CountUnit::kWords); }},
    {"char-count", [](const CriterionSpec& s) { return make_count_scorer(s, CountUnit::kChars); }},
    {"line-count", [](const CriterionSpec& s) { return make_count_scorer(s, CountUnit::kLines); }},
    {"numeric", make_numeric_scorer},
    {"refusal", make_refusal_scorer},
    {"answer", make_answer_scorer},
    {"judge", make_judge_scorer},
};

// Flips pass/fail (and the score) of the wrapped scorer; unscored stays unscored.
class NotScorer : public Scorer {
 public:
  explicit NotScorer(std::unique_ptr<Scorer> inner) : inner_(std::move(inner)) {}
  CriterionResult score(const ScoreInput& in) const override {
    CriterionResult r = inner_->score(in);
    if (r.outcome == Outcome::kUnscored) return r;
    r.outcome = r.outcome == Outcome::kPass ? Outcome::kFail : Outcome::kPass;
    r.score = 1.0 - r.score;
    r.reason = "not: " + r.reason;
    return r;
  }

 private:
  std::unique_ptr<Scorer> inner_;
};

}  // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "pass";
    case Outcome::kFail: return "fail";
    case Outcome::kUnscored: return "unscored";
  }
  return "unscored";
}

std::vector<std::string> scorer_names() {
  std::vector<std::string> names;
  for (const auto& e : kScorers) names.push_back(e.name);
  return names;
}

std::unique_ptr<Scorer> make_scorer(const CriterionSpec& spec) {
  for (const auto& e : kScorers) {
    if (spec.scorer == e.name) {
      auto s = e.make(spec);
      if (spec.negate) return std::make_unique<NotScorer>(std::move(s));
      return s;
    }
  }
  std::set<std::string> names;
  for (const auto& e : kScorers) names.insert(e.name);
  std::string hint = closest_match(spec.scorer, names);
  throw ConfigError(spec.source, 0, "scorer",
                    "unknown scorer '" + spec.scorer + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

std::optional<std::string> scoped_text(const std::string& raw, const OutputParts& parts, Scope scope) {
  switch (scope) {
    case Scope::kAnswer: return parts.has_reasoning() ? parts.answer : raw;
    case Scope::kReasoning:
      if (!parts.has_reasoning()) return std::nullopt;
      return parts.reasoning;
    case Scope::kRaw: return raw;
  }
  return raw;
}

std::vector<CriterionResult> score_output(const Case& c, const std::string& raw, const OutputParts& parts) {
  const std::string& answer_text = parts.has_reasoning() ? parts.answer : raw;
  std::optional<std::string> answer = extract_answer_full(c, answer_text);
  std::vector<CriterionResult> results;
  for (const auto& crit : c.rubric.criteria) {
    CriterionResult r;
    std::optional<std::string> text = scoped_text(raw, parts, crit.scope);
    if (raw.empty() && !parts.has_reasoning()) {
      r.outcome = Outcome::kUnscored;
      r.reason = "output is empty";
    } else if (!text) {
      r.outcome = Outcome::kUnscored;
      r.reason = "the output has no reasoning part to grade";
    } else if (crit.scope == Scope::kAnswer && !parts.closed && text->empty()) {
      // The model spent its tokens thinking and never answered: a definite fail, not a grading gap.
      r.outcome = Outcome::kFail;
      r.reason = "no answer: the thinking part never ended";
    } else if (text->empty()) {
      r.outcome = Outcome::kUnscored;
      r.reason = std::string("the ") + scope_name(crit.scope) + " is empty";
    } else {
      try {
        // An answer extractor reads the text the criterion grades.
        std::optional<std::string> extracted = crit.scope == Scope::kAnswer ? answer : extract_answer_full(c, *text);
        r = make_scorer(crit)->score(ScoreInput{*text, c, extracted});
      } catch (const std::exception& e) {
        r.outcome = Outcome::kUnscored;
        r.reason = std::string("scorer error: ") + e.what();
      }
    }
    r.criterion_id = crit.id;
    r.scope = crit.scope;
    results.push_back(std::move(r));
  }
  return results;
}

std::vector<CriterionResult> score_output(const Case& c, const std::string& output) {
  return score_output(c, output, split_output(output));
}

}  // namespace wobble
