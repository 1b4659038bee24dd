// Properties every scorer must keep on any output, plus the JSON schema subset keyword by keyword.
#include <gtest/gtest.h>

#include "scorer/scorer.h"
#include "util/error.h"

using namespace wobble;

namespace {

CriterionSpec crit(const std::string& scorer, nlohmann::json args, bool negate = false) {
  CriterionSpec s;
  s.id = "k";
  s.scorer = scorer;
  s.args = std::move(args);
  s.negate = negate;
  s.source = "test.yaml:1";
  return s;
}

CriterionResult score1(const CriterionSpec& spec, const std::string& output,
                       std::optional<ExtractorSpec> extractor = std::nullopt) {
  Case c;
  c.id = "c";
  c.rubric.criteria = {spec};
  c.rubric.answer_extractor = std::move(extractor);
  return score_output(c, output).at(0);
}

// One valid argument set per registered scorer; the test fails if a scorer is added without one.
nlohmann::json args_for(const std::string& name) {
  if (name == "contains" || name == "icontains" || name == "equals" || name == "starts-with") return {{"value", "a"}};
  if (name == "regex") return {{"pattern", "a+"}};
  if (name == "is-json") return nlohmann::json::object();
  if (name == "json-schema") return {{"schema", {{"type", "object"}}}};
  if (name == "json-path") return {{"path", "$.a"}, {"equals", 1}};
  if (name == "word-count" || name == "char-count" || name == "line-count") return {{"min", 1}, {"max", 3}};
  if (name == "numeric") return {{"value", "1"}};
  if (name == "refusal") return nlohmann::json::object();
  if (name == "answer") return {{"equals", "1"}};
  if (name == "judge") return {{"rubric", "The answer is 1."}};  // without a judge pool: unscored
  return nullptr;
}

}  // namespace

TEST(ScorerProperties, EveryScorerKeepsTheResultContractOnHostileOutputs) {
  const std::vector<std::string> outputs = {
      "a",
      "{\"a\": 1}",
      "I'm sorry, but I can't help with that.",
      "aaaa bbbb\ncccc\ndddd eeee ffff",
      std::string("\xff\xfe\xfd invalid \xc3 utf8 a 1", 21),
      std::string("nul\0inside a 1", 14),
      "```json\n{\"a\": 1}\n```",
      std::string(100000, '{'),
      "   \n\t  ",
  };
  ExtractorSpec number{"number", nlohmann::json::object()};
  for (const std::string& name : scorer_names()) {
    nlohmann::json args = args_for(name);
    ASSERT_FALSE(args.is_null()) << "no argument set for scorer '" << name << "' in this test";
    for (bool negate : {false, true}) {
      for (const std::string& out : outputs) {
        CriterionResult r = score1(crit(name, args, negate), out, number);
        SCOPED_TRACE(name + (negate ? " (not)" : "") + " on " + out.substr(0, 30));
        EXPECT_GE(r.score, 0.0);
        EXPECT_LE(r.score, 1.0);
        EXPECT_FALSE(r.reason.empty());
        EXPECT_EQ(r.criterion_id, "k");
        if (r.outcome == Outcome::kPass) {
          EXPECT_GT(r.score, 0.0);
        } else {
          EXPECT_LT(r.score, 1.0);
        }
        // A span, when given, lies inside the output.
        if (r.evidence.start >= 0) {
          EXPECT_LE(r.evidence.start, r.evidence.end);
          EXPECT_LE(r.evidence.end, int64_t(out.size()));
        }
      }
      // An empty output is never graded.
      EXPECT_EQ(score1(crit(name, args, negate), "", number).outcome, Outcome::kUnscored) << name;
    }
  }
}

TEST(ScorerProperties, MatchEvidenceQuotesTheExactBytes) {
  std::string out = std::string("\xff pre ") + "Match-Me \xc3 post";
  for (auto spec : {crit("contains", {{"value", "Match-Me"}}), crit("icontains", {{"value", "match-me"}}),
                    crit("regex", {{"pattern", "M\\w+-Me"}})}) {
    CriterionResult r = score1(spec, out);
    ASSERT_EQ(r.outcome, Outcome::kPass) << spec.scorer << ": " << r.reason;
    ASSERT_GE(r.evidence.start, 0);
    EXPECT_EQ(r.evidence.text, out.substr(r.evidence.start, r.evidence.end - r.evidence.start)) << spec.scorer;
    EXPECT_EQ(r.evidence.text, "Match-Me");
  }
}

