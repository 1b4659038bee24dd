// Model: a GGUF file of a supported architecture, loaded once, immutable, shared by sessions.
//
// Supported general.architecture values: llama (dense, and with experts = Mixtral), qwen2moe,
// qwen3moe, olmoe, granitemoe, deepseek2 (DeepSeek-V2/V3), gpt-oss. The file is either
// memory-mapped or read into a private copy in 2 MiB pages (LoadOptions::weights); apart from that
// nothing is copied unless a type needs repacking (deepseek2 keeps an f32 transpose of attn_kv_b's
// key rows). Where the weights live never changes a result. Ownership: load() returns a
// shared_ptr<const Model>; sessions keep it alive.
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

// Where the weights live. kMapped: mmap of the file (nothing read up front, pages shared with the
// page cache and other processes). kHugePageCopy: the file read at load into private memory advised
// for 2 MiB pages, so that a decode step, which touches most of the weights, walks far fewer pages
// (single-stream Q8_0 decode measured 1.3x faster on a 1.4 GB model); it costs the read and memory
// that no other process shares. kAuto copies when the file is at most half of the memory the
// process may still take (MemAvailable, or less inside a memory-limited cgroup), and maps
// otherwise; a copy that cannot get its memory maps instead.
enum class WeightMemory { kAuto, kMapped, kHugePageCopy };

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
  WeightMemory weights = WeightMemory::kMapped;       // where the weights ended up (never kAuto)
};

const char* weight_memory_name(WeightMemory m);  // "auto", "mapped", "huge-page copy"

struct LoadOptions {
  bool vocab_only = false;
  WeightMemory weights = WeightMemory::kAuto;
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
