// Session: one conversation's mutable state (KV cache, logits, routing trace) over a shared Model.
//
// Several sessions may run concurrently over the same Model. A session itself is not thread-safe.
// Determinism: the same model, tokens and thread count-independent kernels give bit-identical
// logits for any n_threads.
#pragma once

#include <atomic>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "moe/model.h"
#include "moe/routing.h"
#include "moe/sampler.h"
#include "moe/status.h"

namespace moe {

struct SessionOptions {
  uint32_t n_ctx = 0;        // 0: min(model's training context, 4096)
  int n_threads = 0;         // 0: hardware concurrency
  bool trace_routing = false;
};

class Session {
 public:
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& = {});
  ~Session();

  // Runs all tokens as one batch; logits afterwards are those of the last token.
  // OutOfRange when n_past + tokens.size() > n_ctx; InvalidArgument for an id outside the vocab.
  Status prefill(std::span<const int32_t> tokens);
  // Feeds one token (usually the last sampled one).
  Status step(int32_t token);
  std::span<const float> logits() const;  // (n_vocab,) of the last processed token
  uint32_t n_past() const;
  uint32_t n_ctx() const;
  void reset();  // clears KV cache and trace
  const RoutingTrace& trace() const;
  const Model& model() const;

  struct Impl;

 private:
  friend struct SessionAccess;  // engine-internal (generate_repeats)
  Session();
  std::unique_ptr<Impl> impl_;
};

struct GenerateOptions {
  int32_t max_tokens = 128;
  SamplerParams sampling;
  std::vector<std::string> stop;  // stop strings, matched on decoded text
  // Read between decode steps (not owned; may be null): once true, generate() returns
  // Status::Cancelled. Lets a caller stop a long completion within one step.
  const std::atomic<bool>* cancel = nullptr;
  // Masks every end-of-generation token out of the logits before sampling (llama.cpp's and vLLM's
  // ignore_eos), so generation runs to max_tokens, a stop string or the context limit: fixed-length
  // outputs for benchmarks and for tests that need a request to stay busy.
  bool ignore_eos = false;
  // Optional: constrained decoding (a grammar, a JSON shape). Called before each token is sampled
  // with that step's logits (n_vocab,), after ignore_eos, to edit in place: -infinity forbids a
  // token, and the sampler draws from what is left (with the same seed and the same masks, the same
  // tokens). It must leave at least one finite entry. on_token still receives the unmasked logits.
  std::function<void(std::span<float> logits)> constrain;
  // Optional: called for every generated token (the end-of-generation one excluded) with the
  // unmasked logits (n_vocab,) it was sampled from, before the token is fed back. For log-probabilities.
  std::function<void(int32_t token, std::span<const float> logits)> on_token;
};

struct GenerateResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;  // generated, without the end-of-generation token
  int32_t eog_token = -1;       // the sampled end-of-generation token that ended it, else -1
  std::string text;             // generated text (stop string excluded), decoded as a continuation
                                // of the prompt: DecodeOptions::generated_text() in moe/tokenizer.h
  std::string finish_reason;    // "stop" (EOG or stop string), "length", "context"
  double prefill_seconds = 0, decode_seconds = 0;
};

// Prefills `prompt` and samples until EOG, a stop string, max_tokens or the context limit.
// on_text (optional) receives complete UTF-8 text as it is produced; the pieces it receives add up
// to GenerateResult::text byte for byte.
Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt,
                                const GenerateOptions& opts,
                                const std::function<void(std::string_view)>& on_text = {});

}  // namespace moe
