// DeepSeek-V2 / V3: loading and the per-layer forward pass (see deepseek2.h for the contract).
//
// Semantics, from the DeepSeek-V2/V3 papers and the public Hugging Face modeling code, in the GGUF
// layout llama.cpp's converter writes:
//   q      = q_b(rmsnorm(q_a(h)))  or  q(h)                       (T, H, nope + rope)
//   [c|kr] = kv_a_mqa(h); c = rmsnorm(c); kr = rope(kr)           latent (rank) + shared rope key
//   k_h    = [W_k_h c | kr], v_h = W_v_h c                        (never materialised)
//   score  = (q_nope_h . W_k_h c + rope(q_rope_h) . kr) * mscale^2 / sqrt(nope + rope)
//   out    = attn_output(concat_h W_v_h sum_j p_j c_j)
// MoE: s = softmax(logits) (V2) or sigmoid(logits) (V3); selection on s + exp_probs_b (V3), limited
// to the best topk_group groups; weights are the unbiased s of the chosen experts, optionally
// divided by their sum, times expert_weights_scale; plus the shared experts, ungated.
#include "arch/deepseek2.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gguf/gguf_file.h"
#include "moe/routing.h"
#include "runtime/elementwise.h"
#include "runtime/model_impl.h"
#include "runtime/tensor_lookup.h"
#include "util/thread_pool.h"

namespace moe {
namespace {

// Tensor lookups with the same checks and messages as the common loader (runtime/tensor_lookup.h).
class Tensors {
 public:
  explicit Tensors(const GgufFile& f) : f_(f) {}
  bool has(const std::string& name) const { return f_.find_tensor(name) != nullptr; }

  // dims as GGUF stores them (ne[0] first); the returned view is the first 2-D slice.
  Result<WeightView> weight(const std::string& name, std::vector<uint64_t> want, uint64_t* slice_bytes = nullptr) {
    return lookup_weight(f_, name, want, slice_bytes);
  }
  Result<std::vector<float>> vec(const std::string& name, uint64_t n, bool optional = false) {
    return lookup_vector(f_, name, n, optional);
  }

 private:
  const GgufFile& f_;
};

WeightView offset_rows(WeightView w, int64_t first_row, int64_t n_rows) {
  w.data = static_cast<const uint8_t*>(w.data) + uint64_t(first_row) * w.row_bytes;
  w.n_out = n_rows;
  return w;
}

// Rotates adjacent pairs (v[2i], v[2i+1]) of v (n,) for position pos, with YaRN when ext_factor > 0.
// DeepSeek's two YaRN magnitude factors cancel on the rotation (mscale == mscale_all_dim), so the
// rotation is not rescaled; the attention scale carries mscale^2 instead.
void rope_pairs(float* v, uint32_t n, uint32_t pos, const Deepseek2Params& p) {
  for (uint32_t i = 0; i < n / 2; ++i) {
    float theta_extrap = float(pos) * std::pow(p.rope_base, -2.f * float(i) / float(n));
    float theta = theta_extrap * p.freq_scale;
    if (p.ext_factor != 0.f) {
      float y = (float(i) - p.corr_lo) / std::max(0.001f, p.corr_hi - p.corr_lo);
      float mix = (1.f - std::min(1.f, std::max(0.f, y))) * p.ext_factor;
      theta = theta * (1.f - mix) + theta_extrap * mix;
    }
    float c = std::cos(theta), s = std::sin(theta);
    float x0 = v[2 * i], x1 = v[2 * i + 1];
    v[2 * i] = x0 * c - x1 * s;
    v[2 * i + 1] = x0 * s + x1 * c;
  }
}


// X (T, d) -> Y (T, d) through gate/up (d -> ff) and down (ff -> d).
void swiglu(const WeightView& gate, const WeightView& up, const WeightView& down, const float* x, int64_t T,
            float* y, ThreadPool* pool) {
  const int64_t ff = gate.n_out;
  std::vector<float> g(size_t(T * ff)), u(size_t(T * ff));
  matmul_pair(gate, up, x, T, g.data(), u.data(), pool);
  for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
  matmul(down, g.data(), T, y, pool);
}

}  // namespace

MlaRows MlaRows::one_sequence(int64_t n, uint32_t first_pos, float* layer_cache) {
  MlaRows r;
  for (int64_t i = 0; i < n; ++i) {
    r.pos.push_back(first_pos + uint32_t(i));
    r.cache.push_back(layer_cache);
  }
  return r;
}

Status load_deepseek2(const GgufFile& f, const std::string& arch, Model::Impl& m) {
  HParams& hp = m.hp;
  auto ds = std::make_shared<Deepseek2Model>();
  Deepseek2Params& p = ds->p;
  const std::string k = arch + ".";
  auto u32 = [&](const std::string& key, std::optional<uint64_t> dflt) -> Result<uint32_t> {
    if (!f.find(k + key)) {
      if (dflt) return uint32_t(*dflt);
      return Status::NotFound("metadata key '" + k + key + "' is missing");
    }
    MOE_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(k + key));
    if (v > (1u << 24)) return Status::Corruption("metadata key '" + k + key + "' = " + std::to_string(v) + " is absurd");
    return uint32_t(v);
  };
  auto f32 = [&](const std::string& key, double dflt) -> Result<float> {
    MOE_ASSIGN_OR_RETURN(double v, f.get_float_or(k + key, dflt));
    if (!std::isfinite(v)) return Status::Corruption("metadata key '" + k + key + "' is not finite");
    return float(v);
  };
  auto bad = [&](const std::string& what) { return Status::Corruption("deepseek2: " + what); };

