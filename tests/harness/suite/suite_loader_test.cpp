// Suite and rubric loading: every validation error names file, line and field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "suite/suite.h"
#include "util/error.h"
#include "util/sha256.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

class SuiteFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("wobble-suite-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "rubrics");
    write("rubrics/r.yaml", "name: r\ncriteria:\n  - id: has\n    scorer: contains\n    args: {value: \"{{answer}}\"}\n");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  // Loads and returns the ConfigError message, failing the test if loading succeeds.
  std::string error_of(const std::string& text) {
    std::string p = write("s.yaml", text);
    try {
      load_suite(p);
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.exit_code(), kExitUsage);
      return e.what();
    }
    ADD_FAILURE() << "suite loaded without error";
    return "";
  }
  fs::path dir_;
};

const char* kGood = R"(name: demo
provider: {kind: openai, base_url: "http://127.0.0.1:9/v1/", model: m, api_key_env: KEY}
sampling: {temperature: 0.5, max_tokens: 10, seed: 7, stop: ["\n\n"]}
repeats: 3
variants:
  - id: plain
    prompt: "Q: {{q}}"
  - id: chat
    messages:
      - system: "Be brief."
      - {role: user, content: "{{q}}"}
  - id: skel
    role: a math expert
    audience: children
    output_format: "Answer: <n>"
    steps: [think, answer]
    examples: [{input: "1+1", output: "Answer: 2"}]
    task: "{{q}}"
cases:
  - id: a
    vars: {q: "2+2?", answer: 4}
    rubric: rubrics/r.yaml
    tags: [easy]
    repeats: 5
    sampling: {temperature: 0}
  - id: b
    vars: {q: "3+3?", answer: "6"}
    rubric:
      - {id: n, scorer: numeric, args: {value: "{{answer}}"}}
)";

}  // namespace

TEST_F(SuiteFiles, LoadsEveryFormAndExpandsTheSkeleton) {
  Suite s = load_suite(write("s.yaml", kGood));
  EXPECT_EQ(s.name, "demo");
  EXPECT_EQ(s.provider.base_url, "http://127.0.0.1:9/v1");  // trailing slash dropped
  EXPECT_EQ(s.provider.api_key_env, "KEY");
  ASSERT_EQ(s.variants.size(), 3u);
  EXPECT_EQ(*s.variants[0].prompt, "Q: {{q}}");
  ASSERT_EQ(s.variants[1].messages.size(), 2u);
  EXPECT_EQ(s.variants[1].messages[0].role, "system");
  const auto& skel = s.variants[2].messages;
  ASSERT_EQ(skel.size(), 2u);
  EXPECT_EQ(skel[0].content,
            "You are a math expert.\nAudience: children\nOutput format: Answer: <n>\nSteps:\n1. think\n2. answer");
  EXPECT_EQ(skel[1].content, "Example input: 1+1\nExample output: Answer: 2\n\n{{q}}");
  EXPECT_EQ(s.cases[0].vars.at("answer"), "4");
  EXPECT_EQ(s.repeats_for(s.cases[0]), 5);
  EXPECT_EQ(s.repeats_for(s.cases[1]), 3);
  EXPECT_EQ(s.sampling_for(s.cases[0]).temperature, 0);
  EXPECT_EQ(s.sampling_for(s.cases[1]).temperature, 0.5);
  EXPECT_EQ(s.sampling_for(s.cases[1]).seed, 7u);
  EXPECT_EQ(render_prompt(s.variants[0], s.cases[1]).as_text(), "Q: 3+3?");
  filter_cases(s, {}, {"easy"});
  ASSERT_EQ(s.cases.size(), 1u);
  EXPECT_EQ(s.cases[0].id, "a");
  // The snapshot never holds the key, only the variable's name.
  EXPECT_EQ(suite_to_json(s)["provider"]["api_key_env"], "KEY");
}

TEST_F(SuiteFiles, JsonSuitesAreAccepted) {
  std::string p = write("s.json", R"({"name": "j", "variants": [{"id": "v", "prompt": "{{x}}"}],
    "cases": [{"id": "c", "vars": {"x": "hi"}, "rubric": [{"id": "k", "scorer": "contains", "args": {"value": "hi"}}]}]})");
  Suite s = load_suite(p);
  EXPECT_EQ(s.provider.kind, "local");
  EXPECT_EQ(s.cases[0].rubric.criteria[0].scorer, "contains");
}

