// K-quant × Q8_K integer dots; see kquant_dot.h. Block layouts (bytes):
//   Q4_K (144): fp16 d, fp16 dmin, scales[12] (8 × 6-bit scale and min), qs[128]: chunk c of 64
//               values = 32 bytes, low nibbles sub-block 2c, high nibbles sub-block 2c+1.
//   Q5_K (176): as Q4_K plus qh[32] before qs: bit 2c / 2c+1 of qh[l] is the 5th bit of value l of
//               sub-block 2c / 2c+1.
//   Q6_K (210): ql[128], qh[64], int8 scales[16], fp16 d; per half of 128 values, value
//               l + 32k (k < 4) = low nibble of ql[l + 32 (k & 1)] (k < 2) or its high nibble,
//               with 2 high bits from qh[l] >> 2k; one scale per 16 values; value offset -32.
// A weight is d·sc·q − dmin·m (Q4_K/Q5_K) or d·sc·(q − 32) (Q6_K); activations are dx·qx.
#include "kernels/kquant_dot.h"
#include "kernels/act_quant_avx2.h"
#include "kernels/token_tiles.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace moe {
namespace {

uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// 6-bit scale and min of sub-block j from the 12 packed bytes.
inline void scale_min(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Per super-block constants, unpacked once and shared by every token of a tile.
struct SuperBlock {
  float d = 0, dmin = 0;
  int sc[8] = {}, m[8] = {};    // Q4_K/Q5_K sub-block scales and mins
  const int8_t* sc6 = nullptr;  // Q6_K: 16 scales
};

inline SuperBlock unpack_superblock(GgmlType t, const uint8_t* b) {
  SuperBlock s;
  if (t == GgmlType::Q6_K) {
    s.d = fp16_to_fp32(rd16(b + 208));
    s.sc6 = reinterpret_cast<const int8_t*>(b + 192);
    return s;
  }
  s.d = fp16_to_fp32(rd16(b));
  s.dmin = fp16_to_fp32(rd16(b + 2));
  for (int j = 0; j < 8; ++j) scale_min(j, b + 4, &s.sc[j], &s.m[j]);
  return s;
}

// The integer part that does not depend on the weights' quants: Σ_j m_j · (activation sum of
// sub-block j) for Q4_K/Q5_K, 32 · Σ_g sc_g · (sum of group g) for Q6_K's offset.
inline int32_t activation_correction(GgmlType t, const SuperBlock& s, const int16_t* bsums) {
  int32_t c = 0;
  if (t == GgmlType::Q6_K) {
    for (int g = 0; g < 16; ++g) c += int32_t(s.sc6[g]) * bsums[g];
    return 32 * c;
  }
  for (int j = 0; j < 8; ++j) c += s.m[j] * (int32_t(bsums[2 * j]) + bsums[2 * j + 1]);
  return c;
}

// The float step. This file is compiled with -ffp-contract=off, so every path (both vector targets
// and the reference) rounds it identically.
inline float finish_q45k(float dx, float d, float dmin, int32_t sumi, int32_t corr) {
  return dx * (d * float(sumi) - dmin * float(corr));
}
inline float finish_q6k(float dx, float d, int32_t sumi, int32_t corr) { return dx * (d * float(sumi - corr)); }

inline float superblock_value(GgmlType t, const SuperBlock& s, int32_t sumi, const int16_t* bsums, float dx) {
  int32_t corr = activation_correction(t, s, bsums);
  return t == GgmlType::Q6_K ? finish_q6k(dx, s.d, sumi, corr) : finish_q45k(dx, s.d, s.dmin, sumi, corr);
}

constexpr int64_t block_bytes(GgmlType t) { return t == GgmlType::Q4_K ? 144 : t == GgmlType::Q5_K ? 176 : 210; }

// ------------------------------------------------------------------ plain reference

int32_t superblock_sum_reference(GgmlType t, const uint8_t* b, const int8_t* qx) {
  int32_t sum = 0;
  if (t == GgmlType::Q4_K || t == GgmlType::Q5_K) {
    const uint8_t* scales = b + 4;
    const uint8_t* qh = t == GgmlType::Q5_K ? b + 16 : nullptr;
    const uint8_t* qs = b + (t == GgmlType::Q5_K ? 48 : 16);
    for (int c = 0; c < 4; ++c) {
      int sc1, m1, sc2, m2;
      scale_min(2 * c, scales, &sc1, &m1);
      scale_min(2 * c + 1, scales, &sc2, &m2);
      int32_t s1 = 0, s2 = 0;
      for (int l = 0; l < 32; ++l) {
        int q1 = qs[32 * c + l] & 0xF, q2 = qs[32 * c + l] >> 4;
        if (qh) {
          q1 |= ((qh[l] >> (2 * c)) & 1) << 4;
          q2 |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        s1 += q1 * qx[64 * c + l];
        s2 += q2 * qx[64 * c + 32 + l];
      }
      sum += sc1 * s1 + sc2 * s2;
    }
    return sum;
  }
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int h = 0; h < 2; ++h, ql += 64, qh += 32, qx += 128, sc += 8) {
    for (int k = 0; k < 4; ++k) {
      for (int g = 0; g < 2; ++g) {
        int32_t s = 0;
        for (int l = 16 * g; l < 16 * g + 16; ++l) {
          uint8_t low = ql[l + 32 * (k & 1)];
          int q = (k < 2 ? (low & 0xF) : (low >> 4)) | (((qh[l] >> (2 * k)) & 3) << 4);
          s += q * qx[32 * k + l];
        }
        sum += sc[2 * k + g] * s;
      }
    }
  }
  return sum;
}

// ------------------------------------------------------------------ AVX2 / AVX-512 VNNI

// acc + Σ pairs of (u8 q × s8 x) weighted by the int16 scales in `scale` (per 16-bit lane).
__attribute__((target("avx2"))) inline __m256i scaled_dot_avx2(__m256i acc, __m256i q, __m256i x, __m256i scale) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), scale));
}
__attribute__((target("avx2,avx512f,avx512vl,avx512vnni"))) inline __m256i scaled_dot_vnni(__m256i acc, __m256i q,
                                                                                          __m256i x, __m256i scale) {
  return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(q, x), scale);
}

