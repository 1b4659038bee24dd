// K-quant × Q8_K integer dots: the vector code (AVX2 and AVX-512 VNNI) equals the plain integer
// reference exactly, that reference tracks dequantise-then-float, and the activation quantisation
// itself behaves like Q8_K.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/kquant_dot.h"
#include "kernels/matmul.h"
#include "tensor/ggml_type.h"

using namespace moe;

namespace {

std::vector<float> normal(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool cpu_has_avx2() {
  set_kernel_path(KernelPath::kAvx2);
  bool ok = active_kernel_path() == KernelPath::kAvx2;
  set_kernel_path(KernelPath::kAuto);
  return ok;
}

bool cpu_has_vnni() {
  set_kernel_path(KernelPath::kAvx512);
  bool ok = active_kernel_path() == KernelPath::kAvx512;
  set_kernel_path(KernelPath::kAuto);
  return ok;
}

}  // namespace

TEST(KQuantDot, ActivationsQuantiseLikeQ8K) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: activations are only quantised on the vector paths";
  const int64_t n = 512;
  auto x = normal(n, 3);
  x[300] = -9.f;  // the largest magnitude in block 1, negative
  QuantActsK q = quantize_acts_k(x.data(), 1, n);
  for (int64_t b = 0; b < 2; ++b) {
    float amax = 0, vmax = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(x[size_t(b * 256 + j)]) > amax) amax = std::fabs(x[size_t(b * 256 + j)]), vmax = x[size_t(b * 256 + j)];
    // The extreme value maps to -127 and d = -max/127, so d·q reproduces every x within d/2.
    EXPECT_FLOAT_EQ(q.d[b], -vmax / 127.f);
    for (int j = 0; j < 256; ++j) {
      EXPECT_NEAR(q.d[b] * q.q[b * 256 + j], x[size_t(b * 256 + j)], std::fabs(q.d[b]) * 0.5f + 1e-6f);
      if (x[size_t(b * 256 + j)] == vmax) {
        EXPECT_EQ(q.q[b * 256 + j], -127);
      }
    }
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += q.q[b * 256 + 16 * g + j];
      EXPECT_EQ(q.bsums[b * 16 + g], s);
    }
  }
  // Exactly the scalar formula (one multiply, round to nearest even, clamp at 127), in value
  // order; with two values of the largest magnitude the first one sets the sign.
  auto y = normal(n, 4);
  y[7] = 5.f;
  y[200] = -5.f;
  y[256 + 3] = -6.f;
  y[256 + 100] = 6.f;
  QuantActsK qy = quantize_acts_k(y.data(), 1, n);
  EXPECT_FLOAT_EQ(qy.d[0], -5.f / 127.f);
  EXPECT_FLOAT_EQ(qy.d[1], 6.f / 127.f);
  for (int64_t b = 0; b < 2; ++b) {
    const float vmax = b == 0 ? 5.f : -6.f;
    const float iscale = -127.f / vmax;
    for (int j = 0; j < 256; ++j) {
      const int expect = std::min(127, int(std::nearbyint(iscale * y[size_t(b * 256 + j)])));
      ASSERT_EQ(qy.q[b * 256 + j], expect) << "block " << b << " value " << j;
    }
  }
  std::vector<float> zeros(256, 0.f);
  QuantActsK z = quantize_acts_k(zeros.data(), 1, 256);
  EXPECT_EQ(z.d[0], 0.f);
  EXPECT_EQ(z.bsums[0], 0);
}

