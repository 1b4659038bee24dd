// End to end on the bundled think demo model (suites/think-demo.yaml): a tiny model that thinks
// before it answers. Its outputs are split into reasoning and answer, each criterion grades the
// scope it names, and the report's "Reasoning and answer" section describes both parts.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <cctype>
#include <set>

#include "store/store.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

const std::string kSource = WOBBLE_SOURCE_DIR;
const std::string kThinkModel = kSource + "/engine/models/wobble-think-moe.gguf";

}  // namespace

TEST(ThinkDemo, ReasoningAndAnswerAreGradedApart) {
  if (!std::filesystem::exists(kThinkModel)) GTEST_SKIP() << "think demo model not found at " << kThinkModel;
  std::string dir = make_temp_dir("think-demo");
  std::string db = dir + "/t.db";
  auto r = run_process({WOBBLE_EXE, "run", kSource + "/suites/think-demo.yaml", "--db", db, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Store st = Store::open_read_only(db);
  auto samples = st.samples(1);
  ASSERT_EQ(samples.size(), 30u);  // 5 cases x 1 variant x 6 repeats
  const std::map<std::string, std::string> expected = {
      {"add-small", "68"}, {"sub", "44"}, {"add-carry", "85"}, {"add-hundred", "129"}, {"sub-close", "7"}};
  // Whether `text` holds `number` as a whole number (the rubric's regex, written out).
  auto has_number = [](const std::string& text, const std::string& number) {
    for (size_t at = text.find(number); at != std::string::npos; at = text.find(number, at + 1)) {
      bool left = at == 0 || !std::isdigit(static_cast<unsigned char>(text[at - 1]));
      bool right = at + number.size() == text.size() || !std::isdigit(static_cast<unsigned char>(text[at + number.size()]));
      if (left && right) return true;
    }
    return false;
  };
  std::set<std::string> reasonings;
  for (const auto& s : samples) {
    ASSERT_TRUE(s.ok);
    // Every output thinks first, and the thinking closes: the answer is what follows it.
    EXPECT_EQ(s.reasoning_form, ReasoningForm::kThinkTags) << s.output;
    EXPECT_TRUE(s.reasoning_closed) << s.output;
    EXPECT_EQ(s.output.rfind("<think>", 0), 0u) << s.output;
    EXPECT_EQ(s.answer.find("<think>"), std::string::npos);
    EXPECT_EQ(s.answer.find("</think>"), std::string::npos);
    EXPECT_EQ(s.reasoning.find("Answer:"), std::string::npos);
    reasonings.insert(s.reasoning);
    std::map<std::string, Outcome> by;
    for (const auto& sc : s.scores) by[sc.criterion_id] = sc.outcome;
    // Each criterion saw exactly its scope: the thinking, the answer, or the raw output.
    const std::string& want = expected.at(s.case_id);
    EXPECT_EQ(by.at("thinking-right") == Outcome::kPass, has_number(s.reasoning, want)) << s.output;
    EXPECT_EQ(by.at("correct") == Outcome::kPass, s.answer.find("Answer: " + want) == 0) << s.output;
    EXPECT_EQ(by.at("raw-mentions") == Outcome::kPass, has_number(s.output, want)) << s.output;
  }
  EXPECT_GT(reasonings.size(), 10u) << "at temperature 0.8 repeats should think in different words";
  auto rep = run_process({WOBBLE_EXE, "report", "--db", db, "latest"});
  ASSERT_EQ(rep.exit_code, 0) << rep.err;
  EXPECT_NE(rep.out.find("## Reasoning and answer"), std::string::npos);
  EXPECT_NE(rep.out.find("| add-hundred | think | 6 of 6 | 0 |"), std::string::npos) << rep.out;
  // The finding the demo is for: repeats that agree on the answer and differ in their thinking.
  EXPECT_NE(rep.out.find("**Same answer, different reasoning**"), std::string::npos) << rep.out;
}