// Sub-block scales and mins of a Q4_K/Q5_K super-block, unpacked in registers: the 12 packed bytes
// are read as three little-endian words u0, u1, u2, where byte j of u0 / u1 is scale / min j < 4
// (low 6 bits) and byte j of u2 gives the low 4 bits of scale / min j + 4, whose top 2 bits are
// the spare bits 6-7 of byte j of u0 / u1.
struct Q45Scales {
  __m256i scales;     // int16: sc0..sc7 in each 128-bit half (for per-sub-block broadcasts)
  __m256i mins_dup;   // int16: m0, m0, m1, m1, ..., m7, m7 (one per 16-value activation sum)
};
__attribute__((target("avx2"))) inline Q45Scales unpack_q45_scales(const uint8_t* packed) {
  uint32_t u[3];
  std::memcpy(u, packed, 12);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3fu;
  const uint32_t m_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  const __m128i bytes = _mm_set_epi32(int(m_hi), int(m_lo), int(sc_hi), int(sc_lo));  // sc0..7, m0..7
  Q45Scales s;
  s.scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(bytes));
  s.mins_dup = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(bytes, bytes));
  return s;
}

// int16 lane pattern that broadcasts lane j of a 128-bit half to all 8 lanes of it (pshufb mask).
__attribute__((target("avx2"))) inline __m256i lane16_mask(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(int16_t(0x0100 + 0x0202 * hi)), _mm_set1_epi16(int16_t(0x0100 + 0x0202 * lo)));
}

// Σ of the int32 lanes of each of v[0..3], as the four lanes of the result (exact: integer sums).
__attribute__((target("avx2"))) inline __m128i hsum4_i32(const __m256i* v) {
  const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}

// Σ of the int32 lanes of a and of b, as (sum a, sum b).
__attribute__((target("avx2"))) inline void hsum2_i32(__m256i a, __m256i b, int32_t* sa, int32_t* sb) {
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  __m128i y = _mm_add_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  __m128i h = _mm_hadd_epi32(x, y);  // a01 a23 b01 b23
  h = _mm_hadd_epi32(h, h);          // a b a b
  *sa = _mm_cvtsi128_si32(h);
  *sb = _mm_extract_epi32(h, 1);
}

