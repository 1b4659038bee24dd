// RoutingTrace: which experts each token was sent to, per MoE layer.
//
// For every processed token (prompt and generated) and every MoE layer the trace holds the
// selected expert ids in rank order, their final gate weights (after any renormalisation and
// scaling the architecture applies), the entropy (nats) of the router's full softmax
// distribution, and the margin between the k-th and (k+1)-th router probability.
// Ownership: a Session owns its trace; copy it out to keep it. Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "moe/status.h"

namespace moe {

struct RoutingStep {  // one token at one MoE layer
  std::span<const uint16_t> experts;  // (k,) rank order, best first
  std::span<const float> weights;     // (k,) final gate weights
  float entropy = 0.f;                // nats, of softmax over all n_expert router logits
  float margin = 0.f;                 // p[k-th] - p[(k+1)-th]; 0 when k == n_expert
};

class RoutingTrace {
 public:
  RoutingTrace() = default;
  RoutingTrace(uint32_t n_moe_layers, uint32_t n_expert, uint32_t k);

  uint32_t n_layers() const { return n_layers_; }
  uint32_t n_expert() const { return n_expert_; }
  uint32_t k() const { return k_; }
  uint64_t n_tokens() const;
  bool empty() const { return n_tokens() == 0; }

  // Appends one token's record for `layer` (0-based MoE layer index). Tokens are appended in
  // order; layer records of a token are appended layer 0..n_layers-1.
  void append(uint32_t layer, const uint16_t* experts, const float* weights, float entropy,
              float margin);
  RoutingStep at(uint64_t token, uint32_t layer) const;
  void clear();
  void truncate(uint64_t n_tokens);  // drop records of tokens >= n_tokens

  // Compact binary form (documented in engine/README.md "Routing trace format"): header
  // (magic "MOERT1", n_layers, n_expert, k, n_tokens) then per record k u8/u16 expert ids,
  // k fp16 weights, fp16 entropy, fp16 margin. Bytes per token = n_layers * (k*(id+2) + 4).
  std::vector<uint8_t> serialize() const;
  static Result<RoutingTrace> deserialize(const uint8_t* data, size_t size);

 private:
  uint32_t n_layers_ = 0, n_expert_ = 0, k_ = 0;
  std::vector<uint16_t> experts_;  // (n_tokens, n_layers, k)
  std::vector<float> weights_;     // (n_tokens, n_layers, k)
  std::vector<float> entropy_;     // (n_tokens, n_layers)
  std::vector<float> margin_;      // (n_tokens, n_layers)
};

}  // namespace moe
