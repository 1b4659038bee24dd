// The loaded model's internals: hyper-parameters and views of every weight (into the mmap).
#pragma once

#include <memory>
#include <vector>

#include "arch/arch.h"
#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "moe/model.h"
#include "moe/tokenizer.h"

namespace moe {

struct GptOssModel;  // runtime/gptoss.h
struct Deepseek2Model;  // arch/deepseek2.h

struct HParams {
  Arch arch = Arch::kLlama;
  uint32_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_rot = 0;
  uint32_t n_ff = 0, n_ff_exp = 0, n_ff_shexp = 0, n_expert = 0, n_expert_used = 0, n_ctx_train = 0;
  float rope_base = 10000.f, rms_eps = 1e-5f;
  bool renorm_topk = true;
  float expert_weights_scale = 1.f;
  // granite multipliers (1 and 1/sqrt(head_dim) elsewhere)
  float embedding_scale = 1.f, residual_scale = 1.f, attention_scale = 0.f, logit_scale = 1.f;
};

struct LayerWeights {
  std::vector<float> attn_norm;             // (n_embd,)
  WeightView wq, wk, wv, wo;                // wq (n_embd -> n_head*hd) ...
  std::vector<float> bq, bk, bv;            // optional biases
  std::vector<float> q_norm, k_norm;        // (hd,) per head or (n_head*hd,) full width; empty if none
  std::vector<float> ffn_norm;              // (n_embd,)
  bool moe = false;
  WeightView router;                        // (n_embd -> n_expert)
  WeightView gate_exps, up_exps, down_exps; // per expert views, n_out = n_ff_exp (down: n_embd)
  uint64_t gate_stride = 0, up_stride = 0, down_stride = 0;  // bytes between experts
  WeightView ffn_gate, ffn_up, ffn_down;    // dense FFN
  WeightView gate_shexp, up_shexp, down_shexp;
  std::vector<float> shexp_gate;            // (n_embd,) qwen2moe shared-expert gate
  bool has_shexp = false;
};

struct Model::Impl {
  std::unique_ptr<GgufFile> file;
  HParams hp;
  ModelInfo info;
  std::unique_ptr<Tokenizer> tokenizer;
  WeightView tok_embd;                      // (n_embd) x n_vocab rows
  std::vector<float> output_norm;           // (n_embd,)
  WeightView output;                        // (n_embd -> n_vocab); tok_embd when tied
  std::vector<LayerWeights> layers;
  std::shared_ptr<const GptOssModel> gptoss;  // set for gpt-oss: its layer runs in runtime/gptoss.cpp
  std::shared_ptr<const Deepseek2Model> ds2;  // deepseek2 only: MLA weights and routing parameters

  // Expert e of a 3-D expert tensor as a 2-D weight.
  static WeightView expert(const WeightView& base, uint64_t stride, uint32_t e) {
    WeightView w = base;
    w.data = static_cast<const uint8_t*>(base.data) + uint64_t(e) * stride;
    return w;
  }
};

}  // namespace moe