  MOE_ASSIGN_OR_RETURN(p.q_lora_rank, u32("attention.q_lora_rank", 0));
  MOE_ASSIGN_OR_RETURN(p.kv_lora_rank, u32("attention.kv_lora_rank", std::nullopt));
  MOE_ASSIGN_OR_RETURN(p.n_rope, u32("rope.dimension_count", std::nullopt));
  // GGUFs written for llama.cpp's absorbed MLA carry the per-head sizes as *_mla and set
  // key_length / value_length to the latent cache's sizes; older ones carry them directly.
  uint32_t qk_dim = 0;
  if (f.find(k + "attention.key_length_mla")) {
    MOE_ASSIGN_OR_RETURN(qk_dim, u32("attention.key_length_mla", std::nullopt));
    MOE_ASSIGN_OR_RETURN(p.v_dim, u32("attention.value_length_mla", std::nullopt));
  } else {
    MOE_ASSIGN_OR_RETURN(qk_dim, u32("attention.key_length", std::nullopt));
    MOE_ASSIGN_OR_RETURN(p.v_dim, u32("attention.value_length", std::nullopt));
  }
  if (p.kv_lora_rank == 0 || p.n_rope == 0 || p.n_rope % 2 || qk_dim <= p.n_rope || p.v_dim == 0)
    return bad("inconsistent attention sizes: kv_lora_rank " + std::to_string(p.kv_lora_rank) + ", rope " +
               std::to_string(p.n_rope) + ", key length " + std::to_string(qk_dim) + ", value length " +
               std::to_string(p.v_dim));
  p.n_nope = qk_dim - p.n_rope;
  hp.head_dim = qk_dim;
  hp.n_rot = p.n_rope;
  hp.n_head_kv = hp.n_head;  // informational: every head has its own K and V (expanded from the latent)
  MOE_ASSIGN_OR_RETURN(p.n_dense_lead, u32("leading_dense_block_count", 0));
  MOE_ASSIGN_OR_RETURN(p.n_shared, u32("expert_shared_count", 0));
  MOE_ASSIGN_OR_RETURN(uint32_t gating, u32("expert_gating_func", 0));
  if (gating == 0) gating = 1;  // V2 / V2.5 GGUFs predate the key: softmax
  if (gating != 1 && gating != 2)
    return Status::NotSupported("metadata key '" + k + "expert_gating_func' = " + std::to_string(gating) +
                                " (1 softmax and 2 sigmoid are supported)");
  p.scoring = Ds2Scoring(gating);
  MOE_ASSIGN_OR_RETURN(p.n_group, u32("expert_group_count", 1));
  MOE_ASSIGN_OR_RETURN(p.topk_group, u32("expert_group_used_count", p.n_group));
  if (p.n_group == 0) p.n_group = 1;  // some converters write 0 for "no groups"
  if (p.topk_group == 0) p.topk_group = p.n_group;
  if (p.n_dense_lead > hp.n_layer) return bad("leading_dense_block_count exceeds block_count");
  const bool has_moe = p.n_dense_lead < hp.n_layer;
  if (has_moe) {
    if (hp.n_expert == 0) return bad("MoE layers present but expert_count is 0");
    if (hp.n_expert > 65535) return bad("expert_count too large");
    if (hp.n_expert % p.n_group || p.topk_group > p.n_group ||
        uint64_t(p.topk_group) * (hp.n_expert / p.n_group) < hp.n_expert_used)
      return bad("expert groups " + std::to_string(p.n_group) + " / used " + std::to_string(p.topk_group) +
                 " cannot supply " + std::to_string(hp.n_expert_used) + " of " + std::to_string(hp.n_expert) + " experts");
  }

