// Every scorer, `not`, templating, extractors, and hostile outputs.
#include <gtest/gtest.h>

#include "scorer/scorer.h"
#include "util/error.h"

using namespace wobble;

namespace {

Case make_case(std::vector<CriterionSpec> criteria, std::map<std::string, std::string> vars = {},
               std::optional<ExtractorSpec> extractor = std::nullopt) {
  Case c;
  c.id = "c1";
  c.vars = std::move(vars);
  c.rubric.criteria = std::move(criteria);
  c.rubric.answer_extractor = std::move(extractor);
  return c;
}

CriterionSpec crit(const std::string& scorer, nlohmann::json args, bool negate = false) {
  CriterionSpec s;
  s.id = "k";
  s.scorer = scorer;
  s.args = std::move(args);
  s.negate = negate;
  s.source = "test.yaml:1";
  return s;
}

CriterionResult score1(const CriterionSpec& spec, const std::string& output, std::map<std::string, std::string> vars = {},
                       std::optional<ExtractorSpec> extractor = std::nullopt) {
  Case c = make_case({spec}, std::move(vars), std::move(extractor));
  auto r = score_output(c, output);
  EXPECT_EQ(r.size(), 1u);
  return r.at(0);
}

}  // namespace

TEST(Scorers, ContainsRecordsTheMatchedSpan) {
  auto r = score1(crit("contains", {{"value", "world"}}), "hello world!");
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.evidence.start, 6);
  EXPECT_EQ(r.evidence.end, 11);
  EXPECT_EQ(r.evidence.text, "world");
  EXPECT_EQ(score1(crit("contains", {{"value", "World"}}), "hello world").outcome, Outcome::kFail);
  auto ic = score1(crit("icontains", {{"value", "WORLD"}}), "hello World");
  EXPECT_EQ(ic.outcome, Outcome::kPass);
  EXPECT_EQ(ic.evidence.text, "World");
}

TEST(Scorers, NotInvertsPassAndFailButNotUnscored) {
  auto r = score1(crit("contains", {{"value", "bad"}}, true), "all good");
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_DOUBLE_EQ(r.score, 1.0);
  EXPECT_EQ(score1(crit("contains", {{"value", "good"}}, true), "all good").outcome, Outcome::kFail);
  EXPECT_EQ(score1(crit("contains", {{"value", "good"}}, true), "").outcome, Outcome::kUnscored);
}

TEST(Scorers, TemplatedExpectedValueComesFromCaseVars) {
  auto r = score1(crit("contains", {{"value", "{{answer}}"}}), "The answer is 42.", {{"answer", "42"}});
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.expected, "42");
  EXPECT_EQ(r.evidence.start, 14);
}

TEST(Scorers, EqualsAndStartsWith) {
  EXPECT_EQ(score1(crit("equals", {{"value", "yes"}}), "  yes\n").outcome, Outcome::kPass);
  auto r = score1(crit("equals", {{"value", "yes please"}}), "yes thanks");
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.evidence.start, 4);  // first differing byte
  EXPECT_EQ(score1(crit("equals", {{"value", "YES"}, {"ignore_case", true}}), "yes").outcome, Outcome::kPass);
  EXPECT_EQ(score1(crit("starts-with", {{"value", "Dear"}}), "  Dear Sir").outcome, Outcome::kPass);
  EXPECT_EQ(score1(crit("starts-with", {{"value", "Dear"}}), "Hi, Dear").outcome, Outcome::kFail);
}

TEST(Scorers, RegexMatchSpanAndFlags) {
  auto r = score1(crit("regex", {{"pattern", "\\d{3}-\\d{4}"}}), "call 555-1234 now");
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.evidence.text, "555-1234");
  EXPECT_EQ(r.evidence.start, 5);
  EXPECT_EQ(score1(crit("regex", {{"pattern", "^abc$"}, {"multiline", true}}), "x\nabc\ny").outcome, Outcome::kPass);
  EXPECT_EQ(score1(crit("regex", {{"pattern", "^abc$"}}), "x\nabc\ny").outcome, Outcome::kFail);
  EXPECT_EQ(score1(crit("regex", {{"pattern", "ABC"}, {"ignore_case", true}}), "xabc").outcome, Outcome::kPass);
  // Unicode classes are Unicode-aware on valid UTF-8.
  EXPECT_EQ(score1(crit("regex", {{"pattern", "^\\w+$"}}), "ñandú").outcome, Outcome::kPass);
}

