// Reference semantics per architecture (read from the public model definitions):
//   llama (Mixtral when experts exist): normal RoPE, softmax over router logits, top-k, renormalised.
//   qwen2moe: NeoX RoPE, Q/K/V bias, top-k of the softmax NOT renormalised (norm_topk_prob=false),
//             plus a shared expert scaled by sigmoid(shared_gate . x).
//   qwen3moe: NeoX RoPE, RMSNorm of each head's Q and K, renormalised top-k.
//   olmoe:    NeoX RoPE, RMSNorm over the full Q and K projections, top-k not renormalised.
//   granitemoe: llama-style with embedding, residual, attention and logit multipliers; renormalised.
//   deepseek2: DeepSeek-V2/V3, see arch/deepseek2.h; top-k renormalised only if expert_weights_norm.
//   gpt-oss:  its own layer (runtime/gptoss.*): sinks, alternating sliding window, YaRN, biases,
//             softmax over the top-k router logits, clamped SwiGLU.
#include "arch/arch.h"

namespace moe {
namespace {

constexpr ArchTraits kTraits[] = {
    {"llama", RopeKind::kNormal, QkNorm::kNone, true, false, false},
    {"qwen2moe", RopeKind::kNeox, QkNorm::kNone, false, true, false},
    {"qwen3moe", RopeKind::kNeox, QkNorm::kPerHead, true, false, false},
    {"olmoe", RopeKind::kNeox, QkNorm::kFullWidth, false, false, false},
    {"granitemoe", RopeKind::kNormal, QkNorm::kNone, true, false, true},
    // deepseek2: its layers (MLA attention, grouped/sigmoid routing) live in arch/deepseek2.cpp.
    {"deepseek2", RopeKind::kNormal, QkNorm::kNone, false, false, false},
    {"gpt-oss", RopeKind::kNeox, QkNorm::kNone, true, false, false},
};
static_assert(sizeof(kTraits) / sizeof(kTraits[0]) == size_t(Arch::kCount), "one row per architecture");

}  // namespace

const ArchTraits& arch_traits(Arch a) { return kTraits[size_t(a)]; }

std::optional<Arch> arch_from_name(std::string_view name) {
  for (size_t i = 0; i < size_t(Arch::kCount); ++i)
    if (name == kTraits[i].name) return Arch(i);
  return std::nullopt;
}

}  // namespace moe
