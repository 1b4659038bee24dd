// Writes GGUF v3 files: used by tests and tools to make models of every architecture and type.
// Not part of the public API. Thread safety: none; one writer per thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "moe/status.h"

namespace moe {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32);

  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_array_string(const std::string& key, const std::vector<std::string>& v);
  void set_array_f32(const std::string& key, const std::vector<float>& v);
  void set_array_i32(const std::string& key, const std::vector<int32_t>& v);
  void set_value(const std::string& key, const GgufValue& v);  // any type, including nested arrays

  // data: (dims[1..], dims[0]) f32 row-major, quantised to `type` row by row. dims[0] is the row length.
  Status add_tensor_f32(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type,
                        const std::vector<float>& data);
  // Raw bytes already in `type`'s layout.
  Status add_tensor_raw(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type,
                        std::vector<uint8_t> bytes);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    std::vector<uint64_t> dims;
    GgmlType type;
    std::vector<uint8_t> bytes;
  };
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace moe
