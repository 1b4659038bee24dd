// Engine speed: prompt processing (pp128) and decode tokens/s at 1 and 2 threads on a generated
// model shaped like granite-3.x-1b-a400m (24 layers, d 1024, 16 heads / 8 KV heads, 32 experts
// top-8, expert FFN 512, vocab 49155) in Q8_0 and Q4_K, with the active weight bytes per token and
// the implied fraction of this machine's measured read bandwidth.
//   bench_engine [TYPE...]             (default: Q8_0 Q4_K; also Q4_0, F16)
//   bench_engine --repeats [TYPE...]   aggregate generated tokens/s of N = 1, 4, 8, 16 repeats of one
//       128-token prompt, 64 new tokens each, 2 threads, decoded as one batch (moe/repeats.h), with
//       the weight bytes read per generated token and the mean number of distinct experts per
//       MoE layer and step (the expert union). The prompt is the ids of 128 lowercase letters in the
//       model's byte-level vocabulary, so `llama-batched -p` on the same file gets the same ids.
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
#include "moe/repeats.h"
#include "moe/session.h"
#include "runtime/session_impl.h"
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
  // A byte-level BPE vocabulary without real merges: ids 0-255 are GPT-2's byte symbols (so ASCII
  // text encodes to its byte values in any GGUF runtime), the rest are fillers. Lets llama.cpp's
  // text-prompt tools (llama-batched) run the same file with the same prompt ids.
  {
    std::vector<std::string> toks(kVocab);
    int n = 0;
    auto utf8 = [](uint32_t cp) {
      std::string o;
      if (cp < 0x80) o += char(cp);
      else { o += char(0xC0 | (cp >> 6)); o += char(0x80 | (cp & 0x3F)); }
      return o;
    };
    for (uint32_t b = 0; b < 256; ++b) {
      bool direct = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      toks[b] = utf8(direct ? b : 256 + uint32_t(n++));
    }
    toks[256] = utf8(256 + 32) + utf8(256 + 32);  // the one merge's result: two spaces
    for (uint32_t i = 257; i < kVocab; ++i) toks[i] = "<f" + std::to_string(i) + ">";
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "default");
    w.set_array_string("tokenizer.ggml.tokens", toks);
    w.set_array_i32("tokenizer.ggml.token_type", std::vector<int32_t>(kVocab, 1));
    w.set_array_string("tokenizer.ggml.merges", {utf8(256 + 32) + " " + utf8(256 + 32)});
    w.set_u32("tokenizer.ggml.bos_token_id", kVocab - 2);
    w.set_u32("tokenizer.ggml.eos_token_id", kVocab - 1);
    w.set_bool("tokenizer.ggml.add_bos_token", false);
  }
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
  // granite-3.x-1b-a400m's multipliers (llama.cpp requires the keys for granitemoe).
  w.set_f32(a + ".embedding_scale", 12.f);
  w.set_f32(a + ".residual_scale", 0.22f);
  w.set_f32(a + ".attention.scale", 0.015625f);
  w.set_f32(a + ".logit_scale", 6.f);
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

// The process's anonymous memory in transparent huge pages, as the kernel reports it.
std::string huge_pages() {
  std::FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
  if (!f) return "huge pages unknown";
  char line[256];
  unsigned long long kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) break;
  std::fclose(f);
  return std::to_string(kb / 1024) + " MiB in huge pages";
}

// WOBBLE_BENCH_N=1,8 picks the repeat counts (default 1,4,8,16); WOBBLE_BENCH_REPS the runs per
// figure (default 3): on a loaded machine one pass of N = 16 can take minutes.
std::vector<int> repeat_counts() {
  std::vector<int> out;
  if (const char* e = std::getenv("WOBBLE_BENCH_N"); e && *e) {
    std::string s = e;
    for (size_t at = 0; at <= s.size();) {
      size_t comma = s.find(',', at);
      if (comma == std::string::npos) comma = s.size();
      int n = std::atoi(s.substr(at, comma - at).c_str());
      if (n >= 1 && n <= 256) out.push_back(n);
      at = comma + 1;
    }
  }
  return out.empty() ? std::vector<int>{1, 4, 8, 16} : out;
}

int bench_reps() {
  const char* e = std::getenv("WOBBLE_BENCH_REPS");
  int r = e ? std::atoi(e) : 3;
  return r >= 1 && r <= 100 ? r : 3;
}

