// Benchmark: a run of N samples (default 10,000) against the loopback fake OpenAI server at
// concurrency 1, 8 and 32. Prints requests per second and the peak resident memory of each run.
// Each configuration runs in its own child process so peak RSS is per configuration.
//   bench_http_run [samples] [concurrency...]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "provider/openai_provider.h"
#include "runner/runner.h"
#include "suite/suite.h"
#include "support/fake_openai_server.h"

using namespace wobble;

int main(int argc, char** argv) {
  int samples = argc > 1 ? std::atoi(argv[1]) : 10000;
  std::vector<int> levels;
  for (int i = 2; i < argc; ++i) levels.push_back(std::atoi(argv[i]));
  if (levels.empty()) levels = {1, 8, 32};
  const int cases = 100, repeats = std::max(1, samples / cases);
  std::string dir = std::filesystem::temp_directory_path() / ("wobble-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::printf("bench_http_run: %d samples (%d cases x 1 variant x %d repeats), 3 criteria per sample\n",
              cases * repeats, cases, repeats);
  std::printf("%-12s %-10s %-12s %-14s %-10s\n", "concurrency", "wall_s", "requests/s", "peak_rss_MiB", "failed");
  std::fflush(stdout);
  for (int conc : levels) {
    pid_t pid = fork();
    if (pid == 0) {
      wobble::testing::FakeOpenAIServer server(
          [](const nlohmann::json& req) { return "Answer: " + std::to_string(req.value("seed", 0ull) % 3 + 4); },
          {}, 0, std::max(8, conc + 4));
      std::string suite_path = dir + "/bench-" + std::to_string(conc) + ".yaml";
      std::ofstream out(suite_path);
      out << "name: bench\nprovider: {kind: openai, base_url: \"" << server.base_url()
          << "\", model: m, max_concurrency: " << conc << "}\nrepeats: " << repeats
          << "\nvariants: [{id: v, prompt: \"Q {{n}}\"}]\ncases:\n";
      for (int c = 0; c < cases; ++c)
        out << "  - {id: c" << c << ", vars: {n: \"" << c << "\"}, rubric: [{id: a, scorer: regex, args: {pattern: "
            << "\"Answer: \\\\d+\"}}, {id: b, scorer: contains, args: {value: \"5\"}}, {id: w, scorer: word-count, "
            << "args: {max: 3}}]}\n";
      out.close();
      Suite suite = load_suite(suite_path);
      OpenAIProvider provider(suite.provider);
      RunOptions ro;
      ro.db_path = dir + "/bench-" + std::to_string(conc) + ".db";
      ro.quiet = true;
      RunPlan plan;
      plan.suite = suite;
      RunOutcome o = run_plan(plan, provider, ro);
      struct rusage ru {};
      getrusage(RUSAGE_SELF, &ru);
      std::printf("%-12d %-10.2f %-12.1f %-14.1f %-10lld\n", conc, o.wall_s, double(o.executed) / o.wall_s,
                  double(ru.ru_maxrss) / 1024.0, (long long)o.failed);
      std::fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
