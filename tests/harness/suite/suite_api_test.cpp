// The suite value API: templating, sampling layering, case filtering and the JSON snapshots.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "suite/suite.h"
#include "util/error.h"

using namespace wobble;

namespace {
std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace
namespace fs = std::filesystem;

TEST(Template, SubstitutesEveryOccurrenceAndToleratesSpaces) {
  std::map<std::string, std::string> vars = {{"a", "1"}, {"b", "two"}};
  EXPECT_EQ(render_template("{{a}}+{{ a }}={{b}}", vars, "w"), "1+1=two");
  EXPECT_EQ(render_template("no placeholders { } }}", vars, "w"), "no placeholders { } }}");
  EXPECT_EQ(render_template("", vars, "w"), "");
  EXPECT_EQ(render_template("{{a}}{{b}}", vars, "w"), "1two");
}

TEST(Template, ValuesAreNotReExpanded) {
  // A var whose value looks like a placeholder is inserted literally (no recursive expansion).
  std::map<std::string, std::string> vars = {{"a", "{{b}}"}};
  EXPECT_EQ(render_template("x{{a}}y", vars, "w"), "x{{b}}y");
}

TEST(Template, MissingAndUnterminatedNameTheLocation) {
  std::map<std::string, std::string> vars = {{"a", "1"}};
  try {
    render_template("{{a}} {{zz}}", vars, "variant 'v'");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("variant 'v'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no var 'zz'"), std::string::npos);
  }
  EXPECT_THROW(render_template("{{a", vars, "w"), ConfigError);
}

TEST(Template, RenderPromptForChatAndPlain) {
  Variant chat{"c", "", std::nullopt, {{"system", "Be {{tone}}."}, {"user", "{{q}}"}}};
  Case kase;
  kase.id = "k";
  kase.vars = {{"tone", "brief"}, {"q", "2+2?"}};
  RenderedPrompt r = render_prompt(chat, kase);
  EXPECT_FALSE(r.prompt.has_value());
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].content, "Be brief.");
  EXPECT_EQ(r.as_text(), "[system]\nBe brief.\n[user]\n2+2?");
  Variant plain{"p", "", std::string("Q: {{q}}"), {}};
  EXPECT_FALSE(plain.is_chat());
  EXPECT_EQ(render_prompt(plain, kase).as_text(), "Q: 2+2?");
}

TEST(Sampling, ResolveDefaultsAndOverlayKeyByKey) {
  Sampling d = Sampling::resolve({});
  EXPECT_EQ(d.temperature, 0);
  EXPECT_EQ(d.top_p, 1);
  EXPECT_EQ(d.top_k, 0);
  EXPECT_EQ(d.min_p, 0);
  EXPECT_EQ(d.max_tokens, 256);
  EXPECT_EQ(d.seed, 0u);
  EXPECT_TRUE(d.stop.empty());

  SamplingSpec base;
  base.temperature = 0.7;
  base.max_tokens = 64;
  base.stop = std::vector<std::string>{"\n"};
  SamplingSpec over;
  over.temperature = 0.0;  // an explicit 0 must win over the base's 0.7
  over.seed = 9;
  SamplingSpec m = base.overlaid_with(over);
  EXPECT_EQ(*m.temperature, 0.0);
  EXPECT_EQ(*m.max_tokens, 64);
  EXPECT_EQ(*m.seed, 9u);
  ASSERT_TRUE(m.stop.has_value());
  EXPECT_EQ(m.stop->at(0), "\n");
  EXPECT_FALSE(m.top_p.has_value());
  // Only set keys appear in the spec's JSON; the resolved form has all of them.
  EXPECT_EQ(m.to_json().size(), 4u);
  EXPECT_EQ(Sampling::resolve(m).to_json().size(), 7u);
}

TEST(Filter, ByIdsOrTagsKeepsOrderAndUnion) {
  Suite s;
  for (const char* id : {"a", "b", "c", "d"}) {
    Case c;
    c.id = id;
    s.cases.push_back(c);
  }
  s.cases[1].tags = {"math"};
  s.cases[3].tags = {"math", "hard"};
  Suite all = s;
  filter_cases(all, {}, {});
  EXPECT_EQ(all.cases.size(), 4u);
  Suite f = s;
  filter_cases(f, {"c"}, {"math"});
  ASSERT_EQ(f.cases.size(), 3u);
  EXPECT_EQ(f.cases[0].id, "b");
  EXPECT_EQ(f.cases[1].id, "c");
  EXPECT_EQ(f.cases[2].id, "d");
  Suite none = s;
  filter_cases(none, {"zz"}, {});
  EXPECT_TRUE(none.cases.empty());
}

