// End to end: `wobble run` with provider.routing against the loopback fake server, which attaches
// routing payloads built here byte by byte (vLLM's .npy, SGLang's raw int32), valid and hostile.
// Valid payloads must become stored ids-only traces and a routing section in the report with the
// scripted divergences; hostile ones must leave the sample ok with its trace absent and the reason
// stored.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "moe/routing.h"
#include "provider/routing_payload.h"
#include "runner/seeds.h"
#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

constexpr int kPrompt = 7, kGenerated = 3, kLayers = 2, kTopK = 2, kExperts = 8;
constexpr int kRows = kPrompt + kGenerated - 1;  // the last sampled token is never forwarded

// Expert ids of (repeat, token, layer) for case "add": a fixed pattern with three scripted
// departures. Repeat 1 routes prompt token 4 differently at layer 1 (identical inputs: what a
// batching server does); repeat 3 routes generated token 0 differently at layer 0; repeat 2's
// output differs from generated token 1 on, with routing equal before it.
std::array<int32_t, 2> ids_at(int repeat, int token, int layer) {
  std::array<int32_t, 2> e = {(token + layer) % kExperts, (token + layer + 1) % kExperts};
  if (repeat == 1 && token == 4 && layer == 1) e = {6, 3};
  if (repeat == 3 && token == kPrompt && layer == 0) e = {7, 2};
  if (repeat == 2 && token > kPrompt) e = {5, 4};  // after its tokens part: not compared
  return e;
}

std::vector<int32_t> routing_rows(int repeat) {
  std::vector<int32_t> v;
  for (int t = 0; t < kRows; ++t)
    for (int l = 0; l < kLayers; ++l) {
      auto e = ids_at(repeat, t, l);
      v.insert(v.end(), e.begin(), e.end());
    }
  return v;
}

std::vector<uint8_t> le_bytes(const std::vector<int32_t>& v, int width = 4) {
  std::vector<uint8_t> out;
  for (int32_t x : v)
    for (int i = 0; i < width; ++i) out.push_back(uint8_t(uint32_t(x) >> (8 * i)));
  return out;
}

// A .npy file written here by hand (not by the code under test): format 1.0, header padded to 64.
std::vector<uint8_t> npy(const std::string& descr, const std::string& shape, const std::vector<uint8_t>& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  dict += std::string(total - 10 - dict.size() - 1, ' ') + "\n";
  const uint8_t head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(dict.size()), uint8_t(dict.size() >> 8)};
  std::vector<uint8_t> f(sizeof head + dict.size() + data.size());
  std::memcpy(f.data(), head, sizeof head);
  std::memcpy(f.data() + sizeof head, dict.data(), dict.size());
  if (!data.empty()) std::memcpy(f.data() + sizeof head + dict.size(), data.data(), data.size());
  return f;
}

const std::string kRubric = std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/rubrics/e2e-arith.yaml";
const std::string kShape = "(" + std::to_string(kRows) + ", 2, 2)";

struct Fixture {
  std::map<uint64_t, std::pair<std::string, int>> seeds;  // seed -> (case, repeat)
  Fixture() {
    for (const char* c : {"add", "mul"})
      for (int r = 0; r < 4; ++r) seeds[derive_seed(42, c, "v", r)] = {c, r};
  }
};

std::string suite_text(const std::string& url, const std::string& routing_block) {
  return "name: remote-routing\n"
         "provider:\n"
         "  kind: openai\n"
         "  base_url: " + url + "\n"
         "  model: fake-moe\n"
         "  max_concurrency: 4\n" +
         routing_block +
         "sampling: {temperature: 0.7, max_tokens: 8, seed: 42}\n"
         "repeats: 4\n"
         "variants:\n"
         "  - id: v\n"
         "    prompt: \"Q: {{q}}\"\n"
         "cases:\n"
         "  - id: add\n"
         "    vars: {q: \"2+3\", answer: \"5\"}\n"
         "    rubric: " + kRubric + "\n"
         "  - id: mul\n"
         "    vars: {q: \"4*6\", answer: \"24\"}\n"
         "    rubric: " + kRubric + "\n";
}

