// Statistics used by the stability reporter. Formulas are stated in reports/README.md ("Metric definitions")
// and tested against hand-computed values. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace wobble {

struct Interval {
  double lo = 0, hi = 0;
};

// Wilson score interval for c successes in n trials (z = 1.959964 for 95%). n = 0 gives [0, 1].
Interval wilson_interval(int64_t n, int64_t c, double z = 1.959963984540054);

// Unbiased pass@k = 1 - C(n-c, k) / C(n, k): the chance that at least one of k samples drawn
// without replacement from the n passes. Requires 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);
// pass^k = C(c, k) / C(n, k): the chance that all k samples drawn without replacement pass.
double pass_hat_k(int64_t n, int64_t c, int64_t k);

// Fisher's exact test on the 2x2 table [[a, b], [c, d]] (rows: baseline, current; columns:
// pass, fail). one_sided_less: p-value that the current pass rate is lower than the baseline's
// (sum of hypergeometric probabilities of tables at least as extreme in that direction).
double fisher_exact_less(int64_t a, int64_t b, int64_t c, int64_t d);
double fisher_exact_two_sided(int64_t a, int64_t b, int64_t c, int64_t d);

// Fleiss' kappa. counts[i][j] = number of raters assigning subject i to category j; every subject
// must have the same number of raters (>= 2). Returns NaN when undefined (no subjects, or chance
// agreement is 1, i.e. every rating fell in one category).
double fleiss_kappa(const std::vector<std::vector<int64_t>>& counts);

struct Summary {
  int64_t n = 0;
  double mean = 0, sd = 0, min = 0, max = 0;  // sd: sample standard deviation (n - 1); 0 when n < 2
};
Summary summarize(const std::vector<double>& xs);

}  // namespace wobble
