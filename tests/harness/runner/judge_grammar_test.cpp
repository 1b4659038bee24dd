// Structured judge decoding: the grammar of judge-v1 replies (judge/judge_reply_grammar.h). What it
// accepts must always be a reply interpret_judge_reply() takes without a fault, and what it rejects
// is what would make a grading malformed or hallucinated.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "judge/judge_reply_grammar.h"
#include "scorer/judge.h"

namespace wobble {
namespace {

JudgeCriterion criterion(nlohmann::json args) {
  CriterionSpec spec;
  spec.id = "c";
  spec.scorer = "judge";
  spec.args = std::move(args);
  return JudgeCriterion::parse(spec);
}

// Feeds `text` byte by byte; returns how many bytes were accepted before the first rejection.
size_t accepted_prefix(GrammarState& s, const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    std::string_view b(&text[i], 1);
    if (!s.accepts(b)) return i;
    s.advance(b);
  }
  return text.size();
}

TEST(JudgeGrammar, AcceptsTheCanonicalReplyAndNothingAfterIt) {
  JudgeCriterion c = criterion({{"rubric", "The answer is correct."}});
  JudgeReplyGrammar g(c, "Answer: 68");
  auto s = g.start(0);
  std::string reply = R"({"verdict": "pass", "evidence": ["Answer: 68"], "reason": "it is right"})";
  EXPECT_EQ(accepted_prefix(*s, reply), reply.size());
  EXPECT_TRUE(s->complete());
  EXPECT_FALSE(s->accepts(" "));
  JudgeGrading graded = interpret_judge_reply(reply, "Answer: 68", c);
  EXPECT_EQ(graded.fault, JudgeFault::kNone);
  EXPECT_EQ(graded.verdict, "pass");
  ASSERT_EQ(graded.evidence.size(), 1u);
  EXPECT_EQ(graded.evidence[0].start, 0);
}

TEST(JudgeGrammar, RejectsQuotesThatAreNotInTheOutput) {
  JudgeCriterion c = criterion({{"rubric", "x"}});
  JudgeReplyGrammar g(c, "Answer: 68");
  auto s = g.start(0);
  std::string head = R"({"verdict": "pass", "evidence": [")";
  ASSERT_EQ(accepted_prefix(*s, head), head.size());
  EXPECT_TRUE(s->accepts("Answer: 6"));
  EXPECT_FALSE(s->accepts("Answer: 69"));  // the 9 is not there
  EXPECT_FALSE(s->accepts("answer"));      // case matters, as in the evidence rule
  EXPECT_TRUE(s->accepts("68"));           // any substring, not only a prefix
  EXPECT_FALSE(s->accepts("\""));          // an empty quote proves nothing
  EXPECT_FALSE(s->accepts("pass"));
}

TEST(JudgeGrammar, LaterOccurrencesAreFoundWhenTheFirstStopsMatching) {
  JudgeCriterion c = criterion({{"rubric", "x"}});
  JudgeReplyGrammar g(c, "ab ac ad");
  auto s = g.start(0);
  std::string reply = R"({"verdict": "pass", "evidence": ["ad"], "reason": ""})";
  EXPECT_EQ(accepted_prefix(*s, reply), reply.size());
  EXPECT_TRUE(s->complete());
}

TEST(JudgeGrammar, AFailMustQuoteUnlessTheCriterionExpectsSomethingMissing) {
  std::string unquoted_fail = R"({"verdict": "fail", "evidence": [], "reason": "no"})";
  {
    JudgeReplyGrammar g(criterion({{"rubric", "x"}}), "text");
    auto s = g.start(0);
    EXPECT_EQ(accepted_prefix(*s, unquoted_fail), unquoted_fail.find(']'));
  }
  {
    JudgeCriterion c = criterion({{"rubric", "mentions y"}, {"expect_missing", true}});
    JudgeReplyGrammar g(c, "text");
    auto s = g.start(0);
    EXPECT_EQ(accepted_prefix(*s, unquoted_fail), unquoted_fail.size());
    EXPECT_EQ(interpret_judge_reply(unquoted_fail, "text", c).fault, JudgeFault::kNone);
  }
  {  // a pass may cite nothing
    JudgeReplyGrammar g(criterion({{"rubric", "x"}}), "text");
    auto s = g.start(0);
    std::string pass = R"({"verdict": "pass", "evidence": [], "reason": ""})";
    EXPECT_EQ(accepted_prefix(*s, pass), pass.size());
  }
}

TEST(JudgeGrammar, FivePointVerdictsAndTheirThreshold) {
  JudgeCriterion c = criterion({{"rubric", "Tone"}, {"scale", "1-5"}, {"threshold", 3}});
  JudgeReplyGrammar g(c, "Dear Sir");
  auto s = g.start(0);
  ASSERT_EQ(accepted_prefix(*s, "{\"verdict\": "), 12u);
  EXPECT_FALSE(s->accepts("6"));
  EXPECT_FALSE(s->accepts("\"pass\""));
  EXPECT_TRUE(s->accepts("4, \"evidence\": []"));
  EXPECT_FALSE(s->accepts("2, \"evidence\": []"));  // below the threshold: a fail, which must quote
  EXPECT_TRUE(s->accepts("2, \"evidence\": [\"Dear\"]"));
}

