// The engine on tiny generated models of every architecture and weight type: loading, KV-cache
// consistency, thread-count determinism, routing semantics, bad input, sampler, traces.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <algorithm>
#include <numeric>
#include <thread>

#include "engine/runtime/tiny_model.h"
#include "moe/model.h"
#include "moe/routing.h"
#include "moe/sampler.h"
#include "moe/session.h"
#include "support/scratch.h"

using namespace moe;
using moe::testing::TinySpec;

namespace {

std::string write_model(const TinySpec& s, const std::string& tag) {
  std::string path = testsupport::scratch_path("moe-tiny-" + tag + ".gguf");
  EXPECT_TRUE(moe::testing::tiny_model(s).write(path).ok());
  return path;
}

std::shared_ptr<const Model> load(const TinySpec& s, const std::string& tag) {
  auto m = Model::load(write_model(s, tag));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? m.value() : nullptr;
}

std::vector<float> prefill_logits(std::shared_ptr<const Model> m, const std::vector<int32_t>& toks, int threads,
                                  RoutingTrace* trace = nullptr) {
  SessionOptions so;
  so.n_threads = threads;
  so.trace_routing = trace != nullptr;
  auto s = Session::create(m, so);
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE((*s)->prefill(toks).ok());
  if (trace) *trace = (*s)->trace();
  auto l = (*s)->logits();
  return std::vector<float>(l.begin(), l.end());
}

const std::vector<int32_t> kPrompt = {1, 5, 9, 13, 2, 7, 11, 3};

}  // namespace

class EveryArch : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryArch, PrefillMatchesStepwiseDecodeAndThreadsAreBitIdentical) {
  TinySpec s;
  s.arch = GetParam();
  auto m = load(s, "arch-" + s.arch);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->info().architecture, s.arch);
  EXPECT_EQ(m->info().n_moe_layers, 2u);
  auto batch = prefill_logits(m, kPrompt, 1);
  for (float v : batch) ASSERT_TRUE(std::isfinite(v));
  // Step by step through the KV cache gives the same last-token logits.
  auto sess = Session::create(m, SessionOptions{0, 1, false});
  ASSERT_TRUE(sess.ok());
  for (int32_t t : kPrompt) ASSERT_TRUE((*sess)->step(t).ok());
  auto step = (*sess)->logits();
  for (size_t i = 0; i < batch.size(); ++i) EXPECT_NEAR(step[i], batch[i], 1e-3f * std::max(1.f, std::fabs(batch[i])));
  // Bit-identical for 1, 2 and 3 threads.
  EXPECT_EQ(prefill_logits(m, kPrompt, 2), batch);
  EXPECT_EQ(prefill_logits(m, kPrompt, 3), batch);
}

// Where the weights live (the mapped file or the private copy in huge pages) changes no bit.
TEST_P(EveryArch, MappedAndCopiedWeightsGiveTheSameLogits) {
  TinySpec s;
  s.arch = GetParam();
  const std::string path = write_model(s, "memory-" + s.arch);
  auto mapped = Model::load(path, {.weights = WeightMemory::kMapped});
  auto copied = Model::load(path, {.weights = WeightMemory::kHugePageCopy});
  auto automatic = Model::load(path);
  ASSERT_TRUE(mapped.ok() && copied.ok() && automatic.ok());
  EXPECT_EQ((*mapped)->info().weights, WeightMemory::kMapped);
  EXPECT_EQ((*copied)->info().weights, WeightMemory::kHugePageCopy);
  // A tiny file is far below half of any machine's available memory.
  EXPECT_EQ((*automatic)->info().weights, WeightMemory::kHugePageCopy);
  EXPECT_STREQ(weight_memory_name((*copied)->info().weights), "huge-page copy");
  RoutingTrace tm, tc;
  EXPECT_EQ(prefill_logits(*mapped, kPrompt, 2, &tm), prefill_logits(*copied, kPrompt, 2, &tc));
  EXPECT_FALSE(tm.empty());
  EXPECT_EQ(tm.serialize(), tc.serialize());
}

