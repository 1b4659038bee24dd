// The forward pass over a set of token rows (see forward.h for the batching and invariance
// contract). Reads top to bottom: embed -> for each layer [attention_rows, ffn_rows] -> final norm
// -> logits of the rows that want them. Shapes use R = rows, d = n_embd, hd = head_dim,
// H = n_head, Hkv = n_head_kv, E = n_expert, k = n_expert_used.
#include "runtime/forward.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "arch/deepseek2.h"
#include "runtime/elementwise.h"
#include "runtime/gptoss.h"
#include "util/thread_pool.h"

namespace moe {
namespace {

// q . k for 8 positions at once: out[p] = Σ_i q[i] * k[p][i] (hd,), one position per lane. Each lane
// sums in i order with a separate multiply and add (this file is built without contraction and the
// function without FMA), so every score has exactly the bits of the scalar loop. 8 × 8 blocks of K
// are transposed so that a lane reads its own position.
__attribute__((target("avx2"))) void qk_dot8(const float* q, const float* const* k, int64_t hd, float* out) {
  __m256 s = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= hd; i += 8) {
    __m256 r[8];
    for (int p = 0; p < 8; ++p) r[p] = _mm256_loadu_ps(k[p] + i);
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    // c[m] holds dimension i + m of the 8 positions.
    const __m256 c[8] = {_mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
                         _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
                         _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
                         _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
    for (int m = 0; m < 8; ++m) s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(q[i + m]), c[m]));
  }
  for (; i < hd; ++i)
    s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(q[i]), _mm256_setr_ps(k[0][i], k[1][i], k[2][i], k[3][i], k[4][i],
                                                                          k[5][i], k[6][i], k[7][i])));
  _mm256_storeu_ps(out, s);
}

// out (hd,) = Σ_j w[j] * v[j] (hd,), j in order, each element a separate multiply and add as in the
// scalar loop; up to 64 elements of out stay in registers while j runs.
__attribute__((target("avx2"))) void weighted_sum_avx2(const float* const* v, const float* w, uint32_t n, int64_t hd,
                                                       float* out) {
  int64_t i0 = 0;
  for (; i0 + 64 <= hd; i0 += 64) {
    __m256 acc[8];
    for (int c = 0; c < 8; ++c) acc[c] = _mm256_setzero_ps();
    for (uint32_t j = 0; j < n; ++j) {
      const __m256 p = _mm256_set1_ps(w[j]);
      for (int c = 0; c < 8; ++c) acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(p, _mm256_loadu_ps(v[j] + i0 + 8 * c)));
    }
    for (int c = 0; c < 8; ++c) _mm256_storeu_ps(out + i0 + 8 * c, acc[c]);
  }
  for (; i0 + 8 <= hd; i0 += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (uint32_t j = 0; j < n; ++j) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(v[j] + i0)));
    _mm256_storeu_ps(out + i0, acc);
  }
  for (; i0 < hd; ++i0) {
    float acc = 0.f;
    for (uint32_t j = 0; j < n; ++j) acc += w[j] * v[j][i0];
    out[i0] = acc;
  }
}

const bool kAttentionAvx2 = __builtin_cpu_supports("avx2");

// The rotation of position pos: cs (n_rot,) = cos, sin of each pair's angle. Computed once per row
// and shared by all of its heads.
void rope_angles(float* cs, uint32_t n_rot, uint32_t pos, float base) {
  for (uint32_t i = 0; i < n_rot / 2; ++i) {
    float theta = float(pos) * std::pow(base, -2.f * float(i) / float(n_rot));
    cs[2 * i] = std::cos(theta);
    cs[2 * i + 1] = std::sin(theta);
  }
}

