// The judge reply as a grammar (structured judge decoding; rubrics/README.md "Structured judge").
//
// On the bundled engine a judge can be made to answer in exactly the shape judge-v1 asks for:
//
//   {"verdict": V, "evidence": ["Q", ...], "reason": "R"}
//
// V is one of the verdicts the criterion takes ("pass"/"fail", or 1..5); each Q is a JSON string
// whose content is an exact, non-blank substring of the graded output, at most kMaxQuoteBytes,
// starting and ending on whole UTF-8 characters (so the evidence rule always finds it); R is
// printable ASCII without quotes or backslashes, at most kMaxReasonBytes. A verdict that fails the
// output must quote at least one Q unless the criterion has expect_missing. With this grammar a
// judge cannot reply malformed JSON or hallucinate a quote: what is left of its noise is the
// verdict and the choice of quotes.
//
// Cost: accepts() is O(bytes) per candidate token, plus a search of the output when a quote's
// first occurrence stops matching (the next occurrence is searched from there on).
#pragma once

#include <string>
#include <vector>

#include "provider/output_grammar.h"
#include "scorer/judge.h"

namespace wobble {

class JudgeReplyGrammar : public OutputGrammar {
 public:
  static constexpr size_t kMaxQuotes = 3;
  static constexpr size_t kMaxQuoteBytes = 160;
  static constexpr size_t kMaxReasonBytes = 160;

  JudgeReplyGrammar(const JudgeCriterion& c, std::string output);
  std::unique_ptr<GrammarState> start(int max_tokens) const override;

  struct Verdict {
    std::string literal;  // as it appears in the JSON: "\"pass\"" or "4"
    bool needs_quote;     // a fail without expect_missing must cite the output
  };
  const std::vector<Verdict>& verdicts() const { return verdicts_; }
  const std::string& output() const { return output_; }
  bool quotable() const { return quotable_; }  // the output has a character that is not whitespace

 private:
  bool quotable_ = false;
  std::vector<Verdict> verdicts_;
  std::string output_;
};

}  // namespace wobble
