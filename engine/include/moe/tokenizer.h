// Tokenizer: text <-> token ids exactly as a model family defines it, built from GGUF metadata
// (tokenizer.ggml.*): SPM ("llama") and byte-level BPE ("gpt2") with the pre-tokenizer named by
// tokenizer.ggml.pre.
//
// Ownership: immutable after construction; share it freely (a Model owns one).
// Thread safety: all const methods may be called concurrently. StreamDecoder is per stream.
// Errors: encode() of invalid UTF-8 returns InvalidArgument naming the byte offset; nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moe/status.h"

namespace moe {

class GgufFile;

struct EncodeOptions {
  bool add_special = true;     // prepend BOS / append EOS as the vocabulary's flags say
  bool parse_special = false;  // recognise special/control token texts (e.g. "<|im_start|>") in input
};

struct DecodeOptions {
  bool show_special = false;  // render control tokens' text instead of dropping it
};

class Tokenizer {
 public:
  // Reads tokenizer.* keys from a GGUF file (a full model or a vocab-only file).
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& gguf_path);
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  virtual ~Tokenizer();

  Result<std::vector<int32_t>> encode(std::string_view text, const EncodeOptions& = {}) const;
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& = {}) const;
  // The raw piece text of one token as stored in the vocabulary (for display).
  std::string piece(int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocabulary has none
  int32_t eos() const;
  bool is_eog(int32_t id) const;  // end-of-generation: EOS, EOT, <|im_end|> ...
  const std::string& model_kind() const;  // "llama" (SPM) or "gpt2" (BPE)
  const std::string& pre_kind() const;    // tokenizer.ggml.pre, "default" when absent
  const std::string& chat_template() const;  // tokenizer.chat_template, empty when absent

  // Streaming decode that never emits half a UTF-8 character.
  class StreamDecoder {
   public:
    explicit StreamDecoder(const Tokenizer& tok, DecodeOptions opts = {});
    std::string push(int32_t id);  // complete characters available so far
    std::string finish();          // flushes; incomplete trailing bytes become U+FFFD
   private:
    const Tokenizer& tok_;
    DecodeOptions opts_;
    std::string pending_;
    bool started_ = false;  // some text has been produced (SPM prefix space handled)
  };

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
