// gpt-oss: loading (keys, tensors, shape and size checks) and the layer over token rows.
// Semantics read from the public model card, the reference implementation and the Hugging Face
// modeling code; see gptoss.h for the summary and engine/README.md for every key and tensor.
#include "runtime/gptoss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>

#include "kernels/matmul.h"
#include "runtime/elementwise.h"
#include "runtime/model_impl.h"
#include "runtime/tensor_lookup.h"
#include "util/thread_pool.h"

namespace moe {
namespace {

constexpr const char* kArch = "gpt-oss";

std::string key(const char* k) { return std::string(kArch) + "." + k; }

// The tensor `name` with exactly `dims`, in a type this engine runs, whose bytes (checked against
// overflow) lie inside what the file reader already bounded to the file.
Result<const GgufTensorInfo*> tensor(const GgufFile& f, const std::string& name, const std::vector<uint64_t>& dims) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (!t) return Status::NotFound("tensor '" + name + "' is missing");
  auto tr = ggml_type_traits(uint32_t(t->type));
  if (!tr || !tr->supported)
    return Status::NotSupported("tensor '" + name + "' has type " + (tr ? tr->name : "?") +
                                ", which this engine cannot run");
  if (t->dims != dims)
    return Status::Corruption("tensor '" + name + "' has shape " + tensor_shape_str(t->dims) + ", expected " + tensor_shape_str(dims));
  MOE_ASSIGN_OR_RETURN(uint64_t row_bytes, ggml_row_bytes(t->type, dims[0]));
  uint64_t bytes = row_bytes;
  for (size_t i = 1; i < dims.size(); ++i)
    if (__builtin_mul_overflow(bytes, dims[i], &bytes))
      return Status::Corruption("tensor '" + name + "': size overflows");
  if (bytes != t->nbytes)
    return Status::Corruption("tensor '" + name + "' holds " + std::to_string(t->nbytes) + " bytes, expected " +
                              std::to_string(bytes));
  return t;
}

// A 2-D weight (n_in, n_out), or a 3-D expert tensor (n_in, n_out, E) as expert 0's view plus the
// byte stride between experts.
Result<WeightView> weight(const GgufFile& f, const std::string& name, uint64_t n_in, uint64_t n_out,
                          uint64_t n_expert = 0, uint64_t* stride = nullptr) {
  std::vector<uint64_t> dims = {n_in, n_out};
  if (n_expert) dims.push_back(n_expert);
  MOE_ASSIGN_OR_RETURN(const GgufTensorInfo* t, tensor(f, name, dims));
  WeightView w;
  w.data = t->data;
  w.type = t->type;
  w.n_in = int64_t(n_in);
  w.n_out = int64_t(n_out);
  MOE_ASSIGN_OR_RETURN(w.row_bytes, ggml_row_bytes(t->type, n_in));
  if (stride) *stride = w.row_bytes * n_out;  // no overflow: bounded by nbytes above
  return w;
}

// A bias, norm or sink tensor of `dims` as f32 (E x n for per-expert biases, row-major).
Result<std::vector<float>> floats(const GgufFile& f, const std::string& name, const std::vector<uint64_t>& dims) {
  MOE_ASSIGN_OR_RETURN(const GgufTensorInfo* t, tensor(f, name, dims));
  const uint64_t n = t->n_elements();
  std::vector<float> v(n);
  dequantize_row(t->type, t->data, v.data(), int64_t(n));  // rows are contiguous: one call covers all
  for (float x : v)
    if (!std::isfinite(x)) return Status::Corruption("tensor '" + name + "' holds a non-finite value");
  return v;
}

Result<float> get_f32(const GgufFile& f, const std::string& k, float dflt) {
  MOE_ASSIGN_OR_RETURN(double v, f.get_float_or(k, dflt));
  if (!std::isfinite(v)) return Status::Corruption("metadata key '" + k + "' is not finite");
  return float(v);
}

}  // namespace

