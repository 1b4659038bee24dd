// SHA-256: the published test vectors, and the SHA-extension path equal to the portable one for
// every length and every way of feeding the bytes.
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>

#include "util/sha256.h"

using namespace wobble;

namespace {

std::string hex_of(const std::string& data, size_t piece) {
  Sha256 h;
  for (size_t at = 0; at < data.size(); at += piece) h.update(std::string_view(data).substr(at, piece));
  return h.hex_digest();
}

struct PortableOnly {
  PortableOnly() { sha256_allow_cpu_extensions(false); }
  ~PortableOnly() { sha256_allow_cpu_extensions(true); }
};

}  // namespace

TEST(Sha256, PublishedVectors) {
  for (bool portable : {false, true}) {
    std::optional<PortableOnly> force;
    if (portable) force.emplace();
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(hex_of(std::string(1000000, 'a'), 4096),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST(Sha256, CpuExtensionsGiveThePortableDigest) {
  if (!sha256_cpu_extensions_active()) GTEST_SKIP() << "this CPU has no SHA extensions; only the portable path runs";
  std::mt19937 rng(7);
  for (size_t len : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 127u, 128u, 1000u, 4096u, 100003u}) {
    std::string data(len, '\0');
    for (auto& c : data) c = char(rng());
    for (size_t piece : {size_t(1), size_t(7), size_t(64), size_t(1000), len + 1}) {
      if (piece == 0) continue;
      std::string fast = hex_of(data, piece);
      PortableOnly force;
      EXPECT_EQ(fast, hex_of(data, piece)) << "length " << len << ", pieces of " << piece;
    }
  }
}
