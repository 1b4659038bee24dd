// MXFP4 (GGUF type 39): blocks built by hand for every code at the scale edges, the E8M0 scale
// convention for all 256 bytes, the reference quantiser, the int8 kernel path against a plain
// integer reference, and the file reader's size checks for MXFP4 tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "kernels/matmul.h"
#include "tensor/ggml_type.h"

using namespace moe;

namespace {

// E2M1 as the OCP table gives it (sign, exponent, mantissa), written independently of the engine's
// doubled-integer table.
double e2m1(int code) {
  const int mag = code & 7;
  const int exp = mag >> 1, man = mag & 1;
  const double v = exp == 0 ? 0.5 * man : std::ldexp(1.0 + 0.5 * man, exp - 1);
  return (code & 8) ? -v : v;
}

// Exactly the value in float; beyond float's range (e = 254 with |E2M1| >= 2, e = 255 with >= 1)
// the product overflows to an infinity of the right sign, as in ggml: such scales never occur in
// real weights, and the infinity then shows in the logits rather than passing silently.
void expect_value(float got, double want, int e, int j) {
  if (std::fabs(want) > double(std::numeric_limits<float>::max())) {
    EXPECT_TRUE(std::isinf(got) && (got > 0) == (want > 0)) << "e " << e << " j " << j << ": " << got;
  } else {
    EXPECT_EQ(double(got), want) << "e " << e << " j " << j;
  }
}

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace

TEST(Mxfp4, TypeTableAndRowSizes) {
  auto tr = ggml_type_traits(39);
  ASSERT_TRUE(tr);
  EXPECT_STREQ(tr->name, "MXFP4");
  EXPECT_EQ(tr->block_size, 32u);
  EXPECT_EQ(tr->type_size, 17u);
  EXPECT_TRUE(tr->supported);
  EXPECT_EQ(*ggml_row_bytes(GgmlType::MXFP4, 2880), 90u * 17u);  // gpt-oss's embedding width
  EXPECT_FALSE(ggml_row_bytes(GgmlType::MXFP4, 2881).ok());
  for (uint32_t id : {31u, 32u, 33u, 36u, 37u, 38u, 40u}) EXPECT_FALSE(ggml_type_traits(id)) << id;
  EXPECT_FALSE(ggml_type_traits(34)->supported);  // TQ1_0 / TQ2_0 are known, not run
  EXPECT_EQ(ggml_type_traits(35)->type_size, 66u);
}

TEST(Mxfp4, E2M1TableIsTheOcpOne) {
  const double want[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(e2m1(c), (c & 8 ? -1 : 1) * want[c & 7]) << c;
    EXPECT_EQ(double(kMxfp4Doubled[c]), 2 * e2m1(c)) << c;
  }
}

TEST(Mxfp4, HalfScaleIsTwoToTheEMinus128ForEveryByte) {
  for (int e = 0; e < 256; ++e) {
    const float s = mxfp4_half_scale(uint8_t(e));
    EXPECT_EQ(s, std::ldexp(1.0f, e - 128)) << e;
    EXPECT_TRUE(std::isfinite(s) && s > 0) << e;
  }
  EXPECT_EQ(mxfp4_half_scale(0), std::ldexp(1.0f, -128));  // subnormal, not zero
  EXPECT_EQ(mxfp4_half_scale(255), std::ldexp(1.0f, 127));  // finite: ggml gives 0xFF no NaN meaning
}

// Every code in both nibbles of every byte position, at scale bytes that reach both float edges.
TEST(Mxfp4, EveryCodeAtTheScaleEdgesByHand) {
  for (int e : {0, 1, 2, 100, 126, 127, 128, 129, 200, 254, 255}) {
    for (int shift = 0; shift < 16; ++shift) {
      uint8_t blk[17];
      blk[0] = uint8_t(e);
      for (int j = 0; j < 16; ++j) {
        const int lo = (j + shift) % 16, hi = (15 - j + shift) % 16;
        blk[1 + j] = uint8_t(lo | (hi << 4));
      }
      float y[32];
      dequantize_row(GgmlType::MXFP4, blk, y, 32);
      for (int j = 0; j < 16; ++j) {
        const int lo = (j + shift) % 16, hi = (15 - j + shift) % 16;
        // Value j from the low nibble, value j + 16 from the high nibble; x = E2M1 * 2^(e - 127).
        expect_value(y[j], e2m1(lo) * std::ldexp(1.0, e - 127), e, j);
        expect_value(y[j + 16], e2m1(hi) * std::ldexp(1.0, e - 127), e, j + 16);
      }
    }
  }
  // A worked block: e = 127 (scale 1), bytes 0x71 and 0xF9: 0.5, 6 / -0.5, -6.
  uint8_t blk[17] = {127, 0x71, 0xF9};
  float y[32];
  dequantize_row(GgmlType::MXFP4, blk, y, 32);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[16], 6.0f);
  EXPECT_EQ(y[1], -0.5f);
  EXPECT_EQ(y[17], -6.0f);
  EXPECT_EQ(y[2], 0.0f);
}

