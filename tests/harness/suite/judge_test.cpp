// The judge scorer's pure parts: whitespace-normalised quote matching mapped to byte offsets, reply
// parsing and its faults, the majority rule, the prompt layout v1.
#include <gtest/gtest.h>

#include "scorer/judge.h"
#include "util/error.h"

using namespace wobble;

namespace {

CriterionSpec judge_spec(nlohmann::json args) {
  CriterionSpec s;
  s.id = "j";
  s.scorer = "judge";
  s.args = std::move(args);
  s.source = "test.yaml:1";
  return s;
}

JudgeGrading graded(const std::string& verdict, JudgeFault f = JudgeFault::kNone) {
  JudgeGrading g;
  g.verdict = verdict;
  g.fault = f;
  return g;
}

}  // namespace

TEST(JudgeQuote, WhitespaceRunsMatchAndMapToOriginalBytes) {
  std::string out = "Intro.\n\n  The   answer\tis\n68.  ";
  auto e = find_quote(out, " The answer is 68. ");
  ASSERT_TRUE(e);
  EXPECT_EQ(out.substr(size_t(e->start), size_t(e->end - e->start)), "The   answer\tis\n68.");
  EXPECT_FALSE(find_quote(out, "the answer"));  // case matters
  EXPECT_FALSE(find_quote(out, "   "));         // empty after normalisation
  EXPECT_FALSE(find_quote(out, "answer is 69"));
}

TEST(JudgeReply, ParsesVerifiesAndFaults) {
  JudgeCriterion c = JudgeCriterion::parse(judge_spec({{"rubric", "The answer is correct."}}));
  const std::string out = "Answer: 68";
  auto ok = interpret_judge_reply("noise {\"verdict\": \"pass\", \"evidence\": [\"Answer: 68\"], \"reason\": \"r\"} tail", out, c);
  EXPECT_EQ(ok.fault, JudgeFault::kNone);
  EXPECT_EQ(ok.verdict, "pass");
  ASSERT_EQ(ok.evidence.size(), 1u);
  EXPECT_EQ(ok.evidence[0].start, 0);
  EXPECT_EQ(ok.evidence[0].end, 10);
  EXPECT_EQ(interpret_judge_reply("pass", out, c).fault, JudgeFault::kMalformed);
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": \"maybe\"}", out, c).fault, JudgeFault::kMalformed);
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": \"pass\", \"evidence\": [3]}", out, c).fault, JudgeFault::kMalformed);
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": \"pass\", \"evidence\": [\"Answer: 86\"]}", out, c).fault,
            JudgeFault::kHallucinated);
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": \"fail\", \"evidence\": []}", out, c).fault, JudgeFault::kUnquotedFail);
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": \"pass\"}", out, c).fault, JudgeFault::kNone);  // a pass needs no quote
  JudgeCriterion missing = JudgeCriterion::parse(judge_spec({{"rubric", "Mentions the topic."}, {"expect_missing", true}}));
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": \"fail\"}", out, missing).verdict, "fail");
  JudgeCriterion five = JudgeCriterion::parse(judge_spec({{"rubric", "Tone"}, {"scale", "1-5"}, {"threshold", 3}}));
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": 3, \"evidence\": [\"68\"]}", out, five).verdict, "pass");
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": 2, \"evidence\": [\"68\"]}", out, five).verdict, "fail");
  EXPECT_EQ(interpret_judge_reply("{\"verdict\": 6}", out, five).fault, JudgeFault::kMalformed);
}

TEST(JudgeReply, BadArgumentsAreConfigErrors) {
  EXPECT_THROW(JudgeCriterion::parse(judge_spec(nlohmann::json::object())), ConfigError);
  EXPECT_THROW(JudgeCriterion::parse(judge_spec({{"rubric", "x"}, {"scale", "1-10"}})), ConfigError);
  EXPECT_THROW(JudgeCriterion::parse(judge_spec({{"rubric", "x"}, {"threshold", 3}})), ConfigError);
  EXPECT_THROW(JudgeCriterion::parse(judge_spec({{"rubric", "x"}, {"judge", {{"repeats", 0}}}})), ConfigError);
  EXPECT_THROW(JudgeCriterion::parse(judge_spec({{"rubric", "x"}, {"judge", {{"modle", "m"}}}})), ConfigError);
}

TEST(JudgeMajority, StrictMajorityOfKAndFaultsCountForNeither) {
  JudgeCriterion c = JudgeCriterion::parse(judge_spec({{"rubric", "x"}}));
  EXPECT_EQ(combine_gradings({graded("pass"), graded("pass"), graded("fail")}, 3, c).outcome, Outcome::kPass);
  EXPECT_EQ(combine_gradings({graded("fail"), graded("fail"), graded("", JudgeFault::kMalformed)}, 3, c).outcome,
            Outcome::kFail);
  auto tie = combine_gradings({graded("pass"), graded("fail")}, 2, c);
  EXPECT_EQ(tie.outcome, Outcome::kUnscored);
  auto halluc = combine_gradings({graded("pass"), graded("", JudgeFault::kHallucinated),
                                  graded("", JudgeFault::kHallucinated)}, 3, c);
  EXPECT_EQ(halluc.outcome, Outcome::kUnscored);
  EXPECT_NE(halluc.reason.find(kHallucinatedReason), std::string::npos);
  EXPECT_NE(combine_gradings({graded("pass"), graded("pass"), graded("fail")}, 3, c).reason.find("agreement 0.67"),
            std::string::npos);
}

TEST(JudgePrompt, LayoutV1) {
  auto p = build_judge_prompt("What is 23 + 45?", "Answer: 68", "The answer is correct.", false);
  EXPECT_EQ(p.system,
            "You are a strict grader. Reply with JSON only: {\"verdict\": \"pass\" or \"fail\", \"evidence\": "
            "[\"exact quote from the output\"], \"reason\": \"short reason\"}");
  EXPECT_EQ(p.user, "Task:\nWhat is 23 + 45?\n\nOutput:\nAnswer: 68\n\nCriterion:\nThe answer is correct.");
  RenderedPrompt chat;
  chat.messages = {{"system", "s"}, {"user", "first"}, {"assistant", "a"}, {"user", "last"}};
  EXPECT_EQ(judge_task_text(chat), "last");
}
