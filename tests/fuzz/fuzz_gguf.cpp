// libFuzzer target: any byte string through the GGUF reader, then every accessor and, when the
// file parses, the tokenizer and a vocab-only model load. Built with -DWOBBLE_BUILD_FUZZ=ON (clang).
#include <cstddef>
#include <cstdint>

#include "gguf/gguf_file.h"
#include "moe/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  moe::GgufLimits lim;
  lim.max_array = 1 << 16;
  lim.max_string = 1 << 16;
  auto f = moe::GgufFile::from_memory(data, size, lim);
  if (!f.ok()) return 0;
  const moe::GgufFile& g = **f;
  volatile uint64_t sink = 0;
  for (const auto& [k, v] : g.metadata()) {
    sink = sink + k.size();
    (void)g.get_uint(k);
    (void)g.get_float(k);
    (void)g.get_string(k);
    (void)g.get_array(k);
  }
  for (const auto& t : g.tensors()) {
    sink = sink + t.n_elements() + t.nbytes;
    if (t.nbytes > 0) sink = sink + t.data[0] + t.data[t.nbytes - 1];  // must be inside the buffer
  }
  auto tok = moe::Tokenizer::from_gguf(g);
  if (tok.ok()) {
    auto ids = (*tok)->encode("Hello, world! 123 日本", moe::EncodeOptions{true, true});
    if (ids.ok()) sink = sink + (*tok)->decode(*ids).size();
  }
  return 0;
}
