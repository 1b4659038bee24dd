// Model: a GGUF file of a supported architecture, loaded once, immutable, shared by sessions.
//
// Supported general.architecture values: llama (dense, and with experts = Mixtral), qwen2moe,
// qwen3moe, olmoe, granitemoe, deepseek2 (DeepSeek-V2/V3), gpt-oss. Weights stay memory-mapped;
// nothing is copied unless a type needs repacking (deepseek2 keeps an f32 transpose of attn_kv_b's
// key rows). Ownership: load() returns a shared_ptr<const Model>; sessions keep it alive.
// Thread safety: every const method may be used from any number of threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "moe/status.h"

namespace moe {

class Tokenizer;
class GgufFile;

struct ModelInfo {
  std::string architecture;  // general.architecture
  std::string name;          // general.name, may be empty
  uint32_t n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  uint32_t n_ff = 0;             // dense FFN width (0 when every layer is MoE)
  uint32_t n_ff_expert = 0;      // expert FFN width
  uint32_t n_expert = 0, n_expert_used = 0;
  uint32_t n_moe_layers = 0;
  uint32_t n_vocab = 0, n_ctx_train = 0;
  uint64_t n_params = 0;         // all weights
  uint64_t n_params_active = 0;  // weights touched per token (top-k experts only)
  uint64_t bytes_total = 0;
  uint64_t bytes_active = 0;     // weight bytes read per decoded token
  std::map<std::string, uint32_t> tensor_types;  // type name -> tensor count
  std::map<std::string, uint64_t> type_bytes;    // type name -> bytes of its tensors in the file
  std::map<std::string, uint64_t> type_params;   // type name -> values stored in that type
  // KV cache bytes per token over all layers as a session stores it (f32). With multi-head latent
  // attention (deepseek2) this is the latent, n_layer * (mla_kv_lora_rank + mla_rope_dim) * 4.
  uint64_t kv_cache_bytes_per_token = 0;
  uint32_t mla_kv_lora_rank = 0, mla_rope_dim = 0;  // 0 unless the model uses MLA
};

struct LoadOptions {
  bool vocab_only = false;
};

class Model {
 public:
  static Result<std::shared_ptr<const Model>> load(const std::string& path, const LoadOptions& = {});
  ~Model();

  const ModelInfo& info() const;
  // The vocabulary's tokenizer. Only valid when has_tokenizer(): a GGUF without tokenizer.*
  // metadata still loads and runs on token ids.
  bool has_tokenizer() const;
  const Tokenizer& tokenizer() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  Model();
  std::unique_ptr<Impl> impl_;
};

}  // namespace moe
