// Chat templates: render system/user/assistant messages the way a model family was trained on.
// Families are detected from tokenizer.chat_template text, or named explicitly. Each family's
// rendering is written by hand from its published Jinja template (engine/README.md says which
// template and what each was checked against); no Jinja is interpreted.
// Thread safety: pure functions. Errors: an unknown family name is InvalidArgument.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moe/status.h"

namespace moe {

enum class ChatFamily {
  kRaw, kChatML, kMistral, kGranite, kTulu, kLlama3, kDeepSeek,
  kQwen3,       // ChatML with the thinking switch (enable_thinking)
  kDeepSeekV3,  // <｜User｜>/<｜Assistant｜> (DeepSeek-V3)
  kDeepSeekR1,  // the same, the generation prompt opening <think>\n (DeepSeek-R1)
  kHarmony,     // gpt-oss: system/developer messages, channels, reasoning effort
};
inline constexpr int kChatFamilyCount = 11;

struct ChatMessage {
  std::string role;  // "system", "developer" (harmony), "user", "assistant"
  std::string content;
};

// What a template takes beyond the messages (Hugging Face's apply_chat_template kwargs).
struct ChatOptions {
  bool add_generation_prompt = true;
  std::string bos_text;  // put in front where the family's template writes bos_token
  std::string eos_text;  // closes assistant turns where it writes eos_token ("": the family's usual text)
  // qwen3: false renders the empty thinking block that switches thinking off; true (the
  // template's default) lets the model think.
  bool enable_thinking = true;
  std::string reasoning_effort = "medium";  // harmony: low | medium | high
  // harmony: the "Current date: YYYY-MM-DD" line. The template writes today's date; callers that
  // want the same prompt on every day pin it. encode_prompt() fills in today's UTC date when empty.
  std::string current_date;
};

// "raw", "chatml", ..., "harmony"; InvalidArgument naming the accepted names otherwise.
Result<ChatFamily> chat_family_from_name(std::string_view name);
const char* chat_family_name(ChatFamily f);
// Every family name in the enum's order, and the same joined with " | " (for help and errors).
std::vector<std::string> chat_family_names();
std::string chat_family_list();
// Best guess from a Jinja template's distinctive markers (engine/README.md lists them in the order
// they are tried); kRaw when nothing matches.
ChatFamily detect_chat_family(std::string_view chat_template);
// Rendered prompt text.
std::string render_chat(ChatFamily f, std::span<const ChatMessage> messages, const ChatOptions& options);
// The same with default options: add_generation_prompt appends the assistant turn opener.
std::string render_chat(ChatFamily f, std::span<const ChatMessage> messages,
                        bool add_generation_prompt = true, std::string_view bos_text = "",
                        std::string_view eos_text = "");
// Whether the family's control tokens carry the structure of the answer (harmony's channels), so
// generated text must be decoded with its special tokens shown for the thinking to be told apart.
bool chat_output_needs_specials(ChatFamily f);

}  // namespace moe
