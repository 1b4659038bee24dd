// Matrix-vector and matrix-matrix products over quantised weights.
//
// Three paths: a scalar reference (dequantise a row, then a plain f32 dot product in index order),
// AVX2+FMA+F16C, and AVX-512 (VNNI on 256-bit registers), chosen at run time from CPUID. The vector
// paths quantise the activations once per call to 8-bit blocks of 32 (scale = max|x| / 127 at fp16
// precision, like GGML's Q8_0) and do integer dot products for Q8_0, Q4_0 and MXFP4 weights, four tokens
// per weight-row pass in prefill; the AVX-512 path computes the same exact int32 sums with one
// instruction, so both vector paths give identical floats. K-quants (Q4_K, Q5_K, Q6_K) do integer
// dots against activations quantised to blocks of 256 (kquant_dot.h). F32/F16/BF16 use FMA on
// floats; other types dequantise one row into a scratch buffer and use the float dot. Each output row is
// produced by exactly one thread with a fixed operation order, so results are bit-identical for any
// thread count, and a token's result does not depend on how many tokens share the call.
#include "kernels/matmul.h"

#include "kernels/act_quant_avx2.h"
#include "kernels/kquant_dot.h"
#include "kernels/token_tiles.h"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/thread_pool.h"

namespace moe {
namespace {

std::atomic<KernelPath> g_forced{KernelPath::kAuto};

KernelPath detect() {
  __builtin_cpu_init();
  unsigned eax, ebx, ecx, edx;
  // F16C is CPUID.1:ECX bit 29 (not every compiler's __builtin_cpu_supports knows "f16c").
  bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29));
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c)) return KernelPath::kScalar;
  // The AVX-512 path needs VNNI on 256-bit registers (AVX512_VNNI + AVX512VL) and an OS that saves
  // the AVX-512 state (XCR0 bits 5-7, checked by the compiler's cpu model).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512vnni"))
    return KernelPath::kAvx512;
  return KernelPath::kAvx2;
}

const KernelPath kDetected = detect();

// ---------------------------------------------------------------- scalar reference

float dot_f32_scalar(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Row r of W (n_in,) in its type  ·  x (n_in,) f32, via dequantisation; scratch holds n_in floats.
float row_dot_scalar(const WeightView& w, int64_t r, const float* x, float* scratch) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + uint64_t(r) * w.row_bytes;
  if (w.type == GgmlType::F32) return dot_f32_scalar(reinterpret_cast<const float*>(row), x, w.n_in);
  dequantize_row(w.type, row, scratch, w.n_in);
  return dot_f32_scalar(scratch, x, w.n_in);
}

// ---------------------------------------------------------------- AVX2

__attribute__((target("avx2,fma"))) inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) float dot_f32_avx2(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum256(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// One F16 row times C tokens: each 16 weights are converted once and used for every token. A
// token's operations (two accumulators over alternate groups of 8, their sum reduced, then the
// tail in order) do not depend on C, so a token's result is the same in any tile.
template <int C>
__attribute__((target("avx2,fma,f16c"), always_inline)) inline void dot_f16_tile_avx2(const uint16_t* a, const float* const* x, int64_t n,
                                                                float* out) {
  __m256 acc0[C], acc1[C];
  for (int c = 0; c < C; ++c) acc0[c] = acc1[c] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8)));
    for (int c = 0; c < C; ++c) {
      acc0[c] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x[c] + i), acc0[c]);
      acc1[c] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x[c] + i + 8), acc1[c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    float s = hsum256(_mm256_add_ps(acc0[c], acc1[c]));
    for (int64_t j = i; j < n; ++j) s += fp16_to_fp32(a[j]) * x[c][j];
    out[c] = s;
  }
}