TEST(JudgeGrammar, EscapesQuotesNewlinesAndStopsOnWholeCharacters) {
  JudgeCriterion c = criterion({{"rubric", "x"}});
  std::string output = "say \"hi\"\nthen caf\xC3\xA9";
  JudgeReplyGrammar g(c, output);
  auto s = g.start(0);
  ASSERT_EQ(accepted_prefix(*s, R"({"verdict": "pass", "evidence": [")"), 34u);
  EXPECT_TRUE(s->accepts("\\\"hi\\\"\\nthen"));
  EXPECT_FALSE(s->accepts("\"hi"));   // a raw quote mark ends the quote; the empty quote is refused
  EXPECT_FALSE(s->accepts("hi\"\n"));  // a raw newline is not JSON
  EXPECT_FALSE(s->accepts("caf\xC3\""));  // would close inside the two bytes of é
  EXPECT_TRUE(s->accepts("caf\xC3\xA9\""));
  EXPECT_FALSE(s->accepts("\xA9"));   // would open inside a character
}

TEST(JudgeGrammar, AtMostThreeQuotesAndBoundedText) {
  JudgeCriterion c = criterion({{"rubric", "x"}});
  JudgeReplyGrammar g(c, "a b c d");
  auto s = g.start(0);
  std::string head = R"({"verdict": "pass", "evidence": ["a", "b", "c")";
  ASSERT_EQ(accepted_prefix(*s, head), head.size());
  EXPECT_FALSE(s->accepts(", \"d\""));
  EXPECT_TRUE(s->accepts("], \"reason\": \""));
  std::string reason_head = R"(], "reason": ")";
  ASSERT_EQ(accepted_prefix(*s, reason_head), reason_head.size());
  std::string long_reason(JudgeReplyGrammar::kMaxReasonBytes, 'x');
  EXPECT_EQ(accepted_prefix(*s, long_reason), long_reason.size());
  EXPECT_FALSE(s->accepts("x"));
  EXPECT_FALSE(s->accepts("\\"));
  EXPECT_TRUE(s->accepts("\"}"));
}

// The property that matters: whatever a model picks among the tokens the grammar allows, the reply
// is one interpret_judge_reply() takes without a fault, and it ends within the token budget.
TEST(JudgeGrammar, EveryAllowedWalkIsAValidGradingWithinItsBudget) {
  std::vector<std::string> outputs = {"Answer: 68", "The capital is Paris.\nIt is in France.",
                                      "quote \"this\" and \\that\\", "na\xC3\xAFve caf\xC3\xA9 \xE2\x82\xAC" "5", "   x   "};
  // A toy vocabulary: every printable byte, the bytes of the outputs, and longer pieces.
  std::vector<std::string> vocab;
  for (int b = 0x20; b < 0x7F; ++b) vocab.push_back(std::string(1, char(b)));
  for (const char* p : {"\xC3", "\xA9", "\xAF", "\xE2", "\x82", "\xAC", "\xC3\xA9", "\\n", "\\\"", "\", \"", "\"], \"",
                        "pass", "fail", "{\"verdict\": \"", "Answer", " is", "Paris", "\"}", "verdict", "\"evidence\": [\""})
    vocab.push_back(p);
  std::mt19937 rng(12345);
  int walks = 0;
  for (const auto& out : outputs) {
    for (bool expect_missing : {false, true}) {
      for (bool five : {false, true}) {
        nlohmann::json args = {{"rubric", "x"}};
        if (expect_missing) args["expect_missing"] = true;
        if (five) args["scale"] = "1-5";
        JudgeCriterion c = criterion(args);
        JudgeReplyGrammar g(c, out);
        for (int budget : {0, 60, 200}) {
          for (int rep = 0; rep < 20; ++rep, ++walks) {
            auto s = g.start(budget);
            std::string reply;
            int tokens = 0;
            while (!s->complete()) {
              std::vector<const std::string*> ok;
              for (const auto& t : vocab)
                if (s->accepts(t)) ok.push_back(&t);
              ASSERT_FALSE(ok.empty()) << "dead end after: " << reply;
              const std::string& t = *ok[rng() % ok.size()];
              s->advance(t);
              reply += t;
              ++tokens;
              ASSERT_LT(tokens, 2000);
            }
            if (budget > 0) {
              EXPECT_LE(tokens, budget) << reply;
            }
            JudgeGrading graded = interpret_judge_reply(reply, out, c);
            EXPECT_EQ(graded.fault, JudgeFault::kNone) << graded.fault_detail << "\n" << reply;
          }
        }
      }
    }
  }
  EXPECT_EQ(walks, 5 * 2 * 2 * 3 * 20);
}

}  // namespace
}  // namespace wobble
