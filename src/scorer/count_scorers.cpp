// word-count, char-count, line-count: bounds on length. Evidence is the count and, on a fail, the
// span where the limit was crossed (the first word past max), or the whole output when too short.
#include <cctype>

#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"

namespace wobble {
namespace {

const char* unit_name(CountUnit u) {
  switch (u) {
    case CountUnit::kWords: return "words";
    case CountUnit::kChars: return "characters";
    case CountUnit::kLines: return "lines";
  }
  return "";
}

// Byte offsets where each unit starts; chars are UTF-8 code points (bytes 10xxxxxx continue one).
std::vector<size_t> unit_starts(const std::string& s, CountUnit u) {
  std::vector<size_t> starts;
  if (u == CountUnit::kChars) {
    for (size_t i = 0; i < s.size(); ++i)
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  } else if (u == CountUnit::kWords) {
    bool in_word = false;
    for (size_t i = 0; i < s.size(); ++i) {
      bool space = std::isspace(static_cast<unsigned char>(s[i]));
      if (!space && !in_word) starts.push_back(i);
      in_word = !space;
    }
  } else {
    if (!s.empty()) starts.push_back(0);
    for (size_t i = 0; i + 1 < s.size(); ++i)
      if (s[i] == '\n') starts.push_back(i + 1);
  }
  return starts;
}

class CountScorer : public Scorer {
 public:
  CountScorer(const CriterionSpec& spec, CountUnit unit) : unit_(unit) {
    ScorerArgs a(spec, {"min", "max"});
    auto mn = a.opt_number("min"), mx = a.opt_number("max");
    if (!mn && !mx) a.fail("", "needs 'min' and/or 'max'");
    // Found by fuzz_suite: max: 1e20 overflowed the int64 conversion (undefined behaviour), and a
    // negative max read as "no maximum". Counts are whole numbers well inside int64.
    constexpr double kMaxCount = 1e15;
    if (mn && (*mn < 0 || *mn > kMaxCount)) a.fail("min", "must be between 0 and 1e15");
    if (mx && (*mx < 0 || *mx > kMaxCount)) a.fail("max", "must be between 0 and 1e15");
    if (mn && mx && *mn > *mx) a.fail("max", "must be >= min");
    min_ = mn ? int64_t(*mn) : -1;
    max_ = mx ? int64_t(*mx) : -1;
  }
  CriterionResult score(const ScoreInput& in) const override {
    auto starts = unit_starts(in.output, unit_);
    int64_t n = int64_t(starts.size());
    std::string count = std::to_string(n) + " " + unit_name(unit_);
    std::string bounds = "[" + (min_ >= 0 ? std::to_string(min_) : std::string("0")) + ", " +
                         (max_ >= 0 ? std::to_string(max_) : std::string("inf")) + "]";
    if (max_ >= 0 && n > max_) {
      Evidence e = span(in.output, starts[max_], in.output.size());
      e.text = count + ": " + e.text;
      return make_result(Outcome::kFail, 0, count + ", more than the maximum " + std::to_string(max_), e, bounds);
    }
    if (min_ >= 0 && n < min_) {
      Evidence e = span(in.output, 0, in.output.size());
      e.text = count;
      return make_result(Outcome::kFail, 0, count + ", fewer than the minimum " + std::to_string(min_), e, bounds);
    }
    Evidence e = span(in.output, 0, in.output.size());
    e.text = count;
    return make_result(Outcome::kPass, 1, count + " within " + bounds, e, bounds);
  }

 private:
  CountUnit unit_;
  int64_t min_, max_;
};

}  // namespace

std::unique_ptr<Scorer> make_count_scorer(const CriterionSpec& spec, CountUnit unit) {
  return std::make_unique<CountScorer>(spec, unit);
}

}  // namespace wobble