// Rows [begin, end) of an F16 matrix times n_tok tokens into y (n_tok, n_out), the row loop inside
// the vector code so that a short row (a small model's 128 weights) does not pay a call per tile.
// Tiles of four tokens, then one tile of the rest (written out rather than through for_token_tiles:
// the tile is inlined only into code built for the same target).
__attribute__((target("avx2,fma,f16c"))) void f16_rows_avx2(const uint16_t* w, int64_t row_len, const float* x,
                                                            int64_t n_tok, float* y, int64_t n_out, int64_t begin,
                                                            int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const uint16_t* row = w + r * row_len;
    float out[4];
    int64_t t = 0;
    for (; t + 4 <= n_tok; t += 4) {
      const float* xs[4] = {x + t * row_len, x + (t + 1) * row_len, x + (t + 2) * row_len, x + (t + 3) * row_len};
      dot_f16_tile_avx2<4>(row, xs, row_len, out);
      for (int c = 0; c < 4; ++c) y[(t + c) * n_out + r] = out[c];
    }
    const int64_t rest = n_tok - t;
    const float* xs[3] = {x + t * row_len, x + (t + 1) * row_len, x + (t + 2) * row_len};
    if (rest == 3) dot_f16_tile_avx2<3>(row, xs, row_len, out);
    else if (rest == 2) dot_f16_tile_avx2<2>(row, xs, row_len, out);
    else if (rest == 1) dot_f16_tile_avx2<1>(row, xs, row_len, out);
    for (int64_t c = 0; c < rest; ++c) y[(t + c) * n_out + r] = out[c];
  }
}

__attribute__((target("avx2,fma"))) float dot_bf16_avx2(const uint16_t* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i))), 16);
    acc = _mm256_fmadd_ps(_mm256_castsi256_ps(w), _mm256_loadu_ps(b + i), acc);
  }
  float s = hsum256(acc);
  for (; i < n; ++i) s += bf16_to_fp32(a[i]) * b[i];
  return s;
}

// Activations of n_tok tokens quantised to blocks of 32, like GGML's Q8_0: q (n_tok, n_in) int8,
// d (n_tok, n_in / 32) f32 scales kept at fp16 precision. Built once per matmul call.
struct QuantActs {
  const int8_t* q = nullptr;  // on the VNNI path each byte holds q + 128 as an unsigned byte (q ^ 0x80)
  const float* d = nullptr;
  int64_t n_in = 0;
  const int8_t* q_tok(int64_t t) const { return q + t * n_in; }
  const float* d_tok(int64_t t) const { return d + t * (n_in / 32); }
};

void quantize_block32(const float* x, int8_t* q, float* d) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  float scale = amax / 127.f;
  float inv = scale > 0 ? 1.f / scale : 0.f;
  // The scale is kept at fp16 precision, as GGUF's Q8_0 blocks store it, so products match
  // other GGUF engines' int8 paths to rounding.
  *d = fp16_to_fp32(fp32_to_fp16(scale));
  for (int j = 0; j < 32; ++j) q[j] = int8_t(std::nearbyint(x[j] * inv));
}

// The same with AVX2: identical output (one multiply, then round to nearest even; NaN inputs are
// left out of the maximum as std::max leaves them out above). The scale goes through the same
// fp16 conversion functions.
__attribute__((target("avx2,fma"))) void quantize_block32_avx2(const float* x, int8_t* q, float* d) {
  const float scale = max_abs_avx2(x, 32) / 127.f;
  const float inv = scale > 0 ? 1.f / scale : 0.f;
  *d = fp16_to_fp32(fp32_to_fp16(scale));
  const __m256 vi = _mm256_set1_ps(inv);
  __m256i i32[4];
  for (int k = 0; k < 4; ++k)
    i32[k] = _mm256_cvtps_epi32(
        _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), pack_i32_to_i8_avx2(i32));
}

// The VNNI tiles take the activations offset to unsigned bytes (see dot_i8_vnni).
__attribute__((target("avx2"))) void offset_bytes_avx2(int8_t* q, int64_t n) {
  const __m256i flip = _mm256_set1_epi8(int8_t(0x80));
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i* p = reinterpret_cast<__m256i*>(q + i);
    _mm256_storeu_si256(p, _mm256_xor_si256(_mm256_loadu_si256(p), flip));
  }
  for (; i < n; ++i) q[i] = int8_t(uint8_t(q[i]) ^ 0x80u);
}