std::vector<double> yarn_inv_freq(uint32_t n_rot, double base, double factor, double orig_ctx, double beta_fast,
                                  double beta_slow) {
  const uint32_t half = n_rot / 2;
  std::vector<double> inv(half);
  for (uint32_t i = 0; i < half; ++i) inv[i] = std::pow(base, -2.0 * i / n_rot);
  if (factor <= 1.0) return inv;
  // Dimension whose wavelength fits `rot` times into the original context; pairs below `low` keep
  // their frequency (extrapolate), pairs above `high` are divided by the factor (interpolate), and a
  // linear ramp blends the ones between.
  auto corr_dim = [&](double rot) {
    return n_rot * std::log(orig_ctx / (rot * 2 * std::numbers::pi)) / (2 * std::log(base));
  };
  double low = std::max(corr_dim(beta_fast), 0.0), high = std::min(corr_dim(beta_slow), double(n_rot - 1));
  if (high == low) high += 0.001;
  for (uint32_t i = 0; i < half; ++i) {
    const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
    const double keep = 1.0 - ramp;  // share of the original (extrapolated) frequency
    inv[i] = inv[i] / factor * (1.0 - keep) + inv[i] * keep;
  }
  return inv;
}

Status load_gptoss(Model::Impl& m) {
  const GgufFile& f = *m.file;
  HParams& hp = m.hp;
  auto g = std::make_shared<GptOssModel>();
  if (hp.n_expert == 0) return Status::Corruption("metadata key '" + key("expert_count") + "' is missing or 0");
  if (hp.n_ff_exp == 0) return Status::Corruption("metadata key '" + key("expert_feed_forward_length") + "' is missing or 0");
  MOE_ASSIGN_OR_RETURN(uint64_t window, f.get_uint(key("attention.sliding_window")));
  if (window == 0 || window > (1u << 24))
    return Status::Corruption("metadata key '" + key("attention.sliding_window") + "' = " + std::to_string(window) +
                              " is not a window size");
  g->sliding_window = uint32_t(window);

  // RoPE: YaRN when rope.scaling.type says so (the released models: factor 32 over 4096 positions).
  std::string scaling = "none";
  if (f.find(key("rope.scaling.type"))) {
    MOE_ASSIGN_OR_RETURN(scaling, f.get_string(key("rope.scaling.type")));
  }
  if (scaling == "yarn") {
    g->yarn = true;
    MOE_ASSIGN_OR_RETURN(g->yarn_factor, get_f32(f, key("rope.scaling.factor"), 1.f));
    MOE_ASSIGN_OR_RETURN(uint64_t orig, f.get_uint(key("rope.scaling.original_context_length")));
    if (orig == 0 || orig > (1u << 24))
      return Status::Corruption("metadata key '" + key("rope.scaling.original_context_length") + "' is out of range");
    g->yarn_orig_ctx = uint32_t(orig);
    MOE_ASSIGN_OR_RETURN(g->yarn_beta_fast, get_f32(f, key("rope.scaling.yarn_beta_fast"), 32.f));
    MOE_ASSIGN_OR_RETURN(g->yarn_beta_slow, get_f32(f, key("rope.scaling.yarn_beta_slow"), 1.f));
    if (g->yarn_factor < 1.f || g->yarn_beta_fast <= 0.f || g->yarn_beta_slow <= 0.f)
      return Status::Corruption("YaRN parameters out of range: factor " + std::to_string(g->yarn_factor) +
                                ", beta_fast " + std::to_string(g->yarn_beta_fast) + ", beta_slow " +
                                std::to_string(g->yarn_beta_slow));
  } else if (scaling != "none") {
    return Status::NotSupported("metadata key '" + key("rope.scaling.type") + "' = '" + scaling +
                                "': gpt-oss runs with 'yarn' or 'none'");
  }
  if (hp.rope_base <= 1.f) return Status::Corruption("metadata key '" + key("rope.freq_base") + "' must exceed 1");
  g->inv_freq = yarn_inv_freq(hp.n_rot, hp.rope_base, g->yarn ? g->yarn_factor : 1.0, g->yarn_orig_ctx,
                              g->yarn_beta_fast, g->yarn_beta_slow);
  g->rope_mscale = g->yarn && g->yarn_factor > 1.f ? float(0.1 * std::log(double(g->yarn_factor)) + 1.0) : 1.f;

  const uint64_t d = hp.n_embd, hd = hp.head_dim, H = hp.n_head, nq = H * hd, nkv = uint64_t(hp.n_head_kv) * hd;
  const uint64_t E = hp.n_expert, ff = hp.n_ff_exp;
  MOE_ASSIGN_OR_RETURN(m.tok_embd, weight(f, "token_embd.weight", d, hp.n_vocab));
  MOE_ASSIGN_OR_RETURN(m.output_norm, floats(f, "output_norm.weight", {d}));
  if (f.find_tensor("output.weight")) {
    MOE_ASSIGN_OR_RETURN(m.output, weight(f, "output.weight", d, hp.n_vocab));
  } else {
    m.output = m.tok_embd;
  }
  m.layers.resize(hp.n_layer);
  g->layers.resize(hp.n_layer);
  for (uint32_t i = 0; i < hp.n_layer; ++i) {
    LayerWeights& l = m.layers[i];
    GptOssLayer& gl = g->layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    MOE_ASSIGN_OR_RETURN(l.attn_norm, floats(f, p + "attn_norm.weight", {d}));
    MOE_ASSIGN_OR_RETURN(l.wq, weight(f, p + "attn_q.weight", d, nq));
    MOE_ASSIGN_OR_RETURN(l.wk, weight(f, p + "attn_k.weight", d, nkv));
    MOE_ASSIGN_OR_RETURN(l.wv, weight(f, p + "attn_v.weight", d, nkv));
    MOE_ASSIGN_OR_RETURN(l.wo, weight(f, p + "attn_output.weight", nq, d));
    MOE_ASSIGN_OR_RETURN(l.bq, floats(f, p + "attn_q.bias", {nq}));
    MOE_ASSIGN_OR_RETURN(l.bk, floats(f, p + "attn_k.bias", {nkv}));
    MOE_ASSIGN_OR_RETURN(l.bv, floats(f, p + "attn_v.bias", {nkv}));
    MOE_ASSIGN_OR_RETURN(gl.bo, floats(f, p + "attn_output.bias", {d}));
    MOE_ASSIGN_OR_RETURN(gl.sinks, floats(f, p + "attn_sinks.weight", {H}));
    MOE_ASSIGN_OR_RETURN(l.ffn_norm, floats(f, p + "post_attention_norm.weight", {d}));
    l.moe = true;
    MOE_ASSIGN_OR_RETURN(l.router, weight(f, p + "ffn_gate_inp.weight", d, E));
    MOE_ASSIGN_OR_RETURN(gl.router_b, floats(f, p + "ffn_gate_inp.bias", {E}));
    MOE_ASSIGN_OR_RETURN(l.gate_exps, weight(f, p + "ffn_gate_exps.weight", d, ff, E, &l.gate_stride));
    MOE_ASSIGN_OR_RETURN(l.up_exps, weight(f, p + "ffn_up_exps.weight", d, ff, E, &l.up_stride));
    MOE_ASSIGN_OR_RETURN(l.down_exps, weight(f, p + "ffn_down_exps.weight", ff, d, E, &l.down_stride));
    MOE_ASSIGN_OR_RETURN(gl.gate_b, floats(f, p + "ffn_gate_exps.bias", {ff, E}));
    MOE_ASSIGN_OR_RETURN(gl.up_b, floats(f, p + "ffn_up_exps.bias", {ff, E}));
    MOE_ASSIGN_OR_RETURN(gl.down_b, floats(f, p + "ffn_down_exps.bias", {d, E}));
    // Sliding-window layers alternate with full-attention ones, starting with a sliding one.
    gl.window = i % 2 == 0 ? g->sliding_window : 0;
  }
  m.gptoss = std::move(g);
  return Status::Ok();
}

