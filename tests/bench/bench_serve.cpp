// Benchmark: `wobble serve` on the demo model, requests/s and latency percentiles at several client
// concurrencies. The server runs in this process on a free loopback port; clients are libcurl
// threads, each sending its next request as soon as the last one is answered. Every request is a
// chat completion of exactly `tokens` generated tokens (ignore_eos), so the figures compare.
//   bench_serve [requests per level = 64] [parallel = 4] [tokens = 32] [concurrency... = 1 4 16]
// Run it under `nice -n 10` on a shared machine; the figures are printed, nothing is asserted.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/server.h"

namespace {

size_t keep(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int requests = argc > 1 ? std::atoi(argv[1]) : 64;
  int parallel = argc > 2 ? std::atoi(argv[2]) : 4;
  int tokens = argc > 3 ? std::atoi(argv[3]) : 32;
  std::vector<int> levels;
  for (int i = 4; i < argc; ++i) levels.push_back(std::atoi(argv[i]));
  if (levels.empty()) levels = {1, 4, 16};
  if (requests < 1 || parallel < 1 || tokens < 1) {
    std::fprintf(stderr, "usage: bench_serve [requests] [parallel] [tokens] [concurrency...]\n");
    return 2;
  }

  wobble::serve::ServeOptions o;
  o.model_path = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-moe.gguf";
  o.port = 0;
  o.parallel = parallel;
  o.threads = 1;
  o.queue = *std::max_element(levels.begin(), levels.end());
  o.log_requests = false;
  wobble::serve::Server server(o);
  int port = server.bind();
  std::thread serving([&] { server.run(); });
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions";

  std::printf("bench_serve: demo model, --parallel %d --threads 1, %d requests per level, %d tokens each "
              "(ignore_eos), %u cores\n",
              parallel, requests, tokens, std::thread::hardware_concurrency());
  std::printf("%-12s %-10s %-12s %-12s %-10s %-10s %-8s\n", "concurrency", "wall_s", "requests/s", "tokens/s",
              "p50_ms", "p95_ms", "errors");
  for (int conc : levels) {
    std::atomic<int> next{0}, errors{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(conc));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < conc; ++c)
      clients.emplace_back([&, c] {
        CURL* h = curl_easy_init();
        struct curl_slist* hdr = curl_slist_append(nullptr, "Content-Type: application/json");
        std::string sink;
        for (int i; (i = next.fetch_add(1)) < requests;) {
          nlohmann::json req = {{"messages", {{{"role", "user"}, {"content", "Write two sentences about the sea."}}}},
                                {"max_tokens", tokens}, {"ignore_eos", true}, {"temperature", 0.8}, {"seed", i}};
          std::string body = req.dump();
          sink.clear();
          curl_easy_setopt(h, CURLOPT_URL, url.c_str());
          curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
          curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
          curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
          curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
          auto r0 = std::chrono::steady_clock::now();
          CURLcode rc = curl_easy_perform(h);
          long status = 0;
          curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
          if (rc != CURLE_OK || status != 200) ++errors;
          lat[size_t(c)].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - r0).count());
        }
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
      });
    for (auto& t : clients) t.join();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> all;
    for (const auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::printf("%-12d %-10.2f %-12.1f %-12.0f %-10.1f %-10.1f %-8d\n", conc, wall, requests / wall,
                double(requests) * tokens / wall, percentile(all, 0.5), percentile(all, 0.95), errors.load());
    std::fflush(stdout);
  }
  server.stop();
  serving.join();
  return 0;
}
