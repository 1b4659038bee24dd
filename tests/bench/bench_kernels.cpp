// Kernel throughput: matvec (decode) and matmul (prompt batch of 32 tokens) per weight type and
// kernel path, at 1 and 2 threads, reporting the weight bytes streamed per second (GB/s counter
// "wGB/s"; for matmul the weights are counted once per call).
//   bench_kernels [--benchmark_filter=...]
// Shape: W (n_out 2048, n_in 1024), about the size of one MoE layer's active expert weights.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "tensor/ggml_type.h"
#include "util/thread_pool.h"

using namespace moe;

namespace {

constexpr int64_t kIn = 1024, kOut = 2048;

struct Weights {
  std::vector<uint8_t> bytes;  // (kOut rows, row_bytes each)
  WeightView view;
};

// Quantises random normal weights with the reference quantiser, so scales are realistic.
const Weights& weights_for(GgmlType t) {
  static std::unique_ptr<Weights> cache[64];  // indexed by type id (< 64)
  auto& slot = cache[uint32_t(t) % 64];
  if (slot) return *slot;
  slot = std::make_unique<Weights>();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 0.05f);
  std::vector<float> row(kIn);
  uint64_t rb = *ggml_row_bytes(t, kIn);
  slot->bytes.resize(rb * kOut);
  for (int64_t r = 0; r < kOut; ++r) {
    for (auto& v : row) v = nd(rng);
    (void)quantize_row(t, row.data(), slot->bytes.data() + r * rb, kIn);
  }
  slot->view = WeightView{slot->bytes.data(), t, kIn, kOut, rb};
  return *slot;
}

void run(benchmark::State& st, GgmlType t, KernelPath path, int threads, int64_t n_tok) {
  set_kernel_path(path);
  if (active_kernel_path() != path) {
    st.SkipWithError("kernel path not available on this CPU");
    set_kernel_path(KernelPath::kAuto);
    return;
  }
  const Weights& w = weights_for(t);
  ThreadPool pool(threads);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> ud(-1.f, 1.f);
  std::vector<float> x(size_t(kIn * n_tok)), y(size_t(kOut * n_tok));
  for (auto& v : x) v = ud(rng);
  for (auto _ : st) {
    if (n_tok == 1)
      matvec(w.view, x.data(), y.data(), &pool);
    else
      matmul(w.view, x.data(), n_tok, y.data(), &pool);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["wGB/s"] = benchmark::Counter(double(w.bytes.size()) * double(st.iterations()) / 1e9,
                                            benchmark::Counter::kIsRate);
  st.counters["tok/s"] = benchmark::Counter(double(n_tok) * double(st.iterations()), benchmark::Counter::kIsRate);
  set_kernel_path(KernelPath::kAuto);
}

void register_all() {
  const GgmlType types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                            GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::MXFP4};
  const KernelPath paths[] = {KernelPath::kScalar, KernelPath::kAvx2, KernelPath::kAvx512};
  for (GgmlType t : types)
    for (KernelPath p : paths)
      for (int threads : {1, 2})
        for (int64_t n_tok : {int64_t(1), int64_t(32)}) {
          std::string name = std::string(n_tok == 1 ? "matvec/" : "matmul32/") + ggml_type_name(t) + "/" +
                             kernel_path_name(p) + "/threads:" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, t, p, threads, n_tok); })
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
