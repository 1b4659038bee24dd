// Batch invariance of generate_repeats (moe/repeats.h): N repeats prefilled once and decoded as
// one batch must give every repeat the same bytes as running it alone on a fresh session: sampled
// ids, finish reason, the logits each token was sampled from, and the serialized routing trace.
// Every architecture the tiny-model generator covers (and dense llama) x every weight type; N = 1,
// 2, 3, 8 with sequences ending at different steps (max_tokens and the context limit), and other
// thread counts and batch sizes (on F32, Q8_0 and Q4_K). Then the batch-variant mode, which must change something.
#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

#include "engine/runtime/tiny_deepseek2.h"
#include "engine/runtime/tiny_gptoss.h"
#include "engine/runtime/tiny_model.h"
#include "moe/model.h"
#include "moe/repeats.h"
#include "moe/session.h"
#include "runtime/session_impl.h"
#include "support/scratch.h"

using namespace moe;
using moe::testing::TinySpec;

namespace {

const std::vector<int32_t> kPrompt = {1, 5, 9, 13, 2, 7, 11, 3};
constexpr uint32_t kCtx = 40;  // small, so the longest repeat ends on the context limit

struct RunOut {
  std::vector<int32_t> tokens;
  std::string finish;
  std::vector<std::vector<float>> logits;  // per generated token
  std::vector<uint8_t> trace;
};

// Repeat i: its own seed and its own length (repeat 7 runs into the context limit). The options of
// repeat i do not depend on N, so the first n repeats of one run-alone set serve every N.
GenerateOptions repeat_options(int i, std::vector<RunOut>& runs, float temperature) {
  GenerateOptions o;
  o.max_tokens = i == 7 ? 1000 : 3 + 4 * i;
  o.sampling.temperature = temperature;
  o.sampling.top_k = 20;
  o.sampling.seed = 1000 + uint64_t(i);
  o.on_token = [&runs, i](int32_t, std::span<const float> l) { runs[size_t(i)].logits.emplace_back(l.begin(), l.end()); };
  return o;
}

std::vector<RunOut> one_by_one(std::shared_ptr<const Model> m, int n, int threads, float temperature) {
  std::vector<RunOut> runs(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto s = Session::create(m, {.n_ctx = kCtx, .n_threads = threads, .trace_routing = true});
    EXPECT_TRUE(s.ok());
    auto o = repeat_options(i, runs, temperature);
    auto r = generate(**s, kPrompt, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) continue;
    runs[size_t(i)].tokens = r->tokens;
    runs[size_t(i)].finish = r->finish_reason;
    runs[size_t(i)].trace = (*s)->trace().serialize();
  }
  return runs;
}

std::vector<RunOut> batched(std::shared_ptr<const Model> m, int n, int threads, uint32_t max_batch, float temperature,
                         bool variant = false, bool merge = true, uint64_t* rows_computed = nullptr) {
  std::vector<RunOut> runs(static_cast<size_t>(n));
  std::vector<GenerateOptions> opts;
  for (int i = 0; i < n; ++i) opts.push_back(repeat_options(i, runs, temperature));
  auto s = Session::create(m, {.n_ctx = kCtx, .n_threads = threads, .trace_routing = true});
  EXPECT_TRUE(s.ok());
  auto r = generate_repeats(**s, kPrompt, opts, {.max_batch = max_batch, .batch_variant = variant, .merge_identical = merge});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return runs;
  if (rows_computed) *rows_computed = SessionAccess::of(**s).ws.rows_computed;
  for (int i = 0; i < n; ++i) {
    runs[size_t(i)].tokens = (*r)[size_t(i)].result.tokens;
    runs[size_t(i)].finish = (*r)[size_t(i)].result.finish_reason;
    runs[size_t(i)].trace = (*r)[size_t(i)].trace.serialize();
  }
  return runs;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void expect_identical(const std::vector<RunOut>& want, const std::vector<RunOut>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(what + ", repeat " + std::to_string(i));
    EXPECT_EQ(want[i].tokens, got[i].tokens);
    EXPECT_EQ(want[i].finish, got[i].finish);
    ASSERT_EQ(want[i].logits.size(), got[i].logits.size());
    for (size_t t = 0; t < want[i].logits.size(); ++t) EXPECT_TRUE(same_bytes(want[i].logits[t], got[i].logits[t])) << "token " << t;
    EXPECT_EQ(want[i].trace, got[i].trace);
  }
}

std::shared_ptr<const Model> load(const TinySpec& s, const std::string& tag) {
  std::string path = testsupport::scratch_path("moe-repeats-" + tag + ".gguf");
  EXPECT_TRUE(moe::testing::tiny_model(s).write(path).ok());
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? m.value() : nullptr;
}

}  // namespace

