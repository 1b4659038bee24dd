// Benchmark fixture for report scale: writes a database holding two complete runs of one suite
// with N samples each (cases x variants x repeats), built by direct inserts through the Store API
// (no provider, no scoring), so `wobble report|gate|compare|trend` can be timed on it.
//
//   bench_report_scale --db PATH [--samples N] [--variants V] [--repeats R]
//
// Shape of each run: N / (V x R) cases; every sample has 3 criteria with evidence (`format`
// always passes, `correct` passes with a per-case probability, `length` is a numeric score that
// is unscored for ~1% of samples), an output of ~200 bytes, an extracted answer, and one attempt;
// ~0.5% of samples failed at the provider (4 attempts, no output). One case in 50 carries
// routing traces (4 MoE layers, 8 experts, top-2, ~60 tokens) and token ids, as the bundled
// engine stores them. The second run moves some pass rates, so compare and gate --baseline have
// something to find. Deterministic for a given shape (fixed RNG seed).
//
// Timing of the commands is done outside (tests/bench/report_scale.sh wraps /usr/bin/time -v).
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "moe/routing.h"
#include "store/store.h"
#include "suite/suite.h"

using namespace wobble;

namespace {

constexpr int kTraceEvery = 50;  // one case in 50 has routing traces
constexpr uint32_t kLayers = 4, kExperts = 8, kTopK = 2;

Suite make_suite(int cases, int variants, int repeats) {
  Suite s;
  s.name = "scale";
  s.source_path = "/bench/suites/scale.yaml";
  s.repeats = repeats;
  s.provider.kind = "openai";
  s.provider.base_url = "http://127.0.0.1:1/v1";
  s.provider.model = "bench-model";
  s.sampling.temperature = 0.7;
  s.gate.max_unstable = 1000000;
  s.gate.min_pass_rate = 0.5;
  s.gate.max_provider_failures = FailureBudget{1, true};
  for (int v = 0; v < variants; ++v) {
    Variant var;
    var.id = v == 0 ? "no-role" : "role-" + std::to_string(v);
    var.messages = {{"user", "Question {{n}}: what is {{a}} + {{b}}? Answer with 'Answer: N'."}};
    if (v > 0) var.messages.insert(var.messages.begin(), {"system", "You are a careful arithmetic tutor."});
    s.variants.push_back(var);
  }
  for (int c = 0; c < cases; ++c) {
    Case k;
    k.id = "case-" + std::to_string(c);
    k.vars = {{"n", std::to_string(c)}, {"a", std::to_string(c % 97)}, {"b", std::to_string(c % 89)}};
    k.rubric.name = "arith";
    k.rubric.source_path = "/bench/rubrics/arith.yaml";
    k.rubric.answer_extractor = ExtractorSpec{"regex", {{"pattern", "Answer: (-?\\d+)"}, {"group", 1}}};
    k.rubric.criteria.push_back({"format", "", 1, "regex", {{"pattern", "Answer: -?\\d+"}}, false, Scope::kAnswer, "arith.yaml:3"});
    k.rubric.criteria.push_back(
        {"correct", "", 2, "equals", {{"value", std::to_string(c % 97 + c % 89)}}, false, Scope::kAnswer, "arith.yaml:6"});
    k.rubric.criteria.push_back({"length", "", 0.5, "word-count", {{"max", 40}}, false, Scope::kAnswer, "arith.yaml:9"});
    s.cases.push_back(std::move(k));
  }
  s.content_hash = suite_content_hash(s);
  return s;
}

std::vector<uint8_t> make_trace(std::mt19937_64& rng, uint64_t tokens) {
  moe::RoutingTrace t(kLayers, kExperts, kTopK);
  std::uniform_int_distribution<int> pick(0, int(kExperts) - 1);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (uint64_t i = 0; i < tokens; ++i)
    for (uint32_t l = 0; l < kLayers; ++l) {
      uint16_t e[2];
      e[0] = uint16_t(pick(rng));
      e[1] = uint16_t((e[0] + 1 + pick(rng) % (kExperts - 1)) % kExperts);
      float w[2] = {0.6f, 0.4f};
      t.append(l, e, w, 1.5f + u(rng), 0.1f * u(rng));
    }
  return t.serialize();
}

const char* kFiller =
    " First add the tens, then the units, and carry when the units exceed nine. Checking the sum again by "
    "subtracting one addend gives the other, so the result is consistent with the question as asked.";

int64_t write_run(Store& store, const Suite& suite, int repeats, int run_index, int64_t& inserted) {
  RunRecord run;
  run.suite_name = suite.name;
  run.suite_path = suite.source_path;
  run.suite_hash = suite.content_hash;
  run.plan.suite = suite;
  run.plan.suite_dir = "/bench/suites";
  run.provider = suite.provider.to_json();
  run.model_id = "bench-model";
  run.sampling = suite.sampling.to_json();
  run.repeats = repeats;
  run.tool_version = "bench";
  run.started_at = "2026-11-0" + std::to_string(run_index + 1) + "T00:00:00Z";
  run.status = "complete";
  run.expected_samples = int64_t(suite.cases.size()) * int64_t(suite.variants.size()) * repeats;
  const int64_t id = store.create_run(run);
  store.set_run_status(id, "complete", true);

  std::mt19937_64 rng(0x5ca1e + uint64_t(run_index));
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<SampleRecord> batch;
  batch.reserve(4096);
  auto flush = [&] {
    store.insert_samples(batch);
    inserted += int64_t(batch.size());
    batch.clear();
  };
  for (size_t c = 0; c < suite.cases.size(); ++c) {
    const Case& k = suite.cases[c];
    const int right = int(c % 97 + c % 89);
    // Per-case probability that `correct` passes: a mix of stable-pass, stable-fail and unstable,
    // shifted in the second run for a few cases.
    static const double kRates[] = {1.0, 1.0, 0.0, 0.5, 0.9, 1.0, 0.97, 0.2};
    double p = kRates[c % 8];
    if (run_index == 1 && c % 5 == 0) p = std::max(0.0, p - 0.3);
    const bool traced = c % kTraceEvery == 0;
    for (size_t v = 0; v < suite.variants.size(); ++v) {
      const Variant& var = suite.variants[v];
      const std::string prompt = render_prompt(var, k).as_text();
      for (int r = 0; r < repeats; ++r) {
        SampleRecord s;
        s.run_id = id;
        s.case_id = k.id;
        s.variant_id = var.id;
        s.repeat = r;
        s.prompt = prompt;
        s.seed = uint64_t(r) * 7919u + 17;
        s.latency_s = 0.2 + 0.3 * u(rng);
        s.model_reported = "bench-model";
        if (u(rng) < 0.005) {
          s.ok = false;
          s.error = "HTTP 503: upstream overloaded";
          for (int a = 1; a <= 4; ++a) s.attempts.push_back({a, 503, "http_error", "HTTP 503: upstream overloaded", 0.05, 0.5});
          batch.push_back(std::move(s));
          if (batch.size() == batch.capacity()) flush();
          continue;
        }
        const bool correct = u(rng) < p;
        const int answer = correct ? right : right + 1 + int(rng() % 9);
        s.ok = true;
        s.finish_reason = "stop";
        std::string lead = "Answer: " + std::to_string(answer) + ".";
        // Outputs of a stable group repeat exactly; others drift in wording after the answer.
        s.output = lead + std::string(kFiller).substr(0, 150 + (p == 1.0 || p == 0.0 ? 0 : rng() % 40));
        s.extracted_answer = std::to_string(answer);
        s.prompt_tokens = 30;
        s.completion_tokens = 48;
        s.attempts.push_back({1, 200, "ok", "", s.latency_s, 0});
        CriterionResult f{"format", Outcome::kPass, 1, {0, int64_t(lead.size()) - 1, lead.substr(0, lead.size() - 1)},
                          Scope::kAnswer, "matched /Answer: -?\\d+/", "Answer: -?\\d+"};
        CriterionResult x{"correct", correct ? Outcome::kPass : Outcome::kFail, correct ? 1.0 : 0.0,
                          {8, 8 + int64_t(std::to_string(answer).size()), std::to_string(answer)}, Scope::kAnswer,
                          correct ? "answer equals the expected value" : "answer differs from the expected value",
                          std::to_string(right)};
        CriterionResult w{"length", Outcome::kPass, 1, {0, int64_t(s.output.size()), ""}, Scope::kAnswer, "", "<= 40 words"};
        if (u(rng) < 0.01) {
          w.outcome = Outcome::kUnscored;
          w.score = 0;
          w.reason = "word counter timed out";
        } else {
          w.score = 0.6 + 0.4 * u(rng);
          w.outcome = w.score >= 0.8 ? Outcome::kPass : Outcome::kFail;
          w.reason = "word count scored " + std::to_string(w.score);
        }
        s.scores = {f, x, w};
        if (traced) {
          for (int t = 0; t < 20; ++t) s.prompt_token_ids.push_back(100 + t);
          for (int t = 0; t < 40; ++t) s.token_ids.push_back(int32_t(200 + (t < 10 ? t : rng() % 50)));
          s.routing_trace = make_trace(rng, 60);
        }
        batch.push_back(std::move(s));
        if (batch.size() == batch.capacity()) flush();
      }
    }
  }
  flush();
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  int64_t samples = 10000;
  int variants = 2, repeats = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--db") db = argv[i + 1];
    else if (k == "--samples") samples = std::atoll(argv[i + 1]);
    else if (k == "--variants") variants = std::atoi(argv[i + 1]);
    else if (k == "--repeats") repeats = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (db.empty() || samples < 1 || variants < 1) {
    std::fprintf(stderr, "usage: bench_report_scale --db PATH [--samples N] [--variants V] [--repeats R]\n");
    return 2;
  }
  // Repeats grow slower than the run: 10k -> 50, 100k -> 100, 1M -> 250 (more cases as well).
  if (repeats <= 0) repeats = samples >= 1000000 ? 250 : samples >= 100000 ? 100 : 50;
  const int cases = int(std::max<int64_t>(1, samples / (int64_t(variants) * repeats)));
  std::filesystem::remove(db);
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  auto t0 = std::chrono::steady_clock::now();
  Store store = Store::open(db);
  sqlite3_exec(store.handle(), "PRAGMA synchronous = OFF", nullptr, nullptr, nullptr);
  Suite suite = make_suite(cases, variants, repeats);
  int64_t inserted = 0;
  int64_t a = write_run(store, suite, repeats, 0, inserted);
  int64_t b = write_run(store, suite, repeats, 1, inserted);
  sqlite3_exec(store.handle(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("bench_report_scale: %s: runs %lld and %lld, %d cases x %d variants x %d repeats = %lld samples each, "
              "%lld inserted in %.1f s, %.1f MiB\n",
              db.c_str(), (long long)a, (long long)b, cases, variants, repeats,
              (long long)(int64_t(cases) * variants * repeats), (long long)inserted, secs,
              double(std::filesystem::file_size(db)) / (1 << 20));
  return 0;
}
