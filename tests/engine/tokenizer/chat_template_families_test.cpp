// Chat templates of the reasoning families, rendered exactly as the published Jinja templates render
// the same messages. The expected strings were produced by rendering each template (gpt-oss, Qwen3,
// DeepSeek-R1, as copied in huggingface/trl trl/chat_templates/, commit f2cd57710) with jinja2
// 3.1.6 the way transformers' apply_chat_template does (sandboxed environment, trim_blocks,
// lstrip_blocks, strftime_now pinned to 2026-11-30). DeepSeek-V3's expectations are R1's template
// with the generation prompt's <think> opener removed (its only difference for these messages).
#include <gtest/gtest.h>

#include <vector>

#include "moe/chat_template.h"

using namespace moe;

namespace {

struct Expected {
  const char* name;
  ChatFamily family;
  std::vector<ChatMessage> messages;
  const char* option;  // "" | "nothink" (qwen3) | "high" (harmony reasoning effort)
  const char* text;
};

const std::vector<Expected>& expectations() {
  static const std::vector<Expected> kAll = {
      {"gptoss/user", ChatFamily::kHarmony, {{"user", "Hi"}}, "",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"},
      {"gptoss/user/high", ChatFamily::kHarmony, {{"user", "Hi"}}, "high",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: high\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"},
      {"gptoss/system_user", ChatFamily::kHarmony, {{"system", "Be brief."}, {"user", "What is 2+2?"}}, "",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|><|start|>user<|message|>What is 2+2?<|end|><|start|>assistant"},
      {"gptoss/system_user/high", ChatFamily::kHarmony, {{"system", "Be brief."}, {"user", "What is 2+2?"}}, "high",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: high\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|><|start|>user<|message|>What is 2+2?<|end|><|start|>assistant"},
      {"gptoss/history", ChatFamily::kHarmony, {{"system", "S"}, {"user", "Hi"}, {"assistant", "<think>\nhmm\n</think>\n\nHello."}, {"user", "Bye"}}, "",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nS\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|><think>\nhmm\n</think>\n\nHello.<|end|><|start|>user<|message|>Bye<|end|><|start|>assistant"},
      {"gptoss/history/high", ChatFamily::kHarmony, {{"system", "S"}, {"user", "Hi"}, {"assistant", "<think>\nhmm\n</think>\n\nHello."}, {"user", "Bye"}}, "high",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: high\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nS\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|><think>\nhmm\n</think>\n\nHello.<|end|><|start|>user<|message|>Bye<|end|><|start|>assistant"},
      {"gptoss/developer", ChatFamily::kHarmony, {{"developer", "Dev rules"}, {"user", "Hi"}}, "",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nDev rules\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"},
      {"gptoss/developer/high", ChatFamily::kHarmony, {{"developer", "Dev rules"}, {"user", "Hi"}}, "high",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: high\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nDev rules\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"},
      {"gptoss/two_systems", ChatFamily::kHarmony, {{"system", "A"}, {"system", "B"}, {"user", "Hi"}}, "",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nA\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"},
      {"gptoss/two_systems/high", ChatFamily::kHarmony, {{"system", "A"}, {"system", "B"}, {"user", "Hi"}}, "high",
       "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: high\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>developer<|message|># Instructions\n\nA\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant"},
      {"qwen3/user", ChatFamily::kQwen3, {{"user", "Hi"}}, "",
       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
      {"qwen3/user/nothink", ChatFamily::kQwen3, {{"user", "Hi"}}, "nothink",
       "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
      {"qwen3/system_user", ChatFamily::kQwen3, {{"system", "Be brief."}, {"user", "What is 2+2?"}}, "",
       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"},
      {"qwen3/system_user/nothink", ChatFamily::kQwen3, {{"system", "Be brief."}, {"user", "What is 2+2?"}}, "nothink",
       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
      {"qwen3/history", ChatFamily::kQwen3, {{"system", "S"}, {"user", "Hi"}, {"assistant", "<think>\nhmm\n</think>\n\nHello."}, {"user", "Bye"}}, "",
       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"},
      {"qwen3/history/nothink", ChatFamily::kQwen3, {{"system", "S"}, {"user", "Hi"}, {"assistant", "<think>\nhmm\n</think>\n\nHello."}, {"user", "Bye"}}, "nothink",
       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
      {"qwen3/two_systems", ChatFamily::kQwen3, {{"system", "A"}, {"system", "B"}, {"user", "Hi"}}, "",
       "<|im_start|>system\nA<|im_end|>\n<|im_start|>system\nB<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
      {"qwen3/two_systems/nothink", ChatFamily::kQwen3, {{"system", "A"}, {"system", "B"}, {"user", "Hi"}}, "nothink",
       "<|im_start|>system\nA<|im_end|>\n<|im_start|>system\nB<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
      {"deepseekv3/user", ChatFamily::kDeepSeekR1, {{"user", "Hi"}}, "",
       "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>\n"},
      {"deepseekv3/system_user", ChatFamily::kDeepSeekR1, {{"system", "Be brief."}, {"user", "What is 2+2?"}}, "",
       "<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2+2?<｜Assistant｜><think>\n"},
      {"deepseekv3/history", ChatFamily::kDeepSeekR1, {{"system", "S"}, {"user", "Hi"}, {"assistant", "<think>\nhmm\n</think>\n\nHello."}, {"user", "Bye"}}, "",
       "<｜begin▁of▁sentence｜>S<｜User｜>Hi<｜Assistant｜>\n\nHello.<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜><think>\n"},
      {"deepseekv3/two_systems", ChatFamily::kDeepSeekR1, {{"system", "A"}, {"system", "B"}, {"user", "Hi"}}, "",
       "<｜begin▁of▁sentence｜>A\n\nB<｜User｜>Hi<｜Assistant｜><think>\n"},
      {"deepseekv3_plain/user", ChatFamily::kDeepSeekV3, {{"user", "Hi"}}, "",
       "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>"},
      {"deepseekv3_plain/system_user", ChatFamily::kDeepSeekV3, {{"system", "Be brief."}, {"user", "What is 2+2?"}}, "",
       "<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2+2?<｜Assistant｜>"},
      {"deepseekv3_plain/two_systems", ChatFamily::kDeepSeekV3, {{"system", "A"}, {"system", "B"}, {"user", "Hi"}}, "",
       "<｜begin▁of▁sentence｜>A\n\nB<｜User｜>Hi<｜Assistant｜>"},
  };
  return kAll;
}

TEST(ChatTemplateFamilies, RenderAsThePublishedTemplates) {
  for (const auto& e : expectations()) {
    ChatOptions o;
    o.bos_text = "<｜begin▁of▁sentence｜>";
    o.current_date = "2026-11-30";
    if (std::string(e.option) == "nothink") o.enable_thinking = false;
    if (std::string(e.option) == "high") o.reasoning_effort = "high";
    EXPECT_EQ(render_chat(e.family, e.messages, o), e.text) << e.name;
  }
}

TEST(ChatTemplateFamilies, LastAssistantTurnWithoutGenerationPrompt) {
  ChatOptions o;
  o.add_generation_prompt = false;
  o.current_date = "2026-11-30";
  std::vector<ChatMessage> qwen = {{"user", "Hi"}, {"assistant", "<think>\nr\n</think>\n\nHello."}};
  EXPECT_EQ(render_chat(ChatFamily::kQwen3, qwen, o), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\nHello.<|im_end|>\n");
  std::vector<ChatMessage> oss = {{"user", "Hi"}, {"assistant", "Hello."}};
  EXPECT_EQ(render_chat(ChatFamily::kHarmony, oss, o), "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\nCurrent date: 2026-11-30\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant<|channel|>final<|message|>Hello.<|return|>");
}

TEST(ChatTemplateFamilies, DetectionFromTemplateText) {
  EXPECT_EQ(detect_chat_family("{{- \"<|start|>system<|message|>\" }}...<|channel|>final"), ChatFamily::kHarmony);
  EXPECT_EQ(detect_chat_family("{{'<｜User｜>' + c}}{{'<｜Assistant｜><think>\\n'}}"), ChatFamily::kDeepSeekR1);
  EXPECT_EQ(detect_chat_family("{{'<｜User｜>' + c}}{{'<｜Assistant｜>'}}"), ChatFamily::kDeepSeekV3);
  EXPECT_EQ(detect_chat_family("<|im_start|>... enable_thinking is defined and enable_thinking is false"),
            ChatFamily::kQwen3);
  EXPECT_EQ(detect_chat_family("<|im_start|>{{ m.role }}"), ChatFamily::kChatML);
  EXPECT_EQ(detect_chat_family("User: {{ m }}"), ChatFamily::kDeepSeek);
}

TEST(ChatTemplateFamilies, OneNameTable) {
  auto names = chat_family_names();
  ASSERT_EQ(names.size(), size_t(kChatFamilyCount));
  for (const auto& n : names) {
    auto f = chat_family_from_name(n);
    ASSERT_TRUE(f.ok()) << n;
    EXPECT_EQ(chat_family_name(*f), n);
  }
  auto bad = chat_family_from_name("qwen4");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("harmony"), std::string::npos) << bad.status().message();
  EXPECT_NE(chat_family_list().find("qwen3 | deepseek3 | deepseek-r1 | harmony"), std::string::npos);
}

TEST(ChatTemplateFamilies, HarmonyOutputKeepsSpecials) {
  EXPECT_TRUE(chat_output_needs_specials(ChatFamily::kHarmony));
  EXPECT_FALSE(chat_output_needs_specials(ChatFamily::kQwen3));
}

}  // namespace
