// moe::generate: prefill, then sample until end-of-generation, a stop string, max_tokens or the
// context limit. Streams complete UTF-8 text through on_text. The text is decoded with
// DecodeOptions::generated_text() (a continuation of the prompt, as llama-server returns it), and
// stop strings are matched on that text, so a stop string may begin with the space of the first
// generated token's word-boundary marker.
#include <chrono>
#include <algorithm>
#include <limits>
#include <optional>
#include <vector>

#include "moe/session.h"
#include "moe/tokenizer.h"

namespace moe {

Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& opts,
                                const std::function<void(std::string_view)>& on_text) {
  GenerateResult r;
  r.prompt_tokens.assign(prompt.begin(), prompt.end());
  if (prompt.empty()) return Status::InvalidArgument("empty prompt");
  if (opts.max_tokens < 0) return Status::InvalidArgument("max_tokens must be >= 0");
  const Model& model = session.model();
  const Tokenizer* tok = model.has_tokenizer() ? &model.tokenizer() : nullptr;
  std::optional<Tokenizer::StreamDecoder> stream;
  // Generated text follows the one policy in moe/tokenizer.h: the continuation of the prompt.
  if (tok) stream.emplace(*tok, DecodeOptions::generated_text());
  auto t0 = std::chrono::steady_clock::now();
  MOE_RETURN_IF_ERROR(session.prefill(prompt));
  auto t1 = std::chrono::steady_clock::now();
  r.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  Sampler sampler(opts.sampling);
  std::vector<int32_t> eog_ids;  // masked when ignore_eos
  std::vector<float> masked;     // (n_vocab,) logits with eog_ids at -inf
  if (opts.ignore_eos && tok)
    for (int32_t id = 0; id < tok->n_vocab(); ++id)
      if (tok->is_eog(id)) eog_ids.push_back(id);
  r.finish_reason = "length";
  size_t emitted = 0;  // bytes of r.text already passed to on_text
  for (int32_t i = 0; i < opts.max_tokens; ++i) {
    if (opts.cancel && opts.cancel->load(std::memory_order_relaxed)) return Status::Cancelled("generation cancelled");
    std::span<const float> logits = session.logits();
    int32_t id;
    if (eog_ids.empty()) {
      id = sampler.sample(logits);
    } else {
      masked.assign(logits.begin(), logits.end());
      for (int32_t e : eog_ids)
        if (size_t(e) < masked.size()) masked[size_t(e)] = -std::numeric_limits<float>::infinity();
      id = sampler.sample(masked);
    }
    if (tok && tok->is_eog(id)) {
      r.finish_reason = "stop";
      r.eog_token = id;
      break;
    }
    r.tokens.push_back(id);
    if (opts.on_token) opts.on_token(id, logits);
    if (stream) {
      r.text += stream->push(id);
      // Stop strings end the text at their first occurrence; hold back a possible partial match.
      bool stopped = false;
      size_t hold = 0;
      for (const auto& s : opts.stop) {
        if (s.empty()) continue;  // matches nothing (and must not make `hold` wrap around)
        size_t at = r.text.find(s);
        if (at != std::string::npos) {
          r.text.resize(at);
          stopped = true;
        }
        hold = std::max(hold, s.size() - 1);
      }
      if (on_text && r.text.size() > emitted + (stopped ? 0 : hold)) {
        size_t upto = stopped ? r.text.size() : r.text.size() - hold;
        if (upto > emitted) {
          on_text(std::string_view(r.text).substr(emitted, upto - emitted));
          emitted = upto;
        }
      }
      if (stopped) {
        r.finish_reason = "stop";
        break;
      }
    }
    if (i + 1 == opts.max_tokens) break;
    if (session.n_past() >= session.n_ctx()) {
      r.finish_reason = "context";
      break;
    }
    MOE_RETURN_IF_ERROR(session.step(id));
  }
  if (stream && r.finish_reason != "stop") r.text += stream->finish();
  if (on_text && r.text.size() > emitted) on_text(std::string_view(r.text).substr(emitted));
  r.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return r;
}

}  // namespace moe
