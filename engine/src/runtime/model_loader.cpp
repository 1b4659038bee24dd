// Model::load: reads hyper-parameters for the file's architecture, checks every tensor's presence,
// type and shape, and builds weight views into the mapping. Every failure names the key or tensor.
#include <cmath>
#include <cstdint>

#include "arch/deepseek2.h"
#include "runtime/gptoss.h"
#include "runtime/model_impl.h"
#include "runtime/tensor_lookup.h"
#include "util/memory_headroom.h"

namespace moe {
namespace {

class Loader {
 public:
  Loader(const GgufFile& f, const std::string& arch) : f_(f), prefix_(arch + ".") {}

  Result<uint32_t> u32(const std::string& key, std::optional<uint32_t> dflt = std::nullopt) {
    std::string k = prefix_ + key;
    if (!f_.find(k)) {
      if (dflt) return *dflt;
      return Status::NotFound("metadata key '" + k + "' is missing");
    }
    MOE_ASSIGN_OR_RETURN(uint64_t v, f_.get_uint(k));
    if (v > (1u << 24)) return Status::Corruption("metadata key '" + k + "' = " + std::to_string(v) + " is absurd");
    return uint32_t(v);
  }
  Result<float> f32(const std::string& key, float dflt) {
    MOE_ASSIGN_OR_RETURN(double v, f_.get_float_or(prefix_ + key, dflt));
    if (!std::isfinite(v)) return Status::Corruption("metadata key '" + prefix_ + key + "' is not finite");
    return float(v);
  }

  // A 2-D weight (n_in, n_out) or one expert slice of a 3-D (n_in, n_out, n_expert) tensor.
  Result<WeightView> weight(const std::string& name, uint64_t n_in, uint64_t n_out, uint64_t n_expert = 0,
                            uint64_t* stride = nullptr) {
    std::vector<uint64_t> want = {n_in, n_out};
    if (n_expert) want.push_back(n_expert);
    return lookup_weight(f_, name, want, stride);
  }

  // A 1-D tensor (norm weights, biases) dequantised to f32; empty when optional and absent.
  Result<std::vector<float>> vec(const std::string& name, uint64_t n, bool optional = false) {
    return lookup_vector(f_, name, n, optional);
  }

