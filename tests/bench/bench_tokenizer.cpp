// Tokenizer encode throughput (MB/s) on 1 MB of mixed text (English prose, code, numbers, CJK,
// emoji), for an SPM and a BPE vocabulary from ../shared/fixtures/vocab.
//   bench_tokenizer [VOCAB_DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "moe/tokenizer.h"

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : std::string(WOBBLE_SOURCE_DIR) + "/../shared/fixtures/vocab";
  if (!std::filesystem::exists(dir)) {
    std::printf("skipped: reference vocabularies not found in %s\n", dir.c_str());
    return 0;
  }
  const char* pieces[] = {
      "The quick brown fox jumps over the lazy dog while the river runs quietly to the sea. ",
      "def add(a, b):\n    return a + b  # 42\n",
      "Prices rose 3.75% to 1,234.50 in 2024; ",
      "日本語のテキストと中文文本。",
      "emoji 😀👍🏽 and accents: café, naïve, Ελληνικά, русский. ",
      "    indented\tline\n\n",
  };
  std::string text;
  for (size_t i = 0; text.size() < (1u << 20); ++i) text += pieces[i % (sizeof pieces / sizeof *pieces)];
  std::printf("%-16s %-8s %-10s %-10s\n", "vocab", "kind", "MB/s", "tokens");
  // "qwen2/raw" is Qwen without its NFC normalizer: the difference to "qwen2" is what NFC costs.
  for (std::string name : {"llama-spm", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon", "llama3", "qwen2",
                           "qwen2/raw", "deepseek-v3", "gpt-oss"}) {
    moe::EncodeOptions opts{false, false};
    if (name.ends_with("/raw")) opts.normalization = moe::Normalization::kNone;
    auto tok = moe::Tokenizer::load(dir + "/ggml-vocab-" + name.substr(0, name.find('/')) + ".gguf");
    if (!tok.ok()) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), tok.status().ToString().c_str());
      continue;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto ids = (*tok)->encode(text, opts);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-16s %-8s %-10.2f %-10zu\n", name.c_str(), (*tok)->model_kind().c_str(), double(text.size()) / 1e6 / secs,
                ids.ok() ? ids->size() : 0);
  }
  return 0;
}