// Only the vector paths quantise activations, so the AVX2 block routine is always available here.
QuantActs quantize_acts_into(const float* x, int64_t n_tok, int64_t n_in, int8_t* q, float* d, bool offset) {
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < n_in / 32; ++b)
      quantize_block32_avx2(x + t * n_in + b * 32, &q[size_t(t * n_in + b * 32)], &d[size_t(t * (n_in / 32) + b)]);
  if (offset) offset_bytes_avx2(q, n_tok * n_in);
  return {q, d, n_in};
}


// 32 products of int8 pairs summed into 8 int32 lanes. Each path prepares what the C tokens of a
// tile share from the weight block once (PREP), then does one DOT per token; both give the exact
// int32 sums, so the two paths give identical floats.
//
// AVX2, the sign trick: |w| (unsigned) times x carrying w's sign. maddubs cannot saturate here:
// |w| <= 128 and |x| <= 127, so a pair sums to at most 32,512. shared = |w|.
__attribute__((target("avx2,fma"))) inline __m256i prep_i8_avx2(__m256i qw) { return _mm256_sign_epi8(qw, qw); }
__attribute__((target("avx2,fma"))) inline __m256i dot_i8_avx2(__m256i shared, __m256i qw, __m256i qx) {
  __m256i sy = _mm256_sign_epi8(qx, qw);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(shared, sy), _mm256_set1_epi16(1));
}

// AVX-512 VNNI (vpdpbusd: unsigned bytes times signed bytes into int32 lanes, exactly). The
// activations arrive offset to unsigned, u = x + 128, and Σ u·w = Σ x·w + 128·Σ w, so each lane
// starts from shared = -128·Σ w of its four weights: one instruction per token, no sign step.
__attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni"))) inline __m256i prep_i8_vnni(__m256i qw) {
  return _mm256_sub_epi32(_mm256_setzero_si256(),
                          _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(int8_t(0x80)), qw));
}
__attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni"))) inline __m256i dot_i8_vnni(__m256i shared, __m256i qw,
                                                                                           __m256i qu) {
  return _mm256_dpbusd_epi32(shared, qu, qw);
}

// One Q8_0, Q4_0 or MXFP4 weight row times C tokens: out[c] = sum over blocks b of
// dw_b * dx_{c,b} * <qw_b, qx_{c,b}>, one accumulator per token in block order (so a token's result
// does not depend on C). MXFP4 codes become their doubled E2M1 integers (|q| <= 12) through a byte
// shuffle, and dw_b = 2^(e_b - 128) undoes the doubling, so its integer sums are exact too.
#define WOBBLE_INT8_TILE(NAME, TARGET, PREP, DOT)                                                                     \
  template <GgmlType kType, int C>                                                                           \
  __attribute__((target(TARGET))) void NAME(const uint8_t* w, const QuantActs& x, int64_t t0, float* out) {   \
    constexpr int64_t kBlockBytes = kType == GgmlType::Q8_0 ? 34 : kType == GgmlType::Q4_0 ? 18 : 17;        \
    __m256 acc[C];                                                                                           \
    for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();                                                \
    const int64_t nb = x.n_in / 32;                                                                          \
    const int8_t* q[C];                                                                                      \
    const float* d[C];                                                                                       \
    for (int c = 0; c < C; ++c) q[c] = x.q_tok(t0 + c), d[c] = x.d_tok(t0 + c);                              \
    [[maybe_unused]] const __m128i lut = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMxfp4Doubled));   \
    for (int64_t b = 0; b < nb; ++b, w += kBlockBytes) {                                                     \
      float dw;                                                                                              \
      __m256i qw;                                                                                            \
      if constexpr (kType == GgmlType::Q8_0) {                                                               \
        uint16_t dh;                                                                                         \
        std::memcpy(&dh, w, 2);                                                                              \
        dw = _cvtsh_ss(dh);                                                                                  \
        qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));                                    \
      } else if constexpr (kType == GgmlType::Q4_0) {                                                        \
        uint16_t dh;                                                                                         \
        std::memcpy(&dh, w, 2);                                                                              \
        dw = _cvtsh_ss(dh);                                                                                  \
        const __m128i mask = _mm_set1_epi8(0xF);                                                             \
        __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2));                              \
        __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);             \
        qw = _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));                                 \
      } else {                                                                                               \
        dw = mxfp4_half_scale(w[0]);                                                                         \
        const __m128i mask = _mm_set1_epi8(0xF);                                                             \
        __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 1));                              \
        __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);             \
        qw = _mm256_set_m128i(_mm_shuffle_epi8(lut, hi), _mm_shuffle_epi8(lut, lo));                         \
      }                                                                                                      \
      const __m256i shared = PREP(qw);                                                                       \
      for (int c = 0; c < C; ++c) {                                                                          \
        __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[c] + b * 32));                    \
        __m256 dot = _mm256_cvtepi32_ps(DOT(shared, qw, qx));                                                \
        acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(dw * d[c][b]), dot, acc[c]);                                 \
      }                                                                                                      \
    }                                                                                                        \
    for (int c = 0; c < C; ++c) out[c] = hsum256(acc[c]);                                                    \
  }

