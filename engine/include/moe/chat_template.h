// Chat templates: render system/user/assistant messages the way a model family was trained on.
// Families are detected from tokenizer.chat_template text, or named explicitly.
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "moe/status.h"

namespace moe {

enum class ChatFamily { kRaw, kChatML, kMistral, kGranite, kTulu, kLlama3, kDeepSeek };

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// "raw", "chatml", "mistral", "granite", "tulu", "llama3", "deepseek"; InvalidArgument otherwise.
Result<ChatFamily> chat_family_from_name(std::string_view name);
const char* chat_family_name(ChatFamily f);
// Best guess from a Jinja template's distinctive markers; kRaw when nothing matches.
ChatFamily detect_chat_family(std::string_view chat_template);
// Rendered prompt text; add_generation_prompt appends the assistant turn opener. bos_text is put in
// front where the family's template writes bos_token; eos_text closes assistant turns where the
// template writes eos_token (empty: the family's usual EOS text, "</s>", "<|endoftext|>", ...).
std::string render_chat(ChatFamily f, std::span<const ChatMessage> messages,
                        bool add_generation_prompt = true, std::string_view bos_text = "",
                        std::string_view eos_text = "");

}  // namespace moe
