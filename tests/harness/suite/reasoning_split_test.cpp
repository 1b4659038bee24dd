// The thinking/answer split (scorer/output_parts.h) and criterion scopes.
#include <gtest/gtest.h>

#include "scorer/output_parts.h"
#include "scorer/scorer.h"
#include "util/error.h"

using namespace wobble;

namespace {

TEST(ReasoningSplit, NoThinkingIsTheAnswerByteForByte) {
  auto p = split_output("  The answer is 4.\n");
  EXPECT_EQ(p.form, ReasoningForm::kNone);
  EXPECT_FALSE(p.has_reasoning());
  EXPECT_EQ(p.answer, "  The answer is 4.\n");
  EXPECT_TRUE(p.closed);
}

TEST(ReasoningSplit, ThinkTagsAsQwen3WritesThem) {
  auto p = split_output("<think>\nTwo and two.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(p.form, ReasoningForm::kThinkTags);
  EXPECT_EQ(p.reasoning, "Two and two.");
  EXPECT_EQ(p.answer, "The answer is 4.");
  EXPECT_TRUE(p.closed);
}

TEST(ReasoningSplit, OpenedInThePromptAsDeepSeekR1) {
  // The R1 template ends the prompt with "<think>\n": the output only closes it.
  auto p = split_output("Two and two.\n</think>\n\n4");
  EXPECT_EQ(p.form, ReasoningForm::kThinkTags);
  EXPECT_EQ(p.reasoning, "Two and two.");
  EXPECT_EQ(p.answer, "4");
}

TEST(ReasoningSplit, EmptyThinkingBlockIsStillAThinkingPart) {
  auto p = split_output("<think>\n\n</think>\n\n4");
  EXPECT_EQ(p.form, ReasoningForm::kThinkTags);
  EXPECT_EQ(p.reasoning, "");
  EXPECT_EQ(p.answer, "4");
}

TEST(ReasoningSplit, UnterminatedThinkingHasNoAnswer) {
  auto p = split_output("<think>\nLet me count: one, two, thr");
  EXPECT_EQ(p.form, ReasoningForm::kThinkTags);
  EXPECT_FALSE(p.closed);
  EXPECT_EQ(p.reasoning, "Let me count: one, two, thr");
  EXPECT_EQ(p.answer, "");
}

TEST(ReasoningSplit, NestedTagsTheFirstCloseEndsTheThinking) {
  // As llama.cpp's and vLLM's reasoning parsers decide; what follows stays in the answer as text.
  auto p = split_output("<think>a <think>b</think> c</think> d");
  EXPECT_EQ(p.reasoning, "a <think>b");
  EXPECT_EQ(p.answer, "c</think> d");
  EXPECT_TRUE(p.closed);
}

TEST(ReasoningSplit, TextBeforeTheOpeningTagBelongsToTheAnswer) {
  auto p = split_output("Sure.\n<think>hmm</think>\n4");
  EXPECT_EQ(p.reasoning, "hmm");
  EXPECT_EQ(p.answer, "Sure.\n\n4");
  auto q = split_output("Sure. <think>never closed");
  EXPECT_FALSE(q.closed);
  EXPECT_EQ(q.answer, "Sure.");
}

TEST(ReasoningSplit, StrayCloseTagAlone) {
  auto p = split_output("</think>");
  EXPECT_EQ(p.form, ReasoningForm::kThinkTags);
  EXPECT_EQ(p.reasoning, "");
  EXPECT_EQ(p.answer, "");
  EXPECT_TRUE(p.closed);
}

TEST(ReasoningSplit, HarmonyChannels) {
  auto p = split_output(
      "<|channel|>analysis<|message|>User asks 2+2. Easy.<|end|><|start|>assistant<|channel|>final<|message|>4<|return|>");
  EXPECT_EQ(p.form, ReasoningForm::kHarmony);
  EXPECT_EQ(p.reasoning, "User asks 2+2. Easy.");
  EXPECT_EQ(p.answer, "4");
  EXPECT_TRUE(p.closed);
}

TEST(ReasoningSplit, HarmonyCommentaryIsNotTheAnswer) {
  auto p = split_output(
      "<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>commentary to=functions.f "
      "<|constrain|>json<|message|>{\"x\":1}<|call|>");
  EXPECT_EQ(p.form, ReasoningForm::kHarmony);
  EXPECT_EQ(p.reasoning, "think\n\n{\"x\":1}");
  EXPECT_EQ(p.answer, "");
  EXPECT_FALSE(p.closed);  // no final message
}

TEST(ReasoningSplit, HarmonyCutInsideAnalysisOrFinal) {
  auto a = split_output("<|channel|>analysis<|message|>still thinking");
  EXPECT_FALSE(a.closed);
  EXPECT_EQ(a.reasoning, "still thinking");
  EXPECT_EQ(a.answer, "");
  // A final message cut by the token limit is a (partial) answer: the thinking did end.
  auto f = split_output("<|channel|>analysis<|message|>ok<|end|><|start|>assistant<|channel|>final<|message|>The ans");
  EXPECT_TRUE(f.closed);
  EXPECT_EQ(f.answer, "The ans");
  // A header cut before its <|message|>: the message so far is kept, the header dropped.
  auto h = split_output("<|channel|>analysis<|message|>ok<|end|><|start|>assistant<|channel|>fin");
  EXPECT_EQ(h.reasoning, "ok");
  EXPECT_FALSE(h.closed);
}

TEST(ReasoningSplit, HarmonyWithoutEndTokenBetweenMessages) {
  auto p = split_output("<|channel|>analysis<|message|>a<|start|>assistant<|channel|>final<|message|>b");
  EXPECT_EQ(p.reasoning, "a");
  EXPECT_EQ(p.answer, "b");
}

TEST(ReasoningSplit, ServerField) {
  auto p = split_output("\n\n4", "Two and two.\n", "stop");
  EXPECT_EQ(p.form, ReasoningForm::kField);
  EXPECT_EQ(p.reasoning, "Two and two.");
  EXPECT_EQ(p.answer, "4");
  EXPECT_TRUE(p.closed);
  auto cut = split_output("", "Two and", "length");
  EXPECT_FALSE(cut.closed);
  EXPECT_EQ(cut.answer, "");
  // An empty field: the content is split as text.
  auto text = split_output("<think>x</think>y", "", "stop");
  EXPECT_EQ(text.form, ReasoningForm::kThinkTags);
  EXPECT_EQ(text.answer, "y");
}

TEST(ReasoningSplit, FormAndScopeNamesRoundTrip) {
  for (auto f : {ReasoningForm::kNone, ReasoningForm::kThinkTags, ReasoningForm::kHarmony, ReasoningForm::kField})
    EXPECT_EQ(reasoning_form_from_name(reasoning_form_name(f)), f);
  for (auto s : {Scope::kAnswer, Scope::kReasoning, Scope::kRaw}) EXPECT_EQ(scope_from_name(scope_name(s)), s);
  EXPECT_FALSE(scope_from_name("thinking").has_value());
}

Case one_criterion(const std::string& scorer, nlohmann::json args, Scope scope, bool negate = false) {
  CriterionSpec s;
  s.id = "k";
  s.scorer = scorer;
  s.args = std::move(args);
  s.scope = scope;
  s.negate = negate;
  s.source = "test.yaml:1";
  Case c;
  c.id = "c";
  c.rubric.criteria = {s};
  return c;
}

TEST(ScorerScope, AnswerIsGradedByDefaultAndEvidencePointsIntoIt) {
  const std::string out = "<think>maybe 5? no, 4</think>\n\nIt is 4.";
  auto r = score_output(one_criterion("contains", {{"value", "4"}}, Scope::kAnswer), out).at(0);
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.scope, Scope::kAnswer);
  EXPECT_EQ(r.evidence.start, 6);  // "It is 4." -> offset of '4' in the answer, not in the raw output
  auto five = score_output(one_criterion("contains", {{"value", "5"}}, Scope::kAnswer), out).at(0);
  EXPECT_EQ(five.outcome, Outcome::kFail);
  auto in_reasoning = score_output(one_criterion("contains", {{"value", "5"}}, Scope::kReasoning), out).at(0);
  EXPECT_EQ(in_reasoning.outcome, Outcome::kPass);
  EXPECT_EQ(in_reasoning.scope, Scope::kReasoning);
  EXPECT_EQ(in_reasoning.evidence.start, 6);
  auto raw = score_output(one_criterion("regex", {{"pattern", "^<think>"}}, Scope::kRaw), out).at(0);
  EXPECT_EQ(raw.outcome, Outcome::kPass);
}

TEST(ScorerScope, UnterminatedThinkingFailsAnswerCriteriaEvenUnderNot) {
  const std::string out = "<think>counting forever";
  for (bool negate : {false, true}) {
    auto r = score_output(one_criterion("contains", {{"value", "sorry"}}, Scope::kAnswer, negate), out).at(0);
    EXPECT_EQ(r.outcome, Outcome::kFail) << negate;
    EXPECT_NE(r.reason.find("never ended"), std::string::npos) << r.reason;
  }
  // The reasoning is still there to grade.
  auto r = score_output(one_criterion("contains", {{"value", "counting"}}, Scope::kReasoning), out).at(0);
  EXPECT_EQ(r.outcome, Outcome::kPass);
}

TEST(ScorerScope, ReasoningScopeWithoutThinkingIsUnscored) {
  auto r = score_output(one_criterion("contains", {{"value", "x"}}, Scope::kReasoning), "x").at(0);
  EXPECT_EQ(r.outcome, Outcome::kUnscored);
  EXPECT_NE(r.reason.find("no reasoning part"), std::string::npos);
}

TEST(ScorerScope, ClosedThinkingWithEmptyAnswerIsUnscored) {
  auto r = score_output(one_criterion("contains", {{"value", "x"}}, Scope::kAnswer), "<think>x</think>").at(0);
  EXPECT_EQ(r.outcome, Outcome::kUnscored);
  EXPECT_NE(r.reason.find("answer is empty"), std::string::npos) << r.reason;
}

TEST(ScorerScope, ExtractorReadsTheAnswerPart) {
  // The first number of the raw output is the 7 in the thinking; of the answer part, 4.
  Case c = one_criterion("answer", {{"equals", "4"}}, Scope::kAnswer);
  c.rubric.answer_extractor = ExtractorSpec{"regex", {{"pattern", "([0-9]+)"}}};
  auto r = score_output(c, "<think>Is it 7? 3 + 1 = 4</think>\nAnswer: 4").at(0);
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.reason;
  Case raw = one_criterion("answer", {{"equals", "4"}}, Scope::kRaw);
  raw.rubric.answer_extractor = c.rubric.answer_extractor;
  EXPECT_EQ(score_output(raw, "<think>Is it 7? 3 + 1 = 4</think>\nAnswer: 4").at(0).outcome, Outcome::kFail);
}

}  // namespace
