// gpt-oss (general.architecture = "gpt-oss"): loading and one transformer layer over a set of
// token rows. Internal to the runtime; forward_rows() (runtime/forward.cpp), which runs both prefill
// and batched decode, calls gptoss_layer() in place of the generic layer when Model::Impl::gptoss
// is set.
//
// What differs from the generic layer (engine/README.md "gpt-oss" lists every key and tensor):
//   attention: biases on q/k/v/o; NeoX RoPE with YaRN-scaled frequencies and cos/sin scaled by
//              0.1 ln(factor) + 1; one learned sink logit per head that joins the softmax
//              denominator only; even layers (0, 2, ...) see the last sliding_window positions
//              (keys j with pos - j < window), odd layers everything before them.
//   MoE:       router with bias; top-k of the router logits, softmax over the k selected;
//              experts with biases and the clamped SwiGLU
//              gate' = min(gate, limit), up' = clamp(up, -limit, limit),
//              act = gate' * sigmoid(alpha * gate') * (up' + 1), alpha = 1.702, limit = 7.
//   norms:     attn_norm before attention, post_attention_norm before the MoE (RMSNorm).
// Thread safety: GptOssModel is immutable after load; gptoss_layer only reads the model.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "moe/model.h"
#include "moe/status.h"

namespace moe {

class ThreadPool;

struct GptOssLayer {
  std::vector<float> bo;        // (d,) attn_output.bias
  std::vector<float> sinks;     // (H,) attn_sinks.weight: one logit per query head
  std::vector<float> router_b;  // (E,) ffn_gate_inp.bias
  std::vector<float> gate_b;    // (E, ff) ffn_gate_exps.bias
  std::vector<float> up_b;      // (E, ff) ffn_up_exps.bias
  std::vector<float> down_b;    // (E, d) ffn_down_exps.bias
  uint32_t window = 0;          // 0: full causal attention; else the last `window` positions
};

struct GptOssModel {
  uint32_t sliding_window = 0;  // attention.sliding_window (128 in the released models)
  float swiglu_alpha = 1.702f, swiglu_limit = 7.f;
  // RoPE: angle of pair i at position p is p * inv_freq[i]; cos and sin are scaled by rope_mscale.
  std::vector<double> inv_freq;  // (n_rot / 2,)
  float rope_mscale = 1.f;
  bool yarn = false;
  float yarn_factor = 1.f, yarn_beta_fast = 32.f, yarn_beta_slow = 1.f;
  uint32_t yarn_orig_ctx = 0;
  std::vector<GptOssLayer> layers;
};

// YaRN inverse frequencies (n_rot / 2,) as the gpt-oss reference computes them (the correction
// range is not rounded to whole dimensions). factor <= 1 gives plain RoPE: base^(-2i / n_rot).
std::vector<double> yarn_inv_freq(uint32_t n_rot, double base, double factor, double orig_ctx, double beta_fast,
                                  double beta_slow);

// One token row of a batched step: its position, and its sequence's K and V cache for this layer
// (n_ctx, Hkv * hd) each. The layer writes the row's K/V at `pos` and reads positions <= pos.
struct GptOssRow {
  uint32_t pos;
  float* k_cache;
  float* v_cache;
};

// gpt-oss's clamped SwiGLU for one (gate, up) pair: the gate is clamped from above only (below -limit
// the gate term is already ~0), the linear part on both sides and shifted by +1.
inline float gptoss_swiglu(float gate, float up, float alpha, float limit) {
  const float g = gate < limit ? gate : limit;
  const float u = up < -limit ? -limit : (up > limit ? limit : up);
  return g / (1.f + std::exp(-alpha * g)) * (u + 1.f);
}

// Called once per row with the k selected experts (in selection order), their weights (softmax over
// the selected logits), and the entropy and top-k margin of the softmax over all router logits.
using GptOssRouteFn = std::function<void(int64_t row, const uint16_t* experts, const float* weights,
                                         float entropy, float margin)>;

// Reads the gpt-oss keys and every tensor into m (hyper-parameters common to all architectures are
// already in m.hp). Every failure names the key or tensor.
Status load_gptoss(Model::Impl& m);

// x (T, d) <- x + attention(x) and then + MoE(x), for T = rows.size() token rows.
void gptoss_layer(const Model::Impl& m, uint32_t il, std::span<const GptOssRow> rows, float* x, ThreadPool* pool,
                  const GptOssRouteFn& on_route);

}  // namespace moe