WOBBLE_INT8_TILE(int8_tile_avx2, "avx2,fma,f16c", prep_i8_avx2, dot_i8_avx2)
WOBBLE_INT8_TILE(int8_tile_vnni, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", prep_i8_vnni, dot_i8_vnni)
#undef WOBBLE_INT8_TILE

// Row r of an int8-path weight times every token, four tokens per tile.
template <GgmlType kType>
void int8_row(bool vnni, const uint8_t* row, const QuantActs& x, int64_t n_tok, float* y, int64_t n_out, int64_t r) {
  for_token_tiles(n_tok, y, n_out, r, [&](int64_t t, auto width, float* out) {
    constexpr int C = decltype(width)::value;
    vnni ? int8_tile_vnni<kType, C>(row, x, t, out) : int8_tile_avx2<kType, C>(row, x, t, out);
  });
}

bool uses_quantized_x(GgmlType t) { return t == GgmlType::Q8_0 || t == GgmlType::Q4_0 || t == GgmlType::MXFP4; }

// Float-activation types on the vector paths.
float row_dot_avx2(const WeightView& w, int64_t r, const float* x, float* scratch) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + uint64_t(r) * w.row_bytes;
  switch (w.type) {
    case GgmlType::F32: return dot_f32_avx2(reinterpret_cast<const float*>(row), x, w.n_in);
    case GgmlType::BF16: return dot_bf16_avx2(reinterpret_cast<const uint16_t*>(row), x, w.n_in);
    default:
      dequantize_row(w.type, row, scratch, w.n_in);
      return dot_f32_avx2(scratch, x, w.n_in);
  }
}

// Rows are handed to threads in chunks; each row's arithmetic is independent of the chunking.
void run_rows(int64_t n_rows, ThreadPool* pool, RangeFn fn) {
  if (pool && pool->size() > 1 && n_rows >= 64) pool->parallel_for(n_rows, fn);
  else fn(0, n_rows, 0);
}

}  // namespace

void set_kernel_path(KernelPath p) { g_forced.store(p); }

KernelPath active_kernel_path() {
  KernelPath f = g_forced.load();
  if (f == KernelPath::kAuto) return kDetected;
  // A forced path the CPU lacks falls back to the best one it has.
  if (int(f) > int(kDetected)) return kDetected;
  return f;
}

const char* kernel_path_name(KernelPath p) {
  switch (p) {
    case KernelPath::kAuto: return "auto";
    case KernelPath::kScalar: return "scalar";
    case KernelPath::kAvx2: return "avx2";
    case KernelPath::kAvx512: return "avx512";
  }
  return "?";
}

void matvec(const WeightView& w, const float* x, float* y, ThreadPool* pool) { matmul(w, x, 1, y, pool); }

