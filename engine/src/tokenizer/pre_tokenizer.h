// Pre-tokenisation for byte-level BPE: the split regexes selected by tokenizer.ggml.pre, applied in
// order (each regex splits every piece produced by the previous one; text between matches is kept
// as its own piece). PCRE2 in UTF + UCP mode gives the Unicode categories.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moe/status.h"

namespace moe {

// What a tokenizer.ggml.pre name implies beyond its split regexes: settings of the family's Hugging
// Face tokenizer.json that no GGUF key carries.
struct BpeFamilyTraits {
  // model.ignore_merges: a pre-token that is itself a vocabulary entry is emitted whole, before any
  // merge (Llama 3, o200k); merges alone may reach a different split of it.
  bool ignore_merges = false;
  // An NFC normalizer (Qwen): text between special tokens is put in Normalization Form C before
  // splitting, so a decomposed "e" + U+0301 becomes the vocabulary's precomposed "é".
  bool nfc = false;
};

class PreTokenizer {
 public:
  // NotSupported for a pre-type this engine does not know.
  static Result<std::unique_ptr<PreTokenizer>> create(const std::string& pre);
  ~PreTokenizer();
  std::vector<std::string_view> split(std::string_view text) const;
  const BpeFamilyTraits& traits() const;

 private:
  PreTokenizer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