TEST(Mxfp4, QuantiserPicksTheOcpScaleAndNearestCodes) {
  // Values already on the grid come back exactly: max |x| = 6 * 2^-3 gives e = 124.
  float x[32], y[32];
  for (int j = 0; j < 32; ++j) x[j] = float(e2m1(j % 16) * std::ldexp(1.0, -3));
  uint8_t blk[17];
  ASSERT_TRUE(quantize_row(GgmlType::MXFP4, x, blk, 32).ok());
  EXPECT_EQ(blk[0], 124);
  dequantize_row(GgmlType::MXFP4, blk, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j] == 0 ? 0.f : x[j]) << j;
  // All-zero block: e = 0, zero codes.
  std::fill(x, x + 32, 0.f);
  ASSERT_TRUE(quantize_row(GgmlType::MXFP4, x, blk, 32).ok());
  for (int j = 0; j < 17; ++j) EXPECT_EQ(blk[j], 0) << j;
  // max |x| = 7 lies in [4, 8) units of 2^0: e = 127 and 7 saturates to the largest code, 6.
  x[3] = 7.f;
  x[4] = -2.4f;  // nearest is -2
  x[5] = 2.5f;   // tie between 2 and 3: the smaller magnitude
  ASSERT_TRUE(quantize_row(GgmlType::MXFP4, x, blk, 32).ok());
  EXPECT_EQ(blk[0], 127);
  dequantize_row(GgmlType::MXFP4, blk, y, 32);
  EXPECT_EQ(y[3], 6.f);
  EXPECT_EQ(y[4], -2.f);
  EXPECT_EQ(y[5], 2.f);
  // Gaussian rows: 4-bit floats keep about 10-12 % relative RMS error.
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(1024), w(1024);
  for (auto& a : v) a = dist(rng);
  std::vector<uint8_t> q(*ggml_row_bytes(GgmlType::MXFP4, 1024));
  ASSERT_TRUE(quantize_row(GgmlType::MXFP4, v.data(), q.data(), 1024).ok());
  dequantize_row(GgmlType::MXFP4, q.data(), w.data(), 1024);
  double err = 0, ref = 0;
  for (int i = 0; i < 1024; ++i) err += double(w[i] - v[i]) * (w[i] - v[i]), ref += double(v[i]) * v[i];
  std::printf("MXFP4 relative RMS error on N(0,1): %.4f\n", std::sqrt(err / ref));
  EXPECT_LT(std::sqrt(err / ref), 0.2);
}