class RepeatsInvariance : public ::testing::TestWithParam<std::tuple<std::string, GgmlType>> {};

namespace {

// The whole comparison for one model; `all_configs` adds other thread counts and max_batch 3.
void check_batched_equals_one_by_one(std::shared_ptr<const Model> m, bool all_configs) {
  const auto alone = one_by_one(m, 8, 1, 0.9f);
  // The repeats really differ and really stop at different steps (else the test proves little).
  EXPECT_NE(std::vector<int32_t>(alone[1].tokens.begin(), alone[1].tokens.begin() + 7),
            std::vector<int32_t>(alone[2].tokens.begin(), alone[2].tokens.begin() + 7));
  EXPECT_EQ(alone[0].tokens.size(), 3u);
  EXPECT_EQ(alone[7].finish, "context");
  for (int n : {1, 2, 3, 8}) {
    std::vector<RunOut> want(alone.begin(), alone.begin() + n);
    expect_identical(want, batched(m, n, 1, 8, 0.9f), "N=" + std::to_string(n));
  }
  // Greedy: every repeat samples the same tokens, so all of them share one row per step (merged)
  // until their lengths part (3, 7, ... tokens, the last one up to the context limit).
  const auto greedy = one_by_one(m, 8, 1, 0.f);
  expect_identical(greedy, batched(m, 8, 1, 8, 0.f), "N=8 greedy, merged");
  // Other thread counts and a batch smaller than N (repeats join as others finish).
  if (!all_configs) return;
  expect_identical(alone, batched(m, 8, 2, 3, 0.9f), "N=8, 2 threads, max_batch 3");
  expect_identical(alone, batched(m, 8, 3, 8, 0.9f), "N=8, 3 threads");
  expect_identical(greedy, batched(m, 8, 2, 3, 0.f), "N=8 greedy, merged, 2 threads, max_batch 3");
}

}  // namespace

TEST_P(RepeatsInvariance, BatchedEqualsOneByOneBitForBit) {
  TinySpec s;
  const std::string arch = std::get<0>(GetParam());
  s.arch = arch == "llama-dense" ? "llama" : arch;
  s.dense = arch == "llama-dense";
  s.type = std::get<1>(GetParam());
  auto m = load(s, arch + "-" + ggml_type_name(s.type));
  ASSERT_TRUE(m);
  // All configurations on three types (float, int8 and k-quant kernels) to keep the suite's time down.
  check_batched_equals_one_by_one(m, s.type == GgmlType::F32 || s.type == GgmlType::Q8_0 || s.type == GgmlType::Q4_K);
}

INSTANTIATE_TEST_SUITE_P(
    ArchsTypes, RepeatsInvariance,
    ::testing::Combine(::testing::Values("llama", "qwen2moe", "qwen3moe", "olmoe", "granitemoe", "llama-dense"),
                       ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                                         GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K)),
    [](const auto& info) {
      std::string a = std::get<0>(info.param);
      for (auto& c : a) c = c == '-' ? '_' : c;
      return a + "_" + ggml_type_name(std::get<1>(info.param));
    });

