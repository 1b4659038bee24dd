// Builds tiny random gpt-oss models with the project's GGUF writer: every gpt-oss key and tensor,
// scaled so each feature is visible in the logits (a short sliding window, sinks that take a real
// share of the attention, YaRN whose ramp falls inside the rotated dimensions, expert biases large
// enough that the SwiGLU clamp cuts some activations).
#pragma once

#include <random>
#include <string>

#include "engine/runtime/tiny_model.h"
#include "gguf/gguf_writer.h"

namespace moe::testing {

struct TinyGptOssSpec {
  GgmlType expert_type = GgmlType::F32;  // MXFP4 for the quantised variant; the rest stays F32
  uint32_t d = 64, layers = 2, heads = 4, kv_heads = 2, head_dim = 32, experts = 4, k = 2, ff = 64, vocab = 64;
  uint32_t window = 3;                    // attention.sliding_window
  float yarn_factor = 4.f;                // rope.scaling.factor (0: no rope.scaling keys)
  uint32_t yarn_orig_ctx = 640;           // puts the YaRN ramp at dims ~2..8 of 16 pairs (base 1e4)
  float expert_bias_scale = 6.f;          // std of gate/up biases: ~25% of activations hit the clamp at 7
  float sink_mean = 1.f;
  bool with_sinks = true;
  uint32_t seed = 11;
};

inline GgufWriter tiny_gptoss(const TinyGptOssSpec& s) {
  std::mt19937 rng(s.seed);
  GgufWriter w;
  const std::string a = "gpt-oss";
  w.set_string("general.architecture", a);
  w.set_string("general.name", "tiny-gpt-oss");
  w.set_u32(a + ".context_length", 256);
  w.set_u32(a + ".embedding_length", s.d);
  w.set_u32(a + ".block_count", s.layers);
  w.set_u32(a + ".feed_forward_length", s.ff);
  w.set_u32(a + ".expert_feed_forward_length", s.ff);
  w.set_u32(a + ".attention.head_count", s.heads);
  w.set_u32(a + ".attention.head_count_kv", s.kv_heads);
  w.set_u32(a + ".attention.key_length", s.head_dim);
  w.set_u32(a + ".attention.value_length", s.head_dim);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32(a + ".attention.sliding_window", s.window);
  w.set_f32(a + ".rope.freq_base", 10000.f);
  if (s.yarn_factor > 0) {
    w.set_string(a + ".rope.scaling.type", "yarn");
    w.set_f32(a + ".rope.scaling.factor", s.yarn_factor);
    w.set_u32(a + ".rope.scaling.original_context_length", s.yarn_orig_ctx);
  }
  w.set_u32(a + ".expert_count", s.experts);
  w.set_u32(a + ".expert_used_count", s.k);
  const uint32_t nq = s.heads * s.head_dim, nkv = s.kv_heads * s.head_dim;
  auto t2 = [&](const std::string& name, uint32_t n_in, uint32_t n_out, float sc = 0.05f) {
    (void)w.add_tensor_f32(name, {n_in, n_out}, GgmlType::F32, randn(rng, size_t(n_in) * n_out, sc));
  };
  auto t1 = [&](const std::string& name, std::vector<uint64_t> dims, float mean, float sd) {
    uint64_t n = 1;
    for (auto v : dims) n *= v;
    auto v = randn(rng, n, sd);
    for (auto& x : v) x += mean;
    (void)w.add_tensor_f32(name, dims, GgmlType::F32, v);
  };
  t2("token_embd.weight", s.d, s.vocab, 1.f);
  for (uint32_t l = 0; l < s.layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    t1(p + "attn_norm.weight", {s.d}, 1.f, 0.1f);
    t2(p + "attn_q.weight", s.d, nq, 0.15f);
    t2(p + "attn_k.weight", s.d, nkv, 0.15f);
    t2(p + "attn_v.weight", s.d, nkv);
    t2(p + "attn_output.weight", nq, s.d);
    t1(p + "attn_q.bias", {nq}, 0.f, 0.1f);
    t1(p + "attn_k.bias", {nkv}, 0.f, 0.1f);
    t1(p + "attn_v.bias", {nkv}, 0.f, 0.1f);
    t1(p + "attn_output.bias", {s.d}, 0.f, 0.1f);
    if (s.with_sinks) t1(p + "attn_sinks.weight", {s.heads}, s.sink_mean, 1.f);
    t1(p + "post_attention_norm.weight", {s.d}, 1.f, 0.1f);
    (void)w.add_tensor_f32(p + "ffn_gate_inp.weight", {s.d, s.experts}, GgmlType::F32,
                           randn(rng, size_t(s.d) * s.experts, 0.2f));
    t1(p + "ffn_gate_inp.bias", {s.experts}, 0.f, 1.f);
    const size_t n_exp = size_t(s.d) * s.ff * s.experts;
    (void)w.add_tensor_f32(p + "ffn_gate_exps.weight", {s.d, s.ff, s.experts}, s.expert_type, randn(rng, n_exp, 0.1f));
    (void)w.add_tensor_f32(p + "ffn_up_exps.weight", {s.d, s.ff, s.experts}, s.expert_type, randn(rng, n_exp, 0.1f));
    (void)w.add_tensor_f32(p + "ffn_down_exps.weight", {s.ff, s.d, s.experts}, s.expert_type, randn(rng, n_exp, 0.05f));
    t1(p + "ffn_gate_exps.bias", {s.ff, s.experts}, 0.f, s.expert_bias_scale);
    t1(p + "ffn_up_exps.bias", {s.ff, s.experts}, 0.f, s.expert_bias_scale);
    t1(p + "ffn_down_exps.bias", {s.d, s.experts}, 0.f, 0.1f);
  }
  t1("output_norm.weight", {s.d}, 1.f, 0.1f);
  t2("output.weight", s.d, s.vocab);
  return w;
}

}  // namespace moe::testing
