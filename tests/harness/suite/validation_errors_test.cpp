// One test row per validation error kind: each asserts the file, the 1-based line and the dotted
// field path the message names, so a user can jump straight to the mistake.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "suite/suite.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

struct ErrorCase {
  const char* name;
  const char* file;      // file to load ("s.yaml" or "s.json")
  const char* text;      // its content
  const char* expected;  // substring of what(), "<file>:<line>: <field>: <message>"
  int line;              // expected ConfigError::line()
  const char* field;     // expected ConfigError::field()
};

// A rubric file every row may reference; rows needing a broken rubric write their own.
const char* kRubric = "name: r\ncriteria:\n  - id: has\n    scorer: contains\n    args: {value: \"{{answer}}\"}\n";

// Minimal valid tails so each row breaks exactly one thing.
#define V "variants: [{id: v, prompt: p}]\n"
#define C "cases: [{id: c, rubric: rubrics/r.yaml, vars: {answer: 1}}]\n"

const ErrorCase kSuiteErrors[] = {
    {"yaml_syntax", "s.yaml", "name: x\n" V "cases:\n  - id: [c\n", "s.yaml:5: syntax error", 5, ""},
    {"json_syntax", "s.json", "{\"name\": \"x\",\n \"variants\": [}\n", "s.json:2: syntax error", 2, ""},
    {"json_unknown_key", "s.json",
     "{\"name\": \"x\",\n \"variants\": [{\"id\": \"v\", \"prompt\": \"p\"}],\n \"cases\": [{\"id\": \"c\",\n   \"rubrik\": \"r\"}]}\n",
     "s.json:4: cases[0].rubrik: unknown key (did you mean 'rubric'?)", 4, "cases[0].rubrik"},
    {"unknown_top_key", "s.yaml", "name: x\nrepeat: 3\n" V C, "s.yaml:2: repeat: unknown key (did you mean 'repeats'?)", 2,
     "repeat"},
    {"unknown_key_no_hint", "s.yaml", "name: x\n" V C "zzzzzzzzzz: 1\n", "s.yaml:4: zzzzzzzzzz: unknown key", 4,
     "zzzzzzzzzz"},
    {"duplicate_yaml_key", "s.yaml", "name: x\nname: y\n" V C, "s.yaml:2: name: duplicate key", 2, "name"},
    // A missing key is reported at the line of the map that should hold it.
    {"missing_name", "s.yaml", V C, "s.yaml:1: name: is required", 1, "name"},
    {"missing_variants", "s.yaml", "name: x\n" C, "s.yaml:1: variants: is required", 1, "variants"},
    {"empty_variants", "s.yaml", "name: x\nvariants: []\n" C, "s.yaml:2: variants: needs at least one variant", 2,
     "variants"},
    {"structured_openai_judge", "s.yaml",
     "name: x\n" V C "judge:\n  provider: {kind: openai, base_url: \"http://127.0.0.1:9/v1\", model: m}\n  structured: true\n",
     "s.yaml:6: judge.structured: structured decoding needs the bundled engine", 6, "judge.structured"},
    {"empty_cases", "s.yaml", "name: x\n" V "cases: []\n", "s.yaml:3: cases: needs at least one case", 3, "cases"},
    {"variant_missing_id", "s.yaml", "name: x\nvariants:\n  - prompt: p\n" C, "variants[0].id: is required", 3,
     "variants[0].id"},
    {"variant_no_form", "s.yaml", "name: x\nvariants:\n  - id: v\n" C,
     "s.yaml:3: variants[0]: a variant needs exactly one of", 3, "variants[0]"},
    {"variant_empty_messages", "s.yaml", "name: x\nvariants:\n  - id: v\n    messages: []\n" C,
     "s.yaml:4: variants[0].messages: needs at least one message", 4, "variants[0].messages"},
    {"message_bad_role", "s.yaml", "name: x\nvariants:\n  - id: v\n    messages:\n      - {role: robot, content: hi}\n" C,
     "s.yaml:5: variants[0].messages[0].role: role must be", 5, "variants[0].messages[0].role"},
    {"message_unknown_key", "s.yaml",
     "name: x\nvariants:\n  - id: v\n    messages:\n      - {role: user, contents: hi}\n" C,
     "s.yaml:5: variants[0].messages[0].contents: unknown key (did you mean 'content'?)", 5,
     "variants[0].messages[0].contents"},
    {"skeleton_with_prompt", "s.yaml", "name: x\nvariants:\n  - id: v\n    prompt: p\n    audience: kids\n" C,
     "s.yaml:5: variants[0].audience: skeleton keys cannot be mixed with 'prompt'", 5, "variants[0].audience"},
    {"skeleton_with_messages", "s.yaml",
     "name: x\nvariants:\n  - id: v\n    messages: [{user: hi}]\n    language: French\n" C,
     "s.yaml:5: variants[0].language: skeleton keys cannot be mixed with 'messages'", 5, "variants[0].language"},
    {"skeleton_example_key", "s.yaml",
     "name: x\nvariants:\n  - id: v\n    task: t\n    examples:\n      - {input: a, answer: b}\n" C,
     "s.yaml:6: variants[0].examples[0].answer: unknown key", 6, "variants[0].examples[0].answer"},
    {"case_empty_id", "s.yaml", "name: x\n" V "cases:\n  - id: \"\"\n    rubric: rubrics/r.yaml\n",
     "s.yaml:4: cases[0].id: must not be empty", 4, "cases[0].id"},
    {"case_var_not_scalar", "s.yaml", "name: x\n" V "cases:\n  - id: c\n    rubric: rubrics/r.yaml\n    vars:\n      answer: [1, 2]\n",
     "s.yaml:7: cases[0].vars.answer: expected a string", 7, "cases[0].vars.answer"},
    {"case_without_rubric", "s.yaml", "name: x\n" V "cases:\n  - id: c\n",
     "s.yaml:4: cases[0]: case has no rubric and the suite names no default 'rubric'", 4, "cases[0]"},
    {"case_repeats_range", "s.yaml", "name: x\n" V "cases:\n  - {id: c, rubric: rubrics/r.yaml, vars: {answer: 1}, repeats: 0}\n",
     "s.yaml:4: cases[0].repeats: must be between 1 and 10000", 4, "cases[0].repeats"},
    {"case_tags_type", "s.yaml", "name: x\n" V "cases:\n  - id: c\n    rubric: rubrics/r.yaml\n    vars: {answer: 1}\n    tags: {a: b}\n",
     "s.yaml:7: cases[0].tags", 7, "cases[0].tags"},
    {"case_sampling_unknown", "s.yaml", "name: x\n" V "cases:\n  - id: c\n    rubric: rubrics/r.yaml\n    vars: {answer: 1}\n    sampling:\n      max_token: 5\n",
     "s.yaml:8: cases[0].sampling.max_token: unknown key (did you mean 'max_tokens'?)", 8,
     "cases[0].sampling.max_token"},
    {"repeats_range", "s.yaml", "name: x\nrepeats: 10001\n" V C, "s.yaml:2: repeats: must be between 1 and 10000", 2,
     "repeats"},
    {"repeats_type", "s.yaml", "name: x\nrepeats: 2.5\n" V C, "s.yaml:2: repeats: expected a whole number, got '2.5'", 2,
     "repeats"},
    {"temperature_negative", "s.yaml", "name: x\nsampling:\n  temperature: -0.1\n" V C,
     "s.yaml:3: sampling.temperature: must be between 0 and", 3, "sampling.temperature"},
    {"temperature_type", "s.yaml", "name: x\nsampling:\n  temperature: hot\n" V C,
     "s.yaml:3: sampling.temperature: expected a number, got 'hot'", 3, "sampling.temperature"},
    {"top_p_zero", "s.yaml", "name: x\nsampling:\n  top_p: 0\n" V C, "s.yaml:3: sampling.top_p: must be greater than 0", 3,
     "sampling.top_p"},
    {"max_tokens_zero", "s.yaml", "name: x\nsampling:\n  max_tokens: 0\n" V C,
     "s.yaml:3: sampling.max_tokens: must be between 1 and", 3, "sampling.max_tokens"},
    {"stop_empty_string", "s.yaml", "name: x\nsampling:\n  stop: [\"\"]\n" V C,
     "s.yaml:3: sampling.stop: stop strings must not be empty", 3, "sampling.stop"},
    {"gate_range", "s.yaml", "name: x\ngate:\n  min_pass_rate: 1.5\n" V C,
     "s.yaml:3: gate.min_pass_rate: must be between 0 and 1", 3, "gate.min_pass_rate"},
    {"gate_unknown", "s.yaml", "name: x\ngate:\n  max_unstabel: 1\n" V C,
     "s.yaml:3: gate.max_unstabel: unknown key (did you mean 'max_unstable'?)", 3, "gate.max_unstabel"},
    {"provider_not_map", "s.yaml", "name: x\nprovider: openai\n" V C, "s.yaml:2: provider: expected a mapping", 2,
     "provider"},
    {"provider_concurrency_range", "s.yaml",
     "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n  model: m\n  max_concurrency: 2000\n" V C,
     "s.yaml:6: provider.max_concurrency: must be between 1 and 1024", 6, "provider.max_concurrency"},
    {"provider_endpoint", "s.yaml",
     "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n  model: m\n  endpoint: responses\n" V C,
     "s.yaml:6: provider.endpoint: must be 'chat' or 'completions'", 6, "provider.endpoint"},
    {"provider_weights", "s.yaml", "name: x\nprovider:\n  kind: local\n  weights: hugepages\n" V C,
     "s.yaml:4: provider.weights: must be 'auto', 'mapped' or 'copy'", 4, "provider.weights"},
    {"provider_weights_of_other_kind", "s.yaml",
     "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n  model: m\n  weights: copy\n" V C,
     "s.yaml:6: provider.weights: unknown key", 6, "provider.weights"},
    {"provider_key_of_other_kind", "s.yaml",
     "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n  model: m\n  threads: 4\n" V C,
     "s.yaml:6: provider.threads: unknown key", 6, "provider.threads"},
    {"provider_logprobs_type", "s.yaml",
     "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n  model: m\n  logprobs: maybe\n" V C,
     "s.yaml:6: provider.logprobs: expected true or false, got 'maybe'", 6, "provider.logprobs"},
    {"inline_rubric_criterion_missing_scorer", "s.yaml",
     "name: x\n" V "cases:\n  - id: c\n    rubric:\n      - id: k\n        args: {value: a}\n",
     "s.yaml:6: cases[0].rubric[0].scorer: is required", 6, "cases[0].rubric[0].scorer"},
    {"inline_rubric_weight_negative", "s.yaml",
     "name: x\n" V "cases:\n  - id: c\n    rubric:\n      criteria:\n        - {id: k, scorer: contains, args: {value: a}, weight: -1}\n",
     "s.yaml:7: cases[0].rubric.criteria[0].weight: must be between 0 and", 7, "cases[0].rubric.criteria[0].weight"},
    {"inline_rubric_not_type", "s.yaml",
     "name: x\n" V "cases:\n  - id: c\n    rubric:\n      - {id: k, scorer: contains, args: {value: a}, not: yes please}\n",
     "s.yaml:6: cases[0].rubric[0].not: expected true or false", 6, "cases[0].rubric[0].not"},
    {"inline_rubric_empty", "s.yaml", "name: x\n" V "cases:\n  - id: c\n    rubric:\n      criteria: []\n",
     "s.yaml:6: cases[0].rubric.criteria: a rubric needs at least one criterion", 6, "cases[0].rubric.criteria"},
    {"inline_rubric_bad_args", "s.yaml",
     "name: x\n" V "cases:\n  - id: c\n    rubric:\n      - id: k\n        scorer: word-count\n        args: {min: many}\n",
     "s.yaml:8: cases[0].rubric[0].args.min: expected a number", 8, "cases[0].rubric[0].args.min"},
    {"extractor_regex_without_pattern", "s.yaml",
     "name: x\n" V "cases:\n  - id: c\n    rubric: rubrics/r.yaml\n    vars: {answer: 1}\n    answer_extractor: {kind: regex}\n",
     "s.yaml:7: cases[0].answer_extractor: regex extractor needs 'pattern'", 7, "cases[0].answer_extractor"},
    {"extractor_json_path_without_path", "s.yaml",
     "name: x\n" V "cases:\n  - id: c\n    rubric: rubrics/r.yaml\n    vars: {answer: 1}\n    answer_extractor:\n      kind: json-path\n",
     "s.yaml:8: cases[0].answer_extractor: json-path extractor needs 'path'", 8, "cases[0].answer_extractor"},
    {"non_string_var_key", "s.yaml", "name: x\n" V "cases:\n  - id: c\n    vars: {[a]: 1}\n    rubric: [{id: k, scorer: contains, args: {value: a}}]\n",
     "s.yaml:5: cases[0].vars: keys must be plain strings", 5, "cases[0].vars"},
    {"non_string_arg_key", "s.yaml", "name: x\n" V "cases:\n  - id: c\n    rubric: [{id: k, scorer: json-schema, args: {schema: {[x]: 1}}}]\n",
     "s.yaml:5: cases[0].rubric[0].args.schema: keys must be plain strings", 5, "cases[0].rubric[0].args.schema"},
    {"top_level_not_map", "s.yaml", "- a\n- b\n", "s.yaml:1: expected a mapping", 1, ""},
    {"default_rubric_missing_file", "s.yaml", "name: x\nrubric: nowhere.yaml\n" V C,
     "s.yaml:2: rubric: rubric file 'nowhere.yaml' not found", 2, "rubric"},
};

