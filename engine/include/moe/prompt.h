// Prompt assembly: how a request becomes a model's prompt token ids. One function for every caller
// (`wobble generate`, the local provider, `wobble serve`), so the same messages reach the model as
// the same ids whichever way they came in; a suite run through `wobble serve` then matches a local
// run byte for byte.
//
// A plain prompt is encoded as text: BOS as the vocabulary asks, special-token texts in it stay
// text. Chat messages are rendered with the family's template and encoded with special-token
// parsing on and no BOS added (the template writes BOS where it wants one), as llama-server
// tokenizes a rendered chat: a control-token text inside a message becomes that token there too.
// Thread safety: pure functions over a const Tokenizer. Errors: InvalidArgument for an unknown
// template name or text that is not valid UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moe/chat_template.h"
#include "moe/status.h"
#include "moe/tokenizer.h"

namespace moe {

// "auto": the family detected from the model's tokenizer.chat_template (raw when it has none);
// otherwise a family name (chat_family_list()).
Result<ChatFamily> resolve_chat_family(const Tokenizer& tok, std::string_view name);

// `prompt` set: that text. Otherwise `messages` rendered with `family` (kRaw: contents
// concatenated, encoded as text with BOS as the vocabulary asks). options.bos_text is filled from
// the vocabulary when empty; options.add_generation_prompt is always on.
Result<std::vector<int32_t>> encode_prompt(const Tokenizer& tok, ChatFamily family,
                                           const std::optional<std::string>& prompt,
                                           std::span<const ChatMessage> messages, ChatOptions options = {});

// How generated ids become the output text for this family: DecodeOptions::generated_text(), with
// special tokens shown where they carry the answer's structure (harmony's channels).
DecodeOptions output_decode_options(ChatFamily family);

}  // namespace moe