TEST(ScorerProperties, EqualsTrimAndRefusalCustomPhrases) {
  EXPECT_EQ(score1(crit("equals", {{"value", "yes"}, {"trim", false}}), " yes").outcome, Outcome::kFail);
  // Custom phrases add to the defaults unless replace_defaults is set.
  auto custom = crit("refusal", {{"phrases", {"not my department"}}});
  EXPECT_EQ(score1(custom, "That is not my department.").outcome, Outcome::kPass);
  EXPECT_EQ(score1(custom, "I'm sorry, but no.").outcome, Outcome::kPass);
  auto only = crit("refusal", {{"phrases", {"not my department"}}, {"replace_defaults", true}});
  EXPECT_EQ(score1(only, "I'm sorry, but no.").outcome, Outcome::kFail);
}

TEST(ScorerProperties, ExtractorsFirstLineAndRegexWholeMatch) {
  Case c;
  c.rubric.answer_extractor = ExtractorSpec{"first-line", nlohmann::json::object()};
  EXPECT_EQ(extract_answer(c, "\n\n  first \nsecond"), "first");
  EXPECT_EQ(extract_answer(c, " \n \n"), std::nullopt);
  c.rubric.answer_extractor = ExtractorSpec{"regex", {{"pattern", "\\d+"}}};  // no group: the whole match
  EXPECT_EQ(extract_answer(c, "x 12 y 34"), "12");
  c.rubric.answer_extractor = ExtractorSpec{"regex", {{"pattern", "(x) (\\d+)"}, {"group", 2}}};
  EXPECT_EQ(extract_answer(c, "x 12 y 34"), "12");
  // The case's extractor overrides the rubric's.
  c.answer_extractor = ExtractorSpec{"number", nlohmann::json::object()};
  EXPECT_EQ(extract_answer(c, "x 12 y 34"), "34");
}

TEST(ScorerProperties, JsonSchemaKeywordByKeyword) {
  auto check = [](const nlohmann::json& schema, const std::string& doc) {
    return score1(crit("json-schema", {{"schema", schema}}), doc);
  };
  nlohmann::json colors = {{"enum", {"red", "green"}}};
  EXPECT_EQ(check(colors, "\"red\"").outcome, Outcome::kPass);
  EXPECT_EQ(check(colors, "\"blue\"").outcome, Outcome::kFail);

  nlohmann::json closed = {{"type", "object"},
                           {"properties", {{"a", {{"type", "integer"}}}}},
                           {"additionalProperties", false}};
  EXPECT_EQ(check(closed, "{\"a\": 1}").outcome, Outcome::kPass);
  auto extra = check(closed, "{\"a\": 1, \"b\": 2}");
  EXPECT_EQ(extra.outcome, Outcome::kFail);
  EXPECT_NE(extra.evidence.text.find("$.b"), std::string::npos) << extra.evidence.text;

  nlohmann::json list = {{"type", "array"}, {"minItems", 1}, {"maxItems", 2}, {"items", {{"type", "string"}, {"maxLength", 3}}}};
  EXPECT_EQ(check(list, "[\"ab\"]").outcome, Outcome::kPass);
  EXPECT_EQ(check(list, "[]").outcome, Outcome::kFail);
  EXPECT_EQ(check(list, "[\"a\", \"b\", \"c\"]").outcome, Outcome::kFail);
  auto long_item = check(list, "[\"ab\", \"abcd\"]");
  EXPECT_EQ(long_item.outcome, Outcome::kFail);
  EXPECT_EQ(long_item.evidence.text.rfind("$[1]", 0), 0u) << long_item.evidence.text;

  nlohmann::json range = {{"type", "number"}, {"minimum", 0}, {"maximum", 1}};
  EXPECT_EQ(check(range, "0.5").outcome, Outcome::kPass);
  EXPECT_EQ(check(range, "1.5").outcome, Outcome::kFail);
  EXPECT_EQ(check(range, "-1").outcome, Outcome::kFail);
  EXPECT_EQ(check(range, "\"0.5\"").outcome, Outcome::kFail);  // a string is not a number

  nlohmann::json nested = {{"type", "object"},
                           {"properties", {{"items", {{"type", "array"}, {"items", {{"type", "object"}, {"required", {"name"}}, {"properties", {{"name", {{"type", "string"}, {"minLength", 1}}}}}}}}}}}};
  auto deep = check(nested, R"({"items": [{"name": "a"}, {"name": "b"}, {"name": 3}]})");
  EXPECT_EQ(deep.outcome, Outcome::kFail);
  EXPECT_EQ(deep.evidence.text.rfind("$.items[2].name", 0), 0u) << deep.evidence.text;
  EXPECT_NE(deep.reason.find("$.items[2].name"), std::string::npos) << deep.reason;
}
