// A server's separate thinking field (reasoning_content, or reasoning as Ollama/OpenRouter name it).
#include <gtest/gtest.h>

#include "provider/openai_provider.h"

using namespace wobble;

namespace {

std::string reply(const std::string& message_fields) {
  return R"({"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant",)" + message_fields + "}}]}";
}

TEST(ReasoningField, ReasoningContentIsKeptApartFromTheContent) {
  auto p = parse_openai_response(reply(R"("content":"4","reasoning_content":"2+2")"), true);
  EXPECT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.text, "4");
  EXPECT_EQ(p.reasoning, "2+2");
}

TEST(ReasoningField, OllamaSpellingAndNullContent) {
  auto p = parse_openai_response(reply(R"("content":null,"reasoning":"still thinking")"), true);
  EXPECT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.text, "");
  EXPECT_EQ(p.reasoning, "still thinking");
}

TEST(ReasoningField, ANonStringFieldIsABadResponse) {
  auto p = parse_openai_response(reply(R"("content":"4","reasoning_content":{"x":1})"), true);
  EXPECT_NE(p.error.find("reasoning_content is not a string"), std::string::npos) << p.error;
}

TEST(ReasoningField, AbsentOrNullFieldMeansNone) {
  EXPECT_EQ(parse_openai_response(reply(R"("content":"4","reasoning_content":null)"), true).reasoning, "");
  EXPECT_EQ(parse_openai_response(reply(R"("content":"4")"), true).reasoning, "");
}

}  // namespace
