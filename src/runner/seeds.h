// Per-repeat seeds: a pure function of (suite seed, case id, variant id, repeat index), so a rerun
// reproduces every sample and repeats differ from each other.
//   seed = splitmix64(suite_seed ^ fnv1a64(case_id) ^ rotl(fnv1a64(variant_id), 21) ^ (repeat * golden))
#pragma once

#include <cstdint>
#include <string_view>

namespace wobble {

uint64_t fnv1a64(std::string_view s);
uint64_t splitmix64(uint64_t x);
uint64_t derive_seed(uint64_t suite_seed, std::string_view case_id, std::string_view variant_id, int repeat);
// Shard membership of a triple: fnv1a64("case\0variant\0repeat") % n == i.
bool in_shard(std::string_view case_id, std::string_view variant_id, int repeat, int shard_index, int shard_count);

}  // namespace wobble
