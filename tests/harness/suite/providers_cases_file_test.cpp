// `providers:` lists, ${ENV} in provider fields, and cases read from JSONL/CSV files: every
// mistake must name the file, the line and the field a user has to fix.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "support/scratch.h"
#include "suite/suite.h"
#include "util/error.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

const char* kRubric = "rubric:\n  criteria:\n    - {id: has, scorer: contains, args: {value: \"{{answer}}\"}}\n";
const char* kVariant = "variants: [{id: v, prompt: \"{{q}}\"}]\n";

fs::path write(const std::string& name, const std::string& text) {
  static int n = 0;
  fs::path dir = testsupport::scratch_dir() / ("pc" + std::to_string(++n));
  fs::create_directories(dir);
  std::ofstream(dir / name) << text;
  return dir / name;
}

// Writes the suite and a data file next to it; returns the suite path.
std::string suite_with_cases(const std::string& data_name, const std::string& data) {
  fs::path suite = write("s.yaml", std::string("name: x\n") + kVariant + kRubric + "cases_file: " + data_name + "\n");
  std::ofstream(suite.parent_path() / data_name) << data;
  return suite.string();
}

// Loads `path` and returns the ConfigError it must raise.
ConfigError load_error(const std::string& path) {
  try {
    load_suite(path);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << path << " loaded without an error";
  return ConfigError("", 0, "", "");
}

}  // namespace

TEST(Providers, ListGivesEachProviderItsIdAndTheFirstIsTheHeadline) {
  auto p = write("s.yaml", std::string("name: x\nproviders:\n"
                                       "  - {id: hosted, kind: openai, base_url: http://h/v1, model: m1}\n"
                                       "  - {id: local-1, kind: local, sampling: {temperature: 0.5}}\n") +
                               kVariant + kRubric + "cases: [{id: c, vars: {q: a, answer: b}}]\n");
  Suite s = load_suite(p.string());
  ASSERT_EQ(s.providers.size(), 2u);
  EXPECT_EQ(s.providers[0].id, "hosted");
  EXPECT_EQ(s.providers[1].id, "local-1");
  EXPECT_EQ(s.provider.model, "m1");
  EXPECT_EQ(s.run_providers().size(), 2u);
  EXPECT_DOUBLE_EQ(s.sampling_for(s.cases[0], s.providers[1]).temperature, 0.5);
  // The snapshot keeps the list, ids and per-provider sampling.
  Suite back = suite_from_json(suite_to_json(s));
  ASSERT_EQ(back.providers.size(), 2u);
  EXPECT_EQ(back.providers[1].id, "local-1");
  EXPECT_EQ(back.providers[1].sampling.temperature, 0.5);
  EXPECT_EQ(describe_suite_change(s, back), "");
  Suite fewer = back;
  fewer.providers.pop_back();
  EXPECT_NE(describe_suite_change(s, fewer).find("providers hosted, local-1 -> hosted"), std::string::npos);
}

TEST(Providers, ListMistakesNameLineAndField) {
  const std::string tail = std::string(kVariant) + kRubric + "cases: [{id: c, vars: {q: a, answer: b}}]\n";
  auto dup = write("s.yaml", "name: x\nproviders:\n  - {id: a, kind: local}\n  - {id: a, kind: local}\n" + tail);
  auto e = load_error(dup.string());
  EXPECT_EQ(e.line(), 4);
  EXPECT_EQ(e.field(), "providers[1].id");
  EXPECT_NE(std::string(e.what()).find("duplicate provider id 'a' (first at line 3)"), std::string::npos) << e.what();

  auto both = write("s.yaml", "name: x\nprovider: {kind: local}\nproviders:\n  - {id: a, kind: local}\n" + tail);
  e = load_error(both.string());
  EXPECT_EQ(e.field(), "providers");
  EXPECT_NE(std::string(e.what()).find("not both"), std::string::npos) << e.what();

  auto no_id = write("s.yaml", "name: x\nproviders:\n  - {kind: local}\n" + tail);
  e = load_error(no_id.string());
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.field(), "providers[0]");

  auto bad_id = write("s.yaml", "name: x\nproviders:\n  - {id: \"a b\", kind: local}\n" + tail);
  EXPECT_EQ(load_error(bad_id.string()).field(), "providers[0].id");

  auto empty = write("s.yaml", "name: x\nproviders: []\n" + tail);
  EXPECT_NE(std::string(load_error(empty.string()).what()).find("needs at least one provider"), std::string::npos);
}

