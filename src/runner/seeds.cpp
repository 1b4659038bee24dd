#include "runner/seeds.h"

#include <string>

namespace wobble {

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t derive_seed(uint64_t suite_seed, std::string_view case_id, std::string_view variant_id, int repeat) {
  uint64_t v = fnv1a64(variant_id);
  v = (v << 21) | (v >> 43);
  return splitmix64(suite_seed ^ fnv1a64(case_id) ^ v ^ (uint64_t(repeat) * 0x9E3779B97F4A7C15ull));
}

bool in_shard(std::string_view case_id, std::string_view variant_id, int repeat, int shard_index, int shard_count) {
  if (shard_count <= 1) return true;
  std::string key(case_id);
  key.push_back('\0');
  key += variant_id;
  key.push_back('\0');
  key += std::to_string(repeat);
  return fnv1a64(key) % uint64_t(shard_count) == uint64_t(shard_index);
}

}  // namespace wobble