// deepseek2 (MLA latent cache) and gpt-oss (sinks, sliding window of 3 positions, so the window
// slides over the prompt and every tail) run their own layer functions inside the batched step,
// each repeat over its own copy of the prompt's cache. Same comparison, every configuration.
class RepeatsInvarianceDeepseek2 : public ::testing::TestWithParam<std::tuple<std::string, GgmlType>> {};

TEST_P(RepeatsInvarianceDeepseek2, BatchedEqualsOneByOneBitForBit) {
  const std::string variant = std::get<0>(GetParam());
  moe::testing::Ds2Spec spec = variant == "v2"       ? moe::testing::ds2_v2_spec()
                               : variant == "v2lite" ? moe::testing::ds2_v2lite_spec()
                                                     : moe::testing::ds2_v3_spec();
  spec.type = std::get<1>(GetParam());
  const std::string path =
      testsupport::scratch_path("moe-repeats-deepseek2-" + variant + "-" + ggml_type_name(spec.type) + ".gguf");
  ASSERT_TRUE(moe::testing::tiny_deepseek2(spec).write(path).ok());
  auto m = Model::load(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  check_batched_equals_one_by_one(m.value(), true);
}

INSTANTIATE_TEST_SUITE_P(
    VariantsTypes, RepeatsInvarianceDeepseek2,
    ::testing::Combine(::testing::Values("v2", "v2lite", "v3"),
                       ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0)),
    [](const auto& info) { return std::get<0>(info.param) + "_" + ggml_type_name(std::get<1>(info.param)); });

class RepeatsInvarianceGptOss : public ::testing::TestWithParam<GgmlType> {};

