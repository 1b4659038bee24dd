// How much memory this process may still take without being killed for it: the smaller of the
// system's MemAvailable (/proc/meminfo) and, inside a memory-limited cgroup (a container with a
// limit, a CI job), the limit minus what the cgroup already uses (page cache included, so the
// figure errs low). Used to decide whether a model's weights are copied into memory (model.h,
// WeightMemory::kAuto). Returns 0 when MemAvailable cannot be read. Internal.
#pragma once

#include <cstdint>
#include <string>

namespace moe {

uint64_t memory_headroom();

// The same from other roots, for tests: `meminfo` is a /proc/meminfo file and `cgroup_root` a
// directory laid out like /sys/fs/cgroup (v2: memory.max, memory.current; v1: memory/
// memory.limit_in_bytes, memory/memory.usage_in_bytes).
uint64_t memory_headroom(const std::string& meminfo, const std::string& cgroup_root);

}  // namespace moe
