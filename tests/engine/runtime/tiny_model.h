// Builds tiny random models of every supported architecture with the project's GGUF writer.
#pragma once

#include <random>
#include <string>

#include "gguf/gguf_writer.h"

namespace moe::testing {

struct TinySpec {
  std::string arch = "llama";
  GgmlType type = GgmlType::F32;  // type of the 2-D / 3-D weights
  uint32_t d = 256, layers = 2, heads = 4, kv_heads = 2, experts = 4, k = 2, ff = 256, vocab = 64;
  bool tied = false;
  bool zero_router = false;  // all router logits equal: exercises tie-breaking
  bool dense = false;        // llama without experts
  uint32_t seed = 1;
};

inline std::vector<float> randn(std::mt19937& rng, size_t n, float scale) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline GgufWriter tiny_model(const TinySpec& s) {
  std::mt19937 rng(s.seed);
  GgufWriter w;
  const std::string a = s.arch;
  const uint32_t hd = s.d / s.heads;
  w.set_string("general.architecture", a);
  w.set_string("general.name", "tiny-" + a);
  w.set_u32(a + ".context_length", 128);
  w.set_u32(a + ".embedding_length", s.d);
  w.set_u32(a + ".block_count", s.layers);
  w.set_u32(a + ".feed_forward_length", s.ff);
  w.set_u32(a + ".attention.head_count", s.heads);
  w.set_u32(a + ".attention.head_count_kv", s.kv_heads);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_f32(a + ".rope.freq_base", 10000.f);
  if (!s.dense) {
    w.set_u32(a + ".expert_count", s.experts);
    w.set_u32(a + ".expert_used_count", s.k);
    w.set_u32(a + ".expert_feed_forward_length", s.ff);
  }
  if (a == "granitemoe") {
    w.set_f32(a + ".embedding_scale", 12.f);
    w.set_f32(a + ".residual_scale", 0.22f);
    w.set_f32(a + ".attention.scale", 0.0078125f);
    w.set_f32(a + ".logit_scale", 6.f);
  }
  if (a == "qwen2moe") w.set_u32(a + ".expert_shared_feed_forward_length", s.ff);
  auto t2 = [&](const std::string& name, uint32_t n_in, uint32_t n_out, float sc = 0.05f) {
    (void)w.add_tensor_f32(name, {n_in, n_out}, s.type, randn(rng, size_t(n_in) * n_out, sc));
  };
  auto t1 = [&](const std::string& name, uint32_t n, float mean = 1.f) {
    auto v = randn(rng, n, 0.1f);
    for (auto& x : v) x += mean;
    (void)w.add_tensor_f32(name, {n}, GgmlType::F32, v);
  };
  t2("token_embd.weight", s.d, s.vocab, 1.f);
  for (uint32_t l = 0; l < s.layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    t1(p + "attn_norm.weight", s.d);
    t2(p + "attn_q.weight", s.d, s.heads * hd);
    t2(p + "attn_k.weight", s.d, s.kv_heads * hd);
    t2(p + "attn_v.weight", s.d, s.kv_heads * hd);
    t2(p + "attn_output.weight", s.heads * hd, s.d);
    if (a == "qwen2moe") {
      t1(p + "attn_q.bias", s.heads * hd, 0.f);
      t1(p + "attn_k.bias", s.kv_heads * hd, 0.f);
      t1(p + "attn_v.bias", s.kv_heads * hd, 0.f);
    }
    if (a == "qwen3moe") {
      t1(p + "attn_q_norm.weight", hd);
      t1(p + "attn_k_norm.weight", hd);
    }
    if (a == "olmoe") {
      t1(p + "attn_q_norm.weight", s.heads * hd);
      t1(p + "attn_k_norm.weight", s.kv_heads * hd);
    }
    t1(p + "ffn_norm.weight", s.d);
    if (s.dense) {
      t2(p + "ffn_gate.weight", s.d, s.ff);
      t2(p + "ffn_up.weight", s.d, s.ff);
      t2(p + "ffn_down.weight", s.ff, s.d);
      continue;
    }
    if (s.zero_router) {
      (void)w.add_tensor_f32(p + "ffn_gate_inp.weight", {s.d, s.experts}, GgmlType::F32,
                             std::vector<float>(size_t(s.d) * s.experts, 0.f));
    } else {
      (void)w.add_tensor_f32(p + "ffn_gate_inp.weight", {s.d, s.experts}, GgmlType::F32,
                             randn(rng, size_t(s.d) * s.experts, 0.2f));
    }
    (void)w.add_tensor_f32(p + "ffn_gate_exps.weight", {s.d, s.ff, s.experts}, s.type, randn(rng, size_t(s.d) * s.ff * s.experts, 0.05f));
    (void)w.add_tensor_f32(p + "ffn_up_exps.weight", {s.d, s.ff, s.experts}, s.type, randn(rng, size_t(s.d) * s.ff * s.experts, 0.05f));
    (void)w.add_tensor_f32(p + "ffn_down_exps.weight", {s.ff, s.d, s.experts}, s.type, randn(rng, size_t(s.d) * s.ff * s.experts, 0.05f));
    if (a == "qwen2moe") {
      t2(p + "ffn_gate_shexp.weight", s.d, s.ff);
      t2(p + "ffn_up_shexp.weight", s.d, s.ff);
      t2(p + "ffn_down_shexp.weight", s.ff, s.d);
      t1(p + "ffn_gate_inp_shexp.weight", s.d, 0.f);
    }
  }
  t1("output_norm.weight", s.d);
  if (!s.tied) t2("output.weight", s.d, s.vocab);
  return w;
}

}  // namespace moe::testing