TEST_P(RepeatsInvarianceGptOss, BatchedEqualsOneByOneBitForBit) {
  moe::testing::TinyGptOssSpec spec;
  spec.expert_type = GetParam();
  const std::string path = testsupport::scratch_path(std::string("moe-repeats-gptoss-") + ggml_type_name(spec.expert_type) + ".gguf");
  ASSERT_TRUE(moe::testing::tiny_gptoss(spec).write(path).ok());
  auto m = Model::load(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  check_batched_equals_one_by_one(m.value(), true);
}

INSTANTIATE_TEST_SUITE_P(ExpertTypes, RepeatsInvarianceGptOss, ::testing::Values(GgmlType::F32, GgmlType::MXFP4),
                         [](const auto& info) { return std::string(ggml_type_name(info.param)); });

TEST(RepeatsVariant, BatchVariantModeChangesBatchedOutputsButNotASingleRepeat) {
  TinySpec s;
  s.arch = "qwen3moe";
  auto m = load(s, "variant");
  ASSERT_TRUE(m);
  // Greedy: all 8 repeats see the same tokens, so all 8 rows go to the same two experts of 4, and
  // a capacity of ceil(1.25 * 8 * 2 / 4) = 5 rows per expert drops 3 rows of each.
  auto invariant = batched(m, 8, 1, 8, 0.f, false);
  auto variant = batched(m, 8, 1, 8, 0.f, true);
  int differing = 0;
  for (size_t i = 0; i < 8; ++i)
    for (size_t t = 1; t < std::min(invariant[i].logits.size(), variant[i].logits.size()); ++t)
      differing += !same_bytes(invariant[i].logits[t], variant[i].logits[t]);
  EXPECT_GT(differing, 0) << "batch-variant mode changed no logits";
  // The first token comes from the shared prefill, which the mode leaves alone.
  for (size_t i = 0; i < 8; ++i) EXPECT_TRUE(same_bytes(invariant[i].logits[0], variant[i].logits[0]));
  // One repeat alone is not a batch: the mode changes nothing.
  expect_identical(batched(m, 1, 1, 8, 0.f, false), batched(m, 1, 1, 8, 0.f, true), "N=1 variant");
}

// Repeats whose tokens agree share a row: greedy repeats cost about one, repeats that agree for a
// while and then part are merged exactly while they agree, and the bytes equal running each alone.
TEST(RepeatsMerge, AgreeingRepeatsShareRowsUntilTheyPart) {
  TinySpec s;
  s.arch = "qwen3moe";
  auto m = load(s, "merge");
  ASSERT_TRUE(m);
  uint64_t merged_rows = 0, separate_rows = 0, one_rows = 0;
  const auto greedy = one_by_one(m, 8, 1, 0.f);
  expect_identical(greedy, batched(m, 8, 1, 8, 0.f, false, true, &merged_rows), "greedy, merged");
  expect_identical(greedy, batched(m, 8, 1, 8, 0.f, false, false, &separate_rows), "greedy, not merged");
  // Merged greedy repeats cost exactly what the longest one costs alone (prompt rows included).
  batched(m, 1, 1, 8, 0.f, false, true, &one_rows);
  const uint64_t longest = greedy[7].tokens.size(), first = greedy[0].tokens.size();
  EXPECT_EQ(merged_rows, kPrompt.size() + longest - 1);
  EXPECT_GT(separate_rows, merged_rows + 7 * (first - 1) - 1);
  EXPECT_LT(one_rows, merged_rows);  // repeat 0 alone stops after 3 tokens
  // Partly agreeing repeats: the lowest of a few temperatures at which some pair of repeats shares
  // its first two tokens or more and then parts, so that the test exercises the split.
  auto shared_then_parted = [](const std::vector<RunOut>& runs) {
    for (size_t a = 0; a < runs.size(); ++a)
      for (size_t b = a + 1; b < runs.size(); ++b) {
        const auto& x = runs[a].tokens;
        const auto& y = runs[b].tokens;
        const size_t n = std::min(x.size(), y.size());
        size_t common = 0;
        while (common < n && x[common] == y[common]) ++common;
        if (common >= 2 && common < n) return true;
      }
    return false;
  };
  float temperature = 0;
  std::vector<RunOut> alone;
  for (float t : {0.1f, 0.2f, 0.35f, 0.5f, 0.7f, 1.0f, 1.5f, 2.5f}) {
    alone = one_by_one(m, 8, 1, t);
    if (shared_then_parted(alone)) {
      temperature = t;
      break;
    }
  }
  ASSERT_GT(temperature, 0.f) << "no temperature made two repeats agree for two tokens and then part";
  uint64_t partial_merged = 0, partial_separate = 0;
  expect_identical(alone, batched(m, 8, 1, 8, temperature, false, true, &partial_merged), "partly agreeing, merged");
  expect_identical(alone, batched(m, 8, 2, 3, temperature), "partly agreeing, merged, max_batch 3");
  batched(m, 8, 1, 8, temperature, false, false, &partial_separate);
  EXPECT_LT(partial_merged, partial_separate);
}

TEST(RepeatsApi, BadArgumentsAreStatusErrors) {
  TinySpec s;
  auto m = load(s, "api");
  ASSERT_TRUE(m);
  auto sess = Session::create(m, {.n_ctx = kCtx, .n_threads = 1});
  ASSERT_TRUE(sess.ok());
  std::vector<GenerateOptions> one(1);
  EXPECT_EQ(generate_repeats(**sess, {}, one).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(generate_repeats(**sess, kPrompt, {}).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(generate_repeats(**sess, kPrompt, one, {.max_batch = 0}).status().code(), Status::Code::kInvalidArgument);
  std::vector<int32_t> bad = {1, 999};
  EXPECT_EQ(generate_repeats(**sess, bad, one).status().code(), Status::Code::kInvalidArgument);
  std::atomic<bool> stop{true};
  one[0].cancel = &stop;
  EXPECT_EQ(generate_repeats(**sess, kPrompt, one).status().code(), Status::Code::kCancelled);
}