namespace {

// What one matmul call prepares before its rows run: the kernel choice and, for the integer
// paths, the activations quantised once (in the calling thread's reused buffers).
struct PreparedActs {
  bool vec = false, vnni = false, quant = false, kquant = false, via_scratch = false;
  QuantActs qx;
  QuantActsK qk;
};

// The kernel choice for W, without the activations.
PreparedActs plan_acts(const WeightView& w) {
  PreparedActs p;
  const KernelPath path = active_kernel_path();
  p.vec = path == KernelPath::kAvx2 || path == KernelPath::kAvx512;
  p.vnni = path == KernelPath::kAvx512;
  p.quant = p.vec && uses_quantized_x(w.type) && w.n_in % 32 == 0;
  p.kquant = p.vec && has_kquant_dot(w.type) && w.n_in % 256 == 0;
  // Types without a direct dot kernel are dequantised once per row into scratch (n_in,) f32 and
  // that row is reused for every token; the floats are the same as dequantising per token.
  p.via_scratch = w.type != GgmlType::F32 && !p.quant && !p.kquant &&
                  !(p.vec && (w.type == GgmlType::F16 || w.type == GgmlType::BF16));
  return p;
}

// Rows [begin, end) of W times every token of x into y (n_tok, n_out). Row-outer, token-inner:
// each weight row is read from memory once and reused for all tokens.
void matmul_rows(const WeightView& w, const PreparedActs& p, const float* x, int64_t n_tok, float* y, int64_t begin,
                 int64_t end) {
  thread_local std::vector<float> scratch;
  scratch.resize(size_t(w.n_in));
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + uint64_t(r) * w.row_bytes;
    if (p.quant) {
      if (w.type == GgmlType::Q8_0) int8_row<GgmlType::Q8_0>(p.vnni, row, p.qx, n_tok, y, w.n_out, r);
      else if (w.type == GgmlType::Q4_0) int8_row<GgmlType::Q4_0>(p.vnni, row, p.qx, n_tok, y, w.n_out, r);
      else int8_row<GgmlType::MXFP4>(p.vnni, row, p.qx, n_tok, y, w.n_out, r);
      continue;
    }
    if (p.kquant) {
      kquant_row(w.type, p.vnni, row, p.qk, n_tok, y, w.n_out, r);
      continue;
    }
    if (p.via_scratch) {
      dequantize_row(w.type, row, scratch.data(), w.n_in);
      for (int64_t t = 0; t < n_tok; ++t) {
        const float* xt = x + t * w.n_in;
        y[t * w.n_out + r] = p.vec ? dot_f32_avx2(scratch.data(), xt, w.n_in) : dot_f32_scalar(scratch.data(), xt, w.n_in);
      }
      continue;
    }
    if (p.vec && w.type == GgmlType::F16) {
      // The rest of the range in one call (see f16_rows_avx2).
      f16_rows_avx2(static_cast<const uint16_t*>(w.data), w.n_in, x, n_tok, y, w.n_out, r, end);
      return;
    }
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* xt = x + t * w.n_in;
      y[t * w.n_out + r] = p.vec ? row_dot_avx2(w, r, xt, scratch.data()) : row_dot_scalar(w, r, xt, scratch.data());
    }
  }
}

}  // namespace

void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool) {
  const MatmulJob job{w, x, n_tok, y};
  matmul_batch({&job, 1}, pool);
}

void matmul_pair(const WeightView& a, const WeightView& b, const float* x, int64_t n_tok, float* ya, float* yb,
                 ThreadPool* pool) {
  const MatmulJob jobs[2] = {{a, x, n_tok, ya}, {b, x, n_tok, yb}};
  matmul_batch(jobs, pool);
}

