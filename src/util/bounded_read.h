// read_file_bounded(): the one way the harness reads a whole input file (suite, rubric, --file text).
//
// The limit counts the bytes actually read, never st_size, so it holds for character devices
// (/dev/zero reports size 0), pipes, FIFOs and /proc files as well as regular files. A regular file
// whose st_size is already over the limit is refused before reading a byte.
//
// A FIFO is opened without waiting for a writer: with no writer attached it reads as empty (the
// caller then reports an empty file) instead of blocking forever.
#pragma once

#include <cstddef>
#include <string>

namespace wobble {

// Suites and rubrics are small; a file beyond this is a mistake (or hostile), not a suite.
inline constexpr size_t kMaxConfigFileBytes = size_t(16) << 20;  // 16 MiB

// Returns the whole contents of `path` when it has at most `max_bytes` bytes. Throws ConfigError
// (exit code 2) whose message names the file and, when it is too large, the limit:
//   "s.yaml: file is larger than the 16 MiB limit (16777216 bytes); refusing to read it"
//   "s.yaml: cannot open file: No such file or directory", "dir: cannot read file: Is a directory"
// Reads with a fixed buffer; memory never exceeds max_bytes plus one buffer. Thread-safe.
std::string read_file_bounded(const std::string& path, size_t max_bytes = kMaxConfigFileBytes);

// "16 MiB", "64 KiB", "1000 bytes": a limit as the messages above print it.
std::string describe_byte_limit(size_t bytes);

}  // namespace wobble
