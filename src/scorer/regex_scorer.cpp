// regex: PCRE2 search with match limits; a limit hit is unscored, never a silent fail.
#include <stdexcept>

#include "scorer/pcre_regex.h"
#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"

namespace wobble {
namespace {

class RegexScorer : public Scorer {
 public:
  explicit RegexScorer(const CriterionSpec& spec) : id_(spec.id) {
    ScorerArgs a(spec, {"pattern", "ignore_case", "multiline", "dotall"});
    pattern_ = a.string("pattern");
    ci_ = a.flag("ignore_case");
    ml_ = a.flag("multiline");
    dotall_ = a.flag("dotall");
    if (pattern_.find("{{") == std::string::npos) {
      try {
        compiled_ = std::make_shared<PcreRegex>(pattern_, ci_, ml_, dotall_);
      } catch (const std::invalid_argument& e) {
        a.fail("pattern", e.what());
      }
    }
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::shared_ptr<const PcreRegex> re = compiled_;
    std::string pattern = pattern_;
    if (!re) {  // templated pattern: compiled per case
      pattern = render_arg(pattern_, in.test_case, id_);
      try {
        re = std::make_shared<PcreRegex>(pattern, ci_, ml_, dotall_);
      } catch (const std::invalid_argument& e) {
        return unscored(std::string("pattern after templating is invalid: ") + e.what());
      }
    }
    RegexResult r = re->search(in.output);
    if (r.error) return unscored(r.message);
    if (!r.match) return make_result(Outcome::kFail, 0, "no match for /" + clip(pattern) + "/", {}, pattern);
    return make_result(Outcome::kPass, 1, "matched /" + clip(pattern) + "/",
                       span(in.output, r.match->start, r.match->end), pattern);
  }

 private:
  std::string id_, pattern_;
  bool ci_, ml_, dotall_;
  std::shared_ptr<const PcreRegex> compiled_;
};

}  // namespace

std::unique_ptr<Scorer> make_regex_scorer(const CriterionSpec& spec) { return std::make_unique<RegexScorer>(spec); }

}  // namespace wobble
