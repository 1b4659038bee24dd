// Finding a GGUF tensor for a loader: present, of a type this engine runs, of exactly the expected
// shape; every failure names the tensor. The common loader and the deepseek2 loader both use it, so
// their checks and messages stay the same. (The gpt-oss loader checks more: byte sizes and finite
// values.) Thread safety: pure functions over an immutable GgufFile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "moe/status.h"

namespace moe {

// "[a, b, c]"
std::string tensor_shape_str(const std::vector<uint64_t>& dims);

// The tensor `name` with exactly `dims` (n_in, n_out[, n_expert], as GGUF stores them): the view of
// its first 2-D slice; *slice_bytes, when asked, is the byte stride between slices.
Result<WeightView> lookup_weight(const GgufFile& f, const std::string& name, const std::vector<uint64_t>& dims,
                                 uint64_t* slice_bytes = nullptr);

// A 1-D tensor of n values (norm weights, biases) dequantised to f32; empty when optional and absent.
Result<std::vector<float>> lookup_vector(const GgufFile& f, const std::string& name, uint64_t n,
                                         bool optional = false);

}  // namespace moe
