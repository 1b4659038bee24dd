// SHA-256 (FIPS 180-4), for suite content hashes and model file identities. Incremental; not
// thread-safe per instance. Whole blocks use the CPU's SHA extensions when it has them (a model
// file is hashed on every run: 7 MB in about 5 ms instead of 25), else portable code; both give the
// same digest (tested).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace wobble {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  std::array<uint8_t, 32> digest();  // finalises; the object must not be updated afterwards
  std::string hex_digest();

 private:
  void compress_blocks(const uint8_t* blocks, size_t n);  // n whole 64-byte blocks
  void compress(const uint8_t* block);                    // the portable path
  uint32_t h_[8];
  uint8_t buf_[64];
  uint64_t total_ = 0;
  size_t buf_len_ = 0;
};

std::string sha256_hex(std::string_view bytes);

// For tests: force the portable path (false) or allow the SHA extensions again (true).
void sha256_allow_cpu_extensions(bool allow);
bool sha256_cpu_extensions_active();

}  // namespace wobble
