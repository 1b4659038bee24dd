// The sampler's candidate order: sorting 64-bit keys must give exactly the order of comparing
// (logit descending, id ascending), with -0 and +0 equal, so every draw is the one the plain
// comparison-sort sampler makes. Checked against a reference written that plain way.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "moe/sampler.h"

namespace {

// The reference: the sampler as first written (a comparison sort of ids), sharing the RNG stream.
int32_t reference_sample(const moe::SamplerParams& params, double u01, const std::vector<float>& logits) {
  const int32_t n = int32_t(logits.size());
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  int32_t keep = n;
  if (params.top_k > 0 && params.top_k < n) keep = params.top_k;
  auto cmp = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), cmp);
  idx.resize(size_t(keep));
  double max_l = logits[idx[0]];
  std::vector<double> p(idx.size());
  double sum = 0;
  for (size_t i = 0; i < idx.size(); ++i) sum += (p[i] = std::exp((double(logits[idx[i]]) - max_l) / params.temperature));
  for (auto& v : p) v /= sum;
  size_t cut = p.size();
  if (params.top_p < 1.f) {
    double cum = 0;
    for (size_t i = 0; i < p.size(); ++i)
      if ((cum += p[i]) >= params.top_p) {
        cut = i + 1;
        break;
      }
  }
  if (params.min_p > 0.f) {
    double floor = params.min_p * p[0];
    size_t m = 1;
    while (m < cut && p[m] >= floor) ++m;
    cut = m;
  }
  double total = 0;
  for (size_t i = 0; i < cut; ++i) total += p[i];
  double u = u01 * total, acc = 0;
  for (size_t i = 0; i < cut; ++i)
    if (u < (acc += p[i])) return idx[i];
  return idx[cut - 1];
}

// The sampler's generator replayed (xoshiro256** seeded by splitmix64; one draw per sample() call
// at a temperature above 0), so the reference sees the same uniform numbers.
struct Twin {
  uint64_t s[4];
  explicit Twin(uint64_t seed) {
    for (auto& w : s) {
      uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      w = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  double next() {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return double(r >> 11) * 0x1.0p-53;
  }
};

}  // namespace

TEST(SamplerOrder, KeySortDrawsWhatTheComparisonSortDraws) {
  std::mt19937 rng(99);
  int draws = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + int(rng() % 700);
    std::vector<float> logits(static_cast<size_t>(n));
    // Few distinct values (many ties), both zeros, infinities and very close neighbours.
    const float pool[] = {0.f, -0.f, 1.f, 1.0000001f, -3.5f, 7.25f, -std::numeric_limits<float>::infinity(), 2.f, 2.f};
    for (auto& v : logits) v = (rng() % 3 == 0) ? pool[rng() % 9] : float(int(rng() % 200) - 100) / 16.f;
    moe::SamplerParams params;
    params.temperature = 0.3f + float(rng() % 20) / 10.f;
    params.top_k = (rng() % 3 == 0) ? int32_t(rng() % 50) : 0;
    params.top_p = (rng() % 2 == 0) ? 0.5f + float(rng() % 50) / 100.f : 1.f;
    params.min_p = (rng() % 3 == 0) ? float(rng() % 20) / 100.f : 0.f;
    params.seed = rng();
    if (std::all_of(logits.begin(), logits.end(), [](float v) { return std::isinf(v); })) logits[0] = 0.f;
    moe::Sampler sampler(params);
    Twin twin(params.seed);
    for (int k = 0; k < 5; ++k, ++draws)
      ASSERT_EQ(sampler.sample(logits), reference_sample(params, twin.next(), logits))
          << "trial " << trial << " draw " << k << " n " << n;
  }
  EXPECT_EQ(draws, 1500);
}
