// Nightly trend: one point per stored run of a suite, oldest first, with its pass rate, unstable
// criteria and routing drift against the run before it. Everything is recomputed from the store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store.h"

namespace wobble {

struct TrendPoint {
  RunRecord run;                 // without its suite snapshot's use; id, model, times, status
  int64_t samples = 0, failed = 0;
  int64_t scored = 0, passes = 0;
  double pass_rate = 0;          // passes / scored over every criterion result; NaN when none scored
  int64_t criteria = 0;          // (case, variant, criterion) triples
  int64_t unstable = 0;
  // Routing drift against the previous point (pooled expert usage per (case, variant) and layer);
  // empty when either run has no traces or they share no (case, variant).
  std::optional<double> mean_jsd, max_jsd;
  int64_t drift_groups = 0;
};

struct Trend {
  std::string suite;
  std::vector<TrendPoint> points;  // oldest first
};

// The last `last` runs of `suite` (0: all). Throws Error (exit 2) when the suite has no runs.
// With `open_another` (a function opening another read-only connection to the same database), the
// runs and the routing between consecutive runs are read by up to `threads` threads, each on its
// own connection; the result is the same as the sequential one, point for point.
Trend compute_trend(const Store& store, const std::string& suite, int last,
                    const std::function<Store()>& open_another = {}, int threads = 2);

// What every trend format leads with: the latest run against the one before it (pass rate,
// unstable criteria, provider failures, routing drift), then the largest run-to-run drop in pass
// rate over the window. One run: its figures alone.
struct TrendVerdict {
  std::string latest;      // "Run 12 against run 11: pass rate 0.812 → 0.790 (-0.022), ..."
  std::string largest_drop;  // "Largest drop: -0.050 from run 5 to run 6"; "" with fewer than 2 runs or no drop
};
TrendVerdict trend_verdict(const Trend& t);

nlohmann::json trend_json(const Trend& t);
void render_trend_markdown(const Trend& t, std::ostream& out);
void render_trend_html(const Trend& t, std::ostream& out);

}  // namespace wobble
