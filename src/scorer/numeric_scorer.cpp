// numeric: extracts a number from the output (the extracted answer if the case has an extractor,
// else the last number in the text) and compares it with an expected value within a tolerance.
// The score is 1 within tolerance, else 0; the evidence is the number's span.
#include <cmath>
#include <cstdlib>

#include "scorer/number_finder.h"
#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"

namespace wobble {
namespace {

class NumericScorer : public Scorer {
 public:
  explicit NumericScorer(const CriterionSpec& spec) : id_(spec.id) {
    ScorerArgs a(spec, {"value", "abs_tol", "rel_tol", "pick"});
    value_ = a.string("value");
    abs_tol_ = a.opt_number("abs_tol").value_or(1e-9);
    rel_tol_ = a.opt_number("rel_tol").value_or(0);
    if (abs_tol_ < 0 || rel_tol_ < 0) a.fail("abs_tol", "tolerances must be >= 0");
    pick_ = a.opt_string("pick").value_or("last");
    if (pick_ != "first" && pick_ != "last") a.fail("pick", "must be 'first' or 'last'");
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string expected_text = render_arg(value_, in.test_case, id_);
    auto expected = parse_number(expected_text);
    if (!expected) return unscored("expected value \"" + clip(expected_text) + "\" is not a number");
    std::optional<FoundNumber> got;
    if (in.extracted_answer) {
      auto v = parse_number(*in.extracted_answer);
      if (v) {
        size_t pos = in.output.find(*in.extracted_answer);
        got = FoundNumber{*v, pos == std::string::npos ? 0 : pos,
                          pos == std::string::npos ? 0 : pos + in.extracted_answer->size()};
      }
    }
    if (!got) got = pick_ == "first" ? first_number(in.output) : last_number(in.output);
    if (!got) return make_result(Outcome::kFail, 0, "no number found in the output", {}, expected_text);
    double tol = std::max(abs_tol_, rel_tol_ * std::fabs(*expected));
    bool ok = std::fabs(got->value - *expected) <= tol;
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s %.10g vs expected %.10g (tolerance %.3g)", ok ? "found" : "wrong number:",
                  got->value, *expected, tol);
    return make_result(ok ? Outcome::kPass : Outcome::kFail, ok ? 1 : 0, buf,
                       span(in.output, got->start, got->end), expected_text);
  }

 private:
  std::string id_, value_, pick_;
  double abs_tol_, rel_tol_;
};

}  // namespace

std::unique_ptr<Scorer> make_numeric_scorer(const CriterionSpec& spec) {
  return std::make_unique<NumericScorer>(spec);
}

}  // namespace wobble
