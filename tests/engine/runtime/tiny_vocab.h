// Vocabularies for the tiny random models of tiny_model.h, so that generation can be decoded:
// a project-owned SPM and BPE vocabulary of exactly `n` tokens, or the tokenizer.* keys of any
// vocabulary GGUF (e.g. ../shared/fixtures/vocab/ggml-vocab-*.gguf).
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace moe::testing {

inline const std::string kSpmMarker = "\xE2\x96\x81";  // U+2581, SPM's word-boundary marker

// The ASCII word of token `i` (3 <= i < n) in the project vocabularies below.
inline std::string tiny_word(int i) {
  static const char* const kWords[] = {"the", "cat", "sat", "on", "a", "mat", "and", "ran", "far", "away",
                                       "to", "see", "big", "red", "sun", "x", "yz", "ok", "no", "so"};
  return std::string(kWords[i % 20]) + (i >= 20 ? std::to_string(i / 20) : "");
}

// SPM ("llama"): 0 <unk>, 1 <s>, 2 </s> (EOS), then normal pieces; odd ids carry the word-boundary
// marker ("▁the"), even ids do not ("cat"). The text of a generated token is therefore known by hand:
// the piece with "▁" read as a space.
inline std::vector<std::string> add_tiny_spm_vocab(GgufWriter& w, int n) {
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  std::vector<float> scores = {0, 0, 0};
  for (int i = 3; i < n; ++i) {
    toks.push_back((i % 2 ? kSpmMarker : "") + tiny_word(i));
    types.push_back(1);
    scores.push_back(-float(i));
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", toks);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_f32("tokenizer.ggml.scores", scores);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  return toks;
}

// Byte-level BPE ("gpt2"): 0 <|endoftext|> (EOS, control), then normal pieces; odd ids start with
// "Ġ" (GPT-2's mapped space), even ids do not. No merges: generation only decodes.
inline std::vector<std::string> add_tiny_bpe_vocab(GgufWriter& w, int n) {
  std::vector<std::string> toks = {"<|endoftext|>", "<|pad|>", "<|unused|>"};
  std::vector<int32_t> types = {3, 3, 3};
  for (int i = 3; i < n; ++i) {
    toks.push_back((i % 2 ? "\xC4\xA0" : "") + tiny_word(i));
    types.push_back(1);
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set_array_string("tokenizer.ggml.tokens", toks);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_string("tokenizer.ggml.merges", {});
  w.set_u32("tokenizer.ggml.eos_token_id", 0);
  return toks;
}

// Copies every tokenizer.* key of `vocab` (a vocabulary-only or full GGUF) into `w`.
inline void copy_vocab(GgufWriter& w, const GgufFile& vocab) {
  for (const auto& [key, value] : vocab.metadata())
    if (key.rfind("tokenizer.", 0) == 0) w.set_value(key, value);
}

}  // namespace moe::testing
