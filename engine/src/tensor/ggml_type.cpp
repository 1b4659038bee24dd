// Block layouts and (de)quantisation of the GGML tensor types this engine runs.
//
// Block formats (bytes, little-endian), as published by GGML:
//   Q8_0 (32 values, 34 B):  fp16 d; int8 q[32];                      x = d * q
//   Q4_0 (32 values, 18 B):  fp16 d; uint8 qs[16] (low nibble = value j, high = value j+16)
//                            x = d * (nibble - 8)
//   Q4_K (256 values, 144 B): fp16 d, dmin; uint8 scales[12] (8 sub-blocks of 32, 6-bit scale and
//                            min each); uint8 qs[128] (4-bit). x = d*sc*q - dmin*m
//   Q5_K (256 values, 176 B): fp16 d, dmin; scales[12]; qh[32] (5th bits); qs[128]
//   Q6_K (256 values, 210 B): uint8 ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16]
//                            (16 sub-blocks of 16); fp16 d. x = d * scale * (q - 32)
//   MXFP4 (32 values, 17 B): uint8 e (E8M0 shared scale); uint8 qs[16] (4-bit E2M1 codes, low nibble
//                            = value j, high nibble = value j+16, as Q4_0). Code c = sign bit 3,
//                            magnitude c&7 -> {0, 0.5, 1, 1.5, 2, 3, 4, 6}. x = E2M1(c) * 2^(e - 127),
//                            computed as doubled integer {0,1,2,3,4,6,8,12} (negated for c >= 8) times
//                            2^(e - 128). Every byte e is a finite power of two here (e = 0 -> 2^-128,
//                            a float subnormal; e = 255 -> 2^127): GGUF files follow ggml, which does
//                            not give e = 0xFF the NaN meaning of the OCP specification.
#include "tensor/ggml_type.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace moe {
namespace {

constexpr int kTypeIdCount = 40;  // ids 0..39
struct Row {
  uint32_t id;
  GgmlTypeTraits traits;
};
// Every id GGUF defines; `supported` marks those this engine dequantises and multiplies.
constexpr Row kRows[] = {
    {0, {"F32", 1, 4, true}},     {1, {"F16", 1, 2, true}},      {2, {"Q4_0", 32, 18, true}},
    {3, {"Q4_1", 32, 20, false}}, {6, {"Q5_0", 32, 22, false}},  {7, {"Q5_1", 32, 24, false}},
    {8, {"Q8_0", 32, 34, true}},  {9, {"Q8_1", 32, 36, false}},  {10, {"Q2_K", 256, 84, false}},
    {11, {"Q3_K", 256, 110, false}}, {12, {"Q4_K", 256, 144, true}}, {13, {"Q5_K", 256, 176, true}},
    {14, {"Q6_K", 256, 210, true}}, {15, {"Q8_K", 256, 292, false}}, {16, {"IQ2_XXS", 256, 66, false}},
    {17, {"IQ2_XS", 256, 74, false}}, {18, {"IQ3_XXS", 256, 98, false}}, {19, {"IQ1_S", 256, 50, false}},
    {20, {"IQ4_NL", 32, 18, false}}, {21, {"IQ3_S", 256, 110, false}}, {22, {"IQ2_S", 256, 82, false}},
    {23, {"IQ4_XS", 256, 136, false}}, {24, {"I8", 1, 1, false}}, {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},   {27, {"I64", 1, 8, false}},    {28, {"F64", 1, 8, false}},
    {29, {"IQ1_M", 256, 56, false}}, {30, {"BF16", 1, 2, true}},
    // 31-33 and 36-38 were interleaved repacks that GGUF files no longer carry.
    {34, {"TQ1_0", 256, 54, false}}, {35, {"TQ2_0", 256, 66, false}}, {39, {"MXFP4", 32, 17, true}},
};
static_assert(sizeof(kRows) / sizeof(kRows[0]) == kTypeIdCount - 8,
              "type table must list every GGUF id but the retired 4, 5, 31-33 and 36-38");

struct Table {
  std::array<std::optional<GgmlTypeTraits>, kTypeIdCount> by_id{};
  constexpr Table() {
    for (const auto& r : kRows) by_id[r.id] = r.traits;
  }
};
const Table kTable;

// 6-bit scale and min of sub-block j of a K-quant (shared by Q4_K and Q5_K).
inline void k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

inline uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void wr16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

}  // namespace

const int8_t kMxfp4Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t id) {
  if (id >= uint32_t(kTypeIdCount)) return std::nullopt;
  return kTable.by_id[id];
}

const char* ggml_type_name(GgmlType t) {
  auto tr = ggml_type_traits(uint32_t(t));
  return tr ? tr->name : "unknown";
}

