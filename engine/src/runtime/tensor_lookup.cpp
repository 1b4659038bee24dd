#include "runtime/tensor_lookup.h"

#include "tensor/ggml_type.h"

namespace moe {

std::string tensor_shape_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

Result<WeightView> lookup_weight(const GgufFile& f, const std::string& name, const std::vector<uint64_t>& dims,
                                 uint64_t* slice_bytes) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (!t) return Status::NotFound("tensor '" + name + "' is missing");
  auto tr = ggml_type_traits(uint32_t(t->type));
  if (!tr->supported)
    return Status::NotSupported("tensor '" + name + "' has type " + tr->name + ", which this engine cannot run");
  if (t->dims != dims)
    return Status::Corruption("tensor '" + name + "' has shape " + tensor_shape_str(t->dims) + ", expected " +
                              tensor_shape_str(dims));
  WeightView w;
  w.data = t->data;
  w.type = t->type;
  w.n_in = int64_t(dims[0]);
  w.n_out = int64_t(dims[1]);
  MOE_ASSIGN_OR_RETURN(w.row_bytes, ggml_row_bytes(t->type, dims[0]));
  if (slice_bytes) *slice_bytes = w.row_bytes * dims[1];
  return w;
}

Result<std::vector<float>> lookup_vector(const GgufFile& f, const std::string& name, uint64_t n, bool optional) {
  const GgufTensorInfo* t = f.find_tensor(name);
  if (!t) {
    if (optional) return std::vector<float>();
    return Status::NotFound("tensor '" + name + "' is missing");
  }
  if (t->dims.size() != 1 || t->dims[0] != n)
    return Status::Corruption("tensor '" + name + "' has shape " + tensor_shape_str(t->dims) + ", expected [" +
                              std::to_string(n) + "]");
  if (!ggml_type_traits(uint32_t(t->type))->supported)
    return Status::NotSupported("tensor '" + name + "' has an unsupported type");
  std::vector<float> v(n);
  dequantize_row(t->type, t->data, v.data(), int64_t(n));
  return v;
}

}  // namespace moe
