// Architectures the engine runs, and how each one differs. One row per architecture in a table
// indexed by Arch (static_assert keeps the table and the enum in step).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace moe {

enum class Arch { kLlama, kQwen2Moe, kQwen3Moe, kOlmoe, kGraniteMoe, kDeepseek2, kGptOss, kCount };

enum class RopeKind {
  kNormal,  // rotate adjacent pairs (x[2i], x[2i+1]): llama, granite, deepseek2 (its rope part)
  kNeox,    // rotate x[i] with x[i + n_rot/2]: qwen2moe, qwen3moe, olmoe, gpt-oss
};

enum class QkNorm { kNone, kPerHead, kFullWidth };

struct ArchTraits {
  const char* name;          // general.architecture value
  RopeKind rope;
  QkNorm qk_norm;
  bool renorm_topk;          // divide the k selected probabilities by their sum (overridable by key)
  bool shared_expert;        // qwen2moe: always-on expert with a sigmoid gate
  bool granite_multipliers;  // embedding, residual, attention and logit scales
};

const ArchTraits& arch_traits(Arch a);
std::optional<Arch> arch_from_name(std::string_view name);

}  // namespace moe