TEST(KQuantDot, VectorCodeEqualsTheIntegerReferenceWhichTracksTheFloatDot) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: the K-quant integer kernels are not used";
  const int64_t n_in = 768, n_tok = 6, n_out = 5;  // 3 super-blocks; a tile of 4 and a tail of 2
  auto x = normal(size_t(n_in * n_tok), 11);
  auto w = normal(size_t(n_in * n_out), 12, 0.2f);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    uint64_t rb = *ggml_row_bytes(t, n_in);
    std::vector<uint8_t> q(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r) ASSERT_TRUE(quantize_row(t, &w[size_t(r * n_in)], &q[r * rb], n_in).ok());
    QuantActsK qx = quantize_acts_k(x.data(), n_tok, n_in);
    std::vector<float> y2(size_t(n_tok * n_out)), y5(y2.size());
    for (int64_t r = 0; r < n_out; ++r) {
      kquant_row(t, false, &q[r * rb], qx, n_tok, y2.data(), n_out, r);
      if (cpu_has_vnni()) kquant_row(t, true, &q[r * rb], qx, n_tok, y5.data(), n_out, r);
    }
    std::vector<float> deq(static_cast<size_t>(n_in));
    for (int64_t r = 0; r < n_out; ++r) {
      dequantize_row(t, &q[r * rb], deq.data(), n_in);
      for (int64_t tok = 0; tok < n_tok; ++tok) {
        float ref = kquant_dot_reference(t, &q[r * rb], qx, tok);
        float got = y2[size_t(tok * n_out + r)];
        // Same integers and the same out-of-line float step: equal floats.
        EXPECT_EQ(got, ref) << ggml_type_name(t) << " r" << r << " t" << tok;
        if (cpu_has_vnni()) {
          EXPECT_EQ(y5[size_t(tok * n_out + r)], got) << ggml_type_name(t);
        }
        // Against dequantised weights times float activations: only the activation rounding differs
        // (per element uniform within ±max|x|/254 ≈ ±0.014, so about 0.045 standard deviation over
        // 768 terms of weight ~0.2; a wrong min or scale term would be off by whole units).
        double exact = 0;
        for (int64_t i = 0; i < n_in; ++i) exact += double(deq[size_t(i)]) * x[size_t(tok * n_in + i)];
        EXPECT_NEAR(ref, exact, 0.25) << ggml_type_name(t);
      }
    }
  }
}

// Quantised rows only use the scale patterns their quantiser happens to produce; raw random block
// bytes reach every bit of the packed 6-bit scales and mins, the Q5_K high bits and Q6_K's signed
// scales, at the extremes (scale 63, min 63, quant 15/31/63). Only the fp16 factors are pinned to
// finite values.
TEST(KQuantDot, RandomBlockBytesEqualTheReference) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: the K-quant integer kernels are not used";
  const int64_t n_in = 512, n_tok = 5;
  auto x = normal(size_t(n_in * n_tok), 21, 3.f);
  QuantActsK qx = quantize_acts_k(x.data(), n_tok, n_in);
  std::mt19937 rng(22);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    const uint64_t rb = *ggml_row_bytes(t, n_in);
    const uint64_t bb = rb / uint64_t(n_in / 256);
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<uint8_t> row(rb);
      for (auto& byte : row) byte = uint8_t(rng());
      if (trial == 0) std::fill(row.begin(), row.end(), uint8_t(0xFF));  // every scale/min/quant at its maximum
      for (int64_t sb = 0; sb < n_in / 256; ++sb) {
        uint8_t* b = &row[size_t(sb) * bb];
        const uint16_t d = 0x2E66, dmin = 0x2A00;  // about 0.1 and 0.047 in fp16
        if (t == GgmlType::Q6_K) {
          std::memcpy(b + 208, &d, 2);
        } else {
          std::memcpy(b, &d, 2);
          std::memcpy(b + 2, &dmin, 2);
        }
      }
      std::vector<float> y2(static_cast<size_t>(n_tok)), y5(static_cast<size_t>(n_tok));
      kquant_row(t, false, row.data(), qx, n_tok, y2.data(), 1, 0);
      if (cpu_has_vnni()) kquant_row(t, true, row.data(), qx, n_tok, y5.data(), 1, 0);
      std::vector<float> deq(static_cast<size_t>(n_in));
      dequantize_row(t, row.data(), deq.data(), n_in);
      for (int64_t tok = 0; tok < n_tok; ++tok) {
        const float ref = kquant_dot_reference(t, row.data(), qx, tok);
        ASSERT_EQ(y2[size_t(tok)], ref) << ggml_type_name(t) << " trial " << trial << " token " << tok;
        if (cpu_has_vnni()) {
          ASSERT_EQ(y5[size_t(tok)], ref) << ggml_type_name(t) << " trial " << trial;
        }
        // The reference itself is the dequantised dot up to activation rounding (|x| ≤ ~12 here,
        // so steps of ~0.1; relative to the dot's magnitude this stays within a few percent).
        double exact = 0, mag = 0;
        for (int64_t i = 0; i < n_in; ++i) {
          exact += double(deq[size_t(i)]) * x[size_t(tok * n_in + i)];
          mag += std::fabs(double(deq[size_t(i)]) * x[size_t(tok * n_in + i)]);
        }
        ASSERT_NEAR(ref, exact, 0.02 * mag + 1e-3) << ggml_type_name(t) << " trial " << trial;
      }
    }
  }
}