  // RoPE scaling and the attention scale (YaRN's mscale enters squared: once for q, once for k).
  p.rope_base = hp.rope_base;
  std::string scaling = "none";
  if (f.find(k + "rope.scaling.type")) { MOE_ASSIGN_OR_RETURN(scaling, f.get_string(k + "rope.scaling.type")); }
  MOE_ASSIGN_OR_RETURN(float factor, f32("rope.scaling.factor", 1.0));
  MOE_ASSIGN_OR_RETURN(float attn_factor, f32("rope.scaling.attn_factor", 1.0));
  MOE_ASSIGN_OR_RETURN(float log_mul, f32("rope.scaling.yarn_log_multiplier", 0.0));
  MOE_ASSIGN_OR_RETURN(uint32_t n_ctx_orig, u32("rope.scaling.original_context_length", hp.n_ctx_train));
  if (scaling == "yarn" && factor > 1.f) {
    if (n_ctx_orig == 0) return bad("rope.scaling.original_context_length is 0");
    p.freq_scale = 1.f / factor;
    p.ext_factor = 1.f;
    // Pair index where a frequency makes `beta` turns over the original context (YaRN paper);
    // beta_fast = 32, beta_slow = 1 as in the reference implementations.
    auto corr = [&](float beta) {
      return float(p.n_rope) * std::log(float(n_ctx_orig) / (beta * 2.f * float(M_PI))) / (2.f * std::log(p.rope_base));
    };
    p.corr_lo = std::max(0.f, std::floor(corr(32.f)));
    p.corr_hi = std::min(float(p.n_rope - 1), std::ceil(corr(1.f)));
  } else if (scaling != "none" && scaling != "yarn") {
    return Status::NotSupported("metadata key '" + k + "rope.scaling.type' = '" + scaling +
                                "' (deepseek2 supports none and yarn)");
  }
  const float mscale = attn_factor * (1.f + log_mul * std::log(1.f / p.freq_scale));
  p.kq_scale = mscale * mscale / std::sqrt(float(qk_dim));

