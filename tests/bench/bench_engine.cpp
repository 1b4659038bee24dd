// Engine speed: prompt processing (pp128) and decode tokens/s at 1 and 2 threads on a generated
// model shaped like granite-3.x-1b-a400m (24 layers, d 1024, 16 heads / 8 KV heads, 32 experts
// top-8, expert FFN 512, vocab 49155) in Q8_0 and Q4_K, with the active weight bytes per token and
// the implied fraction of this machine's measured read bandwidth.
//   bench_engine [TYPE...]   (default: Q8_0 Q4_K; also Q4_0, F16)
// WOBBLE_BENCH_KEEP_MODELS=1 keeps the generated models in the temp directory and reuses them.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "moe/model.h"
#include "moe/session.h"
#include "tensor/ggml_type.h"

using namespace moe;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kLayers = 24, kD = 1024, kHeads = 16, kKv = 8, kExperts = 32, kTopK = 8, kFf = 512, kVocab = 49155;

// Random blocks with sane scales: quants are uniform bytes, fp16 scale fields are set to ~0.01.
std::vector<uint8_t> random_tensor(GgmlType t, uint64_t n_in, uint64_t rows, std::mt19937_64& rng) {
  uint64_t rb = *ggml_row_bytes(t, n_in);
  std::vector<uint8_t> b(rb * rows);
  for (size_t i = 0; i + 8 <= b.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&b[i], &v, 8);
  }
  auto tr = *ggml_type_traits(uint32_t(t));
  uint16_t small = fp32_to_fp16(0.01f), tiny = fp32_to_fp16(0.001f);
  for (size_t off = 0; off + tr.type_size <= b.size(); off += tr.type_size) {
    if (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) std::memcpy(&b[off], &small, 2);
    if (t == GgmlType::Q4_K || t == GgmlType::Q5_K) {
      std::memcpy(&b[off], &small, 2);
      std::memcpy(&b[off + 2], &tiny, 2);
    }
    if (t == GgmlType::Q6_K) std::memcpy(&b[off + 208], &tiny, 2);
  }
  return b;
}

std::string model_path(GgmlType t) {
  return (std::filesystem::temp_directory_path() / (std::string("bench-granite-") + ggml_type_name(t) + ".gguf")).string();
}

// WOBBLE_BENCH_KEEP_MODELS=1 keeps the generated files and reuses them (profiling runs).
bool keep_models() {
  const char* k = std::getenv("WOBBLE_BENCH_KEEP_MODELS");
  return k && std::string(k) == "1";
}

std::string build(GgmlType t) {
  if (keep_models() && std::filesystem::exists(model_path(t))) return model_path(t);
  std::mt19937_64 rng(42);
  GgufWriter w;
  const std::string a = "granitemoe";
  w.set_string("general.architecture", a);
  w.set_string("general.name", "bench-granite-1b-a400m-shape");
  // Token ids only; declared so that other GGUF runtimes load the same file for comparison.
  w.set_string("tokenizer.ggml.model", "none");
  w.set_u32("granitemoe.vocab_size", kVocab);
  w.set_u32(a + ".context_length", 4096);
  w.set_u32(a + ".embedding_length", kD);
  w.set_u32(a + ".block_count", kLayers);
  w.set_u32(a + ".feed_forward_length", kFf);
  w.set_u32(a + ".attention.head_count", kHeads);
  w.set_u32(a + ".attention.head_count_kv", kKv);
  w.set_u32(a + ".expert_count", kExperts);
  w.set_u32(a + ".expert_used_count", kTopK);
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_f32(a + ".rope.freq_base", 10000.f);
  const uint32_t hd = kD / kHeads;
  auto ones = [&](const std::string& n) { (void)w.add_tensor_f32(n, {kD}, GgmlType::F32, std::vector<float>(kD, 1.f)); };
  (void)w.add_tensor_raw("token_embd.weight", {kD, kVocab}, t, random_tensor(t, kD, kVocab, rng));
  for (uint32_t l = 0; l < kLayers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    ones(p + "attn_norm.weight");
    ones(p + "ffn_norm.weight");
    (void)w.add_tensor_raw(p + "attn_q.weight", {kD, kHeads * hd}, t, random_tensor(t, kD, kHeads * hd, rng));
    (void)w.add_tensor_raw(p + "attn_k.weight", {kD, kKv * hd}, t, random_tensor(t, kD, kKv * hd, rng));
    (void)w.add_tensor_raw(p + "attn_v.weight", {kD, kKv * hd}, t, random_tensor(t, kD, kKv * hd, rng));
    (void)w.add_tensor_raw(p + "attn_output.weight", {kHeads * hd, kD}, t, random_tensor(t, kHeads * hd, kD, rng));
    std::normal_distribution<float> nd(0.f, 0.05f);
    std::vector<float> router(size_t(kD) * kExperts);
    for (auto& x : router) x = nd(rng);
    (void)w.add_tensor_f32(p + "ffn_gate_inp.weight", {kD, kExperts}, GgmlType::F32, router);
    (void)w.add_tensor_raw(p + "ffn_gate_exps.weight", {kD, kFf, kExperts}, t, random_tensor(t, kD, uint64_t(kFf) * kExperts, rng));
    (void)w.add_tensor_raw(p + "ffn_up_exps.weight", {kD, kFf, kExperts}, t, random_tensor(t, kD, uint64_t(kFf) * kExperts, rng));
    (void)w.add_tensor_raw(p + "ffn_down_exps.weight", {kFf, kD, kExperts}, t, random_tensor(t, kFf, uint64_t(kD) * kExperts, rng));
  }
  ones("output_norm.weight");
  std::string path = model_path(t);
  Status s = w.write(path);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(3);
  }
  return path;
}

