// Tokenizer: text <-> token ids exactly as a model family defines it, built from GGUF metadata
// (tokenizer.ggml.*): SPM ("llama") and byte-level BPE ("gpt2") with the pre-tokenizer named by
// tokenizer.ggml.pre. For BPE the pre name also stands for what the family's Hugging Face
// tokenizer.json does that no GGUF key says: ignore_merges (llama3/llama-bpe, gpt-4o) and an NFC
// normalizer (qwen2), so encode() gives Hugging Face's ids; EncodeOptions::normalization switches
// NFC off (llama.cpp's ids) or on for any family.
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

// Unicode normalisation of the text between special tokens, before it is split and merged.
enum class Normalization {
  kFamily,  // what the family's Hugging Face tokenizer does: NFC for Qwen (pre "qwen2"), none otherwise
  kNone,    // the text as given, as llama.cpp encodes every family
  kNfc,     // Normalization Form C whatever the family
};

struct EncodeOptions {
  bool add_special = true;     // prepend BOS / append EOS as the vocabulary's flags say
  bool parse_special = false;  // recognise special/control token texts (e.g. "<|im_start|>") in input
  Normalization normalization = Normalization::kFamily;
};

// Where the decoded ids stand in a text. SPM encoding writes a space as the word-boundary marker
// U+2581 and, with add_space_prefix, puts one in front of the text; decoding turns markers back into
// spaces. The two contexts differ only in that first marker:
//  kStartOfText   the ids begin a text, as encode() made them: the space in front of the first word
//                 is the one encoding added, and is removed (once). Round trip: decode(encode(t)) == t.
//  kContinuation  the ids continue a text that came before them (tokens generated after a prompt):
//                 every marker is a real space and is kept, as llama.cpp's server (token by token,
//                 no left strip) and vLLM (decoded after the prompt) return a completion.
// BPE vocabularies have no prefix space: both contexts give the same bytes.
enum class DecodeContext { kStartOfText, kContinuation };

struct DecodeOptions {
  bool show_special = false;  // render control and unknown tokens' text instead of dropping it
  DecodeContext context = DecodeContext::kStartOfText;

  // The policy for generated text, in one place: what an OpenAI-compatible server (llama-server)
  // returns for the same tokens. The continuation is decoded in the context of the prompt; control,
  // unknown and unused tokens are hidden; <0xNN> tokens become bytes; bytes that do not form a
  // character become U+FFFD (one per maximal ill-formed subpart, as the server's JSON encoder
  // replaces them). moe::generate decodes with it, so `wobble generate`, the local provider and any
  // server built on generate() all return it.
  static constexpr DecodeOptions generated_text() { return {false, DecodeContext::kContinuation}; }
};

class Tokenizer {
 public:
  // Reads tokenizer.* keys from a GGUF file (a full model or a vocab-only file).
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& gguf_path);
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  virtual ~Tokenizer();

  Result<std::vector<int32_t>> encode(std::string_view text, const EncodeOptions& = {}) const;
  // Always well-formed UTF-8: each maximal ill-formed subpart (byte tokens that do not make a
  // character) becomes one U+FFFD, as an OpenAI-compatible server's JSON carries it.
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& = {}) const;
  // The raw piece text of one token as stored in the vocabulary (for display).
  std::string piece(int32_t id) const;
  // The bytes one token adds to generated text (DecodeOptions::generated_text(): a continuation,
  // control tokens hidden), before the U+FFFD repair: a byte token gives its byte, so a grammar over
  // output bytes can test tokens one by one. Empty for control, unknown and unused tokens.
  std::string token_bytes(int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocabulary has none
  int32_t eos() const;
  bool is_eog(int32_t id) const;  // end-of-generation: EOS, EOT, <|im_end|> ...
  const std::string& model_kind() const;  // "llama" (SPM) or "gpt2" (BPE)
  const std::string& pre_kind() const;    // tokenizer.ggml.pre, "default" when absent
  const std::string& chat_template() const;  // tokenizer.chat_template, empty when absent
  // What Normalization::kFamily means for this vocabulary: kNfc or kNone.
  Normalization family_normalization() const;
  // Whether a pre-token that is itself a vocabulary entry is emitted whole, before any merge (the
  // family's tokenizer.json sets model.ignore_merges: Llama 3, o200k/gpt-oss).
  bool ignores_merges() const;

  // Streaming decode that never emits half a UTF-8 character. The concatenation of push() and
  // finish() outputs equals decode() of the same ids with the same options, byte for byte (ill-formed
  // bytes become U+FFFD once they are known to be ill-formed; an unfinished character at the end
  // becomes one U+FFFD in finish()).
  class StreamDecoder {
   public:
    explicit StreamDecoder(const Tokenizer& tok, DecodeOptions opts = {});
    std::string push(int32_t id);  // complete characters available so far
    std::string finish();          // flushes; incomplete trailing bytes become U+FFFD
   private:
    const Tokenizer& tok_;
    DecodeOptions opts_;
    std::string pending_;
    bool started_ = false;  // some text has been produced (kStartOfText: SPM prefix space handled)
  };

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