// Rotates the first n_rot dims of one head vector v (hd,) by the angles cs (rope_angles).
void rope(float* v, uint32_t n_rot, const float* cs, RopeKind kind) {
  for (uint32_t i = 0; i < n_rot / 2; ++i) {
    const float c = cs[2 * i], s = cs[2 * i + 1];
    uint32_t a = kind == RopeKind::kNormal ? 2 * i : i;
    uint32_t b = kind == RopeKind::kNormal ? 2 * i + 1 : i + n_rot / 2;
    float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

// exp(z) for z <= 0 (a softmax term). Below -104 the correctly rounded float result is +0: returned
// directly, without libm's slow underflow path (the same bits).
inline float softmax_exp(float z) { return z < -104.f ? 0.f : std::exp(z); }

// SwiGLU FFN over R rows: X (R, d) -> Y (R, d) with gate/up (d -> ff) and down (ff -> d).
// g, u: scratch of at least R * ff floats.
void swiglu(const WeightView& gate, const WeightView& up, const WeightView& down, const float* x, int64_t R,
            float* y, float* g, float* u, ThreadPool* pool) {
  const int64_t ff = gate.n_out;
  matmul_pair(gate, up, x, R, g, u, pool);  // (R, ff) each
  for (int64_t i = 0; i < R * ff; ++i) g[i] = silu(g[i]) * u[i];
  matmul(down, g, R, y, pool);  // (R, d)
}

// Attention block of layer il over all rows: x (R, d) += wo(attend(q, KV)) * residual_scale.
// Writes each row's K/V at its position before any row attends.
void attention_rows(const Model::Impl& m, ThreadPool* tp, Workspace& ws, std::span<const Row> rows, uint32_t il) {
  const HParams& hp = m.hp;
  const LayerWeights& L = m.layers[il];
  const ArchTraits& tr = arch_traits(hp.arch);
  const int64_t R = int64_t(rows.size());
  const int64_t d = hp.n_embd, hd = hp.head_dim, H = hp.n_head, Hkv = hp.n_head_kv;
  const int64_t nq = H * hd, nkv = Hkv * hd;
  float* x = ws.x.data();
  float* h = ws.h.data();
  float* q = ws.q.data();
  float* k = ws.k.data();
  float* v = ws.v.data();
  float* att = ws.att.data();
  float* o = ws.o.data();
  const float attn_scale = hp.attention_scale > 0 ? hp.attention_scale : 1.f / std::sqrt(float(hd));

  // h (R, d) = norm(x); q (R, H*hd), k, v (R, Hkv*hd).
  for (int64_t t = 0; t < R; ++t) rmsnorm(&h[t * d], &x[t * d], L.attn_norm.data(), d, hp.rms_eps);
  // One dispatch and one quantisation of h for the three projections.
  const MatmulJob qkv[3] = {{L.wq, h, R, q}, {L.wk, h, R, k}, {L.wv, h, R, v}};
  matmul_batch(qkv, tp);
  for (int64_t t = 0; t < R; ++t) {
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
    const uint32_t pos = rows[t].pos;
    if (ws.rope_cs.size() < hp.n_rot + 1) ws.rope_cs.resize(hp.n_rot + 1);
    float* cs = ws.rope_cs.data();
    rope_angles(cs, hp.n_rot, pos, hp.rope_base);
    for (int64_t hh = 0; hh < H; ++hh) rope(qt + hh * hd, hp.n_rot, cs, tr.rope);
    for (int64_t hh = 0; hh < Hkv; ++hh) rope(kt + hh * hd, hp.n_rot, cs, tr.rope);
    std::memcpy(rows[t].kv->k_write(il, pos), kt, size_t(nkv) * 4);
    std::memcpy(rows[t].kv->v_write(il, pos), &v[t * nkv], size_t(nkv) * 4);
  }
  // Causal attention, one (row, head) per task, over the row's own sequence: att (R, H*hd).
  // The order of every sum is fixed by the position alone (j = 0..pos), never by the batch.
  auto attend = [&](int64_t begin, int64_t end, int) {
    thread_local std::vector<float> score;
    for (int64_t task = begin; task < end; ++task) {
      int64_t t = task / H, hh = task % H, kvh = hh / (H / Hkv);
      const KvSeq& kv = *rows[t].kv;
      const uint32_t upto = rows[t].pos;  // inclusive
      if (score.size() < size_t(upto) + 1) score.resize(size_t(upto) + 1);
      const float* qh = &q[t * nq + hh * hd];
      uint32_t j = 0;
      if (kAttentionAvx2) {
        for (; j + 8 <= upto + 1; j += 8) {
          const float* ks[8];
          for (uint32_t p = 0; p < 8; ++p) ks[p] = kv.k_at(il, j + p) + kvh * hd;
          qk_dot8(qh, ks, hd, &score[j]);
          for (uint32_t p = 0; p < 8; ++p) score[j + p] *= attn_scale;
        }
      }
      for (; j <= upto; ++j) {
        const float* kj = kv.k_at(il, j) + kvh * hd;
        float s = 0;
        for (int64_t i = 0; i < hd; ++i) s += qh[i] * kj[i];
        score[j] = s * attn_scale;
      }
      float mx = -INFINITY;
      for (j = 0; j <= upto; ++j) mx = std::max(mx, score[j]);
      float sum = 0;
      for (uint32_t j = 0; j <= upto; ++j) sum += (score[j] = softmax_exp(score[j] - mx));
      float* out = &att[t * nq + hh * hd];
      if (kAttentionAvx2) {
        thread_local std::vector<const float*> vrows;
        vrows.resize(size_t(upto) + 1);
        for (uint32_t j = 0; j <= upto; ++j) {
          vrows[j] = kv.v_at(il, j) + kvh * hd;
          score[j] = score[j] / sum;
        }
        weighted_sum_avx2(vrows.data(), score.data(), upto + 1, hd, out);
        continue;
      }
      std::fill(out, out + hd, 0.f);
      for (uint32_t j = 0; j <= upto; ++j) {
        const float* vj = kv.v_at(il, j) + kvh * hd;
        float p = score[j] / sum;
        for (int64_t i = 0; i < hd; ++i) out[i] += p * vj[i];
      }
    }
  };
  if (tp && tp->size() > 1 && R * H >= 4) tp->parallel_for(R * H, attend);
  else attend(0, R * H, 0);
  matmul(L.wo, att, R, o, tp);  // (R, d)
  for (int64_t i = 0; i < R * d; ++i) x[i] += o[i] * hp.residual_scale;
}

// Routes every row: router logits (R, E) -> softmax -> top-k (ties to the lower expert id), then
// groups the rows by expert (row order kept within an expert). Appends the trace records.
void route_rows(const Model::Impl& m, ThreadPool* tp, Workspace& ws, std::span<const Row> rows, uint32_t il) {
  const HParams& hp = m.hp;
  const LayerWeights& L = m.layers[il];
  const int64_t R = int64_t(rows.size()), E = hp.n_expert, K = hp.n_expert_used;
  float* rl = ws.router_logits.data();
  matmul(L.router, ws.h.data(), R, rl, tp);
  double* p = ws.probs.data();
  int64_t* order = ws.order.data();
  std::fill(ws.expert_count.begin(), ws.expert_count.begin() + E, 0);
  for (int64_t t = 0; t < R; ++t) {
    const float* r = &rl[t * E];
    float mx = *std::max_element(r, r + E);
    double sum = 0;
    for (int64_t e = 0; e < E; ++e) sum += (p[e] = std::exp(double(r[e] - mx)));
    double entropy = 0;
    for (int64_t e = 0; e < E; ++e) {
      p[e] /= sum;
      if (p[e] > 0) entropy -= p[e] * std::log(p[e]);
    }
    for (int64_t e = 0; e < E; ++e) order[e] = e;
    std::partial_sort(order, order + std::min(E, K + 1), order + E,
                      [&](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    double wsum = 0;
    for (int64_t j = 0; j < K; ++j) wsum += p[order[j]];
    uint16_t* sel = &ws.sel[size_t(t * K)];
    float* wsel = &ws.sel_w[size_t(t * K)];
    for (int64_t j = 0; j < K; ++j) {
      double w = p[order[j]];
      if (hp.renorm_topk) w /= wsum;
      w *= hp.expert_weights_scale;
      sel[j] = uint16_t(order[j]);
      wsel[j] = float(w);
      ++ws.expert_count[size_t(order[j])];
    }
    if (rows[t].trace) {
      float margin = K < E ? float(p[order[K - 1]] - p[order[K]]) : 0.f;
      rows[t].trace->append(ws.moe_layer_index[il], sel, wsel, float(entropy), margin);
    }
  }
  // Counting sort of the (row, expert) pairs by expert: assign_row[expert_begin[e] ..] are the rows
  // routed to e, in row order.
  ws.expert_begin[0] = 0;
  for (int64_t e = 0; e < E; ++e) ws.expert_begin[size_t(e + 1)] = ws.expert_begin[size_t(e)] + ws.expert_count[size_t(e)];
  std::copy(ws.expert_begin.begin(), ws.expert_begin.begin() + E, ws.order.begin());  // fill cursors
  for (int64_t t = 0; t < R; ++t)
    for (int64_t j = 0; j < K; ++j) {
      int64_t e = ws.sel[size_t(t * K + j)];
      int64_t at = order[e]++;
      ws.assign_row[size_t(at)] = t;
      ws.assign_w[size_t(at)] = ws.sel_w[size_t(t * K + j)];
    }
}

// Feed-forward block of layer il over all rows: x (R, d) += FFN(norm(x)) * residual_scale, where
// FFN is a dense SwiGLU or MoE routing (+ qwen2moe's gated shared expert).
void ffn_rows(const Model::Impl& m, ThreadPool* tp, Workspace& ws, std::span<const Row> rows, uint32_t il,
              bool variant) {
  const HParams& hp = m.hp;
  const LayerWeights& L = m.layers[il];
  const int64_t R = int64_t(rows.size()), d = hp.n_embd;
  float* x = ws.x.data();
  float* h = ws.h.data();
  float* o = ws.o.data();
  for (int64_t t = 0; t < R; ++t) rmsnorm(&h[t * d], &x[t * d], L.ffn_norm.data(), d, hp.rms_eps);
  std::fill(o, o + R * d, 0.f);
  if (!L.moe) {
    swiglu(L.ffn_gate, L.ffn_up, L.ffn_down, h, R, o, ws.ffn_g.data(), ws.ffn_u.data(), tp);
  } else {
    const int64_t E = hp.n_expert, K = hp.n_expert_used;
    route_rows(m, tp, ws, rows, il);
    // Experts apply in id order (the invariant contract); in batch-variant mode in order of load
    // (most rows first, ties by id) with a capacity per expert.
    int64_t* eorder = ws.expert_order.data();
    for (int64_t e = 0; e < E; ++e) eorder[e] = e;
    int64_t capacity = R * K;
    if (variant) {
      std::stable_sort(eorder, eorder + E, [&](int64_t a, int64_t b) { return ws.expert_count[size_t(a)] > ws.expert_count[size_t(b)]; });
      capacity = std::max<int64_t>(1, (R * K * 5 + E * 4 - 1) / (E * 4));  // ceil(1.25 * R * k / E)
    }
    // The experts that got rows, in the order they apply: fn(e, Te, rows routed to e, their weights).
    auto for_each_routed = [&](auto&& fn) {
      for (int64_t oi = 0; oi < E; ++oi) {
        const int64_t e = eorder[oi];
        const int64_t Te = std::min(ws.expert_count[size_t(e)], capacity);
        if (Te == 0) continue;
        const int64_t b = ws.expert_begin[size_t(e)];
        fn(e, Te, &ws.assign_row[size_t(b)], &ws.assign_w[size_t(b)]);
      }
    };
    auto gather = [&](int64_t Te, const int64_t* erows, float* xe) {  // Xe (Te, d)
      for (int64_t i = 0; i < Te; ++i) std::memcpy(&xe[i * d], &h[erows[i] * d], size_t(d) * 4);
    };
    auto add_output = [&](int64_t Te, const int64_t* erows, const float* ew, const float* ye) {  // Ye (Te, d)
      for (int64_t i = 0; i < Te; ++i)
        for (int64_t j = 0; j < d; ++j) o[erows[i] * d + j] += ew[i] * ye[i * d + j];
    };
    int64_t routed = 0;  // Σ Te
    for_each_routed([&](int64_t, int64_t Te, const int64_t*, const float*) { routed += Te; });
    const int64_t ff = L.gate_exps.n_out;
    // Decode-sized batches: every routed expert in two thread-pool dispatches (all gates and ups,
    // then all downs) instead of two per expert. Each row's arithmetic and the order the experts'
    // outputs are added in are those of the per-expert path, so the results are the same bits.
    constexpr int64_t kFusedMaxFloats = int64_t(4) << 20;
    if (routed * (2 * d + 2 * ff) <= kFusedMaxFloats) {
      const size_t need = size_t(routed * (2 * d + 2 * ff));
      if (ws.fused.size() < need) ws.fused.resize(need);
      float* xe_all = ws.fused.data();
      float* ye_all = xe_all + routed * d;
      float* g_all = ye_all + routed * d;
      float* u_all = g_all + routed * ff;
      ws.jobs_gate_up.clear();
      ws.jobs_down.clear();
      int64_t at = 0;
      for_each_routed([&](int64_t e, int64_t Te, const int64_t* erows, const float*) {
        ++ws.expert_runs;
        gather(Te, erows, &xe_all[at * d]);
        ws.jobs_gate_up.push_back({Model::Impl::expert(L.gate_exps, L.gate_stride, uint32_t(e)), &xe_all[at * d], Te, &g_all[at * ff]});
        ws.jobs_gate_up.push_back({Model::Impl::expert(L.up_exps, L.up_stride, uint32_t(e)), &xe_all[at * d], Te, &u_all[at * ff]});
        ws.jobs_down.push_back({Model::Impl::expert(L.down_exps, L.down_stride, uint32_t(e)), &g_all[at * ff], Te, &ye_all[at * d]});
        at += Te;
      });
      matmul_batch(ws.jobs_gate_up, tp);
      for (int64_t i = 0; i < routed * ff; ++i) g_all[i] = silu(g_all[i]) * u_all[i];
      matmul_batch(ws.jobs_down, tp);
      at = 0;
      for_each_routed([&](int64_t, int64_t Te, const int64_t* erows, const float* ew) {
        add_output(Te, erows, ew, &ye_all[at * d]);
        at += Te;
      });
    } else {
      // Each expert runs once over the rows routed to it: Xe (Te, d) -> Ye (Te, d).
      for_each_routed([&](int64_t e, int64_t Te, const int64_t* erows, const float* ew) {
        ++ws.expert_runs;
        gather(Te, erows, ws.xe.data());
        swiglu(Model::Impl::expert(L.gate_exps, L.gate_stride, uint32_t(e)),
               Model::Impl::expert(L.up_exps, L.up_stride, uint32_t(e)),
               Model::Impl::expert(L.down_exps, L.down_stride, uint32_t(e)), ws.xe.data(), Te, ws.ye.data(),
               ws.ffn_g.data(), ws.ffn_u.data(), tp);
        add_output(Te, erows, ew, ws.ye.data());
      });
    }
    // qwen2moe's shared expert, gated by sigmoid(shexp_gate . h).
    if (L.has_shexp) {
      float* ys = ws.shexp.data();
      swiglu(L.gate_shexp, L.up_shexp, L.down_shexp, h, R, ys, ws.ffn_g.data(), ws.ffn_u.data(), tp);
      for (int64_t t = 0; t < R; ++t) {
        float g = 0;
        for (int64_t i = 0; i < d; ++i) g += L.shexp_gate[i] * h[t * d + i];
        g = 1.f / (1.f + std::exp(-g));
        for (int64_t i = 0; i < d; ++i) o[t * d + i] += g * ys[t * d + i];
      }
    }
  }
  for (int64_t i = 0; i < R * d; ++i) x[i] += o[i] * hp.residual_scale;
}

// deepseek2 and gpt-oss run their own layer functions over the same rows. Both index one
// contiguous cache per layer and sequence by position, so every row's KvSeq must be a single
// writable segment (n_prefix 0; generate_repeats gives their repeats a private copy of the prompt's
// cache). Both are per row in a fixed order (experts in id order, attention over the row's own
// positions), so the batch invariance of forward_rows holds for them too; batch_variant does not
// apply to them.
void deepseek2_rows(const Model::Impl& m, ThreadPool* tp, Workspace& ws, std::span<const Row> rows, uint32_t il) {
  MlaRows mr;
  mr.pos.resize(rows.size());
  mr.cache.resize(rows.size());
  mr.traces.resize(rows.size());
  for (size_t t = 0; t < rows.size(); ++t) {
    const KvSeq& kv = *rows[t].kv;
    mr.pos[t] = rows[t].pos;
    mr.cache[t] = kv.tail_k + il * kv.tail_layer_stride;
    mr.traces[t] = rows[t].trace;
  }
  deepseek2_layer(m, il, ws.x.data(), mr, tp, nullptr, ws.moe_layer_index[il]);
}

void gptoss_rows(const Model::Impl& m, ThreadPool* tp, Workspace& ws, std::span<const Row> rows, uint32_t il) {
  std::vector<GptOssRow> gr(rows.size());
  bool traced = false;
  for (size_t t = 0; t < rows.size(); ++t) {
    const KvSeq& kv = *rows[t].kv;
    gr[t] = {rows[t].pos, kv.tail_k + il * kv.tail_layer_stride, kv.tail_v + il * kv.tail_layer_stride};
    traced = traced || rows[t].trace;
  }
  GptOssRouteFn route;
  if (traced)
    route = [&](int64_t t, const uint16_t* e, const float* w, float ent, float margin) {
      if (rows[size_t(t)].trace) rows[size_t(t)].trace->append(ws.moe_layer_index[il], e, w, ent, margin);
    };
  gptoss_layer(m, il, gr, ws.x.data(), tp, route);
}

}  // namespace

void Workspace::init(const Model::Impl& m) {
  const HParams& hp = m.hp;
  uint32_t n_moe = 0;
  moe_layer_index.assign(hp.n_layer, 0);
  for (uint32_t i = 0; i < hp.n_layer; ++i) moe_layer_index[i] = m.layers[i].moe ? n_moe++ : 0;
  probs.assign(hp.n_expert, 0.0);
  order.assign(std::max<uint32_t>(hp.n_expert, 1), 0);
  expert_count.assign(hp.n_expert, 0);
  expert_begin.assign(size_t(hp.n_expert) + 1, 0);
  expert_order.assign(hp.n_expert, 0);
  rows_cap = 0;
}

void Workspace::reserve_rows(const Model::Impl& m, int64_t R) {
  if (R <= rows_cap) return;
  const HParams& hp = m.hp;
  const size_t r = size_t(R), d = hp.n_embd, nq = size_t(hp.n_head) * hp.head_dim, nkv = size_t(hp.n_head_kv) * hp.head_dim;
  size_t ff = 1;  // widest FFN of any kind, from the weights themselves
  for (const LayerWeights& L : m.layers)
    ff = std::max({ff, size_t(L.ffn_gate.n_out), size_t(L.gate_exps.n_out), size_t(L.gate_shexp.n_out)});
  for (auto* b : {&x, &h, &o, &xe, &ye, &shexp, &last}) b->resize(r * d);
  q.resize(r * nq);
  att.resize(r * nq);
  k.resize(r * nkv);
  v.resize(r * nkv);
  ffn_g.resize(r * ff);
  ffn_u.resize(r * ff);
  router_logits.resize(r * hp.n_expert);
  sel.resize(r * hp.n_expert_used);
  sel_w.resize(r * hp.n_expert_used);
  assign_row.resize(r * hp.n_expert_used);
  assign_w.resize(r * hp.n_expert_used);
  rows_cap = R;
}

void forward_rows(const Model::Impl& m, ThreadPool* tp, Workspace& ws, std::span<const Row> rows, float* logits_out,
                  const ForwardFlags& flags) {
  const HParams& hp = m.hp;
  const int64_t R = int64_t(rows.size()), d = hp.n_embd;
  if (R == 0) return;
  ws.reserve_rows(m, R);
  ++ws.forward_calls;
  ws.rows_computed += uint64_t(R);
  bool several_seqs = false;
  for (const Row& r : rows) several_seqs = several_seqs || r.kv != rows[0].kv;
  const bool variant = flags.batch_variant && several_seqs;

  // 1. Embed: x (R, d).
  for (int64_t t = 0; t < R; ++t) {
    const uint8_t* row = static_cast<const uint8_t*>(m.tok_embd.data) + uint64_t(rows[t].token) * m.tok_embd.row_bytes;
    float* xt = &ws.x[size_t(t * d)];
    dequantize_row(m.tok_embd.type, row, xt, d);
    if (hp.embedding_scale != 1.f)
      for (int64_t i = 0; i < d; ++i) xt[i] *= hp.embedding_scale;
  }
  // 2-3. Layers: attention, then the feed-forward (dense or MoE routing).
  for (uint32_t il = 0; il < hp.n_layer; ++il) {
    if (m.ds2) {
      deepseek2_rows(m, tp, ws, rows, il);
      continue;
    }
    if (m.gptoss) {
      gptoss_rows(m, tp, ws, rows, il);
      continue;
    }
    attention_rows(m, tp, ws, rows, il);
    ffn_rows(m, tp, ws, rows, il, variant);
  }
  // 4. Final norm and logits of the rows that want them: (n_want, d) -> (n_want, n_vocab).
  int64_t n_want = 0;
  for (int64_t t = 0; t < R; ++t)
    if (rows[t].want_logits) rmsnorm(&ws.last[size_t(n_want++ * d)], &ws.x[size_t(t * d)], m.output_norm.data(), d, hp.rms_eps);
  if (n_want == 0) return;
  matmul(m.output, ws.last.data(), n_want, logits_out, tp);
  if (hp.logit_scale != 1.f)
    for (int64_t i = 0; i < n_want * int64_t(hp.n_vocab); ++i) logits_out[i] /= hp.logit_scale;
}

}  // namespace moe
