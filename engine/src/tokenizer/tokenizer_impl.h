// The tokenizer's shared state, read by the SPM, BPE, encode/decode and stream-decoder files.
// Built once by Tokenizer::from_gguf (vocab.cpp) and immutable afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moe/tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace moe {

// tokenizer.ggml.token_type values.
enum TokenType : int32_t { kTokNormal = 1, kTokUnknown = 2, kTokControl = 3, kTokUserDefined = 4, kTokUnused = 5, kTokByte = 6 };

// Lets string-keyed maps be searched with a string_view, so lookups in the merge loops allocate nothing.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextMap = std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>>;

struct Tokenizer::Impl {
  std::string model, pre, chat_template;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  TextMap id_of;
  // BPE works on symbol ids: vocabulary ids first, then texts that merges produce or consume but the
  // vocabulary lacks (kept in extra_symbols so the merge order stays exactly the string-based one).
  TextMap symbol_of;
  std::vector<std::string> extra_symbols;                 // symbol id n_vocab + k -> text
  struct Merge {
    int32_t rank, result;
  };
  std::unordered_map<uint64_t, Merge> merges;            // (left symbol << 32 | right symbol) -> merge
  int32_t byte_symbol[256];                              // GPT-2 mapped byte -> symbol id, -1 if none
  int32_t symbol(const std::string& text);
  std::vector<int32_t> specials;                         // control + user-defined, longest first
  std::vector<int32_t> specials_by_byte[256];            // the same, bucketed by first byte
  int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
  // Harmony (gpt-oss): <|end|> closes a message, not the turn (the final channel follows the
  // analysis one), so it never ends a generation, whatever the GGUF's eot id says; <|return|> and
  // <|call|> do. -1 when the vocabulary is not harmony's.
  int32_t harmony_end = -1, harmony_return = -1, harmony_call = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = true;
  bool ignore_merges = false;  // BPE: from the pre-tokenizer family (BpeFamilyTraits)
  bool family_nfc = false;
  std::unique_ptr<PreTokenizer> pretok;
  int32_t byte_tokens[256];

  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void spm_text(std::string_view text, std::vector<int32_t>& out) const;
  void append_piece(int32_t id, const DecodeOptions& opts, std::string& out) const;
  bool strips_prefix_space(const DecodeOptions& opts) const;  // SPM prefix space removed in this context
};

}  // namespace moe
