// memory_headroom: MemAvailable, capped by a memory-limited cgroup (v2 or v1), on fake files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/scratch.h"
#include "util/memory_headroom.h"

namespace {

std::string fresh_dir(const std::string& name) {
  const std::string d = testsupport::scratch_path(name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d + "/memory");
  return d;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

constexpr uint64_t kGiB = uint64_t(1) << 30;

}  // namespace

TEST(MemoryHeadroom, MemAvailableCappedByTheCgroupLimit) {
  const std::string d = fresh_dir("headroom");
  const std::string meminfo = d + "/meminfo";
  write(meminfo, "MemTotal:       25000000 kB\nMemFree:         9000000 kB\nMemAvailable:   20971520 kB\n");
  // No cgroup files: MemAvailable (20 GiB).
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 20 * kGiB);
  // v1 without a limit (a number near 2^63) changes nothing; with a 4 GiB limit and 1 GiB used, 3 GiB.
  write(d + "/memory/memory.limit_in_bytes", "9223372036854771712\n");
  write(d + "/memory/memory.usage_in_bytes", "1073741824\n");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 20 * kGiB);
  write(d + "/memory/memory.limit_in_bytes", "4294967296\n");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 3 * kGiB);
  // v2 is read first: "max" is no limit (then v1 still applies), a number is one.
  write(d + "/memory.max", "max\n");
  write(d + "/memory.current", "2147483648\n");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 3 * kGiB);
  write(d + "/memory.max", "6442450944\n");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 4 * kGiB);
  // Over the limit: nothing left.
  write(d + "/memory.current", "7516192768\n");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 0u);
  // Garbage is no limit; an unreadable meminfo is no room at all.
  write(d + "/memory.max", "lots\n");
  std::filesystem::remove(d + "/memory/memory.limit_in_bytes");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 20 * kGiB);
  EXPECT_EQ(moe::memory_headroom(d + "/no-meminfo", d), 0u);
  write(meminfo, "MemTotal: 1 kB\n");
  EXPECT_EQ(moe::memory_headroom(meminfo, d), 0u);
}
