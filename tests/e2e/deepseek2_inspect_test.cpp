// `wobble inspect` on a tiny generated DeepSeek-V3-style model, run as a user would: it names the
// architecture and reports the MLA latent cache per token rather than an expanded K/V size.
#include <gtest/gtest.h>

#include "engine/runtime/tiny_deepseek2.h"
#include "support/process.h"
#include "support/scratch.h"

using namespace wobble::testing;

TEST(Deepseek2Cli, InspectReportsTheLatentCachePerToken) {
  const std::string path = testsupport::scratch_path("tiny-deepseek2-v3.gguf");
  ASSERT_TRUE(moe::testing::tiny_deepseek2(moe::testing::ds2_v3_spec()).write(path).ok());
  auto r = run_process({WOBBLE_EXE, "inspect", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:  deepseek2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers:        3 (2 MoE)"), std::string::npos) << r.out;
  // 3 layers x (kv_lora_rank 64 + rope 16) floats x 4 bytes.
  EXPECT_NE(r.out.find("KV cache:      960 bytes per token (MLA latent: 3 layers x (kv_lora_rank 64 + rope 16) x f32)"),
            std::string::npos)
      << r.out;
}