// Unpacked quants (u8, 32 per register) of one 64-value chunk (Q4_K/Q5_K) or one 128-value half
// (Q6_K), multiplied with the int8 activations of up to C tokens. The scale-weighted integer sums
// (isum) and the activation correction (corr: mins × 16-value activation sums, or Q6_K's offset of
// 32) are accumulated in int32 lanes and reduced once per super-block; the float step is the
// reference's.
#define WOBBLE_KQUANT_TILE(NAME, TARGET, SCALED_DOT)                                                          \
  template <GgmlType kType, int C>                                                                          \
  __attribute__((target(TARGET))) void NAME(const uint8_t* row, const QuantActsK& x, int64_t t0, float* out) { \
    const int64_t nsb = x.n_in / 256;                                                                       \
    float acc_s[C] = {};           /* C < 3: token t0 + c */                                                \
    __m128 acc = _mm_setzero_ps(); /* C >= 3: lane c is token t0 + c */                                     \
    const __m256i low4 = _mm256_set1_epi8(0x0F);                                                            \
    for (int64_t sb = 0; sb < nsb; ++sb) {                                                                  \
      const uint8_t* b = row + sb * block_bytes(kType);                                                     \
      /* Two integer accumulators per token (odd and even sub-blocks of Q4_K/Q5_K) halve the     */    \
      /* dependency chain of a one-token tile; integer sums are exact, so merging them changes    */    \
      /* nothing.                                                                                  */    \
      __m256i isum[C], isum2[C], corr[C];                                                                   \
      for (int c = 0; c < C; ++c) isum[c] = isum2[c] = _mm256_setzero_si256();                              \
      float d, dmin = 0;                                                                                    \
      if constexpr (kType == GgmlType::Q6_K) {                                                              \
        d = _cvtsh_ss(rd16(b + 208));                                                                       \
        /* 16 int8 scales as int16: both halves of sc_h hold the 8 scales of half h. */                    \
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192))); \
        for (int c = 0; c < C; ++c)                                                                         \
          corr[c] = _mm256_madd_epi16(                                                                      \
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums_tok(t0 + c) + sb * 16)), sc16);   \
        const __m256i three = _mm256_set1_epi8(3);                                                          \
        for (int h = 0; h < 2; ++h) {                                                                       \
          const __m256i sc_h = _mm256_broadcastsi128_si256(                                                 \
              h == 0 ? _mm256_castsi256_si128(sc16) : _mm256_extracti128_si256(sc16, 1));                   \
          const uint8_t* ql = b + 64 * h;                                                                   \
          __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));              \
          __m256i la = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));                            \
          __m256i lb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));                       \
          __m256i q[4] = {                                                                                  \
              _mm256_or_si256(_mm256_and_si256(la, low4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)), \
              _mm256_or_si256(_mm256_and_si256(lb, low4),                                                   \
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),     \
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), low4),                             \
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),     \
              _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), low4),                             \
                              _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4))};    \
          for (int k = 0; k < 4; ++k) {                                                                     \
            /* 16-bit lanes 0-7 hold values 0-15 (scale 2k), lanes 8-15 values 16-31 (scale 2k+1). */      \
            const __m256i scale = _mm256_shuffle_epi8(sc_h, lane16_mask(2 * k, 2 * k + 1));                 \
            for (int c = 0; c < C; ++c) {                                                                   \
              __m256i xv = _mm256_loadu_si256(                                                              \
                  reinterpret_cast<const __m256i*>(x.q_tok(t0 + c) + sb * 256 + 128 * h + 32 * k));         \
              if (k & 1) isum2[c] = SCALED_DOT(isum2[c], q[k], xv, scale);                                  \
              else isum[c] = SCALED_DOT(isum[c], q[k], xv, scale);                                          \
            }                                                                                               \
          }                                                                                                 \
        }                                                                                                   \
      } else {                                                                                              \
        d = _cvtsh_ss(rd16(b));                                                                             \
        dmin = _cvtsh_ss(rd16(b + 2));                                                                      \
        const Q45Scales scm = unpack_q45_scales(b + 4);                                                     \
        for (int c = 0; c < C; ++c)                                                                         \
          corr[c] = _mm256_madd_epi16(                                                                      \
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums_tok(t0 + c) + sb * 16)), scm.mins_dup); \
        const uint8_t* qs = b + (kType == GgmlType::Q5_K ? 48 : 16);                                        \
        __m256i qh = kType == GgmlType::Q5_K ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16)) \
                                             : _mm256_setzero_si256();                                      \
        const __m256i one = _mm256_set1_epi8(1);                                                            \
        for (int ch = 0; ch < 4; ++ch) {                                                                    \
          __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * ch));                 \
          __m256i q1 = _mm256_and_si256(raw, low4), q2 = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4); \
          if constexpr (kType == GgmlType::Q5_K) {                                                          \
            /* bit 0 of each qh byte is the 5th bit of sub-block 2ch, then shifted out for the next. */    \
            q1 = _mm256_or_si256(q1, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));                      \
            q2 = _mm256_or_si256(q2, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4)); \
            qh = _mm256_srli_epi16(qh, 2);                                                                  \
          }                                                                                                 \
          const __m256i s1 = _mm256_shuffle_epi8(scm.scales, lane16_mask(2 * ch, 2 * ch)),                  \
                        s2 = _mm256_shuffle_epi8(scm.scales, lane16_mask(2 * ch + 1, 2 * ch + 1));          \
          for (int c = 0; c < C; ++c) {                                                                     \
            const int8_t* xq = x.q_tok(t0 + c) + sb * 256 + 64 * ch;                                       \
            isum[c] = SCALED_DOT(isum[c], q1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq)), s1); \
            isum2[c] = SCALED_DOT(isum2[c], q2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32)), s2); \
          }                                                                                                 \
        }                                                                                                   \
      }                                                                                                     \
      if constexpr (C < 3) {                                                                                \
        /* One or two tokens: the reference's float step per token. */                                     \
        for (int c = 0; c < C; ++c) {                                                                       \
          int32_t sumi, ci;                                                                                 \
          hsum2_i32(_mm256_add_epi32(isum[c], isum2[c]), corr[c], &sumi, &ci);                              \
          const float dx = x.d_tok(t0 + c)[sb];                                                             \
          acc_s[c] += kType == GgmlType::Q6_K ? finish_q6k(dx, d, sumi, 32 * ci) : finish_q45k(dx, d, dmin, sumi, ci); \
        }                                                                                                   \
        continue;                                                                                           \
      }                                                                                                     \
      /* The tile's tokens side by side in the lanes of one vector (unused lanes zero): the     */    \
      /* integer sums reduced together, then the float step of finish_q45k / finish_q6k, the same */    \
      /* operations in the same order per lane, so each token's float is the reference's.          */    \
      __m256i sums[4], corrs[4];                                                                            \
      float dxs[4] = {};                                                                                    \
      for (int c = 0; c < 4; ++c) {                                                                         \
        sums[c] = c < C ? _mm256_add_epi32(isum[c % C], isum2[c % C]) : _mm256_setzero_si256();             \
        corrs[c] = c < C ? corr[c % C] : _mm256_setzero_si256();                                            \
        if (c < C) dxs[c] = x.d_tok(t0 + c)[sb];                                                            \
      }                                                                                                     \
      const __m128i sumi = hsum4_i32(sums), ci = hsum4_i32(corrs);                                          \
      const __m128 dx = _mm_loadu_ps(dxs);                                                                  \
      __m128 value;                                                                                         \
      if constexpr (kType == GgmlType::Q6_K)                                                                \
        value = _mm_mul_ps(dx, _mm_mul_ps(_mm_set1_ps(d), _mm_cvtepi32_ps(_mm_sub_epi32(sumi, _mm_slli_epi32(ci, 5))))); \
      else                                                                                                  \
        value = _mm_mul_ps(dx, _mm_sub_ps(_mm_mul_ps(_mm_set1_ps(d), _mm_cvtepi32_ps(sumi)),               \
                                          _mm_mul_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(ci))));             \
      acc = _mm_add_ps(acc, value);                                                                         \
    }                                                                                                       \
    float lanes[4];                                                                                         \
    _mm_storeu_ps(lanes, acc);                                                                              \
    for (int c = 0; c < C; ++c) out[c] = C < 3 ? acc_s[c] : lanes[c];                                       \
  }

