#include "analysis/trend.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <cmath>
#include <limits>

#include "analysis/routing_drift.h"
#include "analysis/stability.h"
#include "util/error.h"
#include "util/fixed.h"

namespace wobble {

namespace {

// The analysis part of run i's point (no routing).
void fill_point(const Store& store, const RunRecord& run, TrendPoint& p) {
  RunAnalysis a = analyze_run(store, run.id, 3, 0, AnalysisReads::outcomes_only());
  p.run = run;
  p.run.plan = RunPlan{};  // not needed by the trend; keeps the JSON small
  p.samples = a.total_samples;
  p.failed = a.failed_samples;
  p.scored = a.scored;
  p.passes = a.passes;
  p.pass_rate = a.scored ? double(a.passes) / double(a.scored) : std::numeric_limits<double>::quiet_NaN();
  p.criteria = int64_t(a.criteria.size());
  p.unstable = a.unstable;
}

// The routing part of a point: drift of `run` against `previous` (the trend shows no noise floor).
void fill_drift(const Store& store, int64_t run, int64_t previous, TrendPoint& p) {
  RoutingAnalysis r = analyze_routing(store, run, previous, 0.1, 0.8, false);
  if (!r.has_traces || r.baseline.empty()) return;
  double sum = 0, mx = 0;
  for (const auto& d : r.baseline) {
    sum += d.mean_jsd;
    for (double x : d.jsd) mx = std::max(mx, x);
  }
  p.mean_jsd = sum / double(r.baseline.size());
  p.max_jsd = mx;
  p.drift_groups = int64_t(r.baseline.size());
}

}  // namespace

Trend compute_trend(const Store& store, const std::string& suite, int last, const std::function<Store()>& open_another,
                    int threads) {
  Trend t;
  t.suite = suite;
  auto runs = store.list_runs(suite, last);  // newest first
  if (runs.empty()) throw Error(kExitUsage, "no runs of suite '" + suite + "' in this database (see 'wobble runs')");
  std::reverse(runs.begin(), runs.end());
  t.points.resize(runs.size());
  // Tasks: 2i is run i's analysis, 2i + 1 its routing against run i - 1 (none for the first run).
  // Each writes only its own point's fields, so the order tasks finish in changes nothing.
  auto task = [&](const Store& s, size_t k) {
    const size_t i = k / 2;
    if (k % 2 == 0) fill_point(s, runs[i], t.points[i]);
    else if (i > 0) fill_drift(s, runs[i].id, runs[i - 1].id, t.points[i]);
  };
  const size_t n_tasks = 2 * runs.size();
  if (!open_another || threads <= 1 || runs.size() < 2) {
    for (size_t k = 0; k < n_tasks; ++k) task(store, k);
    return t;
  }
  // A TrendPoint's analysis and drift fields are disjoint, and every point is its own object.
  std::atomic<size_t> next{0};
  std::mutex failed_mutex;
  std::exception_ptr failed;
  auto worker = [&] {
    try {
      Store s = open_another();
      for (size_t k; (k = next++) < n_tasks;) {
        {
          std::lock_guard<std::mutex> lock(failed_mutex);
          if (failed) return;
        }
        task(s, k);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failed_mutex);
      if (!failed) failed = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) pool.emplace_back(worker);
  for (auto& th : pool) th.join();
  if (failed) std::rethrow_exception(failed);
  return t;
}

TrendVerdict trend_verdict(const Trend& t) {
  TrendVerdict v;
  if (t.points.empty()) return v;
  auto rate = [](double x) { return std::isfinite(x) ? fixed(x, 3) : std::string("n/a"); };
  auto signed3 = [](double x) { return (x > 0 ? "+" : "") + fixed(x, 3); };
  auto signed_int = [](int64_t x) { return (x > 0 ? "+" : "") + std::to_string(x); };
  const TrendPoint& last = t.points.back();
  if (t.points.size() == 1) {
    v.latest = "One run (" + std::to_string(last.run.id) + "): pass rate " + rate(last.pass_rate) + ", unstable " +
               std::to_string(last.unstable) + " of " + std::to_string(last.criteria) + " criteria, " +
               std::to_string(last.failed) + " provider failures";
    return v;
  }
  const TrendPoint& prev = t.points[t.points.size() - 2];
  v.latest = "Run " + std::to_string(last.run.id) + " against run " + std::to_string(prev.run.id) + ": pass rate " +
             rate(prev.pass_rate) + " → " + rate(last.pass_rate);
  if (std::isfinite(prev.pass_rate) && std::isfinite(last.pass_rate))
    v.latest += " (" + signed3(last.pass_rate - prev.pass_rate) + ")";
  v.latest += ", unstable " + std::to_string(prev.unstable) + " → " + std::to_string(last.unstable) + " of " +
              std::to_string(last.criteria) + " criteria (" + signed_int(last.unstable - prev.unstable) +
              "), provider failures " + std::to_string(prev.failed) + " → " + std::to_string(last.failed);
  if (last.mean_jsd)
    v.latest += ", routing JSD " + fixed(*last.mean_jsd, 3) + " mean / " + fixed(last.max_jsd.value_or(0), 3) + " max";
  double worst = 0;
  size_t at = 0;
  for (size_t i = 1; i < t.points.size(); ++i) {
    const double d = t.points[i].pass_rate - t.points[i - 1].pass_rate;
    if (std::isfinite(d) && d < worst) {
      worst = d;
      at = i;
    }
  }
  if (at > 0)
    v.largest_drop = "Largest pass-rate drop over these runs: " + signed3(worst) + " from run " +
                     std::to_string(t.points[at - 1].run.id) + " to run " + std::to_string(t.points[at].run.id);
  return v;
}

nlohmann::json trend_json(const Trend& t) {
  auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  auto opt = [&](const std::optional<double>& x) { return x ? num(*x) : nlohmann::json(nullptr); };
  const TrendVerdict v = trend_verdict(t);
  nlohmann::json j = {{"suite", t.suite},
                      {"verdict", {{"latest", v.latest}, {"largest_drop", v.largest_drop}}},
                      {"points", nlohmann::json::array()}};
  for (const auto& p : t.points)
    j["points"].push_back({{"run", p.run.id}, {"started_at", p.run.started_at}, {"status", p.run.status},
                           {"model_id", p.run.model_id}, {"suite_hash", p.run.suite_hash},
                           {"tool_version", p.run.tool_version}, {"samples", p.samples}, {"failed", p.failed},
                           {"scored", p.scored}, {"passes", p.passes}, {"pass_rate", num(p.pass_rate)},
                           {"criteria", p.criteria}, {"unstable", p.unstable},
                           {"routing_mean_jsd_vs_previous", opt(p.mean_jsd)},
                           {"routing_max_jsd_vs_previous", opt(p.max_jsd)}, {"routing_groups_compared", p.drift_groups}});
  return j;
}

}  // namespace wobble
