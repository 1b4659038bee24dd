// moe::generate: prefill, then sample until end-of-generation, a stop string, max_tokens or the
// context limit. Streams complete UTF-8 text through on_text. The text is decoded with
// DecodeOptions::generated_text() (a continuation of the prompt, as llama-server returns it), and
// stop strings are matched on that text, so a stop string may begin with the space of the first
// generated token's word-boundary marker.
#include <algorithm>
#include <chrono>
#include <limits>
#include <vector>

#include "moe/session.h"
#include "moe/tokenizer.h"
#include "runtime/decoder.h"

namespace moe {

Decoder::Decoder(const Model& model, const GenerateOptions& opts, GenerateResult& r,
                 std::function<void(std::string_view)> on_text)
    : opts_(&opts), r_(&r), on_text_(std::move(on_text)), sampler_(opts.sampling) {
  tok_ = model.has_tokenizer() ? &model.tokenizer() : nullptr;
  // Generated text follows the one policy in moe/tokenizer.h: the continuation of the prompt.
  if (tok_) stream_.emplace(*tok_, DecodeOptions::generated_text());
  if (opts.ignore_eos && tok_)
    for (int32_t id = 0; id < tok_->n_vocab(); ++id)
      if (tok_->is_eog(id)) eog_ids_.push_back(id);
  r.finish_reason = "length";
}

bool Decoder::advance(std::span<const float> logits, uint32_t n_past, uint32_t n_ctx, int32_t* next) {
  if (!wants_token()) return false;
  GenerateResult& r = *r_;
  int32_t id;
  if (eog_ids_.empty() && !opts_->constrain) {
    id = sampler_.sample(logits);
  } else {
    masked_.assign(logits.begin(), logits.end());
    for (int32_t e : eog_ids_)
      if (size_t(e) < masked_.size()) masked_[size_t(e)] = -std::numeric_limits<float>::infinity();
    if (opts_->constrain) opts_->constrain(masked_);
    id = sampler_.sample(masked_);
  }
  if (tok_ && tok_->is_eog(id)) {
    r.finish_reason = "stop";
    r.eog_token = id;
    return false;
  }
  r.tokens.push_back(id);
  if (opts_->on_token) opts_->on_token(id, logits);
  if (stream_) {
    r.text += stream_->push(id);
    // Stop strings end the text at their first occurrence; hold back a possible partial match.
    bool stopped = false;
    size_t hold = 0;
    for (const auto& s : opts_->stop) {
      if (s.empty()) continue;  // matches nothing (and must not make `hold` wrap around)
      size_t at = r.text.find(s);
      if (at != std::string::npos) {
        r.text.resize(at);
        stopped = true;
      }
      hold = std::max(hold, s.size() - 1);
    }
    if (on_text_ && r.text.size() > emitted_ + (stopped ? 0 : hold)) {
      size_t upto = stopped ? r.text.size() : r.text.size() - hold;
      if (upto > emitted_) {
        on_text_(std::string_view(r.text).substr(emitted_, upto - emitted_));
        emitted_ = upto;
      }
    }
    if (stopped) {
      r.finish_reason = "stop";
      return false;
    }
  }
  if (++i_ == opts_->max_tokens) return false;
  if (n_past >= n_ctx) {
    r.finish_reason = "context";
    return false;
  }
  *next = id;
  return true;
}

void Decoder::finish() {
  GenerateResult& r = *r_;
  if (stream_ && r.finish_reason != "stop") r.text += stream_->finish();
  if (on_text_ && r.text.size() > emitted_) on_text_(std::string_view(r.text).substr(emitted_));
  emitted_ = r.text.size();
}

Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& opts,
                                const std::function<void(std::string_view)>& on_text) {
  GenerateResult r;
  r.prompt_tokens.assign(prompt.begin(), prompt.end());
  if (prompt.empty()) return Status::InvalidArgument("empty prompt");
  if (opts.max_tokens < 0) return Status::InvalidArgument("max_tokens must be >= 0");
  Decoder dec(session.model(), opts, r, on_text);
  auto t0 = std::chrono::steady_clock::now();
  MOE_RETURN_IF_ERROR(session.prefill(prompt));
  auto t1 = std::chrono::steady_clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  int32_t id = 0;
  for (;;) {
    if (dec.wants_token() && opts.cancel && opts.cancel->load(std::memory_order_relaxed))
      return Status::Cancelled("generation cancelled");
    if (!dec.advance(session.logits(), session.n_past(), session.n_ctx(), &id)) break;
    MOE_RETURN_IF_ERROR(session.step(id));
  }
  dec.finish();
  r.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return r;
}

}  // namespace moe
