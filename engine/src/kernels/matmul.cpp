// Matrix-vector and matrix-matrix products over quantised weights.
//
// Two paths: a scalar reference (dequantise a row, then a plain f32 dot product in index order)
// and an AVX2+FMA path chosen at run time. The AVX2 path quantises the activations once per call to
// 8-bit blocks of 32 (scale = max|x| / 127, like GGML's Q8_0) and does integer dot products for
// Q8_0 and Q4_0 weights; F32/F16/BF16 use FMA on floats; K-quants dequantise one row into a
// scratch buffer and use the float dot. Each output row is produced by exactly one thread with a
// fixed operation order, so results are bit-identical for any thread count.
#include "kernels/matmul.h"

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
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c) return KernelPath::kAvx2;
  return KernelPath::kScalar;
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

__attribute__((target("avx2,fma,f16c"))) float dot_f16_avx2(const uint16_t* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8)));
    acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum256(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += fp16_to_fp32(a[i]) * b[i];
  return s;
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

// Activations quantised to blocks of 32: q (n,) int8, d (n/32,) f32 scales.
struct QuantX {
  std::vector<int8_t> q;
  std::vector<float> d;
};

void quantize_x(const float* x, int64_t n, QuantX* out) {
  out->q.resize(size_t(n));
  out->d.resize(size_t(n / 32));
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    float d = amax / 127.f;
    float id = d > 0 ? 1.f / d : 0.f;
    // The scale is kept at fp16 precision, as GGUF's Q8_0 blocks store it, so products match
    // other GGUF engines' int8 paths to rounding.
    out->d[b] = fp16_to_fp32(fp32_to_fp16(d));
    for (int j = 0; j < 32; ++j) out->q[b * 32 + j] = int8_t(std::nearbyint(x[b * 32 + j] * id));
  }
}

// Sum of 32 int8 products as 8 int32 lanes: a signed, b signed.
__attribute__((target("avx2,fma"))) inline __m256 mul_sum_i8(__m256i a, __m256i b) {
  __m256i ax = _mm256_sign_epi8(a, a);
  __m256i sy = _mm256_sign_epi8(b, a);
  __m256i dot16 = _mm256_maddubs_epi16(ax, sy);
  __m256i dot32 = _mm256_madd_epi16(dot16, _mm256_set1_epi16(1));
  return _mm256_cvtepi32_ps(dot32);
}

// One Q8_0 weight block (34 bytes: fp16 scale, 32 int8) times activation block b, added to acc.
__attribute__((target("avx2,fma,f16c"))) inline __m256 q8_0_block(const uint8_t* w, const QuantX& x, int64_t b,
                                                                   __m256 acc) {
  uint16_t dh;
  std::memcpy(&dh, w, 2);
  __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2));
  __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q.data() + b * 32));
  __m256 d = _mm256_set1_ps(_cvtsh_ss(dh) * x.d[b]);  // inline F16C, no call per block
  return _mm256_fmadd_ps(d, mul_sum_i8(qw, qx), acc);
}

// Two accumulators (even / odd blocks) hide the FMA latency; the order is fixed, so deterministic.
__attribute__((target("avx2,fma,f16c"))) float dot_q8_0_avx2(const uint8_t* w, const QuantX& x, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  const int64_t nb = n / 32;
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 68) {
    acc0 = q8_0_block(w, x, b, acc0);
    acc1 = q8_0_block(w + 34, x, b + 1, acc1);
  }
  if (b < nb) acc0 = q8_0_block(w, x, b, acc0);
  return hsum256(_mm256_add_ps(acc0, acc1));
}

__attribute__((target("avx2,fma,f16c"))) float dot_q4_0_avx2(const uint8_t* w, const QuantX& x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  const __m128i mask = _mm_set1_epi8(0xF);
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    uint16_t dh;
    std::memcpy(&dh, w, 2);
    __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2));
    __m128i lo = _mm_and_si128(raw, mask), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    __m256i qw = _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
    __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q.data() + b * 32));
    __m256 d = _mm256_set1_ps(_cvtsh_ss(dh) * x.d[b]);  // inline F16C, no call per block
    acc = _mm256_fmadd_ps(d, mul_sum_i8(qw, qx), acc);
  }
  return hsum256(acc);
}

bool uses_quantized_x(GgmlType t) { return t == GgmlType::Q8_0 || t == GgmlType::Q4_0; }

float row_dot_avx2(const WeightView& w, int64_t r, const float* x, const QuantX* qx, float* scratch) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + uint64_t(r) * w.row_bytes;
  switch (w.type) {
    case GgmlType::F32: return dot_f32_avx2(reinterpret_cast<const float*>(row), x, w.n_in);
    case GgmlType::F16: return dot_f16_avx2(reinterpret_cast<const uint16_t*>(row), x, w.n_in);
    case GgmlType::BF16: return dot_bf16_avx2(reinterpret_cast<const uint16_t*>(row), x, w.n_in);
    case GgmlType::Q8_0: return dot_q8_0_avx2(row, *qx, w.n_in);
    case GgmlType::Q4_0: return dot_q4_0_avx2(row, *qx, w.n_in);
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
  if (f == KernelPath::kAvx512 || (f == KernelPath::kAvx2 && kDetected == KernelPath::kScalar)) return kDetected;
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

void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool) {
  KernelPath path = active_kernel_path();
  std::vector<QuantX> qx;
  bool quant = path == KernelPath::kAvx2 && uses_quantized_x(w.type) && w.n_in % 32 == 0;
  if (quant) {
    qx.resize(size_t(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) quantize_x(x + t * w.n_in, w.n_in, &qx[size_t(t)]);
  }
  // Types without a direct dot kernel are dequantised once per row into scratch (n_in,) f32 and
  // that row is reused for every token; the floats are the same as dequantising per token.
  const bool avx2 = path == KernelPath::kAvx2;
  const bool via_scratch = w.type != GgmlType::F32 && !(avx2 && (quant || w.type == GgmlType::F16 ||
                                                                  w.type == GgmlType::BF16));
  run_rows(w.n_out, pool, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scratch(size_t(w.n_in));
    // Row-outer, token-inner: each weight row is read from memory once and reused for all tokens.
    for (int64_t r = begin; r < end; ++r) {
      if (via_scratch) {
        const uint8_t* row = static_cast<const uint8_t*>(w.data) + uint64_t(r) * w.row_bytes;
        dequantize_row(w.type, row, scratch.data(), w.n_in);
        for (int64_t t = 0; t < n_tok; ++t) {
          const float* xt = x + t * w.n_in;
          y[t * w.n_out + r] = avx2 ? dot_f32_avx2(scratch.data(), xt, w.n_in)
                                    : dot_f32_scalar(scratch.data(), xt, w.n_in);
        }
        continue;
      }
      for (int64_t t = 0; t < n_tok; ++t) {
        const float* xt = x + t * w.n_in;
        y[t * w.n_out + r] = path == KernelPath::kAvx2
                                 ? row_dot_avx2(w, r, xt, quant ? &qx[size_t(t)] : nullptr, scratch.data())
                                 : row_dot_scalar(w, r, xt, scratch.data());
      }
    }
  });
}

}  // namespace moe