void gptoss_layer(const Model::Impl& m, uint32_t il, std::span<const GptOssRow> rows, float* x, ThreadPool* pool,
                  const GptOssRouteFn& on_route) {
  const HParams& hp = m.hp;
  const GptOssModel& g = *m.gptoss;
  const LayerWeights& L = m.layers[il];
  const GptOssLayer& G = g.layers[il];
  const int64_t T = int64_t(rows.size());
  const int64_t d = hp.n_embd, hd = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv;
  const int64_t nq = H * hd, nkv = Hkv * hd, half = hp.n_rot / 2;

  // 1. Attention. h (T, d) = norm(x); q (T, H*hd), k, v (T, Hkv*hd) with biases.
  std::vector<float> h(size_t(T * d)), q(size_t(T * nq)), k(size_t(T * nkv)), v(size_t(T * nkv));
  for (int64_t t = 0; t < T; ++t) rmsnorm(&h[t * d], &x[t * d], L.attn_norm.data(), d, hp.rms_eps);
  matmul(L.wq, h.data(), T, q.data(), pool);
  matmul_pair(L.wk, L.wv, h.data(), T, k.data(), v.data(), pool);
  std::vector<float> cs(size_t(2 * half));  // cos (half,), sin (half,) of one position
  for (int64_t t = 0; t < T; ++t) {
    float* qt = &q[t * nq];
    float* kt = &k[t * nkv];
    float* vt = &v[t * nkv];
    for (int64_t i = 0; i < nq; ++i) qt[i] += L.bq[i];
    for (int64_t i = 0; i < nkv; ++i) kt[i] += L.bk[i], vt[i] += L.bv[i];
    // 1a. NeoX RoPE (pairs i, i + n_rot/2) with YaRN frequencies; angles in double.
    const uint32_t pos = rows[t].pos;
    for (int64_t i = 0; i < half; ++i) {
      const double a = double(pos) * g.inv_freq[i];
      cs[i] = float(std::cos(a)) * g.rope_mscale;
      cs[half + i] = float(std::sin(a)) * g.rope_mscale;
    }
    auto rotate = [&](float* vec) {
      for (int64_t i = 0; i < half; ++i) {
        const float x0 = vec[i], x1 = vec[i + half], c = cs[i], s = cs[half + i];
        vec[i] = x0 * c - x1 * s;
        vec[i + half] = x0 * s + x1 * c;
      }
    };
    for (int64_t hh = 0; hh < H; ++hh) rotate(qt + hh * hd);
    for (int64_t hh = 0; hh < Hkv; ++hh) rotate(kt + hh * hd);
    std::memcpy(rows[t].k_cache + size_t(pos) * nkv, kt, size_t(nkv) * 4);
    std::memcpy(rows[t].v_cache + size_t(pos) * nkv, vt, size_t(nkv) * 4);
  }
  // 1b. Softmax over the visible keys plus the head's sink logit, which takes probability mass but
  // contributes no value. att (T, H*hd), one (row, head) per task.
  std::vector<float> att(size_t(T * nq));
  const float scale = 1.f / std::sqrt(float(hd));
  auto attend = [&](int64_t begin, int64_t end, int) {
    std::vector<float> score;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / H, hh = task % H, kvh = hh / (H / Hkv);
      const uint32_t pos = rows[t].pos;
      const uint32_t first = G.window && pos >= G.window ? pos - G.window + 1 : 0;
      const float* qh = &q[t * nq + hh * hd];
      const float* kc = rows[t].k_cache;
      const float* vc = rows[t].v_cache;
      score.resize(pos - first + 1);
      float mx = G.sinks[hh];
      for (uint32_t j = first; j <= pos; ++j) {
        const float* kj = kc + size_t(j) * nkv + kvh * hd;
        float s = 0;
        for (int64_t i = 0; i < hd; ++i) s += qh[i] * kj[i];
        score[j - first] = s * scale;
        mx = std::max(mx, score[j - first]);
      }
      float sum = std::exp(G.sinks[hh] - mx);
      for (auto& s : score) sum += (s = std::exp(s - mx));
      float* out = &att[t * nq + hh * hd];
      std::fill(out, out + hd, 0.f);
      for (uint32_t j = first; j <= pos; ++j) {
        const float* vj = vc + size_t(j) * nkv + kvh * hd;
        const float p = score[j - first] / sum;
        for (int64_t i = 0; i < hd; ++i) out[i] += p * vj[i];
      }
    }
  };
  if (pool && pool->size() > 1 && T * H >= 4) pool->parallel_for(T * H, attend);
  else attend(0, T * H, 0);
  std::vector<float> o(size_t(T * d));
  matmul(L.wo, att.data(), T, o.data(), pool);  // (T, d)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < d; ++i) x[t * d + i] += o[t * d + i] + G.bo[i];

  // 2. MoE. h (T, d) = norm(x); router logits (T, E) with bias; top-k by logit (ties to the lower
  // expert id), weights = softmax over the k selected logits.
  for (int64_t t = 0; t < T; ++t) rmsnorm(&h[t * d], &x[t * d], L.ffn_norm.data(), d, hp.rms_eps);
  const int64_t E = hp.n_expert, K = hp.n_expert_used, ff = hp.n_ff_exp;
  std::vector<float> rl(size_t(T * E));
  matmul(L.router, h.data(), T, rl.data(), pool);
  std::vector<std::vector<std::pair<int64_t, float>>> assigned(static_cast<size_t>(E));  // expert -> (row, weight)
  std::vector<int64_t> order(static_cast<size_t>(E));
  std::vector<uint16_t> sel(static_cast<size_t>(K));
  std::vector<float> wsel(static_cast<size_t>(K));
  std::vector<double> p(static_cast<size_t>(E));
  for (int64_t t = 0; t < T; ++t) {
    float* r = &rl[t * E];
    for (int64_t e = 0; e < E; ++e) r[e] += G.router_b[e];
    for (int64_t e = 0; e < E; ++e) order[e] = e;
    std::partial_sort(order.begin(), order.begin() + std::min(E, K + 1), order.end(),
                      [&](int64_t a, int64_t b) { return r[a] > r[b] || (r[a] == r[b] && a < b); });
    const double top = r[order[0]];
    double wsum = 0;
    for (int64_t j = 0; j < K; ++j) wsum += std::exp(double(r[order[j]]) - top);
    for (int64_t j = 0; j < K; ++j) {
      sel[j] = uint16_t(order[j]);
      wsel[j] = float(std::exp(double(r[order[j]]) - top) / wsum);
      assigned[order[j]].emplace_back(t, wsel[j]);
    }
    if (on_route) {
      double sum = 0, entropy = 0;
      for (int64_t e = 0; e < E; ++e) sum += (p[e] = std::exp(double(r[e]) - top));
      for (int64_t e = 0; e < E; ++e) {
        p[e] /= sum;
        if (p[e] > 0) entropy -= p[e] * std::log(p[e]);
      }
      const float margin = K < E ? float(p[order[K - 1]] - p[order[K]]) : 0.f;
      on_route(t, sel.data(), wsel.data(), float(entropy), margin);
    }
  }
  // 2a. Each expert runs once over its rows: xe (Te, d) -> gate, up (Te, ff) -> act -> ye (Te, d).
  std::fill(o.begin(), o.end(), 0.f);
  std::vector<float> xe, gt, up, ye;
  const float alpha = g.swiglu_alpha, limit = g.swiglu_limit;
  for (int64_t e = 0; e < E; ++e) {
    const auto& toks = assigned[e];
    if (toks.empty()) continue;
    const int64_t Te = int64_t(toks.size());
    xe.resize(size_t(Te * d));
    gt.resize(size_t(Te * ff));
    up.resize(size_t(Te * ff));
    ye.resize(size_t(Te * d));
    for (int64_t i = 0; i < Te; ++i) std::memcpy(&xe[i * d], &h[toks[i].first * d], size_t(d) * 4);
    matmul_pair(Model::Impl::expert(L.gate_exps, L.gate_stride, uint32_t(e)),
                Model::Impl::expert(L.up_exps, L.up_stride, uint32_t(e)), xe.data(), Te, gt.data(), up.data(), pool);
    const float* gb = &G.gate_b[size_t(e * ff)];
    const float* ub = &G.up_b[size_t(e * ff)];
    for (int64_t i = 0; i < Te; ++i)
      for (int64_t j = 0; j < ff; ++j) gt[i * ff + j] = gptoss_swiglu(gt[i * ff + j] + gb[j], up[i * ff + j] + ub[j], alpha, limit);
    matmul(Model::Impl::expert(L.down_exps, L.down_stride, uint32_t(e)), gt.data(), Te, ye.data(), pool);
    const float* db = &G.down_b[size_t(e * d)];
    for (int64_t i = 0; i < Te; ++i)
      for (int64_t j = 0; j < d; ++j) o[toks[i].first * d + j] += toks[i].second * (ye[i * d + j] + db[j]);
  }
  for (int64_t i = 0; i < T * d; ++i) x[i] += o[i];
}

}  // namespace moe
