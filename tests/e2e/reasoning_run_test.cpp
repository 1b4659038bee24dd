// End to end: suites/reasoning-demo.yaml against the loopback fake server, which sends the thinking
// in reasoning_content, as <think> tags and as harmony channels, and lets one repeat run out of
// tokens while thinking. The store keeps reasoning and answer apart, criteria grade the part their
// scope names, and the report shows the reasoning's variance beside the answer's.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "runner/seeds.h"
#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

const std::string kSuite = std::string(WOBBLE_SOURCE_DIR) + "/suites/reasoning-demo.yaml";
const char* kPaths[] = {"Add the tens first: 17 + 25 is 42.", "Count up from 17 by 25: 42.", "25 + 17 is 42."};

struct Scripted {
  std::string content, reasoning, finish = "stop";
};

// By case and repeat (the suite's seed 7 derives each repeat's seed).
Scripted scripted(const std::string& c, int r) {
  if (c == "think-field") return {"\n\nAnswer: 42", kPaths[r % 3]};
  if (c == "think-tags") return {"<think>\nthirty and twelve\n</think>\n\nAnswer: " + std::string(r == 1 ? "41" : "42"), ""};
  if (c == "harmony")
    return {"<|channel|>analysis<|message|>" + std::string(kPaths[r % 2]) +
                "<|end|><|start|>assistant<|channel|>final<|message|>Answer: 42<|return|>",
            ""};
  if (r == 0) return {"<think>\nLet me add 21 and 21 very carefully, digit by", "", "length"};
  return {"<think>\n21 + 21 = 42\n</think>\nAnswer: 42", ""};
}

}  // namespace

TEST(ReasoningEndToEnd, PartsAreStoredScopedAndReported) {
  std::map<uint64_t, std::pair<std::string, int>> seeds;
  for (const char* c : {"think-field", "think-tags", "harmony", "budget"})
    for (int r = 0; r < 6; ++r) seeds[derive_seed(7, c, "plain", r)] = {c, r};
  auto of = [&](const nlohmann::json& req) {
    auto [c, r] = seeds.at(req["seed"].get<uint64_t>());
    return scripted(c, r);
  };
  FakeOpenAIServer server([&](const nlohmann::json& req) { return of(req).content; });
  server.set_response_hook([&](const nlohmann::json& req, nlohmann::json& res) {
    Scripted s = of(req);
    if (!s.reasoning.empty()) res["choices"][0]["message"]["reasoning_content"] = s.reasoning;
    res["choices"][0]["finish_reason"] = s.finish;
  });
  std::string dir = make_temp_dir("reasoning");
  std::string text = std::regex_replace(read_text_file(kSuite), std::regex("http://127.0.0.1:8765/v1"), server.base_url());
  text = std::regex_replace(text, std::regex("\\.\\./rubrics/"), std::string(WOBBLE_SOURCE_DIR) + "/rubrics/");
  write_text_file(dir + "/suite.yaml", text);
  const std::string db = dir + "/w.db";
  auto run = run_process({WOBBLE_EXE, "run", dir + "/suite.yaml", "--db", db, "--json", "--quiet"});
  // think-tags' repeat 1 answers 41 and budget's repeat 0 never answers: unstable criteria, gate 1.
  ASSERT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.err;
  int64_t id = nlohmann::json::parse(run.out)["run_id"];

  Store store = Store::open(db);
  auto samples = store.samples(id);
  ASSERT_EQ(samples.size(), 24u);
  std::map<std::pair<std::string, int>, const SampleRecord*> by;
  for (const auto& s : samples) by[{s.case_id, s.repeat}] = &s;
  auto verdict = [](const SampleRecord& s, const std::string& crit) {
    for (const auto& c : s.scores)
      if (c.criterion_id == crit) return std::string(outcome_name(c.outcome));
    return std::string("missing");
  };

  const auto& field = *by.at({"think-field", 1});
  EXPECT_EQ(field.reasoning_form, ReasoningForm::kField);
  EXPECT_EQ(field.reasoning, kPaths[1]);
  EXPECT_EQ(field.answer_text(), "Answer: 42");
  EXPECT_EQ(field.output, "\n\nAnswer: 42");  // the raw content as sent
  EXPECT_EQ(field.extracted_answer, "42");
  EXPECT_EQ(verdict(field, "correct"), "pass");
  EXPECT_EQ(verdict(field, "shows-work"), "fail");  // "Count up from 17 by 25" writes no sum

  const auto& tags = *by.at({"think-tags", 1});
  EXPECT_EQ(tags.reasoning_form, ReasoningForm::kThinkTags);
  EXPECT_EQ(tags.reasoning, "thirty and twelve");
  EXPECT_EQ(verdict(tags, "correct"), "fail");
  // The answer-concise word count sees "Answer: 41", not the thinking.
  EXPECT_EQ(verdict(tags, "answer-concise"), "pass");

  const auto& harmony = *by.at({"harmony", 0});
  EXPECT_EQ(harmony.reasoning_form, ReasoningForm::kHarmony);
  EXPECT_EQ(harmony.answer_text(), "Answer: 42");
  EXPECT_EQ(verdict(harmony, "correct"), "pass");
  EXPECT_EQ(verdict(harmony, "shows-work"), "pass");
  for (const auto& c : harmony.scores)
    if (c.criterion_id == "shows-work") {
      EXPECT_EQ(c.scope, Scope::kReasoning);
      EXPECT_EQ(harmony.reasoning.substr(size_t(c.evidence.start), size_t(c.evidence.end - c.evidence.start)),
                c.evidence.text);
    }

  const auto& cut = *by.at({"budget", 0});
  EXPECT_FALSE(cut.reasoning_closed);
  EXPECT_EQ(cut.answer_text(), "");
  EXPECT_EQ(verdict(cut, "correct"), "fail");
  EXPECT_EQ(verdict(cut, "answer-concise"), "fail");

  auto md = run_process({WOBBLE_EXE, "report", std::to_string(id), "--db", db, "--format", "md"});
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("## Reasoning and answer"), std::string::npos) << md.out;
  // think-field: one answer, three thinking paths over six repeats.
  EXPECT_NE(md.out.find("| think-field | plain | 6 of 6 | 0 | 1 | — | 3 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("**Same answer, different reasoning**"), std::string::npos);
  EXPECT_NE(md.out.find("- think-field / plain: 1 answer, 3 different thinking texts over 6 repeats"),
            std::string::npos);
  EXPECT_NE(md.out.find("- harmony / plain: 1 answer, 2 different thinking texts"), std::string::npos);
  // think-tags: one thinking text, two answers (repeat 1 says 41): not a "same answer" finding.
  EXPECT_EQ(md.out.find("- think-tags / plain: 1 answer"), std::string::npos);
  EXPECT_NE(md.out.find("| think-tags | plain | 6 of 6 | 0 | 2 | char 9 (repeats 0 vs 1) | 1 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| budget | plain | 6 of 6 | 1 |"), std::string::npos);

  auto js = run_process({WOBBLE_EXE, "report", std::to_string(id), "--db", db, "--format", "json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out);
  bool seen = false;
  for (const auto& g : j["groups"])
    if (g["case"] == "think-field") {
      seen = true;
      EXPECT_EQ(g["reasoning"]["unique_reasoning"], 3);
      EXPECT_EQ(g["reasoning"]["same_answer_different_reasoning"], true);
    }
  EXPECT_TRUE(seen);
}
