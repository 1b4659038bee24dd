// The bundled judge model (engine/models/wobble-demo-judge.gguf, issue 13's worked example; skipped
// when absent) against the trainer's fixture tests/fixtures/demo/judge_expectations.json: the
// judge-v1 prompt that the judge scorer builds, rendered by the engine's chat template, is the token
// sequence the model was trained on; the engine's greedy reply is torch's token for token; and the
// judge scorer reads each reply as the trainer's mirror of it did (the same verdict, or a fault).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "moe/model.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "provider/engine_prompt.h"
#include "scorer/judge.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

const std::string kJudgeModel = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-judge.gguf";
const std::string kJudgeExpect = std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/demo/judge_expectations.json";

}  // namespace

TEST(JudgeModel, JudgePromptThroughTheChatTemplateIsTheTrainedLayoutAndRepliesMatchTorch) {
  if (!fs::exists(kJudgeModel)) GTEST_SKIP() << "judge model not found at " << kJudgeModel;
  auto j = nlohmann::json::parse(read_text_file(kJudgeExpect));
  ASSERT_EQ(j["prompt_version"], kJudgePromptVersion);
  auto m = moe::Model::load(kJudgeModel);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto family = resolve_chat_family((*m)->tokenizer(), "auto");
  ASSERT_TRUE(family.ok());
  int valid = 0;
  ASSERT_FALSE(j["cases"].empty());
  for (const auto& c : j["cases"]) {
    const std::string name = c["name"], output = c["output"];
    JudgePrompt jp = build_judge_prompt(c["task"], output, c["rubric"], false);
    std::vector<moe::ChatMessage> msgs{{"system", jp.system}, {"user", jp.user}};
    auto ids = encode_engine_prompt((*m)->tokenizer(), *family, std::nullopt, msgs);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    EXPECT_EQ(*ids, c["prompt_ids"].get<std::vector<int32_t>>()) << name << ": the scorer's prompt is not the trained one";

    auto s = moe::Session::create(*m, moe::SessionOptions{0, 1, false});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->prefill(*ids).ok());
    auto want = c["greedy_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      auto l = (*s)->logits();
      int32_t best = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
      got.push_back(best);
      if (best != want[i]) break;
      if (i + 1 < want.size()) ASSERT_TRUE((*s)->step(best).ok());
    }
    EXPECT_EQ(got, want) << name << ": engine greedy reply differs from torch";

    JudgeCriterion crit;
    crit.rubric = c["rubric"];
    JudgeGrading g = interpret_judge_reply(c["reply"], output, crit);
    if (c["verdict"].is_null()) {
      EXPECT_FALSE(g.counts()) << name << ": the trainer read a fault, the scorer a verdict: " << g.raw;
    } else {
      EXPECT_TRUE(g.counts()) << name << ": " << judge_fault_name(g.fault) << " " << g.fault_detail << " in " << g.raw;
      EXPECT_EQ(g.verdict, c["verdict"].get<std::string>()) << name;
      valid += g.counts();
    }
  }
  // The point of the model: most of its gradings are usable (verified quote, pass/fail).
  EXPECT_GE(valid, int(j["cases"].size()) - 1) << "valid judge replies among the fixture's greedy gradings";
}
