// Session: the forward pass over a batch of tokens, the KV cache and the routing trace.
//
// forward() reads top to bottom: embed -> for each layer [attention, then FFN or MoE routing]
// -> final norm -> logits of the last token. Shapes use T = tokens in the batch, d = n_embd,
// hd = head_dim, H = n_head, Hkv = n_head_kv, E = n_expert, k = n_expert_used.
#include "moe/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "arch/deepseek2.h"
#include "runtime/gptoss.h"
#include "runtime/model_impl.h"
#include "util/thread_pool.h"

namespace moe {

struct Session::Impl {
  std::shared_ptr<const Model> model;
  const Model::Impl* m = nullptr;
  uint32_t n_ctx = 0;
  uint32_t n_past = 0;
  std::unique_ptr<ThreadPool> pool;
  bool trace_on = false;
  RoutingTrace trace;
  std::vector<float> k_cache, v_cache;  // (n_layer, n_ctx, Hkv*hd)
  std::vector<float> logits;            // (n_vocab,)
  std::vector<uint32_t> moe_layer_index;  // layer -> index among MoE layers

  Status forward(std::span<const int32_t> tokens);
};

namespace {

// x (n,) <- x / rms(x) * w
void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  float scale = 1.f / std::sqrt(float(ss / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// Rotates the first n_rot dims of one head vector v (hd,) for position pos.
void rope(float* v, uint32_t n_rot, uint32_t pos, float base, RopeKind kind) {
  for (uint32_t i = 0; i < n_rot / 2; ++i) {
    float theta = float(pos) * std::pow(base, -2.f * float(i) / float(n_rot));
    float c = std::cos(theta), s = std::sin(theta);
    uint32_t a = kind == RopeKind::kNormal ? 2 * i : i;
    uint32_t b = kind == RopeKind::kNormal ? 2 * i + 1 : i + n_rot / 2;
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

inline float silu(float x) { return x / (1.f + std::exp(-x)); }

// SwiGLU FFN for a batch: X (T, d) -> Y (T, d) with gate/up (d -> ff) and down (ff -> d).
void swiglu(const WeightView& gate, const WeightView& up, const WeightView& down, const float* x, int64_t T,
            float* y, ThreadPool* pool) {
  const int64_t ff = gate.n_out;
  std::vector<float> g(size_t(T * ff)), u(size_t(T * ff));
  matmul_pair(gate, up, x, T, g.data(), u.data(), pool);  // (T, ff) each
  for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
  matmul(down, g.data(), T, y, pool);  // (T, d)
}

}  // namespace

Status Session::Impl::forward(std::span<const int32_t> tokens) {
  const HParams& hp = m->hp;
  const int64_t T = int64_t(tokens.size());
  if (T == 0) return Status::InvalidArgument("no tokens to process");
  if (uint64_t(n_past) + uint64_t(T) > n_ctx)
    return Status::OutOfRange("context full: " + std::to_string(n_past) + " + " + std::to_string(T) +
                              " tokens exceed n_ctx " + std::to_string(n_ctx));
  for (int32_t t : tokens)
    if (t < 0 || uint32_t(t) >= hp.n_vocab)
      return Status::InvalidArgument("token id " + std::to_string(t) + " is outside the vocabulary (" +
                                     std::to_string(hp.n_vocab) + ")");
  const int64_t d = hp.n_embd, hd = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv;
  const int64_t nq = H * hd, nkv = Hkv * hd;
  const ArchTraits& tr = arch_traits(hp.arch);
  ThreadPool* tp = pool.get();

  // 1. Embed: x (T, d).
  std::vector<float> x(size_t(T * d));
  for (int64_t t = 0; t < T; ++t) {
    const uint8_t* row = static_cast<const uint8_t*>(m->tok_embd.data) + uint64_t(tokens[t]) * m->tok_embd.row_bytes;
    dequantize_row(m->tok_embd.type, row, &x[size_t(t * d)], d);
    if (hp.embedding_scale != 1.f)
      for (int64_t i = 0; i < d; ++i) x[size_t(t * d + i)] *= hp.embedding_scale;
  }

  std::vector<float> h(size_t(T * d)), q(size_t(T * nq)), k(size_t(T * nkv)), v(size_t(T * nkv));
  std::vector<float> att(size_t(T * nq)), o(size_t(T * d));
  const float attn_scale = hp.attention_scale > 0 ? hp.attention_scale : 1.f / std::sqrt(float(hd));

  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    if (m->ds2) {  // DeepSeek-V2/V3: MLA over the latent cache and its own router (arch/deepseek2.cpp)
      const size_t w = m->ds2->p.cache_width();
      deepseek2_layer(*m, il, x.data(), MlaRows::one_sequence(T, n_past, &k_cache[size_t(il) * n_ctx * w]), tp,
                      trace_on ? &trace : nullptr, moe_layer_index[il]);
      continue;
    }
    const LayerWeights& L = m->layers[il];
    if (m->gptoss) {  // gpt-oss runs its own layer over the batch's rows (runtime/gptoss.cpp)
      std::vector<GptOssRow> rows(static_cast<size_t>(T));
      for (int64_t t = 0; t < T; ++t)
        rows[t] = {n_past + uint32_t(t), &k_cache[size_t(il) * n_ctx * size_t(nkv)], &v_cache[size_t(il) * n_ctx * size_t(nkv)]};
      GptOssRouteFn route;
      if (trace_on)
        route = [&](int64_t, const uint16_t* e, const float* w, float ent, float margin) {
          trace.append(moe_layer_index[il], e, w, ent, margin);
        };
      gptoss_layer(*m, il, rows, x.data(), tp, route);
      continue;
    }
    // 2. Attention. h (T, d) = norm(x); q (T, H*hd), k, v (T, Hkv*hd).
    for (int64_t t = 0; t < T; ++t) rmsnorm(&h[t * d], &x[t * d], L.attn_norm.data(), d, hp.rms_eps);
    matmul(L.wq, h.data(), T, q.data(), tp);
    matmul(L.wk, h.data(), T, k.data(), tp);
    matmul(L.wv, h.data(), T, v.data(), tp);
    for (int64_t t = 0; t < T; ++t) {
      float* qt = &q[t * nq];
      float* kt = &k[t * nkv];
      if (!L.bq.empty()) for (int64_t i = 0; i < nq; ++i) qt[i] += L.bq[i];
      if (!L.bk.empty()) for (int64_t i = 0; i < nkv; ++i) kt[i] += L.bk[i];
      if (!L.bv.empty()) for (int64_t i = 0; i < nkv; ++i) v[t * nkv + i] += L.bv[i];
      if (tr.qk_norm == QkNorm::kFullWidth) {
        rmsnorm(qt, qt, L.q_norm.data(), nq, hp.rms_eps);
        rmsnorm(kt, kt, L.k_norm.data(), nkv, hp.rms_eps);
      } else if (tr.qk_norm == QkNorm::kPerHead) {
        for (int64_t hh = 0; hh < H; ++hh) rmsnorm(qt + hh * hd, qt + hh * hd, L.q_norm.data(), hd, hp.rms_eps);
        for (int64_t hh = 0; hh < Hkv; ++hh) rmsnorm(kt + hh * hd, kt + hh * hd, L.k_norm.data(), hd, hp.rms_eps);
      }
      uint32_t pos = n_past + uint32_t(t);
      for (int64_t hh = 0; hh < H; ++hh) rope(qt + hh * hd, hp.n_rot, pos, hp.rope_base, tr.rope);
      for (int64_t hh = 0; hh < Hkv; ++hh) rope(kt + hh * hd, hp.n_rot, pos, hp.rope_base, tr.rope);
      // KV cache (n_layer, n_ctx, Hkv*hd).
      size_t off = (size_t(il) * n_ctx + pos) * size_t(nkv);
      std::memcpy(&k_cache[off], kt, size_t(nkv) * 4);
      std::memcpy(&v_cache[off], &v[t * nkv], size_t(nkv) * 4);
    }
    // Causal attention, one (token, head) per task: att (T, H*hd).
    const float* kc = &k_cache[size_t(il) * n_ctx * size_t(nkv)];
    const float* vc = &v_cache[size_t(il) * n_ctx * size_t(nkv)];
    auto attend = [&](int64_t begin, int64_t end, int) {
      std::vector<float> score(n_past + size_t(T));
      for (int64_t task = begin; task < end; ++task) {
        int64_t t = task / H, hh = task % H, kvh = hh / (H / Hkv);
        uint32_t upto = n_past + uint32_t(t);  // inclusive
        const float* qh = &q[t * nq + hh * hd];
        float mx = -INFINITY;
        for (uint32_t j = 0; j <= upto; ++j) {
          const float* kj = kc + size_t(j) * nkv + kvh * hd;
          float s = 0;
          for (int64_t i = 0; i < hd; ++i) s += qh[i] * kj[i];
          score[j] = s * attn_scale;
          mx = std::max(mx, score[j]);
        }
        float sum = 0;
        for (uint32_t j = 0; j <= upto; ++j) sum += (score[j] = std::exp(score[j] - mx));
        float* out = &att[t * nq + hh * hd];
        std::fill(out, out + hd, 0.f);
        for (uint32_t j = 0; j <= upto; ++j) {
          const float* vj = vc + size_t(j) * nkv + kvh * hd;
          float p = score[j] / sum;
          for (int64_t i = 0; i < hd; ++i) out[i] += p * vj[i];
        }
      }
    };
    if (tp && tp->size() > 1 && T * H >= 4) tp->parallel_for(T * H, attend);
    else attend(0, T * H, 0);
    matmul(L.wo, att.data(), T, o.data(), tp);  // (T, d)
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i] * hp.residual_scale;

    // 3. Feed-forward: dense SwiGLU, or MoE routing.
    for (int64_t t = 0; t < T; ++t) rmsnorm(&h[t * d], &x[t * d], L.ffn_norm.data(), d, hp.rms_eps);
    std::fill(o.begin(), o.end(), 0.f);
    if (!L.moe) {
      swiglu(L.ffn_gate, L.ffn_up, L.ffn_down, h.data(), T, o.data(), tp);
    } else {
      // 3a. Route: logits (T, E) -> softmax -> top-k (ties to the lower expert id).
      const int64_t E = hp.n_expert, K = hp.n_expert_used;
      std::vector<float> rl(size_t(T * E));
      matmul(L.router, h.data(), T, rl.data(), tp);
      std::vector<std::vector<std::pair<int64_t, float>>> assigned(static_cast<size_t>(E));  // expert -> (token, weight)
      std::vector<int64_t> order(static_cast<size_t>(E));
      std::vector<uint16_t> sel(static_cast<size_t>(K));
      std::vector<float> wsel(static_cast<size_t>(K));
      for (int64_t t = 0; t < T; ++t) {
        float* r = &rl[t * E];
        float mx = *std::max_element(r, r + E);
        double sum = 0;
        std::vector<double> p(static_cast<size_t>(E));
        for (int64_t e = 0; e < E; ++e) sum += (p[e] = std::exp(double(r[e] - mx)));
        double entropy = 0;
        for (int64_t e = 0; e < E; ++e) {
          p[e] /= sum;
          if (p[e] > 0) entropy -= p[e] * std::log(p[e]);
        }
        for (int64_t e = 0; e < E; ++e) order[e] = e;
        std::partial_sort(order.begin(), order.begin() + std::min(E, K + 1), order.end(),
                          [&](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        double wsum = 0;
        for (int64_t j = 0; j < K; ++j) wsum += p[order[j]];
        for (int64_t j = 0; j < K; ++j) {
          double w = p[order[j]];
          if (hp.renorm_topk) w /= wsum;
          w *= hp.expert_weights_scale;
          sel[j] = uint16_t(order[j]);
          wsel[j] = float(w);
          assigned[order[j]].emplace_back(t, float(w));
        }
        if (trace_on) {
          float margin = K < E ? float(p[order[K - 1]] - p[order[K]]) : 0.f;
          trace.append(moe_layer_index[il], sel.data(), wsel.data(), float(entropy), margin);
        }
      }
      // 3b. Each expert runs once over the tokens routed to it: Xe (Te, d) -> Ye (Te, d).
      std::vector<float> xe, ye;
      for (int64_t e = 0; e < E; ++e) {
        const auto& toks = assigned[e];
        if (toks.empty()) continue;
        int64_t Te = int64_t(toks.size());
        xe.resize(size_t(Te * d));
        ye.resize(size_t(Te * d));
        for (int64_t i = 0; i < Te; ++i) std::memcpy(&xe[i * d], &h[toks[i].first * d], size_t(d) * 4);
        swiglu(Model::Impl::expert(L.gate_exps, L.gate_stride, uint32_t(e)),
               Model::Impl::expert(L.up_exps, L.up_stride, uint32_t(e)),
               Model::Impl::expert(L.down_exps, L.down_stride, uint32_t(e)), xe.data(), Te, ye.data(), tp);
        for (int64_t i = 0; i < Te; ++i)
          for (int64_t j = 0; j < d; ++j) o[toks[i].first * d + j] += toks[i].second * ye[i * d + j];
      }
      // 3c. qwen2moe's shared expert, gated by sigmoid(shexp_gate . h).
      if (L.has_shexp) {
        std::vector<float> ys(size_t(T * d));
        swiglu(L.gate_shexp, L.up_shexp, L.down_shexp, h.data(), T, ys.data(), tp);
        for (int64_t t = 0; t < T; ++t) {
          float g = 0;
          for (int64_t i = 0; i < d; ++i) g += L.shexp_gate[i] * h[t * d + i];
          g = 1.f / (1.f + std::exp(-g));
          for (int64_t i = 0; i < d; ++i) o[t * d + i] += g * ys[t * d + i];
        }
      }
    }
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i] * hp.residual_scale;
  }

  // 4. Final norm and logits of the last token: (d,) -> (n_vocab,).
  std::vector<float> last(static_cast<size_t>(d));
  rmsnorm(last.data(), &x[(T - 1) * d], m->output_norm.data(), d, hp.rms_eps);
  matvec(m->output, last.data(), logits.data(), tp);
  if (hp.logit_scale != 1.f)
    for (auto& l : logits) l /= hp.logit_scale;
  n_past += uint32_t(T);
  return Status::Ok();
}

Session::Session() : impl_(std::make_unique<Impl>()) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& opts) {
  if (!model) return Status::InvalidArgument("no model");
  std::unique_ptr<Session> s(new Session());
  Impl& im = *s->impl_;
  im.model = model;
  im.m = &model->impl();
  const HParams& hp = im.m->hp;
  if (im.m->layers.empty()) return Status::InvalidArgument("model was loaded vocab-only");
  im.n_ctx = opts.n_ctx ? opts.n_ctx : std::min<uint32_t>(hp.n_ctx_train ? hp.n_ctx_train : 4096, 4096);
  if (im.n_ctx > (1u << 20)) return Status::InvalidArgument("n_ctx " + std::to_string(im.n_ctx) + " is too large");
  im.pool = std::make_unique<ThreadPool>(opts.n_threads);
  size_t kv = size_t(hp.n_layer) * im.n_ctx * hp.n_head_kv * hp.head_dim;
  if (im.m->ds2) {  // MLA: one latent row per token and layer in k_cache, no v_cache
    im.k_cache.assign(size_t(hp.n_layer) * im.n_ctx * im.m->ds2->p.cache_width(), 0.f);
  } else {
    im.k_cache.assign(kv, 0.f);
    im.v_cache.assign(kv, 0.f);
  }
  im.logits.assign(hp.n_vocab, 0.f);
  im.trace_on = opts.trace_routing;
  uint32_t n_moe = 0;
  im.moe_layer_index.resize(hp.n_layer);
  for (uint32_t i = 0; i < hp.n_layer; ++i) im.moe_layer_index[i] = im.m->layers[i].moe ? n_moe++ : 0;
  if (n_moe == 0) im.trace_on = false;
  im.trace = RoutingTrace(n_moe, hp.n_expert, hp.n_expert_used);
  return s;
}

Status Session::prefill(std::span<const int32_t> tokens) { return impl_->forward(tokens); }
Status Session::step(int32_t token) { return impl_->forward(std::span<const int32_t>(&token, 1)); }
std::span<const float> Session::logits() const { return impl_->logits; }
uint32_t Session::n_past() const { return impl_->n_past; }
uint32_t Session::n_ctx() const { return impl_->n_ctx; }
const RoutingTrace& Session::trace() const { return impl_->trace; }
const Model& Session::model() const { return *impl_->model; }

void Session::reset() {
  impl_->n_past = 0;
  impl_->trace.clear();
}

}  // namespace moe
