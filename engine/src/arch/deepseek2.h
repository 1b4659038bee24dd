// DeepSeek-V2 / V3 (general.architecture = deepseek2): multi-head latent attention (MLA) over a
// latent KV cache, and the DeepSeek MoE layer (softmax or sigmoid scoring, a selection-only expert
// bias, group-limited top-k, shared experts, leading dense layers).
//
// The loader fills the common LayerWeights (norms, router, experts, dense and shared FFNs) and a
// Deepseek2Model with what only this architecture has; forward_rows() (runtime/forward.cpp), which
// runs both prefill and batched decode, calls deepseek2_layer() for each layer instead of the
// generic attention and routing. Every GGUF key and tensor read here is listed with
// its meaning in engine/README.md ("DeepSeek-V2/V3").
//
// Latent cache: per token and layer, kv_lora_rank normalised latent values followed by the n_rope
// values of the shared, already rotated rope key; K and V are never expanded. Attention absorbs the
// key up-projection into the query (q_lat = W_k_h^T q_nope) and applies the value up-projection to
// the attention-weighted latent, so a decode step reads the cache once per head.
//
// Thread safety: Deepseek2Model is immutable after load; deepseek2_layer() uses only its arguments
// and local buffers, so concurrent calls on different caches are safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "moe/model.h"
#include "moe/status.h"

namespace moe {

class GgufFile;
class RoutingTrace;
class ThreadPool;

enum class Ds2Scoring : uint32_t { kSoftmax = 1, kSigmoid = 2 };  // values of expert_gating_func

struct Deepseek2Params {
  uint32_t q_lora_rank = 0;   // 0: q is projected directly from the hidden state (V2-Lite)
  uint32_t kv_lora_rank = 0;  // latent width stored in the cache
  uint32_t n_rope = 0;        // rotated part of each q/k head; k's is one shared head (MQA)
  uint32_t n_nope = 0;        // unrotated part of each q/k head (qk head dim - n_rope)
  uint32_t v_dim = 0;         // value head dim
  uint32_t n_dense_lead = 0;  // layers [0, n_dense_lead) use a dense FFN
  uint32_t n_shared = 0;      // shared experts (fused into one FFN of width n_ff_exp * n_shared)
  uint32_t n_group = 1, topk_group = 1;  // experts in n_group groups; only topk_group groups may be picked
  Ds2Scoring scoring = Ds2Scoring::kSoftmax;
  float kq_scale = 0;         // mscale^2 / sqrt(qk head dim)
  // RoPE (adjacent pairs, GGUF "normal") with optional YaRN: frequency i is interpolated by
  // freq_scale and blended back to the original by a ramp over pair indices [corr_lo, corr_hi].
  float rope_base = 10000.f, freq_scale = 1.f, ext_factor = 0.f, corr_lo = 0.f, corr_hi = 0.f;

  uint32_t cache_width() const { return kv_lora_rank + n_rope; }  // floats per token per layer
};

struct Deepseek2Layer {
  WeightView wq;                        // (d -> H*(nope+rope)) when q_lora_rank == 0
  WeightView wq_a, wq_b;                // (d -> q_lora_rank), (q_lora_rank -> H*(nope+rope))
  std::vector<float> q_a_norm;          // (q_lora_rank,)
  WeightView wkv_a;                     // (d -> kv_lora_rank + n_rope)
  std::vector<float> kv_a_norm;         // (kv_lora_rank,)
  std::vector<WeightView> k_absorb;     // per head: (n_nope -> kv_lora_rank), W_k_h transposed
  std::vector<WeightView> v_up;         // per head: (kv_lora_rank -> v_dim)
  std::vector<float> probs_bias;        // (n_expert,) exp_probs_b, selection only; empty if absent
};

struct Deepseek2Model {
  Deepseek2Params p;
  std::vector<Deepseek2Layer> layers;
  std::vector<std::vector<float>> owned;  // f32 transposes of attn_kv_b's key rows, one per layer
};

// Reads the deepseek2 keys and tensors into m.hp, m.layers and m.ds2. Called by the model loader
// after the common hyper-parameters, the embedding and the output head are read.
Status load_deepseek2(const GgufFile& f, const std::string& arch, Model::Impl& m);

// The token rows one deepseek2_layer() call processes. Row i sits at position pos[i] of its
// sequence, whose layer cache is cache[i] ((n_ctx, cache_width()) floats); rows of one sequence must
// come in position order. The row's latent is written at pos[i] before any row attends, so a
// prompt's rows see each other causally.
struct MlaRows {
  std::vector<uint32_t> pos;
  std::vector<float*> cache;
  // Per-row routing traces (null entries: not traced) for rows of different sequences (a batched
  // decode step); when empty, every row's record goes to deepseek2_layer()'s trace argument.
  std::vector<RoutingTrace*> traces;
  static MlaRows one_sequence(int64_t n, uint32_t first_pos, float* layer_cache);
};

// One transformer block over the rows: x (T, n_embd) is updated in place (attention, then dense FFN
// or MoE). trace (may be null) receives one record per row for MoE layers, as layer moe_layer.
void deepseek2_layer(const Model::Impl& m, uint32_t il, float* x, const MlaRows& rows, ThreadPool* pool,
                     RoutingTrace* trace, uint32_t moe_layer);

// Expert choice of one row, exposed for tests: router logits (E,) -> k expert ids in rank order and
// their weights; entropy/margin as recorded in the routing trace.
struct Ds2Route {
  std::vector<uint16_t> experts;
  std::vector<float> weights;
  float entropy = 0, margin = 0;
};
Ds2Route deepseek2_route(const Deepseek2Params& p, const float* logits, const std::vector<float>& bias,
                         uint32_t n_expert, uint32_t k, bool norm, float scale);

}  // namespace moe
