// A per-process scratch directory for the files a test writes (models, databases, suites).
//
// Created on first use under $TMPDIR (or the system temp directory) and removed with everything in
// it when the test process exits, so repeated test runs leave nothing behind. Set
// WOBBLE_KEEP_TEST_FILES=1 to keep it for inspection; its path is printed then. Only the process
// that created it removes it (a forked child that exits does not). Header-only so that engine
// tests can use it without linking the harness's test support. Not thread-safe on first use.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace testsupport {

class ScratchDir {
 public:
  ScratchDir() : owner_(::getpid()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wobble-scratch-XXXXXX").string();
    if (char* made = ::mkdtemp(tmpl.data())) path_ = made;
  }
  ~ScratchDir() {
    if (path_.empty() || ::getpid() != owner_) return;
    const char* keep = std::getenv("WOBBLE_KEEP_TEST_FILES");
    if (keep && *keep && std::string(keep) != "0") {
      std::fprintf(stderr, "test files kept in %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  pid_t owner_;
  std::filesystem::path path_;
};

inline const std::filesystem::path& scratch_dir() {
  static ScratchDir dir;
  return dir.path();
}

// A path for `name` inside the scratch directory (the file is not created).
inline std::string scratch_path(const std::string& name) { return (scratch_dir() / name).string(); }

}  // namespace testsupport