WOBBLE_KQUANT_TILE(kquant_tile_avx2, "avx2,f16c", scaled_dot_avx2)
WOBBLE_KQUANT_TILE(kquant_tile_vnni, "avx2,f16c,avx512f,avx512vl,avx512vnni", scaled_dot_vnni)
#undef WOBBLE_KQUANT_TILE

template <GgmlType kType>
void row_tiles(bool vnni, const uint8_t* row, const QuantActsK& x, int64_t n_tok, float* y, int64_t n_out, int64_t r) {
  for_token_tiles(n_tok, y, n_out, r, [&](int64_t t, auto width, float* out) {
    constexpr int C = decltype(width)::value;
    vnni ? kquant_tile_vnni<kType, C>(row, x, t, out) : kquant_tile_avx2<kType, C>(row, x, t, out);
  });
}

// One block of 256 (AVX2): the value of largest magnitude (the first, if several) maps to -127 with
// its sign flipped and the rest scale with it, d = 1 / iscale; q = min(127, x · iscale rounded to
// nearest even), exactly the scalar formula the tests hold it to. bsums are the 16-value sums of q.
__attribute__((target("avx2"))) void quantize_block256_avx2(const float* x, int8_t* q, int16_t* bsums, float* d) {
  const float amax = max_abs_avx2(x, 256);
  if (amax == 0) {
    *d = 0;
    std::fill(q, q + 256, int8_t(0));
    std::fill(bsums, bsums + 16, int16_t(0));
    return;
  }
  float vmax = 0;
  for (int j = 0; j < 256; ++j)
    if (std::fabs(x[j]) == amax) {
      vmax = x[j];
      break;
    }
  const float iscale = -127.f / vmax;
  const __m256 is = _mm256_set1_ps(iscale);
  const __m256i hi = _mm256_set1_epi32(127);
  const __m256i ones = _mm256_set1_epi16(1);
  // 32 values per pass, and their two 16-value sums from the int16 stage of the pack.
  for (int j = 0; j < 256; j += 32) {
    __m256i i32[4], i16[2];
    for (int k = 0; k < 4; ++k) {
      __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), is),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      i32[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), hi);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + j), pack_i32_to_i8_avx2(i32, i16));
    int32_t s0, s1;
    hsum2_i32(_mm256_madd_epi16(i16[0], ones), _mm256_madd_epi16(i16[1], ones), &s0, &s1);
    bsums[j / 16] = int16_t(s0);
    bsums[j / 16 + 1] = int16_t(s1);
  }
  *d = 1.f / iscale;
}

}  // namespace

