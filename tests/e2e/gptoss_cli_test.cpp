// A gpt-oss model with MXFP4 experts through the commands for people: `wobble inspect` reports its
// architecture and the bytes each weight type takes (MXFP4 at 4.25 bits per value), and
// `wobble generate --tokens` prints the library's greedy ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "engine/runtime/tiny_gptoss.h"
#include "moe/model.h"
#include "moe/session.h"
#include "support/process.h"

using namespace wobble::testing;

TEST(GptOssCli, InspectReportsMxfp4Sizes) {
  const std::string dir = make_temp_dir("gptoss-cli");
  const std::string path = dir + "/tiny-gpt-oss-mxfp4.gguf";
  moe::testing::TinyGptOssSpec spec;
  spec.expert_type = moe::GgmlType::MXFP4;
  ASSERT_TRUE(moe::testing::tiny_gptoss(spec).write(path).ok());
  auto m = moe::Model::load(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const auto& info = (*m)->info();
  // 2 layers x 3 expert tensors of 64 x 64 x 4 values: 98,304 values in 3,072 blocks of 17 bytes.
  ASSERT_EQ(info.type_params.at("MXFP4"), 98304u);
  ASSERT_EQ(info.type_bytes.at("MXFP4"), 52224u);

  auto r = run_process({WOBBLE_EXE, "inspect", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:  gpt-oss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layers:        2 (2 MoE)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("dense FFN"), std::string::npos) << "every gpt-oss layer is MoE:\n" << r.out;
  EXPECT_NE(r.out.find("MXFP4         52224 bytes (0.05 MiB), 98304 values, 4.25 bits each"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("F32 "), std::string::npos) << r.out;

  auto s = moe::Session::create(*m, moe::SessionOptions{0, 1, false});
  ASSERT_TRUE(s.ok());
  moe::GenerateOptions go;
  go.max_tokens = 6;
  auto want = moe::generate(**s, std::vector<int32_t>{1, 5, 9}, go, nullptr);
  ASSERT_TRUE(want.ok());
  auto g = run_process({WOBBLE_EXE, "generate", "-m", path, "--tokens", "1,5,9", "-n", "6"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  std::ostringstream ids;
  for (size_t i = 0; i < want->tokens.size(); ++i) ids << (i ? " " : "") << want->tokens[i];
  EXPECT_NE(g.out.find(ids.str()), std::string::npos) << g.out << " vs " << ids.str();
}
