// Integer dot products of K-quant weight rows (Q4_K, Q5_K, Q6_K) with activations quantised to
// 8-bit blocks of 256 (GGML's Q8_K layout: one f32 scale, 256 int8, 16 int16 sums of 16 quants).
//
// Per 256-value super-block the sums of quant products are exact int32; the block's scale, the
// sub-block mins (via the 16-value sums) and the activation scale are applied once in float. The
// vector code computes exactly the same integers as the plain reference below, so the two differ
// only by float contraction in that final step. Internal to the kernels (see matmul.cpp).
#pragma once

#include <cstdint>

#include "tensor/ggml_type.h"

namespace moe {

// x (n_tok, n_in) quantised: q (n_tok, n_in) int8, d (n_tok, n_in / 256) f32, bsums (n_tok, n_in / 16).
struct QuantActsK {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const int16_t* bsums = nullptr;
  int64_t n_in = 0;
  const int8_t* q_tok(int64_t t) const { return q + t * n_in; }
  const float* d_tok(int64_t t) const { return d + t * (n_in / 256); }
  const int16_t* bsums_tok(int64_t t) const { return bsums + t * (n_in / 16); }
};

// n_in must be a multiple of 256 and the CPU must have AVX2 (only the vector paths quantise
// activations). The buffers belong to the calling thread and stay valid until its next call.
QuantActsK quantize_acts_k(const float* x, int64_t n_tok, int64_t n_in);
// The same into caller-owned buffers: q (n_tok * n_in), d (n_tok * n_in / 256), bsums (n_tok * n_in / 16).
QuantActsK quantize_acts_k_into(const float* x, int64_t n_tok, int64_t n_in, int8_t* q, float* d, int16_t* bsums);

bool has_kquant_dot(GgmlType t);  // Q4_K, Q5_K, Q6_K

// Row r of W (its n_in weights at `row`) times every token of x: y[t * n_out + r], t < n_tok.
// vnni selects the AVX-512 VNNI instructions (identical integers); the CPU must have AVX2 (and VNNI).
void kquant_row(GgmlType t, bool vnni, const uint8_t* row, const QuantActsK& x, int64_t n_tok, float* y,
                int64_t n_out, int64_t r);

// The same dot for one token in plain C++: the specification the vector code is tested against.
float kquant_dot_reference(GgmlType t, const uint8_t* row, const QuantActsK& x, int64_t token);

}  // namespace moe