  Tensors t(f);
  const uint64_t d = hp.n_embd, H = hp.n_head, rank = p.kv_lora_rank, qk = qk_dim;
  m.layers.resize(hp.n_layer);
  ds->layers.resize(hp.n_layer);
  for (uint32_t i = 0; i < hp.n_layer; ++i) {
    LayerWeights& l = m.layers[i];
    Deepseek2Layer& a = ds->layers[i];
    const std::string pf = "blk." + std::to_string(i) + ".";
    MOE_ASSIGN_OR_RETURN(l.attn_norm, t.vec(pf + "attn_norm.weight", d));
    if (p.q_lora_rank) {
      MOE_ASSIGN_OR_RETURN(a.wq_a, t.weight(pf + "attn_q_a.weight", {d, p.q_lora_rank}));
      MOE_ASSIGN_OR_RETURN(a.q_a_norm, t.vec(pf + "attn_q_a_norm.weight", p.q_lora_rank));
      MOE_ASSIGN_OR_RETURN(a.wq_b, t.weight(pf + "attn_q_b.weight", {p.q_lora_rank, H * qk}));
    } else {
      MOE_ASSIGN_OR_RETURN(a.wq, t.weight(pf + "attn_q.weight", {d, H * qk}));
    }
    MOE_ASSIGN_OR_RETURN(a.wkv_a, t.weight(pf + "attn_kv_a_mqa.weight", {d, rank + p.n_rope}));
    MOE_ASSIGN_OR_RETURN(a.kv_a_norm, t.vec(pf + "attn_kv_a_norm.weight", rank));
    if (t.has(pf + "attn_kv_b.weight")) {
      // (rank -> H*(nope+v)): head h's rows are nope key rows then v value rows.
      MOE_ASSIGN_OR_RETURN(WeightView kvb, t.weight(pf + "attn_kv_b.weight", {rank, H * (p.n_nope + p.v_dim)}));
      std::vector<float>& kt = ds->owned.emplace_back(size_t(H) * rank * p.n_nope);
      std::vector<float> row(rank);
      for (uint64_t h = 0; h < H; ++h) {
        float* kth = &kt[size_t(h) * rank * p.n_nope];  // (rank, nope): row r holds W_k_h[:, r]
        for (uint32_t n = 0; n < p.n_nope; ++n) {
          const uint8_t* src = static_cast<const uint8_t*>(kvb.data) + (h * (p.n_nope + p.v_dim) + n) * kvb.row_bytes;
          dequantize_row(kvb.type, src, row.data(), int64_t(rank));
          for (uint64_t r = 0; r < rank; ++r) kth[r * p.n_nope + n] = row[r];
        }
        WeightView kw;
        kw.data = kth;
        kw.type = GgmlType::F32;
        kw.n_in = p.n_nope;
        kw.n_out = int64_t(rank);
        kw.row_bytes = uint64_t(p.n_nope) * 4;
        a.k_absorb.push_back(kw);
        a.v_up.push_back(offset_rows(kvb, int64_t(h * (p.n_nope + p.v_dim) + p.n_nope), p.v_dim));
      }
    } else if (t.has(pf + "attn_k_b.weight")) {
      uint64_t kslice = 0, vslice = 0;
      MOE_ASSIGN_OR_RETURN(WeightView kb, t.weight(pf + "attn_k_b.weight", {p.n_nope, rank, H}, &kslice));
      MOE_ASSIGN_OR_RETURN(WeightView vb, t.weight(pf + "attn_v_b.weight", {rank, p.v_dim, H}, &vslice));
      for (uint64_t h = 0; h < H; ++h) {
        WeightView kh = kb, vh = vb;
        kh.data = static_cast<const uint8_t*>(kb.data) + h * kslice;
        vh.data = static_cast<const uint8_t*>(vb.data) + h * vslice;
        a.k_absorb.push_back(kh);
        a.v_up.push_back(vh);
      }
    } else {
      return Status::NotFound("tensor '" + pf + "attn_kv_b.weight' (or attn_k_b / attn_v_b) is missing");
    }
    MOE_ASSIGN_OR_RETURN(l.wo, t.weight(pf + "attn_output.weight", {H * p.v_dim, d}));
    MOE_ASSIGN_OR_RETURN(l.ffn_norm, t.vec(pf + "ffn_norm.weight", d));
    if (i < p.n_dense_lead) {
      if (hp.n_ff == 0) return bad("layer " + std::to_string(i) + " is dense and feed_forward_length is 0");
      MOE_ASSIGN_OR_RETURN(l.ffn_gate, t.weight(pf + "ffn_gate.weight", {d, hp.n_ff}));
      MOE_ASSIGN_OR_RETURN(l.ffn_up, t.weight(pf + "ffn_up.weight", {d, hp.n_ff}));
      MOE_ASSIGN_OR_RETURN(l.ffn_down, t.weight(pf + "ffn_down.weight", {hp.n_ff, d}));
      continue;
    }
    const uint64_t E = hp.n_expert, ff = hp.n_ff_exp;
    if (ff == 0) return bad("expert_feed_forward_length is 0");
    l.moe = true;
    MOE_ASSIGN_OR_RETURN(l.router, t.weight(pf + "ffn_gate_inp.weight", {d, E}));
    MOE_ASSIGN_OR_RETURN(a.probs_bias, t.vec(pf + "exp_probs_b.bias", E, true));
    MOE_ASSIGN_OR_RETURN(l.gate_exps, t.weight(pf + "ffn_gate_exps.weight", {d, ff, E}, &l.gate_stride));
    MOE_ASSIGN_OR_RETURN(l.up_exps, t.weight(pf + "ffn_up_exps.weight", {d, ff, E}, &l.up_stride));
    MOE_ASSIGN_OR_RETURN(l.down_exps, t.weight(pf + "ffn_down_exps.weight", {ff, d, E}, &l.down_stride));
    if (p.n_shared) {
      l.has_shexp = true;
      const uint64_t sff = ff * p.n_shared;
      MOE_ASSIGN_OR_RETURN(l.gate_shexp, t.weight(pf + "ffn_gate_shexp.weight", {d, sff}));
      MOE_ASSIGN_OR_RETURN(l.up_shexp, t.weight(pf + "ffn_up_shexp.weight", {d, sff}));
      MOE_ASSIGN_OR_RETURN(l.down_shexp, t.weight(pf + "ffn_down_shexp.weight", {sff, d}));
    }
  }
  hp.n_ff_shexp = hp.n_ff_exp * p.n_shared;
  m.ds2 = std::move(ds);
  return Status::Ok();
}

