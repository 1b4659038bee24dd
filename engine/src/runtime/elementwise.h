// Per-element steps every layer function shares: RMS norm and the SiLU of SwiGLU. One definition,
// so the common forward pass, deepseek2 and gpt-oss compute them with the same arithmetic. Internal.
#pragma once

#include <cmath>
#include <cstdint>

namespace moe {

// out (n,) <- x / rms(x) * w, the sum of squares in double. out may be x.
inline void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = 1.f / std::sqrt(float(ss / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// x * sigmoid(x). Below -89, exp(-x) overflows to +inf and x / inf is -0; above 20, exp(-x) is
// below 2^-28, 1 + exp(-x) rounds to 1 and x / 1 is x (from 104 on libm would also take its slow
// underflow path). Both are returned directly: the same bits, tested against the formula.
inline float silu(float x) {
  if (x < -89.f) return -0.f;
  if (x > 20.f) return x;
  return x / (1.f + std::exp(-x));
}

}  // namespace moe