TEST(Scorers, CatastrophicRegexIsUnscoredQuickly) {
  // Without PCRE2's match limit this would backtrack for longer than the universe has existed;
  // the ctest timeout is the safety net, no timing is asserted here.
  std::string evil(5000, 'a');
  evil += "!";
  auto r = score1(crit("regex", {{"pattern", "^(a+)+$"}}), evil);
  EXPECT_EQ(r.outcome, Outcome::kUnscored) << r.reason;
  EXPECT_NE(r.reason.find("limit"), std::string::npos) << r.reason;
  // `not` cannot turn a scorer error into a pass.
  EXPECT_EQ(score1(crit("regex", {{"pattern", "^(a+)+$"}}, true), evil).outcome, Outcome::kUnscored);
}

TEST(Scorers, InvalidUtf8OutputDoesNotCrashAnyScorer) {
  std::string bad = "ok \xff\xfe answer 12 \xc3";
  for (auto spec : {crit("regex", {{"pattern", "ok"}}), crit("contains", {{"value", "12"}}),
                    crit("word-count", {{"max", 10}}), crit("char-count", {{"min", 1}}), crit("is-json", nlohmann::json::object()),
                    crit("numeric", {{"value", "12"}}), crit("refusal", nlohmann::json::object())}) {
    auto r = score1(spec, bad);
    EXPECT_NE(r.outcome, Outcome::kUnscored) << spec.scorer << ": " << r.reason;
  }
  EXPECT_EQ(score1(crit("regex", {{"pattern", "ok"}}), bad).outcome, Outcome::kPass);
}

TEST(Scorers, TenMegabyteOutput) {
  std::string big(10 << 20, 'x');
  big += " needle";
  EXPECT_EQ(score1(crit("contains", {{"value", "needle"}}), big).outcome, Outcome::kPass);
  auto wc = score1(crit("word-count", {{"max", 1}}), big);
  EXPECT_EQ(wc.outcome, Outcome::kFail);
  EXPECT_EQ(wc.evidence.start, int64_t(10 << 20) + 1);
  EXPECT_LE(wc.evidence.text.size(), 420u);  // evidence is clipped, never the whole output
  EXPECT_EQ(score1(crit("regex", {{"pattern", "needle$"}}), big).outcome, Outcome::kPass);
  EXPECT_EQ(score1(crit("is-json", nlohmann::json::object()), big).outcome, Outcome::kFail);
}

TEST(Scorers, CountBoundsReportTheCount) {
  auto r = score1(crit("word-count", {{"min", 2}, {"max", 3}}), "one two three four five");
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_NE(r.evidence.text.find("5 words"), std::string::npos);
  EXPECT_EQ(r.evidence.start, 14);  // "four": the first word past the maximum
  EXPECT_EQ(score1(crit("word-count", {{"min", 2}}), "one").outcome, Outcome::kFail);
  EXPECT_EQ(score1(crit("char-count", {{"max", 3}}), "héé").outcome, Outcome::kPass);  // code points
  EXPECT_EQ(score1(crit("line-count", {{"max", 2}}), "a\nb\nc").outcome, Outcome::kFail);
  EXPECT_EQ(score1(crit("line-count", {{"max", 2}}), "a\nb\n").outcome, Outcome::kPass);
}

TEST(Scorers, JsonSchemaReportsFirstViolationPath) {
  nlohmann::json schema = {{"type", "object"},
                           {"required", {"name", "items"}},
                           {"properties",
                            {{"name", {{"type", "string"}, {"minLength", 2}}},
                             {"items", {{"type", "array"}, {"items", {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}, {"maximum", 10}}}}}}}}}}}};
  auto ok = score1(crit("json-schema", {{"schema", schema}}), R"({"name":"ab","items":[{"n":1}]})");
  EXPECT_EQ(ok.outcome, Outcome::kPass) << ok.reason;
  auto bad = score1(crit("json-schema", {{"schema", schema}}), R"({"name":"ab","items":[{"n":1},{"n":11}]})");
  EXPECT_EQ(bad.outcome, Outcome::kFail);
  EXPECT_EQ(bad.evidence.text.rfind("$.items[1].n:", 0), 0u) << bad.evidence.text;
  auto missing = score1(crit("json-schema", {{"schema", schema}}), R"({"items":[]})");
  EXPECT_NE(missing.reason.find("missing required property 'name'"), std::string::npos);
  auto fenced = score1(crit("json-schema", {{"schema", schema}}), "Here:\n```json\n{\"name\":\"xy\",\"items\":[]}\n```\n");
  EXPECT_EQ(fenced.outcome, Outcome::kPass) << fenced.reason;
  EXPECT_EQ(score1(crit("is-json", nlohmann::json::object()), "{\"a\": [1, 2").outcome, Outcome::kFail);
  std::string deep(100000, '[');
  EXPECT_EQ(score1(crit("is-json", nlohmann::json::object()), deep).outcome, Outcome::kFail);
}

