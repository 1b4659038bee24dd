// Benchmark: the cost of provider.routing on the OpenAI provider. A run of N samples (default
// 10,000) against the loopback fake server three times: routing off, vllm (.npy payload) and
// sglang (raw int32 payload), each in its own child process. The server attaches a payload of the
// given shape (default Mixtral-8x7B-like: 32 layers, top-2 of 8 experts, 64 tokens, so
// prompt + generated - 1 = 63 rows) built once up front, so its own cost is one string copy per
// response. Prints samples/s, the
// database size and peak RSS per mode, then the in-process cost of parsing one response body with
// and without its routing payload.
//   bench_routing_capture [samples] [concurrency] [layers] [top_k] [n_experts] [tokens]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "provider/openai_provider.h"
#include "provider/routing_payload.h"
#include "runner/runner.h"
#include "store/store.h"
#include "suite/suite.h"
#include "support/fake_openai_server.h"

using namespace wobble;

namespace {

struct Shape {
  uint32_t layers, top_k, n_experts, tokens;
};

RoutingIds make_ids(const Shape& s) {
  RoutingIds ids;
  ids.tokens = s.tokens - 1;
  ids.layers = s.layers;
  ids.top_k = s.top_k;
  ids.ids.resize(size_t(ids.tokens) * s.layers * s.top_k);
  for (size_t i = 0; i < ids.ids.size(); ++i) ids.ids[i] = int32_t((i * 2654435761u >> 7) % s.n_experts);
  return ids;
}

void attach(nlohmann::json& out, const std::string& mode, const std::string& payload, const Shape& s) {
  out["usage"] = {{"prompt_tokens", s.tokens / 2}, {"completion_tokens", s.tokens - s.tokens / 2}};
  if (mode == "vllm") out["choices"][0]["routed_experts"] = payload;
  if (mode == "sglang") out["sglext"] = {{"routed_experts", payload}};
}

}  // namespace

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int conc = argc > 2 ? std::atoi(argv[2]) : 8;
  Shape shape{argc > 3 ? uint32_t(std::atoi(argv[3])) : 32u, argc > 4 ? uint32_t(std::atoi(argv[4])) : 2u,
              argc > 5 ? uint32_t(std::atoi(argv[5])) : 8u, argc > 6 ? uint32_t(std::atoi(argv[6])) : 64u};
  const int cases = 100, repeats = std::max(1, samples / cases);
  const RoutingIds ids = make_ids(shape);
  const std::string npy = encode_vllm_routing(ids), raw = encode_sglang_routing(ids);
  std::string dir = std::filesystem::temp_directory_path() / ("wobble-bench-routing-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::printf("bench_routing_capture: %d samples (%d cases x %d repeats), concurrency %d\n", cases * repeats, cases,
              repeats, conc);
  std::printf("payload: %u rows x %u layers x top-%u of %u experts; base64 %zu bytes (vllm .npy), %zu bytes (sglang)\n",
              unsigned(ids.tokens), shape.layers, shape.top_k, shape.n_experts, npy.size(), raw.size());
  std::printf("%-8s %-9s %-11s %-12s %-13s %-8s %-8s\n", "routing", "wall_s", "samples/s", "db_MiB", "peak_rss_MiB",
              "traces", "failed");
  std::fflush(stdout);
  for (std::string mode : {"off", "vllm", "sglang"}) {
    pid_t pid = fork();
    if (pid == 0) {
      const std::string& payload = mode == "vllm" ? npy : raw;
      wobble::testing::FakeOpenAIServer server(
          [](const nlohmann::json& req) { return "Answer: " + std::to_string(req.value("seed", 0ull) % 3 + 4); }, {}, 0,
          std::max(8, conc + 4));
      server.set_response_hook(
          [&](const nlohmann::json&, nlohmann::json& out) { attach(out, mode, payload, shape); });
      std::string suite_path = dir + "/bench-" + mode + ".yaml";
      std::ofstream out(suite_path);
      out << "name: bench\nprovider: {kind: openai, base_url: \"" << server.base_url()
          << "\", model: m, max_concurrency: " << conc << ", routing: " << mode << ", routing_shape: {layers: "
          << shape.layers << ", top_k: " << shape.top_k << ", n_experts: " << shape.n_experts << "}}\nrepeats: "
          << repeats << "\nvariants: [{id: v, prompt: \"Q {{n}}\"}]\ncases:\n";
      for (int c = 0; c < cases; ++c)
        out << "  - {id: c" << c << ", vars: {n: \"" << c << "\"}, rubric: [{id: a, scorer: regex, args: {pattern: "
            << "\"Answer: \\\\d+\"}}]}\n";
      out.close();
      Suite suite = load_suite(suite_path);
      OpenAIProvider provider(suite.provider);
      RunOptions ro;
      ro.db_path = dir + "/bench-" + mode + ".db";
      ro.quiet = true;
      RunPlan plan;
      plan.suite = suite;
      RunOutcome o = run_plan(plan, provider, ro);
      struct rusage ru {};
      getrusage(RUSAGE_SELF, &ru);
      int64_t traces = 0;
      {
        auto store = Store::open(ro.db_path);
        for (const auto& s : store.samples(store.list_runs().front().id, true)) traces += !s.routing_trace.empty();
      }
      std::printf("%-8s %-9.2f %-11.1f %-12.1f %-13.1f %-8lld %-8lld\n", mode.c_str(), o.wall_s,
                  double(o.executed) / o.wall_s, double(std::filesystem::file_size(ro.db_path)) / 1048576.0,
                  double(ru.ru_maxrss) / 1024.0, (long long)traces, (long long)o.failed);
      std::fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
  }

  // The client's share, without HTTP: parse one body with and without the routing payload.
  nlohmann::json body = {{"model", "m"},
                         {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "Answer: 5"}}}}}}};
  std::printf("\nparse_openai_response, one body, in process:\n");
  for (std::string mode : {"off", "vllm", "sglang"}) {
    nlohmann::json b = body;
    attach(b, mode, mode == "vllm" ? npy : raw, shape);
    const std::string text = b.dump();
    ProviderSpec spec;
    spec.kind = "openai";
    spec.routing = mode;
    spec.routing_layers = shape.layers;
    spec.routing_top_k = shape.top_k;
    spec.routing_n_experts = shape.n_experts;
    const int iters = 2000;
    size_t trace_bytes = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) trace_bytes = parse_openai_response(text, true, spec).routing_trace.size();
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
    std::printf("  %-7s body %8zu bytes  %8.1f us/response  trace %zu bytes\n", mode.c_str(), text.size(), us,
                trace_bytes);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