Result<uint64_t> ggml_row_bytes(GgmlType t, uint64_t n) {
  auto tr = ggml_type_traits(uint32_t(t));
  if (!tr) return Status::InvalidArgument("unknown tensor type");
  if (n % tr->block_size != 0)
    return Status::Corruption("row of " + std::to_string(n) + " values is not a multiple of the " + tr->name +
                              " block size " + std::to_string(tr->block_size));
  return n / tr->block_size * tr->type_size;
}

float fp16_to_fp32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t exp = (x >> 23) & 0xFF;
  uint32_t mant = x & 0x7FFFFF;
  if (exp == 0xFF) return uint16_t(sign | 0x7C00 | (mant ? 0x200 : 0));
  int e = int(exp) - 127 + 15;
  if (e >= 31) return uint16_t(sign | 0x7C00);
  if (e <= 0) {
    if (e < -10) return uint16_t(sign);
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | uint32_t(e) << 10 | mant >> 13;
  uint32_t rem = mant & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // carries into the exponent correctly
  return uint16_t(half);
}

float bf16_to_fp32(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  x += 0x7FFF + ((x >> 16) & 1);
  return uint16_t(x >> 16);
}

void dequantize_row(GgmlType t, const void* src, float* y, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  switch (t) {
    case GgmlType::F32:
      std::memcpy(y, p, size_t(n) * 4);
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(rd16(p + 2 * i));
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(rd16(p + 2 * i));
      return;
    case GgmlType::Q8_0:
      for (int64_t b = 0; b < n / 32; ++b, p += 34) {
        float d = fp16_to_fp32(rd16(p));
        for (int j = 0; j < 32; ++j) y[b * 32 + j] = d * float(int8_t(p[2 + j]));
      }
      return;
    case GgmlType::Q4_0:
      for (int64_t b = 0; b < n / 32; ++b, p += 18) {
        float d = fp16_to_fp32(rd16(p));
        for (int j = 0; j < 16; ++j) {
          y[b * 32 + j] = d * float((p[2 + j] & 0xF) - 8);
          y[b * 32 + j + 16] = d * float((p[2 + j] >> 4) - 8);
        }
      }
      return;
    case GgmlType::Q4_K:
      for (int64_t b = 0; b < n / 256; ++b, p += 144) {
        float d = fp16_to_fp32(rd16(p)), dmin = fp16_to_fp32(rd16(p + 2));
        const uint8_t* sc = p + 4;
        const uint8_t* q = p + 16;
        float* out = y + b * 256;
        for (int j = 0; j < 256; j += 64) {  // two sub-blocks share 32 bytes: low then high nibbles
          uint8_t s1, m1, s2, m2;
          k_scale_min(j / 32, sc, &s1, &m1);
          k_scale_min(j / 32 + 1, sc, &s2, &m2);
          for (int l = 0; l < 32; ++l) out[j + l] = d * s1 * float(q[l] & 0xF) - dmin * m1;
          for (int l = 0; l < 32; ++l) out[j + 32 + l] = d * s2 * float(q[l] >> 4) - dmin * m2;
          q += 32;
        }
      }
      return;
    case GgmlType::Q5_K:
      for (int64_t b = 0; b < n / 256; ++b, p += 176) {
        float d = fp16_to_fp32(rd16(p)), dmin = fp16_to_fp32(rd16(p + 2));
        const uint8_t* sc = p + 4;
        const uint8_t* qh = p + 16;
        const uint8_t* ql = p + 48;
        float* out = y + b * 256;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < 256; j += 64) {
          uint8_t s1, m1, s2, m2;
          k_scale_min(j / 32, sc, &s1, &m1);
          k_scale_min(j / 32 + 1, sc, &s2, &m2);
          for (int l = 0; l < 32; ++l) out[j + l] = d * s1 * float((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - dmin * m1;
          for (int l = 0; l < 32; ++l) out[j + 32 + l] = d * s2 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - dmin * m2;
          ql += 32;
          u1 <<= 2;
          u2 <<= 2;
        }
      }
      return;
    case GgmlType::Q6_K:
      for (int64_t b = 0; b < n / 256; ++b, p += 210) {
        const uint8_t* ql = p;
        const uint8_t* qh = p + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
        float d = fp16_to_fp32(rd16(p + 208));
        float* out = y + b * 256;
        for (int h = 0; h < 2; ++h) {  // two halves of 128 values
          for (int l = 0; l < 32; ++l) {
            int is = l / 16;
            int q1 = int((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
            int q2 = int((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
            int q3 = int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            int q4 = int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            out[l] = d * sc[is] * q1;
            out[l + 32] = d * sc[is + 2] * q2;
            out[l + 64] = d * sc[is + 4] * q3;
            out[l + 96] = d * sc[is + 6] * q4;
          }
          out += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      return;
    case GgmlType::MXFP4:
      for (int64_t b = 0; b < n / 32; ++b, p += 17) {
        const float d = mxfp4_half_scale(p[0]);
        for (int j = 0; j < 16; ++j) {
          y[b * 32 + j] = d * float(kMxfp4Doubled[p[1 + j] & 0xF]);
          y[b * 32 + j + 16] = d * float(kMxfp4Doubled[p[1 + j] >> 4]);
        }
      }
      return;
    default:
      std::fill(y, y + n, 0.f);  // unsupported types are rejected at model load
  }
}

namespace {

// Q4_K / Q5_K: fit per-sub-block scale and min (x ~ sc*q - m) by a plain min/max rule, then
// quantise the 6-bit scales and mins against super-block maxima.
template <int kMaxQ>
void quantize_k_scales(const float* x, float* scales, float* mins) {
  for (int j = 0; j < 8; ++j) {
    float lo = 0, hi = 0;
    for (int l = 0; l < 32; ++l) {
      lo = std::min(lo, x[32 * j + l]);
      hi = std::max(hi, x[32 * j + l]);
    }
    mins[j] = -lo;
    scales[j] = (hi - lo) / kMaxQ;
  }
}

void pack_k_scales(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] = ls[j];
      q[j + 4] = lm[j];
    } else {
      q[j + 4] = (ls[j] & 0xF) | ((lm[j] & 0xF) << 4);
      q[j - 4] |= (ls[j] >> 4) << 6;
      q[j] |= (lm[j] >> 4) << 6;
    }
  }
}

template <int kBits>
void quantize_kq(const float* x, uint8_t* blk) {
  constexpr int kMaxQ = (1 << kBits) - 1;
  float scales[8], mins[8];
  quantize_k_scales<kMaxQ>(x, scales, mins);
  float max_s = *std::max_element(scales, scales + 8), max_m = *std::max_element(mins, mins + 8);
  float d = max_s / 63.f, dmin = max_m / 63.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = d > 0 ? uint8_t(std::min(63.f, std::nearbyint(scales[j] / d))) : 0;
    lm[j] = dmin > 0 ? uint8_t(std::min(63.f, std::nearbyint(mins[j] / dmin))) : 0;
  }
  wr16(blk, fp32_to_fp16(d));
  wr16(blk + 2, fp32_to_fp16(dmin));
  std::memset(blk + 4, 0, 12);
  pack_k_scales(ls, lm, blk + 4);
  // Use the rounded fp16 values so quantisation matches what dequantisation will see.
  float dq = fp16_to_fp32(rd16(blk)), mq = fp16_to_fp32(rd16(blk + 2));
  uint8_t L[256];
  for (int j = 0; j < 8; ++j) {
    float sc = dq * ls[j], m = mq * lm[j];
    for (int l = 0; l < 32; ++l) {
      int q = sc > 0 ? int(std::nearbyint((x[32 * j + l] + m) / sc)) : 0;
      L[32 * j + l] = uint8_t(std::clamp(q, 0, kMaxQ));
    }
  }
  if (kBits == 4) {
    uint8_t* q = blk + 16;
    for (int j = 0; j < 256; j += 64)
      for (int l = 0; l < 32; ++l) *q++ = L[j + l] | (L[j + 32 + l] << 4);
  } else {
    uint8_t* qh = blk + 16;
    uint8_t* ql = blk + 48;
    std::memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int j = 0; j < 256; j += 64) {
      for (int l = 0; l < 32; ++l) {
        int a = L[j + l], b = L[j + 32 + l];
        if (a > 15) { a -= 16; qh[l] |= m1; }
        if (b > 15) { b -= 16; qh[l] |= m2; }
        ql[l] = uint8_t(a | (b << 4));
      }
      ql += 32;
      m1 <<= 2;
      m2 <<= 2;
    }
  }
}

void quantize_q6k(const float* x, uint8_t* blk) {
  float scales[16];
  float max_abs_scale = 0;
  for (int j = 0; j < 16; ++j) {
    float amax = 0;
    for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
    scales[j] = amax / 31.f;
    max_abs_scale = std::max(max_abs_scale, scales[j]);
  }
  float d = max_abs_scale / 127.f;
  uint16_t dh = fp32_to_fp16(d);
  float dq = fp16_to_fp32(dh);
  int8_t sc[16];
  uint8_t L[256];
  for (int j = 0; j < 16; ++j) {
    sc[j] = dq > 0 ? int8_t(std::min(127.f, std::nearbyint(scales[j] / dq))) : 0;
    float s = dq * sc[j];
    for (int l = 0; l < 16; ++l) {
      int q = s > 0 ? int(std::nearbyint(x[16 * j + l] / s)) : 0;
      L[16 * j + l] = uint8_t(std::clamp(q, -32, 31) + 32);
    }
  }
  uint8_t* ql = blk;
  uint8_t* qh = blk + 128;
  for (int h = 0; h < 2; ++h) {
    const uint8_t* Lh = L + 128 * h;
    for (int l = 0; l < 32; ++l) {
      uint8_t q1 = Lh[l], q2 = Lh[l + 32], q3 = Lh[l + 64], q4 = Lh[l + 96];
      ql[l] = uint8_t((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = uint8_t((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] = uint8_t((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
  std::memcpy(blk + 192, sc, 16);
  wr16(blk + 208, dh);
}

// MXFP4 reference quantiser (OCP recipe): shared exponent floor(log2(max|x|)) - 2, so the largest
// value lands in [4, 8) E2M1 units and saturates at 6; each value takes the nearest code, ties to the
// smaller magnitude. An all-zero (or non-finite) block gets e = 0 and zero codes.
void quantize_mxfp4(const float* x, uint8_t* blk) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  int e = 0;
  if (amax > 0 && std::isfinite(amax)) {
    int ex;
    std::frexp(amax, &ex);  // amax = m * 2^ex, m in [0.5, 1): floor(log2 amax) = ex - 1
    e = std::clamp(ex - 1 - 2 + 127, 0, 254);
  }
  blk[0] = uint8_t(e);
  const float inv = 1.f / mxfp4_half_scale(uint8_t(e));  // a power of two: exact
  uint8_t codes[32];
  for (int j = 0; j < 32; ++j) {
    const float v = std::isfinite(x[j]) ? std::fabs(x[j]) * inv : 0.f;  // doubled E2M1 units
    int best = 0;
    for (int c = 1; c < 8; ++c)
      if (std::fabs(v - float(kMxfp4Doubled[c])) < std::fabs(v - float(kMxfp4Doubled[best]))) best = c;
    codes[j] = uint8_t(best | (x[j] < 0 && best != 0 ? 8 : 0));
  }
  for (int j = 0; j < 16; ++j) blk[1 + j] = uint8_t(codes[j] | (codes[j + 16] << 4));
}

}  // namespace

Status quantize_row(GgmlType t, const float* x, void* dst, int64_t n) {
  auto tr = ggml_type_traits(uint32_t(t));
  if (!tr || !tr->supported) return Status::InvalidArgument(std::string("no quantiser for type ") + ggml_type_name(t));
  if (n % tr->block_size != 0)
    return Status::InvalidArgument("row of " + std::to_string(n) + " is not a multiple of the block size");
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case GgmlType::F32:
      std::memcpy(p, x, size_t(n) * 4);
      break;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) wr16(p + 2 * i, fp32_to_fp16(x[i]));
      break;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) wr16(p + 2 * i, fp32_to_bf16(x[i]));
      break;
    case GgmlType::Q8_0:
      for (int64_t b = 0; b < n / 32; ++b, p += 34) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        float d = amax / 127.f;
        wr16(p, fp32_to_fp16(d));
        float id = d > 0 ? 1.f / d : 0.f;
        for (int j = 0; j < 32; ++j) p[2 + j] = uint8_t(int8_t(std::nearbyint(x[b * 32 + j] * id)));
      }
      break;
    case GgmlType::Q4_0:
      for (int64_t b = 0; b < n / 32; ++b, p += 18) {
        float amax = 0, maxv = 0;
        for (int j = 0; j < 32; ++j)
          if (std::fabs(x[b * 32 + j]) > amax) {
            amax = std::fabs(x[b * 32 + j]);
            maxv = x[b * 32 + j];
          }
        float d = maxv / -8.f;
        wr16(p, fp32_to_fp16(d));
        float id = d != 0 ? 1.f / d : 0.f;
        for (int j = 0; j < 16; ++j) {
          int a = std::min(15, int(x[b * 32 + j] * id + 8.5f));
          int c = std::min(15, int(x[b * 32 + j + 16] * id + 8.5f));
          p[2 + j] = uint8_t(std::max(0, a) | (std::max(0, c) << 4));
        }
      }
      break;
    case GgmlType::Q4_K:
      for (int64_t b = 0; b < n / 256; ++b) quantize_kq<4>(x + 256 * b, p + 144 * b);
      break;
    case GgmlType::Q5_K:
      for (int64_t b = 0; b < n / 256; ++b) quantize_kq<5>(x + 256 * b, p + 176 * b);
      break;
    case GgmlType::Q6_K:
      for (int64_t b = 0; b < n / 256; ++b) quantize_q6k(x + 256 * b, p + 210 * b);
      break;
    case GgmlType::MXFP4:
      for (int64_t b = 0; b < n / 32; ++b) quantize_mxfp4(x + 32 * b, p + 17 * b);
      break;
    default:
      return Status::InvalidArgument(std::string("no quantiser for type ") + ggml_type_name(t));
  }
  return Status::Ok();
}

}  // namespace moe
