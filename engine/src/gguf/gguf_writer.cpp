#include "gguf/gguf_writer.h"

#include <cstdio>
#include <cstring>

namespace moe {
namespace {

// resize + memcpy rather than insert(): GCC 12 reports a false -Wstringop-overflow for inserting
// into a vector that starts empty.
void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  put_bytes(out, &v, sizeof v);
}
void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

void put_value(std::vector<uint8_t>& out, const GgufValue& v, bool with_type) {
  if (with_type) put<uint32_t>(out, uint32_t(v.type));
  switch (v.type) {
    case GgufValueType::UINT8: put<uint8_t>(out, uint8_t(std::get<uint64_t>(v.v))); break;
    case GgufValueType::UINT16: put<uint16_t>(out, uint16_t(std::get<uint64_t>(v.v))); break;
    case GgufValueType::UINT32: put<uint32_t>(out, uint32_t(std::get<uint64_t>(v.v))); break;
    case GgufValueType::UINT64: put<uint64_t>(out, std::get<uint64_t>(v.v)); break;
    case GgufValueType::INT8: put<int8_t>(out, int8_t(std::get<int64_t>(v.v))); break;
    case GgufValueType::INT16: put<int16_t>(out, int16_t(std::get<int64_t>(v.v))); break;
    case GgufValueType::INT32: put<int32_t>(out, int32_t(std::get<int64_t>(v.v))); break;
    case GgufValueType::INT64: put<int64_t>(out, std::get<int64_t>(v.v)); break;
    case GgufValueType::FLOAT32: put<float>(out, float(std::get<double>(v.v))); break;
    case GgufValueType::FLOAT64: put<double>(out, std::get<double>(v.v)); break;
    case GgufValueType::BOOL: put<uint8_t>(out, std::get<bool>(v.v) ? 1 : 0); break;
    case GgufValueType::STRING: put_string(out, std::get<std::string>(v.v)); break;
    case GgufValueType::ARRAY: {
      const auto& a = *std::get<std::shared_ptr<GgufArray>>(v.v);
      put<uint32_t>(out, uint32_t(a.elem_type));
      put<uint64_t>(out, a.items.size());
      for (const auto& item : a.items) put_value(out, item, false);
      break;
    }
  }
}

GgufValue scalar(GgufValueType t, std::variant<uint64_t, int64_t, double, bool, std::string> v) {
  GgufValue g;
  g.type = t;
  std::visit([&](auto&& x) { g.v = x; }, v);
  return g;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment_ != 32) set_u32("general.alignment", alignment_);
}

void GgufWriter::set_value(const std::string& key, const GgufValue& v) {
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = v;
      return;
    }
  kv_.emplace_back(key, v);
}

void GgufWriter::set_u32(const std::string& k, uint32_t v) { set_value(k, scalar(GgufValueType::UINT32, uint64_t(v))); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { set_value(k, scalar(GgufValueType::INT32, int64_t(v))); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { set_value(k, scalar(GgufValueType::UINT64, v)); }
void GgufWriter::set_f32(const std::string& k, float v) { set_value(k, scalar(GgufValueType::FLOAT32, double(v))); }
void GgufWriter::set_bool(const std::string& k, bool v) { set_value(k, scalar(GgufValueType::BOOL, v)); }
void GgufWriter::set_string(const std::string& k, const std::string& v) {
  set_value(k, scalar(GgufValueType::STRING, v));
}

void GgufWriter::set_array_string(const std::string& k, const std::vector<std::string>& v) {
  auto a = std::make_shared<GgufArray>();
  a->elem_type = GgufValueType::STRING;
  for (const auto& s : v) a->items.push_back(scalar(GgufValueType::STRING, s));
  set_value(k, GgufValue{GgufValueType::ARRAY, a});
}
void GgufWriter::set_array_f32(const std::string& k, const std::vector<float>& v) {
  auto a = std::make_shared<GgufArray>();
  a->elem_type = GgufValueType::FLOAT32;
  for (float x : v) a->items.push_back(scalar(GgufValueType::FLOAT32, double(x)));
  set_value(k, GgufValue{GgufValueType::ARRAY, a});
}
void GgufWriter::set_array_i32(const std::string& k, const std::vector<int32_t>& v) {
  auto a = std::make_shared<GgufArray>();
  a->elem_type = GgufValueType::INT32;
  for (int32_t x : v) a->items.push_back(scalar(GgufValueType::INT32, int64_t(x)));
  set_value(k, GgufValue{GgufValueType::ARRAY, a});
}

Status GgufWriter::add_tensor_f32(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type,
                                  const std::vector<float>& data) {
  if (dims.empty()) return Status::InvalidArgument("tensor '" + name + "': no dimensions");
  uint64_t n = 1;
  for (auto d : dims) n *= d;
  if (n != data.size()) return Status::InvalidArgument("tensor '" + name + "': data size does not match dims");
  MOE_ASSIGN_OR_RETURN(uint64_t row_bytes, ggml_row_bytes(type, dims[0]));
  uint64_t rows = n / dims[0];
  std::vector<uint8_t> bytes(rows * row_bytes);
  for (uint64_t r = 0; r < rows; ++r)
    MOE_RETURN_IF_ERROR(quantize_row(type, data.data() + r * dims[0], bytes.data() + r * row_bytes, int64_t(dims[0]))
                            .WithContext("tensor '" + name + "'"));
  return add_tensor_raw(name, dims, type, std::move(bytes));
}

Status GgufWriter::add_tensor_raw(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type,
                                  std::vector<uint8_t> bytes) {
  tensors_.push_back({name, dims, type, std::move(bytes)});
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_string(out, k);
    put_value(out, v, true);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.dims.size()));
    for (auto d : t.dims) put<uint64_t>(out, d);
    put<uint32_t>(out, uint32_t(t.type));
    put<uint64_t>(out, offset);
    offset += (t.bytes.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  for (const auto& t : tensors_) {
    put_bytes(out, t.bytes.data(), t.bytes.size());
    out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  auto bytes = to_bytes();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Status::IOError(path + ": cannot create");
  size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  int rc = std::fclose(f);
  if (n != bytes.size() || rc != 0) return Status::IOError(path + ": write failed");
  return Status::Ok();
}

}  // namespace moe
