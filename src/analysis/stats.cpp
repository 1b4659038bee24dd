#include "analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wobble {
namespace {

double log_choose(int64_t n, int64_t k) {
  return std::lgamma(double(n) + 1) - std::lgamma(double(k) + 1) - std::lgamma(double(n - k) + 1);
}

// Hypergeometric probability of the table with top-left cell x, margins fixed.
double table_prob(int64_t x, int64_t row1, int64_t col1, int64_t total) {
  return std::exp(log_choose(col1, x) + log_choose(total - col1, row1 - x) - log_choose(total, row1));
}

}  // namespace

Interval wilson_interval(int64_t n, int64_t c, double z) {
  if (n <= 0) return {0, 1};
  double p = double(c) / double(n);
  double z2 = z * z;
  double denom = 1 + z2 / double(n);
  double centre = (p + z2 / (2 * double(n))) / denom;
  double half = z * std::sqrt(p * (1 - p) / double(n) + z2 / (4.0 * double(n) * double(n))) / denom;
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (k <= 0 || k > n) return std::numeric_limits<double>::quiet_NaN();
  if (n - c < k) return 1.0;
  // 1 - prod_{i=n-c+1}^{n} (1 - k/i): the numerically stable product form of the ratio.
  double prod = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) prod *= 1.0 - double(k) / double(i);
  return 1.0 - prod;
}

double pass_hat_k(int64_t n, int64_t c, int64_t k) {
  if (k <= 0 || k > n) return std::numeric_limits<double>::quiet_NaN();
  if (c < k) return 0.0;
  // C(c,k)/C(n,k) = prod_{i=0}^{k-1} (c-i)/(n-i).
  double prod = 1.0;
  for (int64_t i = 0; i < k; ++i) prod *= double(c - i) / double(n - i);
  return prod;
}

double fisher_exact_less(int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t row1 = a + b, col1 = a + c, total = a + b + c + d;
  if (total == 0) return 1.0;
  // Current (second row) passing less means c small, i.e. a large.
  int64_t hi = std::min(row1, col1);
  double p = 0;
  for (int64_t x = a; x <= hi; ++x) p += table_prob(x, row1, col1, total);
  return std::min(1.0, p);
}

double fisher_exact_two_sided(int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t row1 = a + b, col1 = a + c, total = a + b + c + d;
  if (total == 0) return 1.0;
  int64_t lo = std::max<int64_t>(0, row1 + col1 - total), hi = std::min(row1, col1);
  double observed = table_prob(a, row1, col1, total);
  double p = 0;
  for (int64_t x = lo; x <= hi; ++x) {
    double q = table_prob(x, row1, col1, total);
    if (q <= observed * (1 + 1e-7)) p += q;
  }
  return std::min(1.0, p);
}

double fleiss_kappa(const std::vector<std::vector<int64_t>>& counts) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (counts.empty()) return nan;
  size_t k = counts[0].size();
  int64_t raters = 0;
  for (auto x : counts[0]) raters += x;
  if (raters < 2 || k == 0) return nan;
  std::vector<double> col(k, 0);
  double p_bar = 0;
  for (const auto& row : counts) {
    if (row.size() != k) return nan;
    int64_t sum = 0, sq = 0;
    for (size_t j = 0; j < k; ++j) {
      sum += row[j];
      sq += row[j] * row[j];
      col[j] += double(row[j]);
    }
    if (sum != raters) return nan;
    p_bar += double(sq - raters) / double(raters * (raters - 1));
  }
  double N = double(counts.size());
  p_bar /= N;
  double p_e = 0;
  for (double cj : col) {
    double pj = cj / (N * double(raters));
    p_e += pj * pj;
  }
  if (p_e >= 1.0 - 1e-12) return nan;
  return (p_bar - p_e) / (1 - p_e);
}

Summary summarize(const std::vector<double>& xs) {
  Summary s;
  s.n = int64_t(xs.size());
  if (xs.empty()) return s;
  s.min = *std::min_element(xs.begin(), xs.end());
  s.max = *std::max_element(xs.begin(), xs.end());
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / double(xs.size());
  if (xs.size() >= 2) {
    double ss = 0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / double(xs.size() - 1));
  }
  return s;
}

}  // namespace wobble