// N repeats of one prompt decoded as one batch: aggregate t/s, bytes of weights read per generated
// token and the expert union.
void bench_repeats(const std::shared_ptr<const Model>& m, GgmlType t, bool merge) {
  const Model::Impl& mi = m->impl();
  const HParams& hp = mi.hp;
  uint64_t expert_bytes = 0;  // one expert of one layer: gate + up + down
  for (const auto& L : mi.layers)
    if (L.moe) {
      expert_bytes = uint64_t(L.gate_exps.row_bytes * L.gate_exps.n_out + L.up_exps.row_bytes * L.up_exps.n_out +
                              L.down_exps.row_bytes * L.down_exps.n_out);
      break;
    }
  const uint64_t dense_bytes = m->info().bytes_active - uint64_t(m->info().n_moe_layers) * hp.n_expert_used * expert_bytes;
  std::vector<int32_t> prompt(128);
  for (int i = 0; i < 128; ++i) prompt[size_t(i)] = 'a' + i % 26;
  // The prefill's share of the counters, measured once on its own.
  auto base = Session::create(m, SessionOptions{512, 2, false});
  (void)(*base)->prefill(prompt);
  const Workspace& bws = SessionAccess::of(**base).ws;
  const uint64_t prefill_runs = bws.expert_runs, prefill_calls = bws.forward_calls, prefill_rows = bws.rows_computed;
  for (int n : repeat_counts()) {
    std::vector<double> rates;
    double mb_per_tok = 0, union_per_layer = 0, prefill_s = 0, rows_per_step = 0;
    for (int rep = 0; rep < bench_reps(); ++rep) {
      std::vector<GenerateOptions> opts(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        opts[size_t(i)].max_tokens = 64;
        opts[size_t(i)].ignore_eos = true;
        opts[size_t(i)].sampling = {.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.f, .seed = uint64_t(100 * rep + i)};
      }
      auto s = Session::create(m, SessionOptions{512, 2, false});
      auto r = generate_repeats(**s, prompt, opts, {.max_batch = uint32_t(n), .merge_identical = merge});
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        std::exit(3);
      }
      double decode = 0;
      uint64_t gen = 0;
      for (const auto& x : *r) {
        decode = std::max(decode, x.result.decode_seconds);
        gen += x.result.tokens.size();
      }
      prefill_s = (*r)[0].result.prefill_seconds;
      rates.push_back(double(gen) / decode);
      const Workspace& ws = SessionAccess::of(**s).ws;
      const uint64_t steps = ws.forward_calls - prefill_calls, runs = ws.expert_runs - prefill_runs;
      // Tokens fed back: each repeat's 64th token is sampled but never run through the model.
      mb_per_tok = (double(steps) * double(dense_bytes) + double(runs) * double(expert_bytes)) / double(gen) / 1e6;
      union_per_layer = double(runs) / double(steps) / double(m->info().n_moe_layers);
      rows_per_step = double(ws.rows_computed - prefill_rows) / double(steps);
    }
    std::sort(rates.begin(), rates.end());
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.2f (%.2f-%.2f)", rates[rates.size() / 2], rates.front(), rates.back());
    std::printf("%-6s %-4d %-22s %-14.1f %-18.1f %-10.2f %-10.2f\n", ggml_type_name(t), n, rate,
                mb_per_tok, union_per_layer, rows_per_step, prefill_s);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<GgmlType> types;
  bool repeats = false;
  LoadOptions load;
  bool merge = true;
  for (int i = 1; i < argc; ++i) {
    std::string n = argv[i];
    if (n == "--repeats") repeats = true;
    else if (n == "--weights=mapped") load.weights = WeightMemory::kMapped;
    else if (n == "--weights=copy") load.weights = WeightMemory::kHugePageCopy;
    else if (n == "--weights=auto") load.weights = WeightMemory::kAuto;
    else if (n == "--no-merge") merge = false;
    else if (n == "Q8_0") types.push_back(GgmlType::Q8_0);
    else if (n == "Q4_K") types.push_back(GgmlType::Q4_K);
    else if (n == "Q4_0") types.push_back(GgmlType::Q4_0);
    else if (n == "F16") types.push_back(GgmlType::F16);
    else {
      std::fprintf(stderr, "unknown type %s\n", n.c_str());
      return 2;
    }
  }
  if (types.empty()) types = {GgmlType::Q8_0, GgmlType::Q4_K};
  if (repeats) {
    std::printf("repeats of one 128-token prompt, 64 new tokens each, 2 threads, one batch%s; median (range)\n",
                merge ? "" : ", identical repeats not merged");
    std::printf("%-6s %-4s %-22s %-14s %-18s %-10s %-10s\n", "type", "N", "aggregate decode t/s", "MB read/tok",
                "experts/layer/step", "rows/step", "prefill s");
    for (GgmlType t : types) {
      std::string path = build(t);
      const auto t0 = std::chrono::steady_clock::now();
      auto m = Model::load(path, load);
      if (!m.ok()) {
        std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
        return 3;
      }
      std::printf("# %s weights: %s, loaded in %.2f s, %s\n", ggml_type_name(t), weight_memory_name((*m)->info().weights),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), huge_pages().c_str());
      bench_repeats(*m, t, merge);
      if (!keep_models()) std::filesystem::remove(path);
    }
    return 0;
  }
  double bw = read_bandwidth();
  std::printf("read bandwidth of one core: %.1f GB/s (bw frac below is relative to it)\n", bw);
  std::printf("%-6s %-8s %-18s %-18s %-14s %-10s\n", "type", "threads", "pp128 t/s", "tg t/s", "active MB/tok", "bw frac");
  for (GgmlType t : types) {
    std::string path = build(t);
    auto m = Model::load(path, load);
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