// Token ids and usage as vLLM / SGLang send them with return_token_ids.
void attach_tokens(nlohmann::json& out, int repeat) {
  out["prompt_token_ids"] = {1, 2, 3, 4, 5, 6, 7};
  out["choices"][0]["token_ids"] = repeat == 2 ? nlohmann::json{10, 99, 98} : nlohmann::json{10, 11, 12};
  out["usage"] = {{"prompt_tokens", kPrompt}, {"completion_tokens", kGenerated}};
}

struct RunResult {
  std::vector<SampleRecord> samples;
  nlohmann::json report;
  std::string markdown;
};

RunResult run_suite(const std::string& suite_yaml) {
  std::string dir = make_temp_dir("remote-routing");
  std::string suite = dir + "/suite.yaml", db = dir + "/w.db";
  write_text_file(suite, suite_yaml);
  auto run = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--json", "--quiet"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  RunResult r;
  auto outcome = nlohmann::json::parse(run.out, nullptr, false);
  EXPECT_EQ(outcome.value("failed", -1), 0) << run.out;
  auto rep = run_process({WOBBLE_EXE, "report", "latest", "--db", db, "--format", "json"});
  EXPECT_EQ(rep.exit_code, 0) << rep.err;
  r.report = nlohmann::json::parse(rep.out, nullptr, false);
  auto md = run_process({WOBBLE_EXE, "report", "latest", "--db", db});
  EXPECT_EQ(md.exit_code, 0) << md.err;
  r.markdown = md.out;
  auto store = Store::open(db);
  auto runs = store.list_runs();
  EXPECT_FALSE(runs.empty());
  if (!runs.empty()) r.samples = store.samples(runs.front().id, true);
  return r;
}

const SampleRecord& sample(const RunResult& r, const std::string& c, int repeat) {
  for (const auto& s : r.samples)
    if (s.case_id == c && s.repeat == repeat) return s;
  throw std::runtime_error("no sample " + c + "/" + std::to_string(repeat));
}

const nlohmann::json& group(const RunResult& r, const std::string& c) {
  for (const auto& g : r.report["routing"]["groups"])
    if (g["case"] == c) return g;
  throw std::runtime_error("no routing group " + c);
}

}  // namespace