void matmul_batch(std::span<const MatmulJob> jobs, ThreadPool* pool) {
  if (jobs.empty()) return;
  // Activations are quantised for every job before any row runs, into one arena per calling
  // thread; consecutive jobs over the same x with the same quantisation share it (an expert's gate
  // and up projections).
  thread_local std::vector<int8_t> q8;
  thread_local std::vector<float> d8;
  thread_local std::vector<int16_t> bs8;
  thread_local std::vector<PreparedActs> prepared;
  thread_local std::vector<int64_t> first_row;
  prepared.resize(jobs.size());
  first_row.resize(jobs.size() + 1);
  size_t nq = 0, nd = 0, nb = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const MatmulJob& j = jobs[i];
    prepared[i] = plan_acts(j.w);
    if (prepared[i].quant || prepared[i].kquant) nq += size_t(j.n_tok * j.w.n_in);
    if (prepared[i].quant) nd += size_t(j.n_tok * (j.w.n_in / 32));
    if (prepared[i].kquant) nd += size_t(j.n_tok * (j.w.n_in / 256)), nb += size_t(j.n_tok * (j.w.n_in / 16));
  }
  if (q8.size() < nq) q8.resize(nq);
  if (d8.size() < nd) d8.resize(nd);
  if (bs8.size() < nb) bs8.resize(nb);
  size_t oq = 0, od = 0, ob = 0;
  first_row[0] = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const MatmulJob& j = jobs[i];
    PreparedActs& p = prepared[i];
    const bool same_x = i > 0 && jobs[i - 1].x == j.x && jobs[i - 1].n_tok == j.n_tok && jobs[i - 1].w.n_in == j.w.n_in;
    if (p.quant) {
      if (same_x && prepared[i - 1].quant) {
        p.qx = prepared[i - 1].qx;
      } else {
        p.qx = quantize_acts_into(j.x, j.n_tok, j.w.n_in, &q8[oq], &d8[od], p.vnni);
        oq += size_t(j.n_tok * j.w.n_in), od += size_t(j.n_tok * (j.w.n_in / 32));
      }
    }
    if (p.kquant) {
      if (same_x && prepared[i - 1].kquant) {
        p.qk = prepared[i - 1].qk;
      } else {
        p.qk = quantize_acts_k_into(j.x, j.n_tok, j.w.n_in, &q8[oq], &d8[od], &bs8[ob]);
        oq += size_t(j.n_tok * j.w.n_in), od += size_t(j.n_tok * (j.w.n_in / 256)), ob += size_t(j.n_tok * (j.w.n_in / 16));
      }
    }
    first_row[i + 1] = first_row[i] + j.w.n_out;
  }
  // One dispatch over the rows of every job; a thread's range may span several jobs.
  const PreparedActs* prep = prepared.data();
  const int64_t* starts = first_row.data();
  const size_t n_jobs = jobs.size();
  run_rows(starts[n_jobs], pool, [&](int64_t begin, int64_t end, int) {
    size_t i = size_t(std::upper_bound(starts, starts + n_jobs + 1, begin) - starts) - 1;
    for (; i < n_jobs && starts[i] < end; ++i) {
      const MatmulJob& j = jobs[i];
      const int64_t b = std::max(begin, starts[i]) - starts[i], e = std::min(end, starts[i + 1]) - starts[i];
      if (b < e) matmul_rows(j.w, prep[i], j.x, j.n_tok, j.y, b, e);
    }
  });
}

double mxfp4_dot_q8_reference(const uint8_t* row, const int8_t* q, const float* d, int64_t n) {
  double s = 0;
  for (int64_t b = 0; b < n / 32; ++b, row += 17) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      isum += int32_t(kMxfp4Doubled[row[1 + j] & 0xF]) * q[b * 32 + j];
      isum += int32_t(kMxfp4Doubled[row[1 + j] >> 4]) * q[b * 32 + j + 16];
    }
    s += double(mxfp4_half_scale(row[0])) * double(d[b]) * double(isum);
  }
  return s;
}

void quantize_acts_q8_for_test(const float* x, int64_t n, int8_t* q, float* d, bool vector) {
  for (int64_t b = 0; b < n / 32; ++b) {
    if (vector) quantize_block32_avx2(x + b * 32, q + b * 32, d + b);
    else quantize_block32(x + b * 32, q + b * 32, d + b);
  }
}

}  // namespace moe