// Sustained read bandwidth (GB/s): sums a 1 GiB buffer twice.
double read_bandwidth() {
  std::vector<uint64_t> buf((1u << 30) / 8, 1);
  volatile uint64_t sink = 0;
  auto t0 = Clock::now();
  for (int rep = 0; rep < 2; ++rep) {
    uint64_t s = 0;
    for (size_t i = 0; i < buf.size(); i += 4) s += buf[i] + buf[i + 1] + buf[i + 2] + buf[i + 3];
    sink = sink + s;
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return 2.0 * double(buf.size() * 8) / secs / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<GgmlType> types;
  for (int i = 1; i < argc; ++i) {
    std::string n = argv[i];
    if (n == "Q8_0") types.push_back(GgmlType::Q8_0);
    else if (n == "Q4_K") types.push_back(GgmlType::Q4_K);
    else if (n == "Q4_0") types.push_back(GgmlType::Q4_0);
    else if (n == "F16") types.push_back(GgmlType::F16);
    else {
      std::fprintf(stderr, "unknown type %s\n", n.c_str());
      return 2;
    }
  }
  if (types.empty()) types = {GgmlType::Q8_0, GgmlType::Q4_K};
  double bw = read_bandwidth();
  std::printf("read bandwidth of one core: %.1f GB/s (bw frac below is relative to it)\n", bw);
  std::printf("%-6s %-8s %-18s %-18s %-14s %-10s\n", "type", "threads", "pp128 t/s", "tg t/s", "active MB/tok", "bw frac");
  for (GgmlType t : types) {
    std::string path = build(t);
    auto m = Model::load(path);
    if (!m.ok()) {
      std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
      return 3;
    }
    double active_mb = double((*m)->info().bytes_active) / 1e6;
    {
      // Warm-up, as llama-bench does: the first pass pays the page faults of the mapped weights.
      std::vector<int32_t> warm(32);
      for (int i = 0; i < 32; ++i) warm[size_t(i)] = (i * 104729) % int(kVocab);
      auto s = Session::create(*m, SessionOptions{64, 2, false});
      (void)(*s)->prefill(warm);
    }
    for (int threads : {1, 2}) {
      // Three repetitions (a fresh session each); the median is printed, with the range, since a
      // shared VM's throughput drifts between runs.
      std::vector<double> pps, tgs;
      for (int rep = 0; rep < 3; ++rep) {
        std::vector<int32_t> prompt(128);
        for (int i = 0; i < 128; ++i) prompt[size_t(i)] = (i * 7919 + rep) % int(kVocab);
        auto s = Session::create(*m, SessionOptions{512, threads, false});
        auto t0 = Clock::now();
        (void)(*s)->prefill(prompt);
        pps.push_back(128.0 / std::chrono::duration<double>(Clock::now() - t0).count());
        const int n_decode = 32;
        auto t1 = Clock::now();
        for (int i = 0; i < n_decode; ++i) (void)(*s)->step(int32_t((i * 31 + rep) % int(kVocab)));
        tgs.push_back(n_decode / std::chrono::duration<double>(Clock::now() - t1).count());
      }
      std::sort(pps.begin(), pps.end());
      std::sort(tgs.begin(), tgs.end());
      char pp[48], tg[48];
      std::snprintf(pp, sizeof pp, "%.1f (%.0f-%.0f)", pps[1], pps[0], pps[2]);
      std::snprintf(tg, sizeof tg, "%.1f (%.0f-%.0f)", tgs[1], tgs[0], tgs[2]);
      std::printf("%-6s %-8d %-18s %-18s %-14.1f %-10.2f\n", ggml_type_name(t), threads, pp, tg, active_mb,
                  tgs[1] * active_mb / 1e3 / bw);
      std::fflush(stdout);
    }
    if (!keep_models()) std::filesystem::remove(path);
  }
  return 0;
}
