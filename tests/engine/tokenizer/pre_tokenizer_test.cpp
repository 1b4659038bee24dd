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

// Pieces below are what Hugging Face tokenizers 0.22 (the families' tokenizer.json pre-tokenizers,
// run on Oniguruma) gives for the same strings.
TEST(PreTokenizer, Gpt4oMatchesHuggingFaceOnCaseChangesContractionsAndSlashes) {
  EXPECT_EQ(split("gpt-4o", "HelloWorld iPhone"), (V{"Hello", "World", " i", "Phone"}));
  EXPECT_EQ(split("gpt-4o", "CAPS lock"), (V{"CAPS", " lock"}));
  // Contractions stay on their word, in any case; Unicode case folding makes "'ſ" (long s) one too.
  EXPECT_EQ(split("gpt-4o", "I'M don't we'LL"), (V{"I'M", " don't", " we'LL"}));
  EXPECT_EQ(split("gpt-4o", "IT'\xC5\xBF"), (V{"IT'\xC5\xBF"}));
  EXPECT_EQ(split("gpt-4o", "1234567 x"), (V{"123", "456", "7", " x"}));
  EXPECT_EQ(split("gpt-4o", "path/to/file\n\nnext"), (V{"path", "/to", "/file", "\n\n", "next"}));
  EXPECT_EQ(split("gpt-4o", "a+b//\n c"), (V{"a", "+b", "//\n", " c"}));
  EXPECT_EQ(split("gpt-4o", "  hi  \n"), (V{" ", " hi", "  \n"}));
  // Combining marks belong to the word (they are letters' companions in the o200k classes).
  EXPECT_EQ(split("gpt-4o", "e\xCC\x81te"), (V{"e\xCC\x81te"}));
  EXPECT_EQ(split("gpt-4o", "MÜNCHEN straße ǅungla"), (V{"MÜNCHEN", " straße", " ǅungla"}));
}

TEST(PreTokenizer, Llama3AndQwen2FoldContractionsLikeHuggingFace) {
  for (const char* pre : {"llama-bpe", "qwen2"}) {
    EXPECT_EQ(split(pre, "I'M don't we'LL"), (V{"I", "'M", " don", "'t", " we", "'LL"})) << pre;
    EXPECT_EQ(split(pre, "IT'\xC5\xBF"), (V{"IT", "'\xC5\xBF"})) << pre;
    EXPECT_EQ(split(pre, "e\xCC\x81te"), (V{"e", "\xCC\x81te"})) << pre;  // a mark is not \p{L}
  }
}

// \s is Unicode White_Space, as in Oniguruma: U+180E (a format character since Unicode 6.3) is not
// space, though PCRE2's own \s would take it.
TEST(PreTokenizer, MongolianVowelSeparatorIsNotWhiteSpace) {
  for (const char* pre : {"llama-bpe", "qwen2", "gpt-4o"})
    EXPECT_EQ(split(pre, "\xE2\xA1\x8F\xE1\xA0\x8E\xE1\x89\xA0"), (V{"\xE2\xA1\x8F\xE1\xA0\x8E", "\xE1\x89\xA0"})) << pre;
  // DeepSeek-V3 sets symbols apart; the separator then leads the letter run as its optional prefix.
  EXPECT_EQ(split("deepseek-v3", "\xE2\xA1\x8F\xE1\xA0\x8E\xE1\x89\xA0"), (V{"\xE2\xA1\x8F", "\xE1\xA0\x8E\xE1\x89\xA0"}));
  // Real white space still splits.
  EXPECT_EQ(split("gpt-4o", "a\xE3\x80\x80" "b"), (V{"a", "\xE3\x80\x80" "b"}));
}
