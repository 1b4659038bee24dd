// The engine against an independent numpy forward pass (engine/tools/reference_forward.py) on tiny
// F32 models of every architecture: logits at every prompt position, committed as
// tests/fixtures/engine/golden_<arch>.txt. The models are regenerated here from a fixed seed
// (std::mt19937 + libstdc++'s normal_distribution); WOBBLE_DUMP_GOLDEN_MODELS=DIR writes them out so
// the script can read the very same bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden_rows.h"
#include "engine/runtime/tiny_model.h"
#include "moe/model.h"
#include "moe/session.h"

using namespace moe;

namespace {

const std::vector<int32_t> kGoldenPrompt = {1, 5, 9, 13, 2, 7, 11, 3};

moe::testing::TinySpec golden_spec(const std::string& arch) {
  moe::testing::TinySpec s;
  s.arch = arch;
  s.d = 64, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.experts = 4, s.k = 2, s.ff = 32, s.vocab = 64;
  s.seed = 7;
  return s;
}


}  // namespace

class GoldenLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenLogits, MatchTheNumpyReferenceAtEveryPosition) {
  const std::string arch = GetParam();
  auto spec = golden_spec(arch);
  std::string path;
  if (const char* dir = std::getenv("WOBBLE_DUMP_GOLDEN_MODELS")) {
    std::filesystem::create_directories(dir);
    path = std::string(dir) + "/golden_" + arch + ".gguf";
  } else {
    path = (std::filesystem::temp_directory_path() /
            ("moe-golden-" + std::to_string(::getpid()) + "-" + arch + ".gguf")).string();
  }
  ASSERT_TRUE(moe::testing::tiny_model(spec).write(path).ok());
  auto model = Model::load(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  if (!std::getenv("WOBBLE_DUMP_GOLDEN_MODELS")) std::filesystem::remove(path);

  auto golden = moe::testing::read_golden_rows(std::string(WOBBLE_SOURCE_DIR) + "/tests/fixtures/engine/golden_" + arch + ".txt");
  ASSERT_EQ(golden.size(), kGoldenPrompt.size()) << "fixture missing or malformed for " << arch;

  SessionOptions so;
  so.n_threads = 2;
  auto s = Session::create(*model, so);
  ASSERT_TRUE(s.ok());
  // Step by step so every position's logits are compared; prefill == stepwise is tested elsewhere.
  for (size_t pos = 0; pos < kGoldenPrompt.size(); ++pos) {
    ASSERT_TRUE((*s)->step(kGoldenPrompt[pos]).ok());
    auto l = (*s)->logits();
    ASSERT_EQ(l.size(), golden[pos].size());
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < l.size(); ++i) {
      max_err = std::max(max_err, std::abs(double(l[i]) - golden[pos][i]));
      max_ref = std::max(max_ref, std::abs(golden[pos][i]));
    }
    // F32 weights, float accumulation vs float64: 1e-4 relative to the largest logit.
    EXPECT_LE(max_err, 1e-4 * std::max(1.0, max_ref)) << arch << " position " << pos;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, GoldenLogits,
                         ::testing::Values("llama", "qwen2moe", "qwen3moe", "olmoe", "granitemoe"));
