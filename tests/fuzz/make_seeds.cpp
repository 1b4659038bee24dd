// Writes a few valid GGUF files (a vocabulary, a tiny model) as a starting corpus for fuzz_gguf.
#include <cstdio>
#include <string>

#include "gguf/gguf_writer.h"

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : ".";
  moe::GgufWriter vocab;
  vocab.set_string("tokenizer.ggml.model", "gpt2");
  vocab.set_string("tokenizer.ggml.pre", "gpt2");
  vocab.set_array_string("tokenizer.ggml.tokens", {"H", "e", "l", "o", "He", "ll", "<|im_end|>"});
  vocab.set_array_i32("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 3});
  vocab.set_array_string("tokenizer.ggml.merges", {"H e", "l l"});
  vocab.set_u32("tokenizer.ggml.eos_token_id", 6);
  if (!vocab.write(dir + "/seed-vocab.gguf").ok()) return 1;
  moe::GgufWriter model;
  model.set_string("general.architecture", "llama");
  model.set_u32("llama.block_count", 1);
  model.set_f32("llama.rope.freq_base", 10000.f);
  std::vector<float> data(64, 0.5f);
  (void)model.add_tensor_f32("token_embd.weight", {32, 2}, moe::GgmlType::Q8_0, data);
  (void)model.add_tensor_f32("output_norm.weight", {32}, moe::GgmlType::F16, std::vector<float>(32, 1.f));
  if (!model.write(dir + "/seed-model.gguf").ok()) return 1;
  std::puts("seeds written");
  return 0;
}