#undef V
#undef C

void PrintTo(const ErrorCase& ec, std::ostream* os) { *os << ec.name; }

class ValidationErrors : public ::testing::TestWithParam<ErrorCase> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wobble-verr-" + std::to_string(::getpid()) + "-" + std::string(GetParam().name));
    fs::create_directories(dir_ / "rubrics");
    std::ofstream(dir_ / "rubrics/r.yaml") << kRubric;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_P(ValidationErrors, NamesFileLineAndField) {
  const ErrorCase& ec = GetParam();
  fs::path p = dir_ / ec.file;
  std::ofstream(p) << ec.text;
  try {
    load_suite(p.string());
    FAIL() << "loaded without error";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_EQ(e.exit_code(), kExitUsage);
    EXPECT_NE(what.find(ec.expected), std::string::npos) << what;
    EXPECT_EQ(what.rfind(p.string(), 0), 0u) << "message must start with the file path: " << what;
    EXPECT_EQ(e.file(), p.string());
    EXPECT_EQ(e.line(), ec.line) << what;
    EXPECT_EQ(e.field(), ec.field) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Suite, ValidationErrors, ::testing::ValuesIn(kSuiteErrors),
                         [](const auto& info) { return std::string(info.param.name); });

// Rubric-file errors: the message names the rubric file, not the suite that refers to it.
struct RubricErrorCase {
  const char* name;
  const char* rubric;    // content of rubrics/bad.yaml
  const char* expected;  // substring of what()
  int line;
  const char* field;
};

const RubricErrorCase kRubricErrors[] = {
    {"empty_file", "", "bad.yaml: rubric file is empty", 0, ""},
    {"unknown_rubric_key", "name: b\ncriterias: []\n", "bad.yaml:2: criterias: unknown key (did you mean 'criteria'?)", 2,
     "criterias"},
    {"missing_criteria", "name: b\n", "bad.yaml:1: criteria: is required", 1, "criteria"},
    {"criterion_unknown_key", "criteria:\n  - id: k\n    scorer: contains\n    arg: {value: a}\n",
     "bad.yaml:4: criteria[0].arg: unknown key (did you mean 'args'?)", 4, "criteria[0].arg"},
    {"criterion_missing_id", "criteria:\n  - scorer: contains\n    args: {value: a}\n",
     "bad.yaml:2: criteria[0].id: is required", 2, "criteria[0].id"},
    {"unknown_scorer", "criteria:\n  - id: k\n    scorer: regx\n", "bad.yaml:3: criteria[0].scorer", 3,
     "criteria[0].scorer"},
    {"args_not_map", "criteria:\n  - id: k\n    scorer: contains\n    args: [a]\n",
     "bad.yaml:4: criteria[0].args: expected a mapping", 4, "criteria[0].args"},
    {"unknown_arg", "criteria:\n  - id: k\n    scorer: contains\n    args:\n      valu: a\n",
     "bad.yaml:5: criteria[0].args.valu: unknown argument for scorer 'contains' (did you mean 'value'?)", 5,
     "criteria[0].args.valu"},
    {"missing_arg", "criteria:\n  - id: k\n    scorer: regex\n    args: {ignore_case: true}\n", "bad.yaml:4: criteria[0].args.pattern: is required", 4,
     "criteria[0].args.pattern"},
    {"invalid_regex", "criteria:\n  - id: k\n    scorer: regex\n    args:\n      pattern: \"a(b\"\n", "bad.yaml:5: criteria[0].args.pattern: invalid regex", 5,
     "criteria[0].args.pattern"},
    {"bad_json_path", "criteria:\n  - id: k\n    scorer: json-path\n    args: {path: \"a.b\", equals: 1}\n", "bad.yaml:4: criteria[0].args.path: JSON path must start with '$'", 4,
     "criteria[0].args.path"},
    {"bad_schema_keyword", "criteria:\n  - id: k\n    scorer: json-schema\n    args:\n      schema: {type: objekt}\n",
     "bad.yaml:5: criteria[0].args.schema: bad schema type \"objekt\"", 5, "criteria[0].args.schema"},
    {"count_bounds_swapped", "criteria:\n  - id: k\n    scorer: word-count\n    args: {min: 10, max: 2}\n", "bad.yaml:4: criteria[0].args.max: must be >= min", 4,
     "criteria[0].args.max"},
    {"duplicate_criterion", "criteria:\n  - {id: k, scorer: contains, args: {value: a}}\n  - {id: k, scorer: contains, args: {value: b}}\n",
     "bad.yaml:3: criteria[1].id: duplicate criterion id 'k'", 3, "criteria[1].id"},
    {"extractor_unknown_kind", "answer_extractor: {kind: regexp, pattern: x}\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n",
     "bad.yaml:1: answer_extractor: unknown extractor kind 'regexp' (did you mean 'regex'?)", 1, "answer_extractor"},
    {"extractor_bad_regex", "answer_extractor:\n  kind: regex\n  pattern: \"Answer: (\\\\d+\"\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n",
     "bad.yaml:3: answer_extractor.pattern: invalid regex", 3, "answer_extractor.pattern"},
    {"extractor_group_out_of_range", "answer_extractor:\n  kind: regex\n  pattern: \"Answer: (\\\\d+)\"\n  group: 2\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n",
     "bad.yaml:4: answer_extractor.group: must be a group number between 0 and 1", 4, "answer_extractor.group"},
    {"extractor_bad_path", "answer_extractor: {kind: json-path, path: answer}\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n",
     "bad.yaml:1: answer_extractor.path:", 1, "answer_extractor.path"},
    {"extractor_key_of_other_kind", "answer_extractor: {kind: number, pattern: x}\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n",
     "bad.yaml:1: answer_extractor.pattern: 'pattern' does not apply to a number extractor", 1, "answer_extractor.pattern"},
    {"extractor_unknown_key", "answer_extractor: {kind: regex, patern: x}\ncriteria:\n  - {id: k, scorer: contains, args: {value: a}}\n",
     "bad.yaml:1: answer_extractor.patern: unknown key (did you mean 'pattern'?)", 1, "answer_extractor.patern"},
};

class RubricValidationErrors : public ::testing::TestWithParam<RubricErrorCase> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wobble-rerr-" + std::to_string(::getpid()) + "-" + std::string(GetParam().name));
    fs::create_directories(dir_ / "rubrics");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

void PrintTo(const RubricErrorCase& ec, std::ostream* os) { *os << ec.name; }

TEST_P(RubricValidationErrors, NamesRubricFileLineAndField) {
  const RubricErrorCase& ec = GetParam();
  fs::path rubric = dir_ / "rubrics" / "bad.yaml";
  std::ofstream(rubric) << ec.rubric;
  fs::path suite = dir_ / "s.yaml";
  std::ofstream(suite) << "name: x\nvariants: [{id: v, prompt: p}]\ncases: [{id: c, rubric: rubrics/bad.yaml}]\n";
  try {
    load_suite(suite.string());
    FAIL() << "loaded without error";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_EQ(e.exit_code(), kExitUsage);
    EXPECT_NE(what.find(ec.expected), std::string::npos) << what;
    EXPECT_EQ(fs::path(e.file()).lexically_normal(), rubric.lexically_normal()) << what;
    EXPECT_EQ(e.line(), ec.line) << what;
    EXPECT_EQ(e.field(), ec.field) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Rubric, RubricValidationErrors, ::testing::ValuesIn(kRubricErrors),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
