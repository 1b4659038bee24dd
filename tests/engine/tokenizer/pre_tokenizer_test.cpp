// Pre-tokenizer split regexes of the families without a reference vocabulary in the fixtures;
// expected pieces derived by hand from each family's published split pattern.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/pre_tokenizer.h"

using namespace moe;

namespace {

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  auto p = PreTokenizer::create(pre);
  EXPECT_TRUE(p.ok()) << pre << ": " << p.status().ToString();
  std::vector<std::string> out;
  if (!p.ok()) return out;
  for (std::string_view v : (*p)->split(text)) out.emplace_back(v);
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST(PreTokenizer, Gpt2FamilyKeepsTheLastSpaceWithTheNextWord) {
  for (const char* pre : {"default", "gpt2", "gpt-2", "gpt-neox", "olmo"}) {
    EXPECT_EQ(split(pre, "Hello world's  42"), (V{"Hello", " world", "'s", " ", " 42"})) << pre;
    // Unicode letters and numbers by category, not by ASCII range.
    EXPECT_EQ(split(pre, "naïve Ωμέγα ٣٤"), (V{"naïve", " Ωμέγα", " ٣٤"})) << pre;
  }
}

TEST(PreTokenizer, Llama3GroupsDigitsByThreeAndFoldsContractionCase) {
  for (const char* pre : {"llama3", "llama-bpe"}) {
    EXPECT_EQ(split(pre, "12345 abc"), (V{"123", "45", " abc"})) << pre;
    EXPECT_EQ(split(pre, "I'LL go\n\n"), (V{"I", "'LL", " go", "\n\n"})) << pre;
  }
}

TEST(PreTokenizer, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(split("qwen2", "x 2024!"), (V{"x", " ", "2", "0", "2", "4", "!"}));
}

TEST(PreTokenizer, DeepSeekV3GroupsDigitsAndCjk) {
  EXPECT_EQ(split("deepseek-v3", "12345日本語abc"), (V{"123", "45", "日本語", "abc"}));
}

TEST(PreTokenizer, UnknownPreTypeIsNotSupportedAndNamesIt) {
  auto p = PreTokenizer::create("tekken");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kNotSupported);
  EXPECT_NE(p.status().message().find("'tekken'"), std::string::npos);
}