 private:
  const GgufFile& f_;
  std::string prefix_;
};

Status load_into(Model::Impl& m, const LoadOptions& opts) {
  const GgufFile& f = *m.file;
  MOE_ASSIGN_OR_RETURN(std::string arch_name, f.get_string("general.architecture"));
  auto arch = arch_from_name(arch_name);
  if (!arch) return Status::NotSupported("architecture '" + arch_name + "' is not supported (supported: llama, qwen2moe, qwen3moe, olmoe, granitemoe, deepseek2, gpt-oss)");
  const ArchTraits& tr = arch_traits(*arch);
  HParams& hp = m.hp;
  hp.arch = *arch;
  Loader L(f, arch_name);
  MOE_ASSIGN_OR_RETURN(hp.n_embd, L.u32("embedding_length"));
  MOE_ASSIGN_OR_RETURN(hp.n_layer, L.u32("block_count"));
  MOE_ASSIGN_OR_RETURN(hp.n_head, L.u32("attention.head_count"));
  MOE_ASSIGN_OR_RETURN(hp.n_head_kv, L.u32("attention.head_count_kv", hp.n_head));
  MOE_ASSIGN_OR_RETURN(hp.n_ctx_train, L.u32("context_length", 2048));
  MOE_ASSIGN_OR_RETURN(hp.n_ff, L.u32("feed_forward_length", 0));
  MOE_ASSIGN_OR_RETURN(hp.n_expert, L.u32("expert_count", 0));
  MOE_ASSIGN_OR_RETURN(hp.n_expert_used, L.u32("expert_used_count", 0));
  MOE_ASSIGN_OR_RETURN(hp.n_ff_exp, L.u32("expert_feed_forward_length", hp.n_ff));
  MOE_ASSIGN_OR_RETURN(hp.n_ff_shexp, L.u32("expert_shared_feed_forward_length", hp.n_ff_exp));
  if (hp.n_embd == 0 || hp.n_layer == 0 || hp.n_head == 0 || hp.n_head_kv == 0 || hp.n_head % hp.n_head_kv != 0)
    return Status::Corruption("inconsistent attention shape: embedding_length " + std::to_string(hp.n_embd) +
                              ", head_count " + std::to_string(hp.n_head) + ", head_count_kv " + std::to_string(hp.n_head_kv));
  MOE_ASSIGN_OR_RETURN(hp.head_dim, L.u32("attention.key_length", hp.n_embd / hp.n_head));
  MOE_ASSIGN_OR_RETURN(hp.n_rot, L.u32("rope.dimension_count", hp.head_dim));
  if (hp.head_dim == 0 || hp.head_dim % 2 != 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
    return Status::Corruption("inconsistent head size " + std::to_string(hp.head_dim) + " / rope dimensions " + std::to_string(hp.n_rot));
  if (hp.n_expert > 0 && (hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert || hp.n_expert > 4096))
    return Status::Corruption("expert_used_count " + std::to_string(hp.n_expert_used) + " does not fit expert_count " + std::to_string(hp.n_expert));
  MOE_ASSIGN_OR_RETURN(hp.rope_base, L.f32("rope.freq_base", 10000.f));
  MOE_ASSIGN_OR_RETURN(hp.rms_eps, L.f32("attention.layer_norm_rms_epsilon", 1e-5f));
  hp.renorm_topk = tr.renorm_topk;
  if (const GgufValue* v = f.find(arch_name + ".expert_weights_norm"))
    if (auto* b = std::get_if<bool>(&v->v)) hp.renorm_topk = *b;
  MOE_ASSIGN_OR_RETURN(hp.expert_weights_scale, L.f32("expert_weights_scale", 1.f));
  if (tr.granite_multipliers) {
    MOE_ASSIGN_OR_RETURN(hp.embedding_scale, L.f32("embedding_scale", 1.f));
    MOE_ASSIGN_OR_RETURN(hp.residual_scale, L.f32("residual_scale", 1.f));
    MOE_ASSIGN_OR_RETURN(hp.attention_scale, L.f32("attention.scale", 0.f));
    MOE_ASSIGN_OR_RETURN(hp.logit_scale, L.f32("logit_scale", 1.f));
  }
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  if (!emb) return Status::NotFound("tensor 'token_embd.weight' is missing");
  if (emb->dims.size() != 2 || emb->dims[0] != hp.n_embd)
    return Status::Corruption("tensor 'token_embd.weight' has shape " + tensor_shape_str(emb->dims));
  hp.n_vocab = uint32_t(emb->dims[1]);

  // Tokenizer (optional: token-id generation works without it). "none" / "no_vocab" declare a
  // model that is driven by token ids only, as other GGUF loaders accept.
  if (f.find("tokenizer.ggml.model")) {
    auto kind = f.get_string("tokenizer.ggml.model");
    const bool declares_no_vocab = kind.ok() && (*kind == "none" || *kind == "no_vocab");
    if (!declares_no_vocab) {
      auto tok = Tokenizer::from_gguf(f);
      if (!tok.ok()) return tok.status();
      m.tokenizer = std::move(tok).value();
    }
  }
  if (opts.vocab_only) return Status::Ok();
  if (hp.arch == Arch::kGptOss) return load_gptoss(m);  // its own tensor set (runtime/gptoss.cpp)

  const uint32_t d = hp.n_embd, hd = hp.head_dim, nq = hp.n_head * hd, nkv = hp.n_head_kv * hd;
  MOE_ASSIGN_OR_RETURN(m.tok_embd, L.weight("token_embd.weight", d, hp.n_vocab));
  MOE_ASSIGN_OR_RETURN(m.output_norm, L.vec("output_norm.weight", d));
  if (f.find_tensor("output.weight")) {
    MOE_ASSIGN_OR_RETURN(m.output, L.weight("output.weight", d, hp.n_vocab));
  } else {
    m.output = m.tok_embd;  // tied embeddings
  }
  if (*arch == Arch::kDeepseek2) return load_deepseek2(f, arch_name, m);
  m.layers.resize(hp.n_layer);
  for (uint32_t i = 0; i < hp.n_layer; ++i) {
    LayerWeights& l = m.layers[i];
    std::string p = "blk." + std::to_string(i) + ".";
    MOE_ASSIGN_OR_RETURN(l.attn_norm, L.vec(p + "attn_norm.weight", d));
    MOE_ASSIGN_OR_RETURN(l.wq, L.weight(p + "attn_q.weight", d, nq));
    MOE_ASSIGN_OR_RETURN(l.wk, L.weight(p + "attn_k.weight", d, nkv));
    MOE_ASSIGN_OR_RETURN(l.wv, L.weight(p + "attn_v.weight", d, nkv));
    MOE_ASSIGN_OR_RETURN(l.wo, L.weight(p + "attn_output.weight", nq, d));
    MOE_ASSIGN_OR_RETURN(l.bq, L.vec(p + "attn_q.bias", nq, true));
    MOE_ASSIGN_OR_RETURN(l.bk, L.vec(p + "attn_k.bias", nkv, true));
    MOE_ASSIGN_OR_RETURN(l.bv, L.vec(p + "attn_v.bias", nkv, true));
    if (tr.qk_norm == QkNorm::kPerHead) {
      MOE_ASSIGN_OR_RETURN(l.q_norm, L.vec(p + "attn_q_norm.weight", hd));
      MOE_ASSIGN_OR_RETURN(l.k_norm, L.vec(p + "attn_k_norm.weight", hd));
    } else if (tr.qk_norm == QkNorm::kFullWidth) {
      MOE_ASSIGN_OR_RETURN(l.q_norm, L.vec(p + "attn_q_norm.weight", nq));
      MOE_ASSIGN_OR_RETURN(l.k_norm, L.vec(p + "attn_k_norm.weight", nkv));
    }
    MOE_ASSIGN_OR_RETURN(l.ffn_norm, L.vec(p + "ffn_norm.weight", d));
    l.moe = hp.n_expert > 0 && f.find_tensor(p + "ffn_gate_inp.weight");
    if (l.moe) {
      const uint32_t E = hp.n_expert, ff = hp.n_ff_exp;
      if (ff == 0) return Status::Corruption("expert feed-forward length is 0");
      MOE_ASSIGN_OR_RETURN(l.router, L.weight(p + "ffn_gate_inp.weight", d, E));
      MOE_ASSIGN_OR_RETURN(l.gate_exps, L.weight(p + "ffn_gate_exps.weight", d, ff, E, &l.gate_stride));
      MOE_ASSIGN_OR_RETURN(l.up_exps, L.weight(p + "ffn_up_exps.weight", d, ff, E, &l.up_stride));
      MOE_ASSIGN_OR_RETURN(l.down_exps, L.weight(p + "ffn_down_exps.weight", ff, d, E, &l.down_stride));
      if (tr.shared_expert && f.find_tensor(p + "ffn_up_shexp.weight")) {
        l.has_shexp = true;
        const uint32_t sff = hp.n_ff_shexp;
        MOE_ASSIGN_OR_RETURN(l.gate_shexp, L.weight(p + "ffn_gate_shexp.weight", d, sff));
        MOE_ASSIGN_OR_RETURN(l.up_shexp, L.weight(p + "ffn_up_shexp.weight", d, sff));
        MOE_ASSIGN_OR_RETURN(l.down_shexp, L.weight(p + "ffn_down_shexp.weight", sff, d));
        MOE_ASSIGN_OR_RETURN(l.shexp_gate, L.vec(p + "ffn_gate_inp_shexp.weight", d));
      }
    } else {
      if (hp.n_ff == 0) return Status::Corruption("layer " + std::to_string(i) + " has no experts and feed_forward_length is 0");
      MOE_ASSIGN_OR_RETURN(l.ffn_gate, L.weight(p + "ffn_gate.weight", d, hp.n_ff));
      MOE_ASSIGN_OR_RETURN(l.ffn_up, L.weight(p + "ffn_up.weight", d, hp.n_ff));
      MOE_ASSIGN_OR_RETURN(l.ffn_down, L.weight(p + "ffn_down.weight", hp.n_ff, d));
    }
  }
  return Status::Ok();
}

void fill_info(Model::Impl& m) {
  const HParams& hp = m.hp;
  ModelInfo& in = m.info;
  in.architecture = arch_traits(hp.arch).name;
  if (auto n = m.file->get_string("general.name"); n.ok()) in.name = *n;
  in.n_layer = hp.n_layer;
  in.n_embd = hp.n_embd;
  in.n_head = hp.n_head;
  in.n_head_kv = hp.n_head_kv;
  in.head_dim = hp.head_dim;
  in.n_ff = hp.n_ff;
  in.n_ff_expert = hp.n_ff_exp;
  in.n_expert = hp.n_expert;
  in.n_expert_used = hp.n_expert_used;
  in.n_vocab = hp.n_vocab;
  in.n_ctx_train = hp.n_ctx_train;
  for (const auto& l : m.layers) in.n_moe_layers += l.moe ? 1 : 0;
  // The session's f32 cache: K and V per KV head, or MLA's latent plus shared rope key.
  if (m.ds2) {
    in.mla_kv_lora_rank = m.ds2->p.kv_lora_rank;
    in.mla_rope_dim = m.ds2->p.n_rope;
    in.kv_cache_bytes_per_token = uint64_t(hp.n_layer) * m.ds2->p.cache_width() * sizeof(float);
  } else {
    in.kv_cache_bytes_per_token = 2ull * hp.n_layer * hp.n_head_kv * hp.head_dim * sizeof(float);
  }
  for (const auto& t : m.file->tensors()) {
    uint64_t n = t.n_elements();
    in.n_params += n;
    in.bytes_total += t.nbytes;
    in.tensor_types[ggml_type_name(t.type)]++;
    in.type_bytes[ggml_type_name(t.type)] += t.nbytes;
    in.type_params[ggml_type_name(t.type)] += n;
    bool expert = t.name.find("_exps.") != std::string::npos;
    double frac = expert && hp.n_expert ? double(hp.n_expert_used) / hp.n_expert : 1.0;
    // The embedding table is read one row per token.
    if (t.name == "token_embd.weight" && m.file->find_tensor("output.weight")) frac = 1.0 / hp.n_vocab;
    in.n_params_active += uint64_t(double(n) * frac);
    in.bytes_active += uint64_t(double(t.nbytes) * frac);
  }
}

}  // namespace

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }
bool Model::has_tokenizer() const { return impl_->tokenizer != nullptr; }
const Tokenizer& Model::tokenizer() const { return *impl_->tokenizer; }

const char* weight_memory_name(WeightMemory m) {
  switch (m) {
    case WeightMemory::kAuto: return "auto";
    case WeightMemory::kMapped: return "mapped";
    case WeightMemory::kHugePageCopy: return "huge-page copy";
  }
  return "?";
}

Result<std::shared_ptr<const Model>> Model::load(const std::string& path, const LoadOptions& opts) {
  const bool copy = !opts.vocab_only && opts.weights != WeightMemory::kMapped;
  GgufCopyTuning tuning;
  // kAuto: a file of at most half of what this process may still take (the file's size is known
  // once it is open).
  if (copy && opts.weights == WeightMemory::kAuto) tuning.max_bytes = memory_headroom() / 2;
  auto file = GgufFile::open(path, {}, copy ? GgufMemory::kHugePageCopy : GgufMemory::kMapped, tuning);
  if (!file.ok()) return file.status();
  std::shared_ptr<Model> m(new Model());
  m->impl_->file = std::move(file).value();
  Status s = load_into(*m->impl_, opts);
  if (!s.ok()) return s.WithContext(path);
  fill_info(*m->impl_);
  m->impl_->info.weights = m->impl_->file->memory() == GgufMemory::kHugePageCopy ? WeightMemory::kHugePageCopy
                                                                                  : WeightMemory::kMapped;
  return std::shared_ptr<const Model>(std::move(m));
}

}  // namespace moe
