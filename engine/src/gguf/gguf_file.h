// Read-only view of a GGUF file (v2 and v3), either mapped (mmap of the file: lazy, shared with the
// page cache) or read into a private copy advised for 2 MiB pages (GgufMemory::kHugePageCopy: a
// decode step touches every expert's rows, and with 4 KiB pages of a mapped file each new page
// costs a TLB miss; the copy costs the read at open and memory that is not shared).
//
// Contract: open() validates the whole header before returning: magic, version, every string and
// array length against the bytes that remain, counts against sane maxima, tensor dimensions,
// types, byte sizes (overflow-checked), alignment, and that every tensor's data lies inside the
// file. A returned GgufFile is therefore safe to index without further bounds checks.
// Ownership: the GgufFile owns the mapping; TensorInfo::data points into it and lives as long as
// the GgufFile. Thread safety: immutable after open(); any number of threads may read it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "moe/status.h"
#include "tensor/ggml_type.h"

namespace moe {

// On-disk metadata value type ids.
enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

struct GgufArray;
// A metadata value. Integers keep their signedness; arrays may nest.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;
};
struct GgufArray {
  GgufValueType elem_type = GgufValueType::UINT8;
  std::vector<GgufValue> items;
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> dims;  // ne[0] first: ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;         // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
  uint64_t n_elements() const;
};

struct GgufLimits {
  uint64_t max_tensors = 1u << 20;
  uint64_t max_kv = 1u << 20;
  uint64_t max_string = 1u << 30;      // bytes
  uint64_t max_array = 1u << 28;       // elements
  uint32_t max_dims = 4;
  uint32_t max_array_depth = 8;
};

enum class GgufMemory { kMapped, kHugePageCopy };

// How kHugePageCopy reads the file: only a file of at most `max_bytes` is copied (larger ones are
// mapped); in chunks (a multiple of the page size); once `probe` bytes are in, if the copy has run
// slower than `slow_bytes_per_second` (the kernel compacting memory to find huge pages), the rest
// of the file is mapped in place of the copy.
struct GgufCopyTuning {
  uint64_t max_bytes = UINT64_MAX;
  size_t chunk = size_t(64) << 20;
  size_t probe = size_t(128) << 20;
  double slow_bytes_per_second = 0.25e9;
};

class GgufFile {
 public:
  // kHugePageCopy falls back to kMapped when the file is over tuning.max_bytes or the anonymous
  // memory cannot be had (memory() says which was used); a read error or a file that shrinks
  // while it is read is an IOError.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path, const GgufLimits& = {},
                                                GgufMemory memory = GgufMemory::kMapped,
                                                const GgufCopyTuning& tuning = {});
  // Same validation over a caller-owned buffer (fuzzing, tests); the buffer must outlive the object.
  static Result<std::unique_ptr<GgufFile>> from_memory(const uint8_t* data, size_t size,
                                                       const GgufLimits& = {});
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::string& path() const { return path_; }
  GgufMemory memory() const { return memory_; }
  size_t size_bytes() const { return size_; }

  // Metadata lookup. find() returns nullptr when absent. Typed getters return NotFound when
  // absent and InvalidArgument (naming the key) when the stored type does not convert losslessly.
  const GgufValue* find(std::string_view key) const;
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return kv_; }
  Result<uint64_t> get_uint(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_string(std::string_view key) const;
  Result<const GgufArray*> get_array(std::string_view key) const;
  // Convenience with default when absent (still an error on a wrong type).
  Result<uint64_t> get_uint_or(std::string_view key, uint64_t dflt) const;
  Result<double> get_float_or(std::string_view key, double dflt) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  Status parse(const GgufLimits& limits);

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // what munmap releases, null for from_memory (the copy's starts before base_)
  size_t mapping_size_ = 0;
  GgufMemory memory_ = GgufMemory::kMapped;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  std::map<std::string, GgufValue, std::less<>> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace moe