TEST(Scorers, JsonPathEquals) {
  auto r = score1(crit("json-path", {{"path", "$.a.b[1]"}, {"equals", "{{want}}"}}), R"({"a":{"b":[1,7]}})", {{"want", "7"}});
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.reason;
  EXPECT_EQ(score1(crit("json-path", {{"path", "$.a['b c']"}, {"equals", true}}), R"({"a":{"b c":true}})").outcome,
            Outcome::kPass);
  EXPECT_EQ(score1(crit("json-path", {{"path", "$.missing"}, {"equals", 1}}), "{}").outcome, Outcome::kFail);
}

TEST(Scorers, NumericWithTolerance) {
  EXPECT_EQ(score1(crit("numeric", {{"value", "3.14"}, {"abs_tol", 0.01}}), "pi is about 3.141").outcome, Outcome::kPass);
  EXPECT_EQ(score1(crit("numeric", {{"value", "100"}, {"rel_tol", 0.05}}), "roughly 104").outcome, Outcome::kPass);
  auto r = score1(crit("numeric", {{"value", "1234"}}), "first 5 then 1,234");
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.evidence.text, "1,234");
  EXPECT_EQ(score1(crit("numeric", {{"value", "-7"}}), "it is -7.").outcome, Outcome::kPass);
  EXPECT_EQ(score1(crit("numeric", {{"value", "7"}}), "no digits").outcome, Outcome::kFail);
}

TEST(Scorers, RefusalDetection) {
  auto r = score1(crit("refusal", nlohmann::json::object()), "Well, I’m sorry, but I can’t help with that.");
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.evidence.start, 6);
  EXPECT_EQ(score1(crit("refusal", nlohmann::json::object()), "Sure! Here it is.").outcome, Outcome::kFail);
  EXPECT_EQ(score1(crit("refusal", {{"phrases", {"nope"}}, {"replace_defaults", true}}), "NOPE.").outcome, Outcome::kPass);
}

TEST(Scorers, AnswerExtractorsFeedTheAnswerScorer) {
  ExtractorSpec rx{"regex", {{"pattern", "Answer: (\\w+)"}}};
  auto r = score1(crit("answer", {{"equals", "{{a}}"}}), "work...\nAnswer: 42\n", {{"a", "42"}}, rx);
  EXPECT_EQ(r.outcome, Outcome::kPass) << r.reason;
  EXPECT_EQ(r.evidence.text, "42");
  Case c = make_case({}, {}, ExtractorSpec{"last-line", {}});
  EXPECT_EQ(extract_answer(c, "a\nb\n\n  final  \n"), "final");
  c.rubric.answer_extractor = ExtractorSpec{"number", {}};
  EXPECT_EQ(extract_answer(c, "3 apples and 4 pears"), "4");
  c.rubric.answer_extractor = ExtractorSpec{"json-path", {{"path", "$.x"}}};
  EXPECT_EQ(extract_answer(c, "{\"x\": \"y\"}"), "y");
  // Without an extractor the answer scorer cannot grade: unscored, not fail.
  EXPECT_EQ(score1(crit("answer", {{"equals", "1"}}), "1").outcome, Outcome::kUnscored);
}

TEST(Scorers, BadArgumentsFailAtBuildTime) {
  EXPECT_THROW(make_scorer(crit("regex", {{"pattern", "(unclosed"}})), ConfigError);
  EXPECT_THROW(make_scorer(crit("regex", {{"patern", "x"}})), ConfigError);
  EXPECT_THROW(make_scorer(crit("word-count", nlohmann::json::object())), ConfigError);
  EXPECT_THROW(make_scorer(crit("word-count", {{"min", 5}, {"max", 2}})), ConfigError);
  EXPECT_THROW(make_scorer(crit("json-schema", {{"schema", {{"type", "strnig"}}}})), ConfigError);
  EXPECT_THROW(make_scorer(crit("json-path", {{"path", "a.b"}, {"equals", 1}})), ConfigError);
  EXPECT_THROW(make_scorer(crit("nosuch", nlohmann::json::object())), ConfigError);
  try {
    make_scorer(crit("contians", {{"value", "x"}}));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'contains'"), std::string::npos) << e.what();
  }
}