Ds2Route deepseek2_route(const Deepseek2Params& p, const float* logits, const std::vector<float>& bias,
                         uint32_t n_expert, uint32_t k, bool norm, float scale) {
  const uint32_t E = n_expert;
  std::vector<double> s(E), sel(E);
  if (p.scoring == Ds2Scoring::kSoftmax) {
    double mx = *std::max_element(logits, logits + E), sum = 0;
    for (uint32_t e = 0; e < E; ++e) sum += (s[e] = std::exp(double(logits[e]) - mx));
    for (auto& v : s) v /= sum;
  } else {
    for (uint32_t e = 0; e < E; ++e) s[e] = 1.0 / (1.0 + std::exp(-double(logits[e])));
  }
  for (uint32_t e = 0; e < E; ++e) sel[e] = s[e] + (bias.empty() ? 0.0 : double(bias[e]));
  // Group limit: rank groups by their best selection score (V2, softmax) or by the sum of their two
  // best (V3, sigmoid); experts outside the best topk_group groups cannot be chosen.
  std::vector<bool> allowed(E, true);
  if (p.n_group > 1 && p.topk_group < p.n_group) {
    const uint32_t gs = E / p.n_group;
    std::vector<double> gscore(p.n_group);
    for (uint32_t g = 0; g < p.n_group; ++g) {
      std::vector<double> v(sel.begin() + g * gs, sel.begin() + (g + 1) * gs);
      std::sort(v.begin(), v.end(), std::greater<>());
      gscore[g] = p.scoring == Ds2Scoring::kSoftmax ? v[0] : v[0] + (gs > 1 ? v[1] : 0.0);
    }
    std::vector<uint32_t> go(p.n_group);
    for (uint32_t g = 0; g < p.n_group; ++g) go[g] = g;
    std::stable_sort(go.begin(), go.end(), [&](uint32_t a, uint32_t b) { return gscore[a] > gscore[b]; });
    for (uint32_t j = p.topk_group; j < p.n_group; ++j)
      for (uint32_t e = go[j] * gs; e < (go[j] + 1) * gs; ++e) allowed[e] = false;
  }
  std::vector<uint32_t> order(E);
  for (uint32_t e = 0; e < E; ++e) order[e] = e;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (allowed[a] != allowed[b]) return bool(allowed[a]);
    return sel[a] > sel[b];
  });
  Ds2Route r;
  double wsum = 0;
  for (uint32_t j = 0; j < k; ++j) wsum += s[order[j]];
  for (uint32_t j = 0; j < k; ++j) {
    double w = s[order[j]];
    if (norm) w /= wsum;
    r.experts.push_back(uint16_t(order[j]));
    r.weights.push_back(float(w * scale));
  }
  // Trace statistics on the scores normalised to a distribution; margin on the selection scores
  // between the k-th choice and the best expert not chosen (negative when a group rule overrode it).
  double tot = 0, ent = 0;
  for (double v : s) tot += v;
  for (double v : s)
    if (v > 0) ent -= (v / tot) * std::log(v / tot);
  r.entropy = float(ent);
  if (k < E) {
    double best_other = -INFINITY;
    for (uint32_t j = k; j < E; ++j) best_other = std::max(best_other, sel[order[j]]);
    r.margin = float(sel[order[k - 1]] - best_other);
  }
  return r;
}

