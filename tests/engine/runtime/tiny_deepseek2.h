// Tiny random DeepSeek-V2/V3 (deepseek2) models, written with the project's GGUF writer in the
// layout llama.cpp's converter uses. Shared by the golden tests, the engine tests and the
// llama.cpp comparison (WOBBLE_DUMP_GOLDEN_MODELS writes the files out).
#pragma once

#include <random>
#include <string>

#include "engine/runtime/tiny_model.h"
#include "gguf/gguf_writer.h"

namespace moe::testing {

struct Ds2Spec {
  GgmlType type = GgmlType::F32;  // 2-D / 3-D weights (routers stay F32)
  uint32_t d = 64, layers = 3, heads = 4, vocab = 64;
  uint32_t q_lora = 32;   // 0: V2-Lite style direct q projection
  uint32_t kv_lora = 64, nope = 32, rope = 16, v = 32;
  uint32_t experts = 8, k = 2, ff_exp = 32, ff_dense = 64, shared = 1, dense_lead = 1;
  bool sigmoid = false;       // V3 scoring (expert_gating_func 2) with exp_probs_b
  bool norm = false;          // expert_weights_norm
  float scale = 1.f;          // expert_weights_scale (routed_scaling_factor)
  uint32_t n_group = 0, topk_group = 0;  // 0: keys absent (no group limit)
  bool yarn = false;          // YaRN factor 4 over an original context of 64, yarn_log_multiplier 0.1
  bool split_kv_b = false;    // attn_k_b / attn_v_b instead of attn_kv_b
  bool kv_b_f32 = false;      // keep attn_kv_b (or k_b / v_b) in F32 whatever `type` is
  float bias_scale = 0.3f;    // spread of exp_probs_b
  uint32_t seed = 7;
};

// V2-style: softmax scoring, top-3, q LoRA, one dense leading layer, two shared experts, groups ranked by
// their best expert. V3-style: sigmoid scoring, selection bias, groups ranked by their two best,
// normalised weights times 2.5, YaRN. V2-Lite: no q LoRA, no groups.
inline Ds2Spec ds2_v2_spec() {
  Ds2Spec s;
  s.k = 3, s.shared = 2, s.n_group = 4, s.topk_group = 2, s.scale = 1.f;
  return s;
}
inline Ds2Spec ds2_v2lite_spec() {
  Ds2Spec s;
  s.q_lora = 0, s.shared = 2;
  return s;
}
inline Ds2Spec ds2_v3_spec() {
  Ds2Spec s;
  s.sigmoid = true, s.norm = true, s.scale = 2.5f, s.n_group = 4, s.topk_group = 2, s.yarn = true;
  return s;
}

inline GgufWriter tiny_deepseek2(const Ds2Spec& s) {
  std::mt19937 rng(s.seed);
  GgufWriter w;
  const std::string a = "deepseek2.";
  const uint32_t qk = s.nope + s.rope;
  w.set_string("general.architecture", "deepseek2");
  w.set_string("general.name", "tiny-deepseek2");
  w.set_string("tokenizer.ggml.model", "none");
  w.set_u32(a + "context_length", 256);
  w.set_u32(a + "embedding_length", s.d);
  w.set_u32(a + "block_count", s.layers);
  w.set_u32(a + "feed_forward_length", s.ff_dense);
  w.set_u32(a + "attention.head_count", s.heads);
  w.set_u32(a + "attention.head_count_kv", s.heads);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_f32(a + "rope.freq_base", 10000.f);
  w.set_u32(a + "rope.dimension_count", s.rope);
  w.set_u32(a + "attention.key_length", qk);
  w.set_u32(a + "attention.value_length", s.v);
  if (s.q_lora) w.set_u32(a + "attention.q_lora_rank", s.q_lora);
  w.set_u32(a + "attention.kv_lora_rank", s.kv_lora);
  w.set_u32(a + "leading_dense_block_count", s.dense_lead);
  w.set_u32(a + "expert_count", s.experts);
  w.set_u32(a + "expert_used_count", s.k);
  w.set_u32(a + "expert_feed_forward_length", s.ff_exp);
  w.set_u32(a + "expert_shared_count", s.shared);
  w.set_f32(a + "expert_weights_scale", s.scale);
  w.set_bool(a + "expert_weights_norm", s.norm);
  w.set_u32(a + "expert_gating_func", s.sigmoid ? 2 : 1);
  if (s.n_group) {
    w.set_u32(a + "expert_group_count", s.n_group);
    w.set_u32(a + "expert_group_used_count", s.topk_group);
  }
  if (s.yarn) {
    w.set_string(a + "rope.scaling.type", "yarn");
    w.set_f32(a + "rope.scaling.factor", 4.f);
    w.set_u32(a + "rope.scaling.original_context_length", 64);
    w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.1f);
  } else {
    w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.f);  // llama.cpp requires the key
  }
  auto t2 = [&](const std::string& name, uint32_t n_in, uint32_t n_out, float sc = 0.08f) {
    (void)w.add_tensor_f32(name, {n_in, n_out}, s.type, randn(rng, size_t(n_in) * n_out, sc));
  };
  auto t1 = [&](const std::string& name, uint32_t n, float mean = 1.f, float sc = 0.1f) {
    auto v = randn(rng, n, sc);
    for (auto& x : v) x += mean;
    (void)w.add_tensor_f32(name, {n}, GgmlType::F32, v);
  };
  t2("token_embd.weight", s.d, s.vocab, 1.f);
  for (uint32_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t1(p + "attn_norm.weight", s.d);
    if (s.q_lora) {
      t2(p + "attn_q_a.weight", s.d, s.q_lora, 0.15f);
      t1(p + "attn_q_a_norm.weight", s.q_lora);
      t2(p + "attn_q_b.weight", s.q_lora, s.heads * qk, 0.2f);
    } else {
      t2(p + "attn_q.weight", s.d, s.heads * qk, 0.15f);
    }
    t2(p + "attn_kv_a_mqa.weight", s.d, s.kv_lora + s.rope, 0.15f);
    t1(p + "attn_kv_a_norm.weight", s.kv_lora);
    // kv_b (rank -> H*(nope+v)); the split form stores the same numbers per head.
    auto kvb = randn(rng, size_t(s.kv_lora) * s.heads * (s.nope + s.v), 0.2f);
    const GgmlType kvb_type = s.kv_b_f32 ? GgmlType::F32 : s.type;
    if (!s.split_kv_b) {
      (void)w.add_tensor_f32(p + "attn_kv_b.weight", {s.kv_lora, s.heads * (s.nope + s.v)}, kvb_type, kvb);
    } else {
      std::vector<float> kb(size_t(s.heads) * s.kv_lora * s.nope), vb(size_t(s.heads) * s.v * s.kv_lora);
      for (uint32_t h = 0; h < s.heads; ++h)
        for (uint32_t r = 0; r < s.kv_lora; ++r) {
          for (uint32_t n = 0; n < s.nope; ++n)  // k_b: per head (rank rows of nope)
            kb[(size_t(h) * s.kv_lora + r) * s.nope + n] = kvb[(size_t(h) * (s.nope + s.v) + n) * s.kv_lora + r];
          for (uint32_t j = 0; j < s.v; ++j)  // v_b: per head (v rows of rank)
            vb[(size_t(h) * s.v + j) * s.kv_lora + r] = kvb[(size_t(h) * (s.nope + s.v) + s.nope + j) * s.kv_lora + r];
        }
      (void)w.add_tensor_f32(p + "attn_k_b.weight", {s.nope, s.kv_lora, s.heads}, kvb_type, kb);
      (void)w.add_tensor_f32(p + "attn_v_b.weight", {s.kv_lora, s.v, s.heads}, kvb_type, vb);
    }
    t2(p + "attn_output.weight", s.heads * s.v, s.d);
    t1(p + "ffn_norm.weight", s.d);
    if (l < s.dense_lead) {
      t2(p + "ffn_gate.weight", s.d, s.ff_dense);
      t2(p + "ffn_up.weight", s.d, s.ff_dense);
      t2(p + "ffn_down.weight", s.ff_dense, s.d);
      continue;
    }
    (void)w.add_tensor_f32(p + "ffn_gate_inp.weight", {s.d, s.experts}, GgmlType::F32,
                           randn(rng, size_t(s.d) * s.experts, 0.2f));
    if (s.sigmoid) t1(p + "exp_probs_b.bias", s.experts, 0.f, s.bias_scale);
    const size_t ne = size_t(s.d) * s.ff_exp * s.experts;
    (void)w.add_tensor_f32(p + "ffn_gate_exps.weight", {s.d, s.ff_exp, s.experts}, s.type, randn(rng, ne, 0.08f));
    (void)w.add_tensor_f32(p + "ffn_up_exps.weight", {s.d, s.ff_exp, s.experts}, s.type, randn(rng, ne, 0.08f));
    (void)w.add_tensor_f32(p + "ffn_down_exps.weight", {s.ff_exp, s.d, s.experts}, s.type, randn(rng, ne, 0.08f));
    if (s.shared) {
      const uint32_t sff = s.ff_exp * s.shared;
      t2(p + "ffn_gate_shexp.weight", s.d, sff);
      t2(p + "ffn_up_shexp.weight", s.d, sff);
      t2(p + "ffn_down_shexp.weight", sff, s.d);
    }
  }
  t1("output_norm.weight", s.d);
  t2("output.weight", s.d, s.vocab);
  return w;
}

}  // namespace moe::testing
