// Sampler: turns logits into the next token id. A value type that owns its RNG.
//
// Reproducibility contract: the same params (seed included) and the same sequence of logits give
// the same sequence of tokens on every machine and thread count. temperature <= 0 is greedy
// (argmax, ties broken by the lower token id) and consumes no randomness.
// Order of filters: top-k, then top-p, then min-p, on temperature-scaled probabilities.
// Thread safety: none; one sampler per generation.
#pragma once

#include <cstdint>
#include <span>

namespace moe {

struct SamplerParams {
  float temperature = 0.f;
  int32_t top_k = 0;    // 0 = off
  float top_p = 1.f;    // 1 = off
  float min_p = 0.f;    // 0 = off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);
  int32_t sample(std::span<const float> logits);
  const SamplerParams& params() const { return params_; }

 private:
  double next_uniform();  // [0, 1) from the owned generator
  SamplerParams params_;
  uint64_t state_[4];     // xoshiro256** state, seeded with splitmix64(seed)
};

}  // namespace moe
