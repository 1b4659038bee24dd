// A GGUF whose tokenizer.ggml.model is "none" (or "no_vocab") is a token-id-only model: it loads
// without a tokenizer and generates from ids, as other GGUF loaders accept it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "moe/model.h"
#include "moe/session.h"
#include "tiny_model.h"

TEST(NoVocab, NoneTokenizerLoadsAsTokenIdOnlyAndMatchesTheModelWithoutTokenizerKeys) {
  namespace fs = std::filesystem;
  moe::testing::TinySpec spec;
  spec.arch = "qwen3moe";
  std::string base = (fs::temp_directory_path() / ("wobble-novocab-" + std::to_string(::getpid()))).string();
  ASSERT_TRUE(moe::testing::tiny_model(spec).write(base + "-plain.gguf").ok());
  for (const char* kind : {"none", "no_vocab"}) {
    auto w = moe::testing::tiny_model(spec);
    w.set_string("tokenizer.ggml.model", kind);
    ASSERT_TRUE(w.write(base + "-" + kind + ".gguf").ok());
    auto plain = moe::Model::load(base + "-plain.gguf");
    auto declared = moe::Model::load(base + "-" + kind + ".gguf");
    ASSERT_TRUE(declared.ok()) << declared.status().ToString();
    EXPECT_FALSE((*declared)->has_tokenizer());
    auto a = moe::Session::create(*plain, moe::SessionOptions{64, 1, false});
    auto b = moe::Session::create(*declared, moe::SessionOptions{64, 1, false});
    std::vector<int32_t> prompt = {3, 1, 4, 1, 5};
    ASSERT_TRUE((*a)->prefill(prompt).ok());
    ASSERT_TRUE((*b)->prefill(prompt).ok());
    auto la = (*a)->logits(), lb = (*b)->logits();
    EXPECT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end()));
    fs::remove(base + "-" + kind + ".gguf");
  }
  // Any other unknown tokenizer kind is still an error naming the key.
  auto w = moe::testing::tiny_model(spec);
  w.set_string("tokenizer.ggml.model", "wordpiece-9000");
  ASSERT_TRUE(w.write(base + "-bad.gguf").ok());
  auto bad = moe::Model::load(base + "-bad.gguf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("tokenizer.ggml.model"), std::string::npos);
  fs::remove(base + "-bad.gguf");
  fs::remove(base + "-plain.gguf");
}
