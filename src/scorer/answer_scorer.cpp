// answer: compares the extracted answer (case or rubric extractor) with an expected value, as text
// (trimmed, optionally case-insensitive) or as numbers when both parse as numbers.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "scorer/number_finder.h"
#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"

namespace wobble {
namespace {

class AnswerScorer : public Scorer {
 public:
  explicit AnswerScorer(const CriterionSpec& spec) : id_(spec.id) {
    ScorerArgs a(spec, {"equals", "ignore_case", "abs_tol"});
    expected_ = a.string("equals");
    ignore_case_ = a.flag("ignore_case");
    abs_tol_ = a.opt_number("abs_tol").value_or(1e-9);
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string expected = render_arg(expected_, in.test_case, id_);
    if (!in.test_case.answer_extractor && !in.test_case.rubric.answer_extractor)
      return unscored("the 'answer' scorer needs an answer_extractor on the case or rubric");
    if (!in.extracted_answer) return make_result(Outcome::kFail, 0, "no answer could be extracted", {}, expected);
    const std::string& got = *in.extracted_answer;
    size_t pos = in.output.find(got);
    Evidence ev = pos == std::string::npos ? Evidence{-1, -1, got} : span(in.output, pos, pos + got.size());
    bool eq;
    auto gn = parse_number(got), en = parse_number(expected);
    if (gn && en) {
      eq = std::fabs(*gn - *en) <= abs_tol_;
    } else {
      auto norm = [&](std::string s) {
        size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
        s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
        if (ignore_case_) std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        return s;
      };
      eq = norm(got) == norm(expected);
    }
    return make_result(eq ? Outcome::kPass : Outcome::kFail, eq ? 1 : 0,
                       eq ? "answer \"" + clip(got) + "\" is correct"
                          : "answer \"" + clip(got) + "\", expected \"" + clip(expected) + "\"",
                       ev, expected);
  }

 private:
  std::string id_, expected_;
  bool ignore_case_;
  double abs_tol_;
};

}  // namespace

std::unique_ptr<Scorer> make_answer_scorer(const CriterionSpec& spec) { return std::make_unique<AnswerScorer>(spec); }

}  // namespace wobble