TEST_P(EveryArch, RoutingTraceFollowsTheArchitecture) {
  TinySpec s;
  s.arch = GetParam();
  auto m = load(s, "trace-" + s.arch);
  ASSERT_TRUE(m);
  RoutingTrace tr;
  prefill_logits(m, kPrompt, 1, &tr);
  ASSERT_EQ(tr.n_tokens(), kPrompt.size());
  ASSERT_EQ(tr.n_layers(), 2u);
  bool renorm = s.arch == "llama" || s.arch == "qwen3moe" || s.arch == "granitemoe";
  for (uint64_t t = 0; t < tr.n_tokens(); ++t)
    for (uint32_t l = 0; l < tr.n_layers(); ++l) {
      RoutingStep st = tr.at(t, l);
      ASSERT_EQ(st.experts.size(), 2u);
      EXPECT_NE(st.experts[0], st.experts[1]);
      EXPECT_GE(st.weights[0], st.weights[1]);  // rank order
      float sum = st.weights[0] + st.weights[1];
      if (renorm) EXPECT_NEAR(sum, 1.f, 1e-5f);
      else EXPECT_LT(sum, 1.f);  // softmax mass of 2 of 4 experts, not renormalised
      EXPECT_GT(st.entropy, 0.f);
      EXPECT_LE(st.entropy, std::log(4.f) + 1e-5f);
      EXPECT_GE(st.margin, 0.f);
    }
}

INSTANTIATE_TEST_SUITE_P(Archs, EveryArch, ::testing::Values("llama", "qwen2moe", "qwen3moe", "olmoe", "granitemoe"));

class EveryType : public ::testing::TestWithParam<GgmlType> {};

TEST_P(EveryType, QuantisedModelsStayCloseToF32) {
  TinySpec s;
  s.type = GgmlType::F32;
  auto ref = prefill_logits(load(s, "type-f32"), kPrompt, 1);
  s.type = GetParam();
  auto m = load(s, std::string("type-") + ggml_type_name(s.type));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->info().tensor_types.count(ggml_type_name(s.type)), 1u);
  auto got = prefill_logits(m, kPrompt, 2);
  double err = 0, mag = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += double(got[i] - ref[i]) * (got[i] - ref[i]);
    mag += double(ref[i]) * ref[i];
  }
  EXPECT_LT(std::sqrt(err / mag), 0.25) << ggml_type_name(s.type);  // relative RMS of the logits
}

INSTANTIATE_TEST_SUITE_P(Types, EveryType,
                         ::testing::Values(GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K,
                                           GgmlType::Q5_K, GgmlType::Q6_K));

TEST(Runtime, TiesGoToTheLowerExpertIndex) {
  TinySpec s;
  s.zero_router = true;
  RoutingTrace tr;
  prefill_logits(load(s, "ties"), kPrompt, 1, &tr);
  for (uint64_t t = 0; t < tr.n_tokens(); ++t) {
    EXPECT_EQ(tr.at(t, 0).experts[0], 0);
    EXPECT_EQ(tr.at(t, 0).experts[1], 1);
    EXPECT_NEAR(tr.at(t, 0).weights[0], 0.5f, 1e-6f);
    EXPECT_NEAR(tr.at(t, 0).entropy, std::log(4.f), 1e-4f);
    EXPECT_EQ(tr.at(t, 0).margin, 0.f);
  }
}

TEST(Runtime, TiedEmbeddingsAndDenseLlama) {
  TinySpec s;
  s.tied = true;
  auto m = load(s, "tied");
  ASSERT_TRUE(m);
  EXPECT_EQ(prefill_logits(m, kPrompt, 1).size(), 64u);
  TinySpec d;
  d.dense = true;
  auto dm = load(d, "dense");
  ASSERT_TRUE(dm);
  EXPECT_EQ(dm->info().n_moe_layers, 0u);
  RoutingTrace tr;
  prefill_logits(dm, kPrompt, 1, &tr);
  EXPECT_TRUE(tr.empty());
}