QuantActsK quantize_acts_k_into(const float* x, int64_t n_tok, int64_t n_in, int8_t* q, float* d, int16_t* bsums) {
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < n_in / 256; ++b)
      quantize_block256_avx2(x + t * n_in + b * 256, &q[size_t(t * n_in + b * 256)],
                             &bsums[size_t(t * (n_in / 16) + b * 16)], &d[size_t(t * (n_in / 256) + b)]);
  return {q, d, bsums, n_in};
}

QuantActsK quantize_acts_k(const float* x, int64_t n_tok, int64_t n_in) {
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> d;
  thread_local std::vector<int16_t> bsums;
  q.resize(size_t(n_tok * n_in));
  d.resize(size_t(n_tok * (n_in / 256)));
  bsums.resize(size_t(n_tok * (n_in / 16)));
  return quantize_acts_k_into(x, n_tok, n_in, q.data(), d.data(), bsums.data());
}

bool has_kquant_dot(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K; }

void kquant_row(GgmlType t, bool vnni, const uint8_t* row, const QuantActsK& x, int64_t n_tok, float* y, int64_t n_out,
                int64_t r) {
  switch (t) {
    case GgmlType::Q4_K: return row_tiles<GgmlType::Q4_K>(vnni, row, x, n_tok, y, n_out, r);
    case GgmlType::Q5_K: return row_tiles<GgmlType::Q5_K>(vnni, row, x, n_tok, y, n_out, r);
    case GgmlType::Q6_K: return row_tiles<GgmlType::Q6_K>(vnni, row, x, n_tok, y, n_out, r);
    default: return;
  }
}

float kquant_dot_reference(GgmlType t, const uint8_t* row, const QuantActsK& x, int64_t token) {
  float acc = 0;
  for (int64_t sb = 0; sb < x.n_in / 256; ++sb) {
    const uint8_t* b = row + sb * block_bytes(t);
    int32_t sumi = superblock_sum_reference(t, b, x.q_tok(token) + sb * 256);
    acc += superblock_value(t, unpack_superblock(t, b), sumi, x.bsums_tok(token) + sb * 16, x.d_tok(token)[sb]);
  }
  return acc;
}

}  // namespace moe
