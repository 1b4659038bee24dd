#include "moe/prompt.h"

namespace moe {

Result<ChatFamily> resolve_chat_family(const Tokenizer& tok, std::string_view name) {
  if (name == "auto") return detect_chat_family(tok.chat_template());
  return chat_family_from_name(name);
}

Result<std::vector<int32_t>> encode_prompt(const Tokenizer& tok, ChatFamily family,
                                           const std::optional<std::string>& prompt,
                                           std::span<const ChatMessage> messages, ChatOptions options) {
  if (prompt) return tok.encode(*prompt, EncodeOptions{true, false});
  options.add_generation_prompt = true;
  if (family == ChatFamily::kRaw) return tok.encode(render_chat(family, messages, options), EncodeOptions{true, true});
  if (options.bos_text.empty() && tok.bos() >= 0) options.bos_text = tok.piece(tok.bos());
  return tok.encode(render_chat(family, messages, options), EncodeOptions{false, true});
}

DecodeOptions output_decode_options(ChatFamily family) {
  DecodeOptions d = DecodeOptions::generated_text();
  if (chat_output_needs_specials(family)) d.show_special = true;
  return d;
}

}  // namespace moe
