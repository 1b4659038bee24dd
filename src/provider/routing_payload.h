// Expert-routing payloads as remote engines send them, in both directions.
//
// vLLM sends a choice's routed experts as base64 of a NumPy .npy file holding an int32 array
// (tokens, layers, top_k); SGLang sends base64 of the raw little-endian int32 bytes with the same
// logical shape and no header, so the reader must be told layers and top_k. Both arrive inside a
// server's JSON body and are hostile input: every decoder checks lengths before allocating,
// refuses anything it does not understand, and reports why in `error` instead of throwing.
// `wobble serve` uses the encoders to answer in the same formats.
//
// Thread safety: free functions over values; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wobble {

// Expert ids in row-major (tokens, layers, top_k) order.
struct RoutingIds {
  uint64_t tokens = 0;
  uint32_t layers = 0, top_k = 0;
  std::vector<int32_t> ids;  // (tokens, layers, top_k)
};

// Largest base64 routing field the provider accepts: 24 MiB of ids once decoded, about 6.3 M
// expert choices (a 4k-token sample of a 58-layer top-8 model is 1.9 M). A larger field leaves
// the sample without a trace, refused before decoding.
inline constexpr size_t kMaxRoutingBase64Bytes = size_t(32) << 20;

// ---- base64 (RFC 4648 standard alphabet, '=' padding required, no whitespace)
std::string base64_encode(std::span<const uint8_t> bytes);
// Strict: the length must be a multiple of 4, only the standard alphabet, padding only at the
// end, and the unused low bits of the last group zero (so each byte string has one encoding).
// Inputs longer than max_encoded are refused before anything is allocated.
bool base64_decode(std::string_view text, size_t max_encoded, std::vector<uint8_t>& out, std::string& error);

// ---- .npy (NumPy format 1.0 / 2.0 / 3.0) holding integer ids, C order
// vLLM documents its routed_experts array as uint8, uint16 or int32 depending on the version and
// expert count, so the reader takes '<i4', '<u2' and '|u1' and widens to int32; the writer
// always writes '<i4'.
// Writes format 1.0 (2.0 when the header does not fit a u16 length), header padded so the data
// starts at a multiple of 64 bytes, as numpy.save does.
std::vector<uint8_t> npy_encode_i32(std::span<const int32_t> data, std::span<const uint64_t> shape);
struct NpyI32 {
  std::vector<uint64_t> shape;
  std::vector<int32_t> data;
};
// Parses the header dict strictly: exactly the keys 'descr' (one of the three above),
// 'fortran_order' (False) and 'shape' (a tuple of non-negative ints), each once; the element
// count (overflow-checked) times the element width must equal the bytes after the header exactly.
bool npy_decode_i32(std::span<const uint8_t> file, NpyI32& out, std::string& error);

// ---- SGLang: raw little-endian int32, shape given by the caller
std::vector<uint8_t> raw_i32_encode(std::span<const int32_t> data);
// The byte count must be a whole number of (layers * top_k) int32 records.
bool raw_i32_decode(std::span<const uint8_t> bytes, uint32_t layers, uint32_t top_k, RoutingIds& out,
                    std::string& error);

// ---- whole payloads (base64 text -> ids), as the provider calls them
// vLLM: .npy must be 3-D; when expect_layers / expect_top_k are non-zero they must match.
bool decode_vllm_routing(std::string_view base64_text, uint32_t expect_layers, uint32_t expect_top_k,
                         RoutingIds& out, std::string& error);
bool decode_sglang_routing(std::string_view base64_text, uint32_t layers, uint32_t top_k, RoutingIds& out,
                           std::string& error);
std::string encode_vllm_routing(const RoutingIds& ids);
std::string encode_sglang_routing(const RoutingIds& ids);

// Every id in [0, n_experts) (any n_experts > 0), and never negative; names the first bad one.
bool check_expert_ids(const RoutingIds& ids, uint32_t n_experts, std::string& error);

}  // namespace wobble