void deepseek2_layer(const Model::Impl& m, uint32_t il, float* x, const MlaRows& rows, ThreadPool* tp,
                     RoutingTrace* trace, uint32_t moe_layer) {
  const HParams& hp = m.hp;
  const Deepseek2Params& p = m.ds2->p;
  const Deepseek2Layer& A = m.ds2->layers[il];
  const LayerWeights& L = m.layers[il];
  const int64_t T = int64_t(rows.pos.size()), d = hp.n_embd, H = hp.n_head;
  const int64_t nope = p.n_nope, nr = p.n_rope, qk = nope + nr, rank = p.kv_lora_rank, W = p.cache_width(),
                vd = p.v_dim;

  // 1. Attention. h (T, d) = norm(x); q (T, H*qk); kva (T, rank + rope).
  std::vector<float> h(size_t(T * d)), q(size_t(T * H * qk)), kva(size_t(T * W));
  for (int64_t t = 0; t < T; ++t) rmsnorm(&h[t * d], &x[t * d], L.attn_norm.data(), d, hp.rms_eps);
  if (p.q_lora_rank) {
    const int64_t rq = p.q_lora_rank;
    std::vector<float> qa(size_t(T * rq));  // (T, q_lora_rank)
    matmul(A.wq_a, h.data(), T, qa.data(), tp);
    for (int64_t t = 0; t < T; ++t) rmsnorm(&qa[t * rq], &qa[t * rq], A.q_a_norm.data(), rq, hp.rms_eps);
    matmul(A.wq_b, qa.data(), T, q.data(), tp);
  } else {
    matmul(A.wq, h.data(), T, q.data(), tp);
  }
  matmul(A.wkv_a, h.data(), T, kva.data(), tp);
  // 1a. Cache rows: [rmsnorm(latent) | rope(k_rope)] at each row's position.
  for (int64_t t = 0; t < T; ++t) {
    float* kt = &kva[t * W];
    rmsnorm(kt, kt, A.kv_a_norm.data(), rank, hp.rms_eps);
    rope_pairs(kt + rank, uint32_t(nr), rows.pos[t], p);
    std::memcpy(rows.cache[t] + size_t(rows.pos[t]) * W, kt, size_t(W) * 4);
    for (int64_t hh = 0; hh < H; ++hh) rope_pairs(&q[(t * H + hh) * qk + nope], uint32_t(nr), rows.pos[t], p);
  }
  // Per-head products are small (a decode step is one row), so heads, not rows, are split across
  // threads: one dispatch per step instead of one per head. Each head is still computed by one
  // thread in a fixed order, so results do not depend on the thread count.
  auto per_head = [&](auto&& fn) {
    auto run = [&](int64_t begin, int64_t end, int) {
      for (int64_t hh = begin; hh < end; ++hh) fn(hh);
    };
    if (tp && tp->size() > 1 && H > 1) tp->parallel_for(H, run);
    else run(0, H, 0);
  };
  // 1b. Absorb each head's key up-projection into its query: qlat (T, H, rank) = W_k_h^T q_nope.
  std::vector<float> qlat(size_t(T * H * rank)), olat(size_t(T * H * rank));
  per_head([&](int64_t hh) {
    std::vector<float> gin(size_t(T * nope)), gout(size_t(T * rank));
    for (int64_t t = 0; t < T; ++t) std::memcpy(&gin[t * nope], &q[(t * H + hh) * qk], size_t(nope) * 4);
    matmul(A.k_absorb[hh], gin.data(), T, gout.data(), nullptr);  // (T, rank)
    for (int64_t t = 0; t < T; ++t) std::memcpy(&qlat[(t * H + hh) * rank], &gout[t * rank], size_t(rank) * 4);
  });
  // 1c. Causal attention over the latent cache, one (row, head) per task: olat (T, H, rank).
  auto attend = [&](int64_t begin, int64_t end, int) {
    std::vector<float> score;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / H, hh = task % H;
      const uint32_t upto = rows.pos[t];  // inclusive
      const float* cache = rows.cache[t];
      const float* ql = &qlat[(t * H + hh) * rank];
      const float* qr = &q[(t * H + hh) * qk + nope];
      score.resize(size_t(upto) + 1);
      float mx = -INFINITY;
      for (uint32_t j = 0; j <= upto; ++j) {
        const float* cj = cache + size_t(j) * W;
        float s = 0;
        for (int64_t i = 0; i < rank; ++i) s += ql[i] * cj[i];
        for (int64_t i = 0; i < nr; ++i) s += qr[i] * cj[rank + i];
        score[j] = s * p.kq_scale;
        mx = std::max(mx, score[j]);
      }
      float sum = 0;
      for (uint32_t j = 0; j <= upto; ++j) sum += (score[j] = std::exp(score[j] - mx));
      float* out = &olat[(t * H + hh) * rank];
      std::fill(out, out + rank, 0.f);
      for (uint32_t j = 0; j <= upto; ++j) {
        const float* cj = cache + size_t(j) * W;
        const float pj = score[j] / sum;
        for (int64_t i = 0; i < rank; ++i) out[i] += pj * cj[i];
      }
    }
  };
  if (tp && tp->size() > 1 && T * H >= 4) tp->parallel_for(T * H, attend);
  else attend(0, T * H, 0);
  // 1d. Values: att (T, H*v) with head h = W_v_h olat_h; then the output projection.
  std::vector<float> att(size_t(T * H * vd)), o(size_t(T * d));
  per_head([&](int64_t hh) {
    std::vector<float> gin(size_t(T * rank)), gout(size_t(T * vd));
    for (int64_t t = 0; t < T; ++t) std::memcpy(&gin[t * rank], &olat[(t * H + hh) * rank], size_t(rank) * 4);
    matmul(A.v_up[hh], gin.data(), T, gout.data(), nullptr);  // (T, v)
    for (int64_t t = 0; t < T; ++t) std::memcpy(&att[(t * H + hh) * vd], &gout[t * vd], size_t(vd) * 4);
  });
  matmul(L.wo, att.data(), T, o.data(), tp);
  for (int64_t i = 0; i < T * d; ++i) x[i] += o[i];

  // 2. Feed-forward: dense SwiGLU in the leading layers, else routed experts plus shared experts.
  for (int64_t t = 0; t < T; ++t) rmsnorm(&h[t * d], &x[t * d], L.ffn_norm.data(), d, hp.rms_eps);
  std::fill(o.begin(), o.end(), 0.f);
  if (!L.moe) {
    swiglu(L.ffn_gate, L.ffn_up, L.ffn_down, h.data(), T, o.data(), tp);
  } else {
    const int64_t E = hp.n_expert, K = hp.n_expert_used;
    std::vector<float> rl(size_t(T * E));  // (T, E)
    matmul(L.router, h.data(), T, rl.data(), tp);
    std::vector<std::vector<std::pair<int64_t, float>>> assigned(static_cast<size_t>(E));  // expert -> (row, weight)
    for (int64_t t = 0; t < T; ++t) {
      Ds2Route r = deepseek2_route(p, &rl[t * E], A.probs_bias, uint32_t(E), uint32_t(K), hp.renorm_topk,
                                   hp.expert_weights_scale);
      for (int64_t j = 0; j < K; ++j) assigned[r.experts[j]].emplace_back(t, r.weights[j]);
      RoutingTrace* tr = rows.traces.empty() ? trace : rows.traces[size_t(t)];
      if (tr) tr->append(moe_layer, r.experts.data(), r.weights.data(), r.entropy, r.margin);
    }
    std::vector<float> xe, ye;
    for (int64_t e = 0; e < E; ++e) {
      const auto& toks = assigned[e];
      if (toks.empty()) continue;
      const int64_t Te = int64_t(toks.size());
      xe.resize(size_t(Te * d));
      ye.resize(size_t(Te * d));
      for (int64_t i = 0; i < Te; ++i) std::memcpy(&xe[i * d], &h[toks[i].first * d], size_t(d) * 4);
      swiglu(Model::Impl::expert(L.gate_exps, L.gate_stride, uint32_t(e)),
             Model::Impl::expert(L.up_exps, L.up_stride, uint32_t(e)),
             Model::Impl::expert(L.down_exps, L.down_stride, uint32_t(e)), xe.data(), Te, ye.data(), tp);
      for (int64_t i = 0; i < Te; ++i)
        for (int64_t j = 0; j < d; ++j) o[toks[i].first * d + j] += toks[i].second * ye[i * d + j];
    }
    if (L.has_shexp) {
      std::vector<float> ys(size_t(T * d));
      swiglu(L.gate_shexp, L.up_shexp, L.down_shexp, h.data(), T, ys.data(), tp);
      for (int64_t i = 0; i < T * d; ++i) o[i] += ys[i];
    }
  }
  for (int64_t i = 0; i < T * d; ++i) x[i] += o[i];
}

}  // namespace moe