TEST(EnvInterpolation, ExpandsBaseUrlAndModelOnlyAndNamesTheFieldOfAnUnsetVariable) {
  ::setenv("WOBBLE_T_HOST", "127.0.0.1:9", 1);
  ::setenv("WOBBLE_T_MODEL", "served-model", 1);
  ::unsetenv("WOBBLE_T_UNSET");
  const std::string tail = std::string(kVariant) + kRubric + "cases: [{id: c, vars: {q: a, answer: b}}]\n";
  auto ok = write("s.yaml", "name: x\nprovider:\n  kind: openai\n  base_url: http://${WOBBLE_T_HOST}/v1/\n"
                            "  model: ${WOBBLE_T_MODEL}-v2\n" + tail);
  Suite s = load_suite(ok.string());
  EXPECT_EQ(s.provider.base_url, "http://127.0.0.1:9/v1");
  EXPECT_EQ(s.provider.model, "served-model-v2");
  EXPECT_EQ(suite_to_json(s)["provider"]["model"], "served-model-v2");  // stored expanded

  auto unset = write("s.yaml", "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n"
                               "  model: ${WOBBLE_T_UNSET}\n" + tail);
  auto e = load_error(unset.string());
  EXPECT_EQ(e.line(), 5);
  EXPECT_EQ(e.field(), "provider.model");
  EXPECT_NE(std::string(e.what()).find("environment variable 'WOBBLE_T_UNSET' is not set"), std::string::npos);

  auto open = write("s.yaml", "name: x\nprovider:\n  kind: openai\n  base_url: http://${WOBBLE_T_HOST/v1\n"
                              "  model: m\n" + tail);
  EXPECT_EQ(load_error(open.string()).field(), "provider.base_url");

  // The key field names a variable and is never expanded.
  auto key = write("s.yaml", "name: x\nprovider:\n  kind: openai\n  base_url: http://h/v1\n  model: m\n"
                             "  api_key_env: ${WOBBLE_T_MODEL}\n" + tail);
  e = load_error(key.string());
  EXPECT_EQ(e.field(), "provider.api_key_env");
  EXPECT_EQ(std::string(e.what()).find("served-model"), std::string::npos) << e.what();

  // Other fields keep ${...} literally (a prompt may legitimately contain it).
  auto literal = write("s.yaml", "name: x\nprovider: {kind: local}\nvariants: [{id: v, prompt: \"cost ${X}\"}]\n" +
                                     std::string(kRubric) + "cases: [{id: c, vars: {answer: b}}]\n");
  EXPECT_EQ(*load_suite(literal.string()).variants[0].prompt, "cost ${X}");
}

TEST(CasesFile, JsonlRowsBecomeCasesGradedByTheSuiteRubric) {
  auto path = suite_with_cases("cases.jsonl",
                               "{\"id\": \"a\", \"vars\": {\"q\": \"2+2?\", \"answer\": 4}, \"tags\": [\"math\"]}\n"
                               "\n"
                               "{\"id\": \"b\", \"vars\": {\"q\": \"name?\", \"answer\": \"wobble\"}}\n");
  Suite s = load_suite(path);
  ASSERT_EQ(s.cases.size(), 2u);
  EXPECT_EQ(s.cases[0].vars.at("answer"), "4");
  EXPECT_EQ(s.cases[0].tags, std::vector<std::string>{"math"});
  EXPECT_EQ(s.cases[1].rubric.criteria.at(0).id, "has");
  EXPECT_EQ(render_prompt(s.variants[0], s.cases[1]).as_text(), "name?");
}

TEST(CasesFile, CsvFollowsRfc4180Quoting) {
  auto path = suite_with_cases("cases.csv",
                               "\xEF\xBB\xBFid,tags,vars.q,vars.answer\r\n"
                               "a,math;easy,\"one, two\",\"say \"\"hi\"\"\"\r\n"
                               "b,,\"line 1\nline 2\",x\r\n"
                               "c,prose,plain,y\n");
  Suite s = load_suite(path);
  ASSERT_EQ(s.cases.size(), 3u);
  EXPECT_EQ(s.cases[0].id, "a");
  EXPECT_EQ(s.cases[0].tags, (std::vector<std::string>{"math", "easy"}));
  EXPECT_EQ(s.cases[0].vars.at("q"), "one, two");
  EXPECT_EQ(s.cases[0].vars.at("answer"), "say \"hi\"");
  EXPECT_EQ(s.cases[1].vars.at("q"), "line 1\nline 2");
  EXPECT_TRUE(s.cases[1].tags.empty());
  EXPECT_EQ(s.cases[2].vars.at("answer"), "y");
}

struct RowError {
  const char* name;
  const char* file;
  const char* data;
  int line;
  const char* message;
};

class CasesFileErrors : public ::testing::TestWithParam<RowError> {};

