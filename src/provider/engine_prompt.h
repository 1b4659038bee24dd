// How a request becomes the bundled engine's prompt tokens: one function for every caller (the local
// provider, `wobble generate`, `wobble serve`), so the same messages reach the model as the same ids
// whichever way they came in. That is what lets a suite run through `wobble serve` match a local run
// byte for byte.
// Thread safety: pure functions over a const Tokenizer.
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

namespace wobble {

// "auto": the family detected from the model's tokenizer.chat_template (raw when it has none);
// otherwise a family name ("raw", "chatml", ...). InvalidArgument for an unknown name.
moe::Result<moe::ChatFamily> resolve_chat_family(const moe::Tokenizer& tok, std::string_view name);

// A plain prompt (`prompt` set) is encoded as text: BOS as the vocabulary asks, special-token texts
// in it stay text. Chat messages are rendered with the family's template; the template's markers are
// special tokens and the user text inside them is tokenized as text.
moe::Result<std::vector<int32_t>> encode_engine_prompt(const moe::Tokenizer& tok, moe::ChatFamily family,
                                                       const std::optional<std::string>& prompt,
                                                       std::span<const moe::ChatMessage> messages);

}  // namespace wobble
