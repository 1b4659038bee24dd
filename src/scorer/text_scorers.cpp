// contains, icontains, equals, starts-with: literal text checks with the matched span as evidence.
#include <algorithm>
#include <cctype>

#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"

namespace wobble {
namespace {

std::string ascii_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

class ContainsScorer : public Scorer {
 public:
  ContainsScorer(const CriterionSpec& spec, bool ignore_case) : id_(spec.id), ignore_case_(ignore_case) {
    ScorerArgs a(spec, {"value"});
    value_ = a.string("value");
    if (value_.empty()) a.fail("value", "must not be empty");
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string needle = render_arg(value_, in.test_case, id_);
    std::string hay = ignore_case_ ? ascii_lower(in.output) : in.output;
    std::string n = ignore_case_ ? ascii_lower(needle) : needle;
    size_t pos = hay.find(n);
    if (pos == std::string::npos)
      return make_result(Outcome::kFail, 0, "output does not contain \"" + clip(needle) + "\"", {}, needle);
    return make_result(Outcome::kPass, 1, "found \"" + clip(needle) + "\" at byte " + std::to_string(pos),
                       span(in.output, pos, pos + n.size()), needle);
  }

 private:
  std::string id_, value_;
  bool ignore_case_;
};

class EqualsScorer : public Scorer {
 public:
  explicit EqualsScorer(const CriterionSpec& spec) : id_(spec.id) {
    ScorerArgs a(spec, {"value", "trim", "ignore_case"});
    value_ = a.string("value");
    trim_ = a.flag("trim", true);
    ignore_case_ = a.flag("ignore_case", false);
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string expected = render_arg(value_, in.test_case, id_);
    std::string got = trim_ ? trim(in.output) : in.output;
    std::string want = trim_ ? trim(expected) : expected;
    bool eq = ignore_case_ ? ascii_lower(got) == ascii_lower(want) : got == want;
    size_t start = trim_ ? in.output.find(got) : 0;
    if (eq) return make_result(Outcome::kPass, 1, "output equals the expected value",
                               span(in.output, start, start + got.size()), expected);
    // Evidence: where the output first departs from the expected text.
    size_t i = 0;
    while (i < got.size() && i < want.size() &&
           (ignore_case_ ? std::tolower((unsigned char)got[i]) == std::tolower((unsigned char)want[i])
                         : got[i] == want[i]))
      ++i;
    size_t at = start + i;
    size_t end = std::min(in.output.size(), at + 40);
    return make_result(Outcome::kFail, 0, "output differs from the expected value at byte " + std::to_string(at),
                       span(in.output, at, end), expected);
  }

 private:
  std::string id_, value_;
  bool trim_, ignore_case_;
};

class StartsWithScorer : public Scorer {
 public:
  explicit StartsWithScorer(const CriterionSpec& spec) : id_(spec.id) {
    ScorerArgs a(spec, {"value", "trim"});
    value_ = a.string("value");
    trim_ = a.flag("trim", true);
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string prefix = render_arg(value_, in.test_case, id_);
    size_t start = 0;
    if (trim_)
      while (start < in.output.size() && std::isspace(static_cast<unsigned char>(in.output[start]))) ++start;
    bool ok = in.output.compare(start, prefix.size(), prefix) == 0;
    size_t end = std::min(in.output.size(), start + std::max<size_t>(prefix.size(), 1));
    return make_result(ok ? Outcome::kPass : Outcome::kFail, ok ? 1 : 0,
                       ok ? "output starts with \"" + clip(prefix) + "\""
                          : "output does not start with \"" + clip(prefix) + "\"",
                       span(in.output, start, end), prefix);
  }

 private:
  std::string id_, value_;
  bool trim_;
};

}  // namespace

std::unique_ptr<Scorer> make_contains_scorer(const CriterionSpec& spec, bool ignore_case) {
  return std::make_unique<ContainsScorer>(spec, ignore_case);
}
std::unique_ptr<Scorer> make_equals_scorer(const CriterionSpec& spec) { return std::make_unique<EqualsScorer>(spec); }
std::unique_ptr<Scorer> make_starts_with_scorer(const CriterionSpec& spec) {
  return std::make_unique<StartsWithScorer>(spec);
}

}  // namespace wobble