TEST(Snapshot, ProviderJsonNeverHoldsTheKey) {
  ::setenv("WOBBLE_TEST_SECRET_KEY", "sk-very-secret", 1);
  ProviderSpec p;
  p.kind = "openai";
  p.base_url = "http://h/v1";
  p.model = "m";
  p.api_key_env = "WOBBLE_TEST_SECRET_KEY";
  std::string dumped = p.to_json().dump();
  EXPECT_EQ(dumped.find("sk-very-secret"), std::string::npos);
  EXPECT_EQ(p.to_json()["api_key_env"], "WOBBLE_TEST_SECRET_KEY");
  ProviderSpec local;
  EXPECT_EQ(local.to_json()["kind"], "local");
  EXPECT_FALSE(local.to_json().contains("api_key_env"));
}

TEST(Snapshot, SuiteJsonCarriesExpandedVariantsAndResolvedRubrics) {
  fs::path dir = fs::temp_directory_path() / ("wobble-snap-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "s.yaml") << R"(name: snap
repeats: 2
gate: {min_pass_rate: 0.5}
variants:
  - id: sk
    role: a tester
    language: French
    context: "ctx"
    task: "{{q}}"
cases:
  - id: c
    vars: {q: "hi", n: 3}
    repeats: 4
    rubric:
      - {id: k, scorer: contains, args: {value: "{{q}}"}, not: true}
)";
  Suite s = load_suite((dir / "s.yaml").string());
  nlohmann::json j = suite_to_json(s);
  EXPECT_EQ(j["name"], "snap");
  EXPECT_EQ(j["content_hash"], s.content_hash);
  EXPECT_EQ(j["gate"]["min_pass_rate"], 0.5);
  EXPECT_EQ(j["variants"][0]["messages"][0]["content"], "You are a tester.\nLanguage: French\nContext: ctx");
  EXPECT_EQ(j["variants"][0]["messages"][1]["content"], "{{q}}");
  EXPECT_EQ(j["cases"][0]["repeats"], 4);
  EXPECT_EQ(j["cases"][0]["vars"]["n"], "3");
  EXPECT_EQ(j["cases"][0]["rubric"]["criteria"][0]["not"], true);
  EXPECT_EQ(j["cases"][0]["rubric"]["criteria"][0]["args"]["value"], "{{q}}");  // stored unrendered
  // The hash covers content, not bytes or paths: a blank line or a copy elsewhere keeps it...
  EXPECT_EQ(load_suite((dir / "s.yaml").string()).content_hash, s.content_hash);
  std::ofstream(dir / "s.yaml", std::ios::app) << "\n# a comment\n";
  EXPECT_EQ(load_suite((dir / "s.yaml").string()).content_hash, s.content_hash);
  fs::create_directories(dir / "elsewhere");
  fs::copy_file(dir / "s.yaml", dir / "elsewhere" / "s.yaml");
  EXPECT_EQ(load_suite((dir / "elsewhere" / "s.yaml").string()).content_hash, s.content_hash);
  // ...and so do provider, sampling, repeats and gate (the same suite on another model compares)...
  std::ofstream(dir / "s.yaml", std::ios::app) << "provider: {kind: openai, base_url: \"http://h/v1\", model: m}\n"
                                                  "sampling: {temperature: 0.9}\n";
  EXPECT_EQ(load_suite((dir / "s.yaml").string()).content_hash, s.content_hash);
  // ...while what is asked or how it is graded changes it.
  std::string text = read_text(dir / "s.yaml");
  std::ofstream(dir / "s.yaml") << std::regex_replace(text, std::regex("not: true"), "not: false");
  EXPECT_NE(load_suite((dir / "s.yaml").string()).content_hash, s.content_hash);
  // The snapshot round-trips: the suite rebuilt from it has the same JSON and hash.
  Suite back = suite_from_json(j);
  EXPECT_EQ(suite_to_json(back), j);
  EXPECT_EQ(suite_content_hash(back), s.content_hash);
  fs::remove_all(dir);
}

TEST(HostileFiles, AliasBombIsRefusedAndSmallAliasesWork) {
  fs::path dir = fs::temp_directory_path() / ("wobble-alias-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Nine levels of nine aliases each: 9^9 (387 million) strings from a few hundred bytes.
  std::string bomb = "name: x\nvariants: [{id: v, prompt: p}]\ncases:\n  - id: c\n    rubric:\n      - id: k\n"
                     "        scorer: contains\n        args:\n          value: a\n"
                     "          b0: &a0 [l, l, l, l, l, l, l, l, l]\n";
  for (int i = 1; i <= 8; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "          b" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) bomb += (k ? ", " : "") + prev;
    bomb += "]\n";
  }
  std::ofstream(dir / "bomb.yaml") << bomb;
  try {
    load_suite((dir / "bomb.yaml").string());
    FAIL() << "alias bomb loaded";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("through aliases"), std::string::npos) << e.what();
    EXPECT_GT(e.line(), 10);  // the line where the expansion crossed the limit
  }
  // An ordinary anchor shared by two cases still loads, both cases get the block.
  std::ofstream(dir / "ok.yaml") << R"(name: x
variants: [{id: v, prompt: p}]
cases:
  - id: a
    sampling: &cold {temperature: 0, max_tokens: 8}
    rubric: &r [{id: k, scorer: contains, args: {value: a}}]
  - id: b
    sampling: *cold
    rubric: *r
)";
  Suite s = load_suite((dir / "ok.yaml").string());
  ASSERT_EQ(s.cases.size(), 2u);
  EXPECT_EQ(*s.cases[1].sampling.max_tokens, 8);
  EXPECT_EQ(s.cases[1].rubric.criteria.at(0).scorer, "contains");
  fs::remove_all(dir);
}

