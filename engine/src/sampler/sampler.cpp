// Sampling: greedy, or temperature with top-k, top-p and min-p filters, from an owned xoshiro256**.
#include "moe/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

namespace moe {
namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Sampler::Sampler(const SamplerParams& params) : params_(params) {
  uint64_t s = params.seed;
  for (auto& w : state_) w = splitmix(s);
}

double Sampler::next_uniform() {
  uint64_t result = rotl(state_[1] * 5, 7) * 9;
  uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return double(result >> 11) * (1.0 / 9007199254740992.0);
}

int32_t Sampler::sample(std::span<const float> logits) {
  const int32_t n = int32_t(logits.size());
  if (n == 0) return -1;
  if (params_.temperature <= 0.f) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
      if (logits[i] > logits[best]) best = i;  // strict: ties keep the lower id
    return best;
  }
  // Candidates sorted by logit (descending, ties by id) so the filters are well defined. Each
  // candidate is one 64-bit key, the logit's bits mapped so that unsigned order is descending logit
  // order (-0 counted as +0, so equal logits give equal high halves), the id below: sorting keys is
  // the same total order as comparing (logit, id) pairs, several times faster. Buffers are reused
  // per thread (a call per generated token).
  thread_local std::vector<uint64_t> keys;
  thread_local std::vector<int32_t> idx;
  thread_local std::vector<double> p;
  keys.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    const float v = logits[size_t(i)] + 0.f;
    uint32_t b;
    std::memcpy(&b, &v, 4);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);  // ascending unsigned = ascending float
    keys[size_t(i)] = uint64_t(~b) << 32 | uint32_t(i);
  }
  int32_t keep = n;
  if (params_.top_k > 0 && params_.top_k < n) keep = params_.top_k;
  if (keep == n) std::sort(keys.begin(), keys.end());
  else std::partial_sort(keys.begin(), keys.begin() + keep, keys.end());
  idx.resize(size_t(keep));
  for (int32_t i = 0; i < keep; ++i) idx[size_t(i)] = int32_t(keys[size_t(i)] & 0xffffffffu);
  double max_l = logits[idx[0]];
  p.resize(idx.size());
  double sum = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    p[i] = std::exp((double(logits[idx[i]]) - max_l) / params_.temperature);
    sum += p[i];
  }
  for (auto& v : p) v /= sum;
  size_t cut = p.size();
  if (params_.top_p < 1.f) {
    double cum = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      cum += p[i];
      if (cum >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.f) {
    double floor = params_.min_p * p[0];
    size_t m = 1;
    while (m < cut && p[m] >= floor) ++m;
    cut = m;
  }
  double total = 0;
  for (size_t i = 0; i < cut; ++i) total += p[i];
  double u = next_uniform() * total;
  double acc = 0;
  for (size_t i = 0; i < cut; ++i) {
    acc += p[i];
    if (u < acc) return idx[i];
  }
  return idx[cut - 1];
}

}  // namespace moe
