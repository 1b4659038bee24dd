// Matrix-vector and matrix-matrix products over weights stored in any supported GgmlType.
//
// Weight layout (GGML convention): W has dims (n_in = ne[0], n_out = ne[1]); row r of W is the
// n_in weights producing output r, stored contiguously in W's type. x and y are f32.
// A scalar reference and AVX2 / AVX-512 paths exist; the path is chosen once at run time from
// CPUID and can be forced for tests. All paths must agree with the reference within the
// tolerances stated in tests/engine/core.
#pragma once

#include <cstdint>
#include <span>

#include "tensor/ggml_type.h"

namespace moe {

class ThreadPool;  // util/thread_pool.h: shared workers; nullptr = run on the calling thread

enum class KernelPath { kAuto, kScalar, kAvx2, kAvx512 };
void set_kernel_path(KernelPath p);  // for tests and benchmarks; kAuto picks the best available
KernelPath active_kernel_path();
const char* kernel_path_name(KernelPath p);

struct WeightView {
  const void* data = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t n_in = 0;   // row length (ne[0])
  int64_t n_out = 0;  // rows (ne[1])
  uint64_t row_bytes = 0;
};

// W (n_out, n_in) @ x (n_in,) -> y (n_out,)
void matvec(const WeightView& w, const float* x, float* y, ThreadPool* pool);
// W (n_out, n_in) @ X^T: X (n_tok, n_in) row-major -> Y (n_tok, n_out) row-major.
void matmul(const WeightView& w, const float* x, int64_t n_tok, float* y, ThreadPool* pool);
// Two products of the same X in one dispatch (e.g. an FFN's gate and up projections):
// Ya = A @ X^T, Yb = B @ X^T, each exactly what matmul() gives. matmul_batch of two jobs.
void matmul_pair(const WeightView& a, const WeightView& b, const float* x, int64_t n_tok, float* ya, float* yb,
                 ThreadPool* pool);

// One product of a batch: Y (n_tok, n_out) = W @ X^T.
struct MatmulJob {
  WeightView w;
  const float* x = nullptr;  // (n_tok, w.n_in)
  int64_t n_tok = 0;
  float* y = nullptr;        // (n_tok, w.n_out)
};
// Several products in one dispatch over all their rows (e.g. every routed expert's gate and up
// projections in one decode step), each y exactly what matmul() gives for that job. Saves one
// thread-pool round trip per job; consecutive jobs over the same x share its quantisation.
// Not reentrant on one thread (it keeps its buffers in thread-local storage).
void matmul_batch(std::span<const MatmulJob> jobs, ThreadPool* pool);

// The activation quantisation of the Q8_0/Q4_0 int8 paths, exposed so tests can hold the vector
// code to the scalar formula: per block of 32, d = max|x| / 127 rounded to fp16 precision and
// q = x · (1/d) rounded to nearest even. x (n,), q (n,), d (n / 32,); n a multiple of 32;
// vector = true needs AVX2.
void quantize_acts_q8_for_test(const float* x, int64_t n, int8_t* q, float* d, bool vector);

// The MXFP4 integer path's sum in plain C++ and float64, for one weight row (n / 32 blocks of 17
// bytes) and activations quantised as above: sum_b 2^(e_b - 128) * d_b * sum_j doubled(code_j) * q_j.
// The vector kernels must give this to float rounding (tests/engine/core/mxfp4_test.cpp).
double mxfp4_dot_q8_reference(const uint8_t* row, const int8_t* q, const float* d, int64_t n);

}  // namespace moe