TEST_F(SuiteFiles, ContentHashCoversRubricFiles) {
  std::string p = write("s.yaml", kGood);
  std::string h1 = load_suite(p).content_hash;
  EXPECT_EQ(h1.size(), 64u);
  write("rubrics/r.yaml", "name: r\ncriteria:\n  - id: has\n    scorer: icontains\n    args: {value: \"{{answer}}\"}\n");
  EXPECT_NE(load_suite(p).content_hash, h1);
}

TEST_F(SuiteFiles, SyntaxErrorNamesTheLine) {
  auto e = error_of("name: x\nvariants:\n  - id: [unclosed\n");
  EXPECT_NE(e.find("s.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("syntax error"), std::string::npos) << e;
}

TEST_F(SuiteFiles, UnknownKeyIsAnErrorWithSuggestion) {
  auto e = error_of("name: x\nsampling: {temprature: 1}\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:2: sampling.temprature: unknown key (did you mean 'temperature'?)"), std::string::npos) << e;
}

TEST_F(SuiteFiles, MissingRequiredField) {
  auto e = error_of("variants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml}]\n");
  EXPECT_NE(e.find("name: is required"), std::string::npos) << e;
}

TEST_F(SuiteFiles, WrongTypeAndRange) {
  auto e = error_of("name: x\nrepeats: many\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:2: repeats: expected a whole number, got 'many'"), std::string::npos) << e;
  e = error_of("name: x\nsampling:\n  top_p: 1.5\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:3: sampling.top_p: must be between 0 and 1"), std::string::npos) << e;
  e = error_of("name: x\nvariants: {id: v}\ncases: []\n");
  EXPECT_NE(e.find("variants: expected a list"), std::string::npos) << e;
}

TEST_F(SuiteFiles, DuplicateIds) {
  auto e = error_of("name: x\nvariants:\n  - {id: v, prompt: p}\n  - {id: v, prompt: q}\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:4: variants[1].id: duplicate variant id 'v'"), std::string::npos) << e;
  e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases:\n  - {id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}\n  - {id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}\n");
  EXPECT_NE(e.find("cases[1].id: duplicate case id 'c'"), std::string::npos) << e;
}

TEST_F(SuiteFiles, VariantNeedsExactlyOneForm) {
  auto e = error_of("name: x\nvariants:\n  - id: v\n    prompt: p\n    task: t\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:3: variants[0]: a variant needs exactly one of"), std::string::npos) << e;
  e = error_of("name: x\nvariants:\n  - id: v\n    messages: [{role: robot, content: hi}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("role must be system, user or assistant"), std::string::npos) << e;
}

TEST_F(SuiteFiles, MissingTemplateVariable) {
  auto e = error_of("name: x\nvariants: [{id: v, prompt: \"{{question}}\"}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:2: variants[0].prompt: case 'c': template uses '{{question}}' but the case has no var 'question'"),
            std::string::npos) << e;
  // In a chat message: the message's own line and index.
  e = error_of("name: x\nvariants:\n  - id: v\n    messages:\n      - system: hi\n      - user: \"{{q}}\"\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:6: variants[0].messages[1].user: case 'c'"), std::string::npos) << e;
  // In a skeleton list: the step's line.
  e = error_of("name: x\nvariants:\n  - id: v\n    task: t\n    steps:\n      - one\n      - \"{{how}}\"\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:7: variants[0].steps[1]: case 'c'"), std::string::npos) << e;
  // Only the case lacking the var is named.
  e = error_of("name: x\nvariants: [{id: v, prompt: \"{{q}}\"}]\ncases:\n  - {id: a, rubric: rubrics/r.yaml, vars: {q: 1, answer: 1}}\n  - {id: b, rubric: rubrics/r.yaml, vars: {answer: 1}}\n");
  EXPECT_NE(e.find("case 'b'"), std::string::npos) << e;
  // A rubric expectation using a var the case lacks: the rubric file and the criterion's line.
  e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml}]\n");
  EXPECT_NE(e.find("r.yaml:3: cases[0].rubric.criteria[0].args: case 'c': template uses '{{answer}}'"), std::string::npos) << e;
  // Unterminated placeholder.
  e = error_of("name: x\nvariants: [{id: v, prompt: \"{{q\"}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("s.yaml:2: variants[0].prompt: case 'c': unterminated '{{'"), std::string::npos) << e;
}