TEST(RemoteRouting, VllmPayloadsBecomeTracesAndHostileOnesAreRecordedAsAbsent) {
  Fixture fx;
  FakeOpenAIServer server([&](const nlohmann::json& req) {
    return fx.seeds.at(req["seed"].get<uint64_t>()).first == "add" ? "Answer: 5" : "Answer: 24";
  });
  server.set_response_hook([&](const nlohmann::json& req, nlohmann::json& out) {
    EXPECT_EQ(req.value("return_token_ids", false), true);
    EXPECT_FALSE(req.contains("return_routed_experts"));  // vLLM needs only its server flag
    auto [c, repeat] = fx.seeds.at(req["seed"].get<uint64_t>());
    attach_tokens(out, repeat);
    auto& choice = out["choices"][0];
    if (c == "add") {
      choice["routed_experts"] = base64_encode(npy("<i4", kShape, le_bytes(routing_rows(repeat))));
      return;
    }
    switch (repeat) {
      case 0: {  // vLLM's uint8 form for <= 256 experts
        choice["routed_experts"] = base64_encode(npy("|u1", kShape, le_bytes(routing_rows(0), 1)));
        break;
      }
      case 1: {  // truncated base64
        std::string b = base64_encode(npy("<i4", kShape, le_bytes(routing_rows(0))));
        choice["routed_experts"] = b.substr(0, b.size() - 5);
        break;
      }
      case 2:  // wrong dtype
        choice["routed_experts"] = base64_encode(npy("<f4", kShape, le_bytes(routing_rows(0))));
        break;
      case 3: {  // 50 MB of base64: over the routing limit, under the body limit
        choice["routed_experts"] = std::string(50u << 20, 'A');
        break;
      }
    }
  });
  auto r = run_suite(suite_text(server.base_url(), "  routing: vllm\n  routing_shape: {layers: 2, top_k: 2, n_experts: 8}\n"));
  ASSERT_EQ(r.samples.size(), 8u);
  for (const auto& s : r.samples) EXPECT_TRUE(s.ok) << s.case_id << "/" << s.repeat << ": " << s.error;

  const auto& add0 = sample(r, "add", 0);
  ASSERT_FALSE(add0.routing_trace.empty()) << add0.routing_error;
  auto t = moe::RoutingTrace::deserialize(add0.routing_trace.data(), add0.routing_trace.size());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->has_gates());
  EXPECT_EQ(t->n_tokens(), uint64_t(kRows));
  EXPECT_EQ(t->n_expert(), uint32_t(kExperts));
  EXPECT_EQ(t->at(4, 1).experts[0], 5);
  EXPECT_EQ(add0.prompt_token_ids.size(), size_t(kPrompt));
  EXPECT_EQ(add0.token_ids, (std::vector<int32_t>{10, 11, 12}));
  EXPECT_TRUE(sample(r, "mul", 0).routing_error.empty());
  EXPECT_FALSE(sample(r, "mul", 0).routing_trace.empty());
  EXPECT_NE(sample(r, "mul", 1).routing_error.find("multiple of 4"), std::string::npos) << sample(r, "mul", 1).routing_error;
  EXPECT_NE(sample(r, "mul", 2).routing_error.find("'<f4'"), std::string::npos) << sample(r, "mul", 2).routing_error;
  EXPECT_NE(sample(r, "mul", 3).routing_error.find("over the limit"), std::string::npos) << sample(r, "mul", 3).routing_error;
  for (int rep = 1; rep < 4; ++rep) EXPECT_TRUE(sample(r, "mul", rep).routing_trace.empty());

  ASSERT_TRUE(r.report.contains("routing")) << r.report.dump();
  const auto& g = group(r, "add");
  EXPECT_TRUE(g["entropy"].is_null());  // no router probabilities from a server
  EXPECT_TRUE(g.contains("entropy_na"));
  EXPECT_TRUE(g["load_cv"].is_number());  // n_experts given
  EXPECT_EQ(g["first_prompt_divergence"], (nlohmann::json{{"token", 4}, {"layer", 1}}));
  EXPECT_EQ(g["first_generated_divergence"], (nlohmann::json{{"token", 0}, {"layer", 0}}));
  EXPECT_EQ(g["first_output_divergence_token"], 1);
  EXPECT_EQ(g["prompt_divergent_repeats"], 1);
  EXPECT_EQ(g["repeats_compared"], 3);
  // Repeat 1 differs at 1 of 7 * 2 prompt (token, layer) records: exact = 1 - 1 / 42 over 3 repeats.
  EXPECT_NEAR(g["prompt_exact"].get<double>(), 1.0 - 1.0 / 42.0, 1e-9);
  EXPECT_EQ(r.report["routing"]["absent_samples"], 3);
  EXPECT_NE(r.markdown.find("## Routing"), std::string::npos);
  EXPECT_NE(r.markdown.find("prompt token 4, layer 1; generated token 0, layer 0"), std::string::npos) << r.markdown;
  EXPECT_NE(r.markdown.find("differed from the first repeat in 1 of 3"), std::string::npos) << r.markdown;
  EXPECT_NE(r.markdown.find("Entropy n/a"), std::string::npos);
  EXPECT_NE(r.markdown.find("Routing absent for 3 samples"), std::string::npos);
}

