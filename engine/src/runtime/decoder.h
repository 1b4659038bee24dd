// One generation's sampling loop as a state machine, shared by generate() (one sequence) and
// generate_repeats() (many sequences in one batched step), so the two cannot drift: the same
// logits give the same token, the same stop decision and the same text in both. Internal.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "moe/session.h"
#include "moe/tokenizer.h"

namespace moe {

class Decoder {
 public:
  // r receives the tokens, text and finish reason; it must outlive the decoder.
  Decoder(const Model& model, const GenerateOptions& opts, GenerateResult& r,
          std::function<void(std::string_view)> on_text = {});
  // Whether the next advance() would sample (false only when max_tokens is 0).
  bool wants_token() const { return i_ < opts_->max_tokens; }
  // Samples from the logits of the last processed token. Returns true with *next set when that
  // token must be fed to the model (another step), false when the generation has ended.
  // n_past / n_ctx: the sequence's processed positions and its context limit.
  bool advance(std::span<const float> logits, uint32_t n_past, uint32_t n_ctx, int32_t* next);
  // Flushes the stream decoder and the held-back text; call once after the last advance().
  void finish();

 private:
  const GenerateOptions* opts_;
  GenerateResult* r_;
  std::function<void(std::string_view)> on_text_;
  const Tokenizer* tok_ = nullptr;
  std::optional<Tokenizer::StreamDecoder> stream_;
  Sampler sampler_;
  std::vector<int32_t> eog_ids_;  // masked when ignore_eos
  std::vector<float> masked_;     // (n_vocab,) logits with eog_ids at -inf
  size_t emitted_ = 0;            // bytes of r.text already passed to on_text
  int32_t i_ = 0;                 // tokens sampled so far
};

}  // namespace moe
