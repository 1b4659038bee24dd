#include "util/bounded_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "util/error.h"

namespace wobble {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void too_large(const std::string& path, size_t max_bytes) {
  throw ConfigError(path, 0, "",
                    "file is larger than the " + describe_byte_limit(max_bytes) + " limit (" +
                        std::to_string(max_bytes) + " bytes); refusing to read it");
}

}  // namespace

std::string describe_byte_limit(size_t bytes) {
  if (bytes >= (size_t(1) << 20) && bytes % (size_t(1) << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (size_t(1) << 10) && bytes % (size_t(1) << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

std::string read_file_bounded(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK only so that opening a FIFO does not wait for a writer; it is cleared below.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) throw ConfigError(path, 0, "", std::string("cannot open file: ") + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw ConfigError(path, 0, "", std::string("cannot read file: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw ConfigError(path, 0, "", "cannot read file: it is a directory");
  if (S_ISREG(st.st_mode) && uint64_t(st.st_size) > max_bytes) too_large(path, max_bytes);
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    throw ConfigError(path, 0, "", std::string("cannot read file: ") + std::strerror(errno));

  std::string out;
  if (S_ISREG(st.st_mode)) out.reserve(size_t(st.st_size));
  char buf[64 * 1024];
  for (;;) {
    // Never ask for more than one byte past the limit: that byte alone proves the file too large.
    size_t want = std::min(sizeof buf, max_bytes + 1 - out.size());
    ssize_t n = ::read(fd.get(), buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ConfigError(path, 0, "", std::string("cannot read file: ") + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > max_bytes) too_large(path, max_bytes);
  }
  return out;
}

}  // namespace wobble
