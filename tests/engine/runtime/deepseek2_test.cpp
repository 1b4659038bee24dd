// DeepSeek-V2/V3 (deepseek2): golden logits against the independent numpy reference
// (engine/tools/reference_forward.py) for V2-, V2-Lite- and V3-style tiny models in F32 and Q8_0,
// the two kv_b layouts, prefill against step-by-step decode, the router's rules on hand-made logits,
// the latent cache size, and clear errors for bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden_rows.h"
#include "arch/deepseek2.h"
#include "engine/runtime/tiny_deepseek2.h"
#include "kernels/matmul.h"
#include "moe/model.h"
#include "moe/session.h"
#include "support/scratch.h"

using namespace moe;
using moe::testing::Ds2Spec;

namespace {

const std::vector<int32_t> kPrompt = {1, 5, 9, 13, 2, 7, 11, 3};

std::string scratch_path(const std::string& name) { return testsupport::scratch_path("ds2-" + name + ".gguf"); }

std::shared_ptr<const Model> load_spec(const Ds2Spec& spec, const std::string& name) {
  std::string path = scratch_path(name);
  const char* dump = std::getenv("WOBBLE_DUMP_GOLDEN_MODELS");
  if (dump) {
    std::filesystem::create_directories(dump);
    path = std::string(dump) + "/golden_deepseek2_" + name + ".gguf";
  }
  EXPECT_TRUE(moe::testing::tiny_deepseek2(spec).write(path).ok());
  auto model = Model::load(path);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!dump) std::filesystem::remove(path);
  return model.ok() ? *model : nullptr;
}

std::vector<std::vector<float>> stepwise_logits(const std::shared_ptr<const Model>& model,
                                                const std::vector<int32_t>& ids, int threads = 2) {
  SessionOptions so;
  so.n_threads = threads;
  auto s = Session::create(model, so);
  EXPECT_TRUE(s.ok());
  std::vector<std::vector<float>> out;
  for (int32_t id : ids) {
    EXPECT_TRUE((*s)->step(id).ok());
    auto l = (*s)->logits();
    out.emplace_back(l.begin(), l.end());
  }
  return out;
}


struct GoldenCase {
  std::string name;  // fixture tests/fixtures/engine/golden_deepseek2_<name>.txt
  Ds2Spec spec;
  KernelPath path;
  double tol;        // max |engine - reference| / max(1, max |reference|)
};

Ds2Spec with_type(Ds2Spec s, GgmlType t) {
  s.type = t;
  return s;
}

std::vector<GoldenCase> golden_cases() {
  using moe::testing::ds2_v2_spec, moe::testing::ds2_v2lite_spec, moe::testing::ds2_v3_spec;
  return {
      {"v2", ds2_v2_spec(), KernelPath::kAuto, 1e-4},
      {"v2lite", ds2_v2lite_spec(), KernelPath::kAuto, 1e-4},
      {"v3", ds2_v3_spec(), KernelPath::kAuto, 1e-4},
      // Q8_0: the reference dequantises the stored blocks; the scalar kernel (dequantised row, f32
      // dot) is held to the F32 tolerance. The vector paths also round activations to 8 bits
      // (1-3% of the largest logit on these random models, as much as a semantic slip moves), so
      // they are held to the scalar path by the kernel tests instead.
      {"v2_q8_0", with_type(ds2_v2_spec(), GgmlType::Q8_0), KernelPath::kScalar, 1e-4},
      {"v3_q8_0", with_type(ds2_v3_spec(), GgmlType::Q8_0), KernelPath::kScalar, 1e-4},
  };
}

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

}  // namespace

class Deepseek2Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Deepseek2Golden, MatchesTheNumpyReferenceAtEveryPosition) {
  const GoldenCase& c = GetParam();
  auto model = load_spec(c.spec, c.name);
  ASSERT_TRUE(model);
  auto golden = moe::testing::read_golden_rows(std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/engine/golden_deepseek2_" + c.name + ".txt");
  ASSERT_EQ(golden.size(), kPrompt.size()) << "fixture missing or malformed for " << c.name;
  set_kernel_path(c.path);
  auto logits = stepwise_logits(model, kPrompt);
  set_kernel_path(KernelPath::kAuto);
  for (size_t pos = 0; pos < kPrompt.size(); ++pos) {
    ASSERT_EQ(logits[pos].size(), golden[pos].size());
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < logits[pos].size(); ++i) {
      max_err = std::max(max_err, std::abs(double(logits[pos][i]) - golden[pos][i]));
      max_ref = std::max(max_ref, std::abs(golden[pos][i]));
    }
    EXPECT_LE(max_err, c.tol * std::max(1.0, max_ref)) << c.name << " position " << pos;
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, Deepseek2Golden, ::testing::ValuesIn(golden_cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& i) {
                           return i.param.name + (i.param.path == KernelPath::kScalar ? "_scalar" : "_auto");
                         });

TEST(Deepseek2, SplitKvBLayoutGivesTheSameLogits) {
  // attn_k_b / attn_v_b (llama.cpp's newer converter) hold the same numbers as attn_kv_b.
  auto fused = load_spec(moe::testing::ds2_v3_spec(), "fused");
  auto split_spec = moe::testing::ds2_v3_spec();
  split_spec.split_kv_b = true;
  auto split = load_spec(split_spec, "split");
  ASSERT_TRUE(fused && split);
  auto a = stepwise_logits(fused, kPrompt), b = stepwise_logits(split, kPrompt);
  for (size_t pos = 0; pos < kPrompt.size(); ++pos) EXPECT_EQ(a[pos], b[pos]) << "position " << pos;
}

TEST(Deepseek2, PrefillEqualsStepByStepAndThreadCountsAgree) {
  auto model = load_spec(moe::testing::ds2_v2_spec(), "prefill");
  ASSERT_TRUE(model);
  auto steps = stepwise_logits(model, kPrompt, 1);
  EXPECT_EQ(steps, stepwise_logits(model, kPrompt, 3));
  auto s = Session::create(model, {.n_ctx = 0, .n_threads = 2});
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->prefill(std::vector<int32_t>(kPrompt.begin(), kPrompt.end() - 1)).ok());
  ASSERT_TRUE((*s)->step(kPrompt.back()).ok());
  auto l = (*s)->logits();
  for (size_t i = 0; i < l.size(); ++i) EXPECT_NEAR(l[i], steps.back()[i], 1e-5) << i;
}

