#include "provider/engine_prompt.h"

namespace wobble {

moe::Result<moe::ChatFamily> resolve_chat_family(const moe::Tokenizer& tok, std::string_view name) {
  if (name == "auto") return moe::detect_chat_family(tok.chat_template());
  return moe::chat_family_from_name(name);
}

moe::Result<std::vector<int32_t>> encode_engine_prompt(const moe::Tokenizer& tok, moe::ChatFamily family,
                                                       const std::optional<std::string>& prompt,
                                                       std::span<const moe::ChatMessage> messages) {
  if (prompt) return tok.encode(*prompt, moe::EncodeOptions{true, false});
  if (family == moe::ChatFamily::kRaw)
    return tok.encode(moe::render_chat(moe::ChatFamily::kRaw, messages, true), moe::EncodeOptions{true, true});
  // The rendered text carries the BOS where the template writes it, so none is added again.
  std::string text = moe::render_chat(family, messages, true, tok.bos() >= 0 ? tok.piece(tok.bos()) : "");
  return tok.encode(text, moe::EncodeOptions{false, true});
}

}  // namespace wobble