TEST_P(CasesFileErrors, NameTheDataFileAndLine) {
  const RowError& r = GetParam();
  std::string suite = suite_with_cases(r.file, r.data);
  ConfigError e = load_error(suite);
  std::string data_path = (fs::path(suite).parent_path() / r.file).lexically_normal().string();
  EXPECT_EQ(e.file(), data_path) << e.what();
  EXPECT_EQ(e.line(), r.line) << e.what();
  EXPECT_NE(std::string(e.what()).find(r.message), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).rfind(data_path + ":" + std::to_string(r.line) + ":", 0), 0u) << e.what();
}

const RowError kRowErrors[] = {
    {"jsonl_malformed", "c.jsonl", "{\"id\": \"a\"}\n{\"id\": \"b\",\n", 2, "malformed JSON row"},
    {"jsonl_not_object", "c.jsonl", "{\"id\": \"a\"}\n[1, 2]\n", 2, "each row is a JSON object"},
    {"jsonl_missing_id", "c.jsonl", "{\"id\": \"a\"}\n\n{\"vars\": {}}\n", 3, "row has no 'id'"},
    {"jsonl_duplicate_id", "c.jsonl", "{\"id\": \"a\"}\n{\"id\": \"a\"}\n", 2, "duplicate case id 'a' (first on line 1)"},
    {"jsonl_unknown_key", "c.jsonl", "{\"id\": \"a\", \"rubric\": \"r\"}\n", 1, "unknown key 'rubric'"},
    {"jsonl_nested_var", "c.jsonl", "{\"id\": \"a\", \"vars\": {\"q\": [1]}}\n", 1, "a variable is a string"},
    {"csv_unknown_column", "c.csv", "id,question\na,b\n", 1, "unknown column 'question'"},
    {"csv_no_id_column", "c.csv", "vars.q\nb\n", 1, "no 'id' column"},
    {"csv_field_count", "c.csv", "id,vars.q\na,b\nc,d,e\n", 3, "row has 3 fields, the header has 2"},
    {"csv_missing_id", "c.csv", "id,vars.q\na,b\n,d\n", 3, "non-empty 'id'"},
    {"csv_duplicate_id", "c.csv", "id,vars.q\na,b\nx,\"multi\nline\"\na,d\n", 5, "duplicate case id 'a' (first on line 2)"},
    {"csv_unclosed_quote", "c.csv", "id,vars.q\na,b\nc,\"never closed\n", 3, "quoted field is never closed"},
    {"csv_stray_quote", "c.csv", "id,vars.q\na,b\"c\n", 2, "inside an unquoted field"},
    {"csv_text_after_quote", "c.csv", "id,vars.q\na,\"b\"c\n", 2, "text after a closing quote"},
    {"csv_duplicate_column", "c.csv", "id,vars.q,vars.q\n", 1, "duplicate column 'vars.q'"},
};

INSTANTIATE_TEST_SUITE_P(Rows, CasesFileErrors, ::testing::ValuesIn(kRowErrors),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CasesFile, SuiteLevelMistakes) {
  // No default rubric to grade file cases with: reported at the cases_file key.
  fs::path p = write("s.yaml", std::string("name: x\n") + kVariant + "cases_file: c.jsonl\n");
  std::ofstream(p.parent_path() / "c.jsonl") << "{\"id\": \"a\"}\n";
  auto e = load_error(p.string());
  EXPECT_EQ(e.field(), "cases_file");
  EXPECT_EQ(e.line(), 3);
  // An id both inline and in the file.
  p = write("s.yaml", std::string("name: x\n") + kVariant + kRubric +
                          "cases: [{id: a, vars: {q: x, answer: y}}]\ncases_file: c.jsonl\n");
  std::ofstream(p.parent_path() / "c.jsonl") << "{\"id\": \"a\", \"vars\": {\"q\": \"x\", \"answer\": \"y\"}}\n";
  EXPECT_NE(std::string(load_error(p.string()).what()).find("also defined in the suite's 'cases'"), std::string::npos);
  // A row missing a variable the prompt uses fails at load, naming the case.
  p = write("s.yaml", std::string("name: x\n") + kVariant + kRubric + "cases_file: c.jsonl\n");
  std::ofstream(p.parent_path() / "c.jsonl") << "{\"id\": \"row7\", \"vars\": {\"answer\": \"y\"}}\n";
  EXPECT_NE(std::string(load_error(p.string()).what()).find("row7"), std::string::npos);
  // Neither cases nor cases_file.
  p = write("s.yaml", std::string("name: x\n") + kVariant + kRubric);
  EXPECT_NE(std::string(load_error(p.string()).what()).find("needs 'cases' or 'cases_file'"), std::string::npos);
  // Another extension.
  p = write("s.yaml", std::string("name: x\n") + kVariant + kRubric + "cases_file: c.tsv\n");
  EXPECT_NE(std::string(load_error(p.string()).what()).find(".jsonl or .csv"), std::string::npos);
}
