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

class PreTokenizer {
 public:
  // NotSupported for a pre-type this engine does not know.
  static Result<std::unique_ptr<PreTokenizer>> create(const std::string& pre);
  ~PreTokenizer();
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  PreTokenizer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