// The vector kernels' MXFP4 rows against the plain integer reference (same quantised activations,
// exact int32 sums, float64 accumulation): equal to float rounding, on random codes and scales.
TEST(Mxfp4, Int8KernelEqualsTheIntegerReference) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "no AVX2 on this CPU: MXFP4 runs on the scalar path only";
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::uniform_int_distribution<int> byte(0, 255), ebyte(110, 140);
  const int64_t n_in = 288, n_out = 37, n_tok = 5;  // 9 blocks: odd block count
  const uint64_t rb = *ggml_row_bytes(GgmlType::MXFP4, n_in);
  std::vector<uint8_t> wq(rb * n_out);
  for (int64_t r = 0; r < n_out; ++r)
    for (int64_t b = 0; b < n_in / 32; ++b) {
      uint8_t* blk = &wq[r * rb + b * 17];
      blk[0] = uint8_t(ebyte(rng));
      for (int j = 1; j < 17; ++j) blk[j] = uint8_t(byte(rng));
    }
  std::vector<float> x(size_t(n_in * n_tok));
  for (auto& v : x) v = dist(rng);
  WeightView wv{wq.data(), GgmlType::MXFP4, n_in, n_out, rb};
  for (KernelPath path : {KernelPath::kAvx2, KernelPath::kAvx512}) {
    set_kernel_path(path);
    if (active_kernel_path() != path) continue;
    std::vector<float> y(size_t(n_tok * n_out));
    matmul(wv, x.data(), n_tok, y.data(), nullptr);
    for (int64_t t = 0; t < n_tok; ++t) {
      std::vector<int8_t> q(static_cast<size_t>(n_in));
      std::vector<float> d(static_cast<size_t>(n_in / 32));
      quantize_acts_q8_for_test(&x[t * n_in], n_in, q.data(), d.data(), true);
      for (int64_t r = 0; r < n_out; ++r) {
        const double want = mxfp4_dot_q8_reference(&wq[r * rb], q.data(), d.data(), n_in);
        // Float32 accumulation of 9 exact block products: a few ulps of sum |w_i x_i|.
        std::vector<float> wr(static_cast<size_t>(n_in));
        dequantize_row(GgmlType::MXFP4, &wq[r * rb], wr.data(), n_in);
        double mag = 0;
        for (int64_t i = 0; i < n_in; ++i) mag += std::fabs(double(wr[i]) * q[i] * d[i / 32]);
        EXPECT_NEAR(y[t * n_out + r], want, 1e-6 * mag) << kernel_path_name(path) << " t" << t << " r" << r;
      }
    }
  }
  // And the scalar path (exact weights, float activations) agrees to the activation quantisation.
  set_kernel_path(KernelPath::kScalar);
  std::vector<float> ref(size_t(n_tok * n_out));
  matmul(wv, x.data(), n_tok, ref.data(), nullptr);
  set_kernel_path(KernelPath::kAuto);
  std::vector<float> fast(ref.size());
  matmul(wv, x.data(), n_tok, fast.data(), nullptr);
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, double(std::fabs(ref[i])));
    max_err = std::max(max_err, double(std::fabs(fast[i] - ref[i])));
  }
  std::printf("MXFP4 %s vs scalar: max |err| %.3g, max |y| %.3g\n", kernel_path_name(active_kernel_path()), max_err,
              max_ref);
  EXPECT_LT(max_err, 0.02 * max_ref);
}

// A tensor whose MXFP4 bytes would run past the end of the file, and one whose row is not a whole
// number of blocks, are refused by the reader with the tensor named.
TEST(Mxfp4, ReaderChecksSizesOfMxfp4Tensors) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("moe-mxfp4-" + std::to_string(::getpid()) + ".gguf")).string();
  GgufWriter w;
  w.set_string("general.architecture", "gpt-oss");
  std::vector<float> v(64 * 3, 0.5f);
  ASSERT_TRUE(w.add_tensor_f32("experts", {64, 3}, GgmlType::MXFP4, v).ok());
  auto bytes = w.to_bytes();
  {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    const GgufTensorInfo* t = (*f)->find_tensor("experts");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->nbytes, 3u * 2u * 17u);
    float y[64];
    dequantize_row(GgmlType::MXFP4, t->data, y, 64);
    EXPECT_EQ(y[0], 0.5f);
  }
  {
    // Cut 40 bytes into the 102 data bytes (more than any trailing alignment padding).
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size() - 40));
    auto f = GgufFile::open(path);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("experts"), std::string::npos) << f.status().ToString();
  }
  {
    // Row length 48: not a multiple of the 32-value block.
    GgufWriter w2;
    std::vector<uint8_t> raw(17 * 2, 0);
    (void)w2.add_tensor_raw("odd", {48, 1}, GgmlType::MXFP4, raw);
    auto b2 = w2.to_bytes();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b2.data()), std::streamsize(b2.size()));
    auto f = GgufFile::open(path);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("block size"), std::string::npos) << f.status().ToString();
  }
  std::filesystem::remove(path);
}