TEST_F(SuiteFiles, RubricProblemsNameTheRubricFile) {
  auto e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/nope.yaml}]\n");
  EXPECT_NE(e.find("s.yaml:3: cases[0].rubric: rubric file 'rubrics/nope.yaml' not found"), std::string::npos) << e;
  write("rubrics/bad.yaml", "name: b\ncriteria:\n  - id: k\n    scorer: regx\n");
  e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/bad.yaml}]\n");
  EXPECT_NE(e.find("bad.yaml:4: criteria[0].scorer"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'regex'"), std::string::npos) << e;
  write("rubrics/bad2.yaml", "name: b\ncriteria:\n  - id: k\n    scorer: regex\n    args:\n      pattern: \"(\"\n");
  e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/bad2.yaml}]\n");
  EXPECT_NE(e.find("bad2.yaml:6: criteria[0].args"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid regex"), std::string::npos) << e;
  write("rubrics/bad3.yaml", "name: b\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n  - {id: k, scorer: contains, args: {value: b}}\n");
  e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/bad3.yaml}]\n");
  EXPECT_NE(e.find("duplicate criterion id 'k'"), std::string::npos) << e;
  write("rubrics/bad4.yaml", "name: b\nanswer_extractor: {kind: regexp, pattern: x}\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n");
  e = error_of("name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/bad4.yaml}]\n");
  EXPECT_NE(e.find("unknown extractor kind 'regexp' (did you mean 'regex'?)"), std::string::npos) << e;
}

TEST_F(SuiteFiles, ProviderValidation) {
  auto e = error_of("name: x\nprovider: {kind: anthropic}\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("provider.kind: unknown provider kind 'anthropic'"), std::string::npos) << e;
  e = error_of("name: x\nprovider: {kind: openai, base_url: localhost:8000, model: m}\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("provider.base_url: must start with http:// or https://"), std::string::npos) << e;
  e = error_of("name: x\nprovider: {kind: openai, base_url: \"http://h\"}\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("provider.model: is required"), std::string::npos) << e;
  e = error_of("name: x\nprovider: {kind: local, chat_template: chatlm}\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n");
  EXPECT_NE(e.find("did you mean 'chatml'"), std::string::npos) << e;
}

TEST_F(SuiteFiles, EmptyAndMissingFiles) {
  EXPECT_NE(error_of("").find("suite file is empty"), std::string::npos);
  try {
    load_suite((dir_ / "absent.yaml").string());
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.yaml: cannot open file"), std::string::npos);
  }
}

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_F(SuiteFiles, ReasoningScopeAndTemplateSwitches) {
  const std::string tail = "variants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/s.yaml, vars: {answer: 1}}]\n";
  write("rubrics/s.yaml", "name: s\ncriteria:\n  - id: k\n    scope: thinking\n    scorer: contains\n    args: {value: x}\n");
  auto e = error_of("name: x\nprovider: {kind: local}\n" + tail);
  EXPECT_NE(e.find("s.yaml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("scope: must be 'answer', 'reasoning' or 'raw', not 'thinking'"), std::string::npos) << e;
  write("rubrics/s.yaml", "name: s\ncriteria:\n  - id: k\n    scope: reasoning\n    scorer: contains\n    args: {value: x}\n");
  std::string p = write("ok.yaml", "name: x\nprovider: {kind: local, chat_template: qwen3, thinking: false}\n" + tail);
  Suite s = load_suite(p);
  EXPECT_EQ(s.cases.at(0).rubric.criteria.at(0).scope, Scope::kReasoning);
  EXPECT_EQ(s.provider.thinking, std::optional<bool>(false));
  // The scope is part of what the run records, and survives the snapshot.
  Suite again = suite_from_json(suite_to_json(s));
  EXPECT_EQ(again.cases.at(0).rubric.criteria.at(0).scope, Scope::kReasoning);
  EXPECT_EQ(again.provider.thinking, std::optional<bool>(false));
  e = error_of("name: x\nprovider: {kind: local, chat_template: harmony, reasoning_effort: extreme}\n" + tail);
  EXPECT_NE(e.find("provider.reasoning_effort: must be 'low', 'medium' or 'high'"), std::string::npos) << e;
  e = error_of("name: x\nprovider: {kind: local, chat_template: harmony, chat_date: 2026-13-01}\n" + tail);
  EXPECT_NE(e.find("provider.chat_date: must be a date written YYYY-MM-DD"), std::string::npos) << e;
  e = error_of("name: x\nprovider: {kind: local, chat_template: harmoni}\n" + tail);
  EXPECT_NE(e.find("did you mean 'harmony'"), std::string::npos) << e;
}
