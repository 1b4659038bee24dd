// SHA-256 (FIPS 180-4), for suite content hashes. Incremental; not thread-safe per instance.
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
  void compress(const uint8_t* block);
  uint32_t h_[8];
  uint8_t buf_[64];
  uint64_t total_ = 0;
  size_t buf_len_ = 0;
};

std::string sha256_hex(std::string_view bytes);

}  // namespace wobble
