// AVX2 pieces shared by the two activation quantisers: blocks of 32 for Q8_0/Q4_0 weights
// (matmul.cpp) and blocks of 256 for K-quant weights (kquant_dot.cpp). Internal to the kernels.
#pragma once

#include <immintrin.h>

namespace moe {

// max |x[i]| over n floats (n a multiple of 8). NaN inputs are left out of the maximum, as the
// scalar std::max(amax, |x|) leaves them out: max_ps returns its second operand when either is NaN.
__attribute__((target("avx2"))) inline float max_abs_avx2(const float* x, int n) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 m = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask), m);
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}

// 32 int32 values in [-127, 127], given as four vectors of 8 in order, packed to 32 int8 in the
// same order. The saturating packs never saturate in that range; they work per 128-bit lane and
// the permutes restore the order. i16, when given, receives the int16 stage: values 0-15 and 16-31.
__attribute__((target("avx2"))) inline __m256i pack_i32_to_i8_avx2(const __m256i v[4], __m256i* i16 = nullptr) {
  const __m256i lo = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), 0xD8);
  const __m256i hi = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[2], v[3]), 0xD8);
  if (i16) i16[0] = lo, i16[1] = hi;
  return _mm256_permute4x64_epi64(_mm256_packs_epi16(lo, hi), 0xD8);
}

}  // namespace moe
