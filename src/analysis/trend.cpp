#include "analysis/trend.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/routing_drift.h"
#include "analysis/stability.h"
#include "util/error.h"

namespace wobble {

Trend compute_trend(const Store& store, const std::string& suite, int last) {
  Trend t;
  t.suite = suite;
  auto runs = store.list_runs(suite, last);  // newest first
  if (runs.empty()) throw Error(kExitUsage, "no runs of suite '" + suite + "' in this database (see 'wobble runs')");
  std::reverse(runs.begin(), runs.end());
  for (size_t i = 0; i < runs.size(); ++i) {
    RunAnalysis a = analyze_run(store, runs[i].id, 3, 0);
    TrendPoint p;
    p.run = runs[i];
    p.run.plan = RunPlan{};  // not needed by the trend; keeps the JSON small
    p.samples = a.total_samples;
    p.failed = a.failed_samples;
    p.scored = a.scored;
    p.passes = a.passes;
    p.pass_rate = a.scored ? double(a.passes) / double(a.scored) : std::numeric_limits<double>::quiet_NaN();
    p.criteria = int64_t(a.criteria.size());
    p.unstable = a.unstable;
    if (i > 0) {
      RoutingAnalysis r = analyze_routing(store, runs[i].id, runs[i - 1].id);
      if (r.has_traces && !r.baseline.empty()) {
        double sum = 0, mx = 0;
        for (const auto& d : r.baseline) {
          sum += d.mean_jsd;
          for (double x : d.jsd) mx = std::max(mx, x);
        }
        p.mean_jsd = sum / double(r.baseline.size());
        p.max_jsd = mx;
        p.drift_groups = int64_t(r.baseline.size());
      }
    }
    t.points.push_back(std::move(p));
  }
  return t;
}

nlohmann::json trend_json(const Trend& t) {
  auto num = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  auto opt = [&](const std::optional<double>& x) { return x ? num(*x) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"suite", t.suite}, {"points", nlohmann::json::array()}};
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