TEST(Runtime, BadModelsAreClearErrors) {
  auto expect_error = [](GgufWriter w, const std::string& needle) {
    std::string path = testsupport::scratch_path("moe-bad.gguf");
    ASSERT_TRUE(w.write(path).ok());
    auto m = Model::load(path);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().ToString();
  };
  TinySpec s;
  auto w = moe::testing::tiny_model(s);
  w.set_string("general.architecture", "mamba");
  expect_error(w, "architecture 'mamba' is not supported");
  // Missing tensor: a model whose layer count claims more layers than it has.
  w = moe::testing::tiny_model(s);
  w.set_u32("llama.block_count", 3);
  expect_error(w, "tensor 'blk.2.attn_norm.weight' is missing");
  // Wrong shape: head count that does not match the projections.
  w = moe::testing::tiny_model(s);
  w.set_u32("llama.attention.head_count_kv", 4);
  expect_error(w, "tensor 'blk.0.attn_k.weight' has shape [256, 128], expected [256, 256]");
  // Unsupported type.
  TinySpec tied = s;
  tied.tied = true;
  w = moe::testing::tiny_model(tied);
  w.add_tensor_raw("output.weight", {256, 64}, GgmlType::Q4_1, std::vector<uint8_t>(64 * 160));
  expect_error(w, "tensor 'output.weight' has type Q4_1, which this engine cannot run");
  // Absurd dimensions in metadata.
  w = moe::testing::tiny_model(s);
  w.set_u32("llama.embedding_length", 1u << 30);
  expect_error(w, "is absurd");
  w = moe::testing::tiny_model(s);
  w.set_u32("llama.expert_used_count", 9);
  expect_error(w, "expert_used_count 9 does not fit expert_count 4");
  // Truncated file.
  auto bytes = moe::testing::tiny_model(s).to_bytes();
  std::string path = testsupport::scratch_path("moe-trunc.gguf");
  FILE* f = fopen(path.c_str(), "wb");
  fwrite(bytes.data(), 1, bytes.size() / 2, f);
  fclose(f);
  auto m = Model::load(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("past end of file"), std::string::npos) << m.status().ToString();
}

TEST(Runtime, SessionLimitsAndConcurrentSessions) {
  TinySpec s;
  auto m = load(s, "limits");
  auto sess = Session::create(m, SessionOptions{8, 1, false});
  ASSERT_TRUE(sess.ok());
  EXPECT_EQ((*sess)->prefill(std::vector<int32_t>{1, 2, 999}).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE((*sess)->prefill(kPrompt).ok());
  EXPECT_EQ((*sess)->step(1).code(), Status::Code::kOutOfRange);
  // Several sessions over one model at once give the single-session answer.
  auto ref = prefill_logits(m, kPrompt, 1);
  std::vector<std::vector<float>> out(4);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) ts.emplace_back([&, i] { out[size_t(i)] = prefill_logits(m, kPrompt, 1); });
  for (auto& t : ts) t.join();
  for (const auto& o : out) EXPECT_EQ(o, ref);
}

TEST(Sampler, GreedyTiesAndSeededReproducibility) {
  std::vector<float> logits = {0.1f, 2.f, 2.f, -1.f};
  EXPECT_EQ(Sampler(SamplerParams{}).sample(logits), 1);
  SamplerParams p{1.0f, 0, 1.f, 0.f, 42};
  Sampler a(p), b(p);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(logits));
    sb.push_back(b.sample(logits));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_GT(std::count(sa.begin(), sa.end(), 0), 0);  // not greedy
  // top-k 1 is greedy whatever the temperature; min-p 1 keeps only the best.
  Sampler k1(SamplerParams{2.f, 1, 1.f, 0.f, 3});
  Sampler mp(SamplerParams{2.f, 0, 1.f, 1.f, 3});
  std::vector<float> distinct = {0.1f, 2.f, 1.9f, -1.f};
  int ones = 0;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(k1.sample(logits), 1);          // top-k 1 keeps the lower id of a tie
    EXPECT_EQ(mp.sample(distinct), 1);        // min-p 1 keeps only the most likely token
    ones += mp.sample(logits) == 1;           // a tie keeps both tied tokens
  }
  EXPECT_GT(ones, 0);
  EXPECT_LT(ones, 50);
}

TEST(RoutingTraceFormat, RoundTripAndHostileBytes) {
  RoutingTrace t(2, 8, 2);
  uint16_t e[2] = {3, 7};
  float w[2] = {0.75f, 0.25f};
  for (int tok = 0; tok < 3; ++tok)
    for (uint32_t l = 0; l < 2; ++l) t.append(l, e, w, 1.5f, 0.125f);
  auto bytes = t.serialize();
  EXPECT_EQ(bytes.size(), 28u + 3 * 2 * (2 * 3 + 4));  // 1-byte ids for <= 256 experts
  auto back = RoutingTrace::deserialize(bytes.data(), bytes.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->n_tokens(), 3u);
  EXPECT_EQ(back->at(2, 1).experts[1], 7);
  EXPECT_EQ(back->at(2, 1).weights[0], 0.75f);
  EXPECT_EQ(back->at(0, 0).margin, 0.125f);
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(RoutingTrace::deserialize(bytes.data(), n).ok()) << n;
  auto bad = bytes;
  bad[28] = 9;  // expert id >= n_expert
  EXPECT_FALSE(RoutingTrace::deserialize(bad.data(), bad.size()).ok());
}