// Deterministic mutations of a valid suite: whatever the damage, loading either succeeds or throws
// ConfigError (exit code 2), never another exception.
TEST(HostileFiles, MutatedSuitesOnlyEverThrowConfigError) {
  const std::string good = R"Y(name: demo
provider: {kind: openai, base_url: "http://h/v1", model: m, api_key_env: KEY, rps: 2}
sampling: {temperature: 0.5, max_tokens: 10, seed: 7, stop: ["\n\n"]}
gate: {min_pass_rate: 0.5}
variants:
  - id: plain
    prompt: "Q: {{q}}"
  - id: chat
    messages:
      - system: "Be brief."
      - {role: user, content: "{{q}}"}
  - id: skel
    role: expert
    steps: [think, answer]
    examples: [{input: "1+1", output: "2"}]
    task: "{{q}}"
cases:
  - id: a
    vars: {q: "2+2?", answer: 4}
    tags: [easy]
    answer_extractor: {kind: regex, pattern: "(\\d+)", group: 1}
    rubric:
      answer_extractor: number
      criteria:
        - {id: n, scorer: numeric, args: {value: "{{answer}}", abs_tol: 0.5}}
        - {id: s, scorer: json-schema, args: {schema: {type: object, required: [a]}}, not: true}
        - {id: r, scorer: regex, args: {pattern: "\\d+", ignore_case: true}}
)Y";
  fs::path dir = fs::temp_directory_path() / ("wobble-mut-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path p = dir / "m.yaml";
  { std::ofstream(p) << good; }
  ASSERT_NO_THROW(load_suite(p.string()));
  const std::string alphabet = ":[]{}-&*!|>'\"#,\n \t0a{{}}";
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 400; ++i) {
    std::string text = good;
    int edits = 1 + int(next() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = next() % text.size();
      switch (next() % 3) {
        case 0: text.erase(at, 1 + next() % 4); break;
        case 1: text.insert(at, 1, alphabet[next() % alphabet.size()]); break;
        default: text.replace(at, 1, 1, alphabet[next() % alphabet.size()]); break;
      }
      if (text.empty()) text = "x";
    }
    { std::ofstream(p, std::ios::trunc) << text; }
    try {
      load_suite(p.string());
      ++loaded;
    } catch (const ConfigError& e) {
      ++rejected;
      EXPECT_EQ(std::string(e.what()).rfind(p.string(), 0), 0u) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-ConfigError " << e.what() << " for:\n" << text;
    }
  }
  EXPECT_GT(rejected, 0);
  fs::remove_all(dir);
}
