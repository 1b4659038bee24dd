// RoutingTrace storage and its compact binary form.
//
// Format (little-endian): "MOERT1" magic (6 bytes), u8 id_bytes (1 when n_expert <= 256, else 2),
// u8 flags, u32 n_layers, u32 n_expert, u32 k, u64 n_tokens, then for each token and layer:
// k expert ids (id_bytes each), k fp16 gate weights, fp16 entropy, fp16 margin.
// Bytes per token = n_layers * (k * (id_bytes + 2) + 4).
// flags bit 0 (kIdsOnly): the records hold the k ids alone (n_layers * k * id_bytes per token).
// flags bit 1 (kExpertsInferred): n_expert is the largest id seen + 1, not the model's count.
// The byte was written as 0 before the flag existed, so every older blob reads as a full trace;
// an older reader refuses an ids-only blob on its size check instead of misreading it.
#include <cmath>
#include <cstring>
#include <limits>

#include "moe/routing.h"
#include "tensor/ggml_type.h"

namespace moe {

namespace {
constexpr uint8_t kIdsOnly = 1;
constexpr uint8_t kExpertsInferred = 2;
constexpr uint8_t kKnownFlags = kIdsOnly | kExpertsInferred;
}  // namespace

RoutingTrace::RoutingTrace(uint32_t n_moe_layers, uint32_t n_expert, uint32_t k)
    : n_layers_(n_moe_layers), n_expert_(n_expert), k_(k) {}

RoutingTrace RoutingTrace::ids_only(uint32_t n_layers, uint32_t n_expert, uint32_t k, bool n_expert_known) {
  RoutingTrace t(n_layers, n_expert, k);
  t.ids_only_ = true;
  t.n_expert_known_ = n_expert_known;
  return t;
}

uint64_t RoutingTrace::n_tokens() const {
  uint64_t per = uint64_t(n_layers_) * k_;
  return per ? experts_.size() / per : 0;
}

void RoutingTrace::append_ids(uint32_t layer, const uint16_t* experts) {
  (void)layer;  // records arrive in (token, layer) order; the index is implied
  experts_.insert(experts_.end(), experts, experts + k_);
}

void RoutingTrace::append(uint32_t layer, const uint16_t* experts, const float* weights, float entropy, float margin) {
  (void)layer;  // records arrive in (token, layer) order; the index is implied
  experts_.insert(experts_.end(), experts, experts + k_);
  weights_.insert(weights_.end(), weights, weights + k_);
  entropy_.push_back(entropy);
  margin_.push_back(margin);
}

RoutingStep RoutingTrace::at(uint64_t token, uint32_t layer) const {
  size_t rec = size_t(token * n_layers_ + layer);
  RoutingStep s;
  s.experts = std::span<const uint16_t>(experts_.data() + rec * k_, k_);
  if (ids_only_) {
    s.entropy = s.margin = std::numeric_limits<float>::quiet_NaN();
    return s;
  }
  s.weights = std::span<const float>(weights_.data() + rec * k_, k_);
  s.entropy = entropy_[rec];
  s.margin = margin_[rec];
  return s;
}

void RoutingTrace::clear() {
  experts_.clear();
  weights_.clear();
  entropy_.clear();
  margin_.clear();
}

void RoutingTrace::truncate(uint64_t n) {
  if (n >= n_tokens()) return;
  size_t recs = size_t(n * n_layers_);
  experts_.resize(recs * k_);
  if (ids_only_) return;
  weights_.resize(recs * k_);
  entropy_.resize(recs);
  margin_.resize(recs);
}

std::vector<uint8_t> RoutingTrace::serialize() const {
  uint8_t id_bytes = n_expert_ <= 256 ? 1 : 2;
  uint64_t n = n_tokens();
  std::vector<uint8_t> out;
  out.reserve(28 + size_t(n * n_layers_ * (ids_only_ ? k_ * id_bytes : k_ * (id_bytes + 2) + 4)));
  auto put = [&](const void* p, size_t len) {  // resize + memcpy: see gguf_writer.cpp's put_bytes
    const size_t at = out.size();
    out.resize(at + len);
    std::memcpy(out.data() + at, p, len);
  };
  put("MOERT1", 6);
  out.push_back(id_bytes);
  out.push_back(uint8_t((ids_only_ ? kIdsOnly : 0) | (n_expert_known_ ? 0 : kExpertsInferred)));
  put(&n_layers_, 4);
  put(&n_expert_, 4);
  put(&k_, 4);
  put(&n, 8);
  for (size_t rec = 0; rec < size_t(n * n_layers_); ++rec) {
    for (uint32_t j = 0; j < k_; ++j) {
      uint16_t e = experts_[rec * k_ + j];
      put(&e, id_bytes);
    }
    if (ids_only_) continue;
    for (uint32_t j = 0; j < k_; ++j) {
      uint16_t h = fp32_to_fp16(weights_[rec * k_ + j]);
      put(&h, 2);
    }
    uint16_t h = fp32_to_fp16(entropy_[rec]);
    put(&h, 2);
    h = fp32_to_fp16(margin_[rec]);
    put(&h, 2);
  }
  return out;
}

Result<RoutingTrace> RoutingTrace::deserialize(const uint8_t* data, size_t size) {
  if (size < 28 || std::memcmp(data, "MOERT1", 6) != 0) return Status::Corruption("routing trace: bad header");
  uint8_t id_bytes = data[6];
  if (id_bytes != 1 && id_bytes != 2) return Status::Corruption("routing trace: bad id width");
  const uint8_t flags = data[7];
  if (flags & ~kKnownFlags) return Status::Corruption("routing trace: unknown flags (written by a newer version?)");
  const bool ids_only = flags & kIdsOnly;
  if ((flags & kExpertsInferred) && !ids_only) return Status::Corruption("routing trace: inconsistent flags");
  uint32_t n_layers, n_expert, k;
  uint64_t n;
  std::memcpy(&n_layers, data + 8, 4);
  std::memcpy(&n_expert, data + 12, 4);
  std::memcpy(&k, data + 16, 4);
  std::memcpy(&n, data + 20, 8);
  if (n_layers == 0 || n_layers > 4096 || n_expert == 0 || n_expert > 65536 || k == 0 || k > n_expert)
    return Status::Corruption("routing trace: implausible shape");
  uint64_t per = uint64_t(n_layers) * (ids_only ? uint64_t(k) * id_bytes : uint64_t(k) * (id_bytes + 2) + 4);
  if (n > (size - 28) / per || 28 + n * per != size) return Status::Corruption("routing trace: size does not match header");
  RoutingTrace t = ids_only ? RoutingTrace::ids_only(n_layers, n_expert, k, !(flags & kExpertsInferred))
                            : RoutingTrace(n_layers, n_expert, k);
  const uint8_t* p = data + 28;
  if (ids_only) {
    t.experts_.resize(size_t(n * n_layers * k));
    for (size_t i = 0; i < t.experts_.size(); ++i, p += id_bytes) {
      uint16_t v = 0;
      std::memcpy(&v, p, id_bytes);
      if (v >= n_expert) return Status::Corruption("routing trace: expert id out of range");
      t.experts_[i] = v;
    }
    return t;
  }
  std::vector<uint16_t> e(k);
  std::vector<float> w(k);
  for (uint64_t rec = 0; rec < n * n_layers; ++rec) {
    for (uint32_t j = 0; j < k; ++j) {
      uint16_t v = 0;
      std::memcpy(&v, p, id_bytes);
      p += id_bytes;
      if (v >= n_expert) return Status::Corruption("routing trace: expert id out of range");
      e[j] = v;
    }
    for (uint32_t j = 0; j < k; ++j, p += 2) {
      uint16_t h;
      std::memcpy(&h, p, 2);
      w[j] = fp16_to_fp32(h);
    }
    uint16_t he, hm;
    std::memcpy(&he, p, 2);
    std::memcpy(&hm, p + 2, 2);
    p += 4;
    t.append(uint32_t(rec % n_layers), e.data(), w.data(), fp16_to_fp32(he), fp16_to_fp32(hm));
  }
  return t;
}

}  // namespace moe
