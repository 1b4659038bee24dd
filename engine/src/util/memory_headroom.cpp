// See memory_headroom.h.
#include "util/memory_headroom.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace moe {
namespace {

// The first line of a small file, or false.
bool first_line(const std::string& path, std::string* out) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  char line[128];
  const bool ok = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!ok) return false;
  *out = line;
  while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
  return true;
}

// A decimal byte count, or false ("max", a v2 cgroup without a limit, is not a number).
bool read_bytes(const std::string& path, uint64_t* v) {
  std::string s;
  if (!first_line(path, &s) || s.empty() || s.size() > 20) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (x > (UINT64_MAX - uint64_t(c - '0')) / 10) return false;
    x = x * 10 + uint64_t(c - '0');
  }
  *v = x;
  return true;
}

uint64_t mem_available(const std::string& meminfo) {
  std::FILE* f = std::fopen(meminfo.c_str(), "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kb = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f)) found = std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
  std::fclose(f);
  if (!found || kb > UINT64_MAX / 1024) return 0;
  return uint64_t(kb) * 1024;
}

// Limit minus usage of the cgroup, UINT64_MAX when there is no limit (or none can be read). A v1
// "unlimited" is a number near 2^63.
uint64_t cgroup_room(const std::string& root) {
  uint64_t limit = 0, used = 0;
  if (read_bytes(root + "/memory.max", &limit) && read_bytes(root + "/memory.current", &used))
    return limit > used ? limit - used : 0;
  if (read_bytes(root + "/memory/memory.limit_in_bytes", &limit) && limit < (uint64_t(1) << 60) &&
      read_bytes(root + "/memory/memory.usage_in_bytes", &used))
    return limit > used ? limit - used : 0;
  return UINT64_MAX;
}

}  // namespace

uint64_t memory_headroom(const std::string& meminfo, const std::string& cgroup_root) {
  return std::min(mem_available(meminfo), cgroup_room(cgroup_root));
}

uint64_t memory_headroom() { return memory_headroom("/proc/meminfo", "/sys/fs/cgroup"); }

}  // namespace moe
