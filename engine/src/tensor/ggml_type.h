// Tensor element types as GGUF numbers them, and their block layouts.
//
// Quantised types store a row as consecutive blocks; a row of n elements takes
// (n / block_size) * type_size bytes, and n must be a multiple of block_size.
// The formulas follow the published GGML block definitions; see ggml_type.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "moe/status.h"

namespace moe {

// Numeric values are the on-disk type ids of GGUF; do not renumber.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
  MXFP4 = 39,  // gpt-oss expert weights; layout and scale convention in ggml_type.cpp
};

struct GgmlTypeTraits {
  const char* name;     // "Q4_K"
  uint32_t block_size;  // elements per block (1 for F32/F16/BF16)
  uint32_t type_size;   // bytes per block
  bool supported;       // this engine can dequantise and multiply it
};

// Traits of a type id read from a file; nullopt for ids GGUF does not define.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
const char* ggml_type_name(GgmlType t);

// Bytes for a row of n elements; Corruption if n is not a multiple of the block size.
Result<uint64_t> ggml_row_bytes(GgmlType t, uint64_t n);

// src: one row of n elements in type t -> dst: (n,) f32.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// src: (n,) f32 -> dst: one row in type t (reference quantiser, used by the GGUF writer and tests).
// InvalidArgument when n is not a multiple of the block size or the type has no quantiser.
Status quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

// MXFP4 (OCP microscaling FP4): the 16 E2M1 codes as doubled integers (value = kMxfp4Doubled[code] / 2),
// so the int8 dot kernels can use them directly, and the block scale with the halving folded in:
// mxfp4_half_scale(e) = 2^(e - 128) exactly, for every byte e (see ggml_type.cpp).
// Inline: the int8 kernels call it once per block.
extern const int8_t kMxfp4Doubled[16];
inline float mxfp4_half_scale(uint8_t e) {
  // 2^(e - 128) built from its bits: a normal float for e >= 2, a subnormal (one mantissa bit) below.
  const uint32_t bits = e >= 2 ? uint32_t(e - 1) << 23 : uint32_t(0x00200000) << e;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// IEEE half and bfloat16 conversions (round-to-nearest-even on the way down).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

}  // namespace moe