TEST(Deepseek2, CacheHoldsTheLatentNotExpandedKV) {
  auto spec = moe::testing::ds2_v2_spec();
  auto model = load_spec(spec, "cache");
  ASSERT_TRUE(model);
  const ModelInfo& i = model->info();
  EXPECT_EQ(i.architecture, "deepseek2");
  EXPECT_EQ(i.mla_kv_lora_rank, spec.kv_lora);
  EXPECT_EQ(i.mla_rope_dim, spec.rope);
  // 3 layers x (64 + 16) floats x 4 bytes; expanded K and V would be 3 x 4 heads x (48 + 32) x 4.
  EXPECT_EQ(i.kv_cache_bytes_per_token, 3u * (64 + 16) * 4);
  EXPECT_EQ(i.n_moe_layers, spec.layers - spec.dense_lead);
  EXPECT_EQ(i.head_dim, spec.nope + spec.rope);
}

TEST(Deepseek2, RouterRulesOnHandMadeScores) {
  Deepseek2Params p;
  // V3: sigmoid scores; the bias moves expert 3 into the choice but its weight stays unbiased.
  p.scoring = Ds2Scoring::kSigmoid;
  std::vector<float> logits = {2.f, 1.f, 0.5f, -1.f, 0.f, -2.f, -3.f, -4.f};
  std::vector<float> bias = {0, 0, 0, 3.f, 0, 0, 0, 0};
  auto r = deepseek2_route(p, logits.data(), bias, 8, 2, false, 1.f);
  ASSERT_EQ(r.experts.size(), 2u);
  EXPECT_EQ(r.experts[0], 3);
  EXPECT_EQ(r.experts[1], 0);
  EXPECT_NEAR(r.weights[0], 1.0 / (1.0 + std::exp(1.0)), 1e-6);  // sigmoid(-1), not sigmoid(-1) + 3
  // Normalised then scaled: the weights sum to the scale.
  r = deepseek2_route(p, logits.data(), bias, 8, 2, true, 2.5f);
  EXPECT_NEAR(r.weights[0] + r.weights[1], 2.5f, 1e-5);
  // Groups of 2 ranked by the sum of their two best selection scores: with the bias, group 1
  // (experts 2, 3) sums 3.89 and is the only one kept, so expert 2 replaces expert 0.
  p.n_group = 4, p.topk_group = 1;
  r = deepseek2_route(p, logits.data(), bias, 8, 2, false, 1.f);
  EXPECT_EQ(r.experts[0], 3);
  EXPECT_EQ(r.experts[1], 2);  // only group 1 may supply experts
  // V2: softmax; groups ranked by their best member. Group 2 = {4, 5} (best 1.5) beats group 1 =
  // {2, 3} (1.2, 1.2), though group 1 has the larger sum of two; so experts 0, 4, 1 are chosen.
  p.scoring = Ds2Scoring::kSoftmax;
  p.n_group = 4, p.topk_group = 2;
  std::vector<float> l2 = {2.f, 1.f, 1.2f, 1.2f, 1.5f, -9.f, -9.f, -9.f};
  r = deepseek2_route(p, l2.data(), {}, 8, 3, false, 1.f);
  EXPECT_EQ(r.experts[0], 0);
  EXPECT_EQ(r.experts[1], 4);
  EXPECT_EQ(r.experts[2], 1);
  double z = 0;
  for (float v : l2) z += std::exp(double(v));
  EXPECT_NEAR(r.weights[0], std::exp(2.0) / z, 1e-6);
}

TEST(Deepseek2, BadFilesAreClearErrors) {
  auto write_and_load = [](moe::GgufWriter w, const std::string& name) {
    std::string path = scratch_path(name);
    EXPECT_TRUE(w.write(path).ok());
    auto m = Model::load(path);
    std::filesystem::remove(path);
    return m.ok() ? std::string("ok") : m.status().ToString();
  };
  auto spec = moe::testing::ds2_v3_spec();
  auto w = moe::testing::tiny_deepseek2(spec);
  w.set_u32("deepseek2.expert_group_used_count", 9);  // more groups than exist
  EXPECT_NE(write_and_load(w, "groups").find("expert groups 4 / used 9"), std::string::npos);
  w = moe::testing::tiny_deepseek2(spec);
  w.set_u32("deepseek2.expert_gating_func", 7);
  EXPECT_NE(write_and_load(w, "gating").find("expert_gating_func' = 7"), std::string::npos);
  w = moe::testing::tiny_deepseek2(spec);
  w.set_string("deepseek2.rope.scaling.type", "longrope");
  EXPECT_NE(write_and_load(w, "rope").find("'longrope'"), std::string::npos);
  spec.q_lora = 0;  // writes attn_q; a file claiming a q LoRA rank then misses attn_q_a
  w = moe::testing::tiny_deepseek2(spec);
  w.set_u32("deepseek2.attention.q_lora_rank", 32);
  EXPECT_NE(write_and_load(w, "qlora").find("blk.0.attn_q_a.weight' is missing"), std::string::npos);
}