TEST(RemoteRouting, SglangRawPayloadsAndHostileOnes) {
  Fixture fx;
  FakeOpenAIServer server([&](const nlohmann::json& req) {
    return fx.seeds.at(req["seed"].get<uint64_t>()).first == "add" ? "Answer: 5" : "Answer: 24";
  });
  server.set_response_hook([&](const nlohmann::json& req, nlohmann::json& out) {
    EXPECT_EQ(req.value("return_routed_experts", false), true);
    auto [c, repeat] = fx.seeds.at(req["seed"].get<uint64_t>());
    attach_tokens(out, repeat);
    auto rows = routing_rows(c == "add" ? repeat : 0);
    if (c == "add") {
      // SGLang's protocol puts sglext on the response.
      out["sglext"] = {{"routed_experts", base64_encode(le_bytes(rows))}};
      return;
    }
    switch (repeat) {
      case 0:  // the per-choice spelling
        out["choices"][0]["sgl_ext"] = {{"routed_experts", base64_encode(le_bytes(rows))}};
        break;
      case 1: {  // an id out of range
        rows[5] = 9;
        out["sglext"] = {{"routed_experts", base64_encode(le_bytes(rows))}};
        break;
      }
      case 2: {  // not a whole number of tokens (shape mismatch)
        auto b = le_bytes(rows);
        b.resize(b.size() - 4);
        out["sglext"] = {{"routed_experts", base64_encode(b)}};
        break;
      }
      case 3:  // none at all (server not started with --enable-return-routed-experts)
        break;
    }
  });
  auto r = run_suite(suite_text(server.base_url(), "  routing: sglang\n  routing_shape: {layers: 2, top_k: 2}\n"));
  ASSERT_EQ(r.samples.size(), 8u);
  for (const auto& s : r.samples) EXPECT_TRUE(s.ok) << s.case_id << "/" << s.repeat << ": " << s.error;
  const auto& add1 = sample(r, "add", 1);
  ASSERT_FALSE(add1.routing_trace.empty()) << add1.routing_error;
  auto t = moe::RoutingTrace::deserialize(add1.routing_trace.data(), add1.routing_trace.size());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->n_expert_known());
  EXPECT_EQ(t->at(4, 1).experts[0], 6);
  EXPECT_FALSE(sample(r, "mul", 0).routing_trace.empty()) << sample(r, "mul", 0).routing_error;
  // Without n_experts only the RoutingTrace bound (65536) applies, so id 9 is accepted here.
  EXPECT_FALSE(sample(r, "mul", 1).routing_trace.empty());
  EXPECT_NE(sample(r, "mul", 2).routing_error.find("whole number of tokens"), std::string::npos)
      << sample(r, "mul", 2).routing_error;
  EXPECT_NE(sample(r, "mul", 3).routing_error.find("--enable-return-routed-experts"), std::string::npos)
      << sample(r, "mul", 3).routing_error;

  const auto& g = group(r, "add");
  EXPECT_TRUE(g["entropy"].is_null());
  EXPECT_TRUE(g["load_cv"].is_null());  // expert count unknown
  EXPECT_TRUE(g.contains("load_cv_na"));
  EXPECT_EQ(g["first_prompt_divergence"], (nlohmann::json{{"token", 4}, {"layer", 1}}));
  EXPECT_EQ(r.report["routing"]["absent_samples"], 2);
}

TEST(RemoteRouting, IdsOutOfRangeOfTheGivenExpertCountAreRefused) {
  Fixture fx;
  FakeOpenAIServer server([](const nlohmann::json&) { return "5"; });
  server.set_response_hook([&](const nlohmann::json& req, nlohmann::json& out) {
    auto [c, repeat] = fx.seeds.at(req["seed"].get<uint64_t>());
    attach_tokens(out, repeat);
    auto rows = routing_rows(0);
    if (c == "mul") rows[5] = 8;  // == n_experts
    out["sglext"] = {{"routed_experts", base64_encode(le_bytes(rows))}};
  });
  auto r = run_suite(
      suite_text(server.base_url(), "  routing: sglang\n  routing_shape: {layers: 2, top_k: 2, n_experts: 8}\n"));
  ASSERT_EQ(r.samples.size(), 8u);
  for (int rep = 0; rep < 4; ++rep) {
    EXPECT_FALSE(sample(r, "add", rep).routing_trace.empty());
    const auto& m = sample(r, "mul", rep);
    EXPECT_TRUE(m.ok);
    EXPECT_TRUE(m.routing_trace.empty());
    EXPECT_NE(m.routing_error.find("expert id 8 at token 1, layer 0 is outside [0, 8)"), std::string::npos)
        << m.routing_error;
  }
}

TEST(RemoteRouting, SuiteKeysAreChecked) {
  std::string dir = make_temp_dir("remote-routing-keys");
  auto check = [&](const std::string& block, const std::string& expect) {
    write_text_file(dir + "/s.yaml", suite_text("http://127.0.0.1:1/v1", block));
    auto v = run_process({WOBBLE_EXE, "run", dir + "/s.yaml", "--db", dir + "/w.db"});
    EXPECT_EQ(v.exit_code, 2) << block << v.out << v.err;
    EXPECT_NE((v.out + v.err).find(expect), std::string::npos) << block << v.out << v.err;
  };
  check("  routing: vlm\n", "must be 'vllm', 'sglang' or 'off'");
  check("  routing: sglang\n", "routing_shape");
  check("  routing: vllm\n  routing_shape: {layers: 2}\n", "top_k");
  check("  routing: vllm\n  routing_shape: {layers: 2, top_k: 9, n_experts: 8}\n", "exceeds n_experts");
  check("  routing: vllm\n  routing_shape: {layers: 0, top_k: 2}\n", "layers");
}
