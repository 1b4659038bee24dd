#include "analysis/gate.h"
#include "util/fixed.h"

#include <cstdio>
#include <map>

namespace wobble {
namespace {

std::string f2(double x) { return fixed(x, 3); }

// Fails below the minimum, and when no sample has a weighted score (nothing scored cannot pass).
// The detail names the (case, variant) groups whose mean is below the minimum.
GateCheck weighted_score_check(const RunAnalysis& a, double minimum) {
  if (a.weighted.n == 0)
    return {"min_weighted_score", false, "no sample has a weighted score (nothing was scored), minimum " + f2(minimum)};
  std::string below;
  for (const auto& g : a.groups)
    if (g.weighted.n > 0 && g.weighted.mean < minimum)
      below += (below.empty() ? "" : ", ") + g.case_id + "/" + g.variant_id + " " + f2(g.weighted.mean);
  return {"min_weighted_score", a.weighted.mean >= minimum,
          "mean weighted score " + f2(a.weighted.mean) + " over " + std::to_string(a.weighted.n) + " samples, minimum " +
              f2(minimum) + (below.empty() ? "" : "; groups below: " + below)};
}

}  // namespace

nlohmann::json GateResult::to_json() const {
  nlohmann::json j = {{"passed", passed}, {"checks", nlohmann::json::array()}};
  for (const auto& c : checks) j["checks"].push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
  return j;
}

GateSpec gate_spec_from_snapshot(const nlohmann::json& snap) {
  GateSpec g;
  if (!snap.contains("gate") || !snap["gate"].is_object()) return g;
  const auto& j = snap["gate"];
  if (j.contains("max_unstable")) g.max_unstable = j["max_unstable"].get<int>();
  if (j.contains("min_pass_rate")) g.min_pass_rate = j["min_pass_rate"].get<double>();
  if (j.contains("max_pass_rate_drop")) g.max_pass_rate_drop = j["max_pass_rate_drop"].get<double>();
  if (j.contains("alpha")) g.alpha = j["alpha"].get<double>();
  if (j.contains("max_routing_jsd")) g.max_routing_jsd = j["max_routing_jsd"].get<double>();
  if (j.contains("min_topk_overlap")) g.min_topk_overlap = j["min_topk_overlap"].get<double>();
  if (j.contains("min_weighted_score")) g.min_weighted_score = j["min_weighted_score"].get<double>();
  return g;
}

GateSpec merge_gate(const GateSpec& s, const GateSpec& c) {
  GateSpec g = s;
  if (c.max_unstable) g.max_unstable = c.max_unstable;
  if (c.min_pass_rate) g.min_pass_rate = c.min_pass_rate;
  if (c.max_pass_rate_drop) g.max_pass_rate_drop = c.max_pass_rate_drop;
  if (c.alpha) g.alpha = c.alpha;
  if (c.max_routing_jsd) g.max_routing_jsd = c.max_routing_jsd;
  if (c.min_topk_overlap) g.min_topk_overlap = c.min_topk_overlap;
  if (c.min_weighted_score) g.min_weighted_score = c.min_weighted_score;
  return g;
}

GateResult evaluate_gate(const RunAnalysis& a, const GateSpec& spec, const RunAnalysis* baseline) {
  GateResult res;
  auto add = [&](GateCheck c) {
    res.passed = res.passed && c.passed;
    res.checks.push_back(std::move(c));
  };
  if (a.run.status != "complete")
    add({"run_complete", false, "run " + std::to_string(a.run.id) + " is " + a.run.status + ", not complete"});
  if (a.failed_samples > 0)
    add({"provider_failures", true,
         std::to_string(a.failed_samples) + " samples failed at the provider (not counted as model failures)"});
  if (spec.max_unstable) {
    bool ok = a.unstable <= *spec.max_unstable;
    std::string which;
    for (const auto& c : a.criteria)
      if (c.verdict == Verdict::kUnstable)
        which += (which.empty() ? "" : ", ") + c.case_id + "/" + c.variant_id + "/" + c.criterion_id + " (" +
                 std::to_string(c.passes) + "/" + std::to_string(c.n) + ")";
    add({"max_unstable", ok,
         std::to_string(a.unstable) + " unstable criteria, limit " + std::to_string(*spec.max_unstable) +
             (which.empty() ? "" : ": " + which)});
  }
  if (spec.min_pass_rate) {
    bool ok = a.overall_pass_rate >= *spec.min_pass_rate;
    add({"min_pass_rate", ok,
         "overall pass rate " + f2(a.overall_pass_rate) + " (" + std::to_string(a.passes) + "/" +
             std::to_string(a.scored) + "), minimum " + f2(*spec.min_pass_rate)});
  }
  if (spec.min_weighted_score) add(weighted_score_check(a, *spec.min_weighted_score));
  if (baseline) {
    double alpha = spec.alpha.value_or(0.05);
    std::map<std::tuple<std::string, std::string, std::string>, const CriterionStability*> base;
    for (const auto& c : baseline->criteria) base[{c.case_id, c.variant_id, c.criterion_id}] = &c;
    int compared = 0, regressions = 0;
    for (const auto& c : a.criteria) {
      auto it = base.find({c.case_id, c.variant_id, c.criterion_id});
      if (it == base.end() || it->second->n == 0 || c.n == 0) continue;
      ++compared;
      const auto& b = *it->second;
      if (c.pass_rate >= b.pass_rate) continue;
      double p = fisher_exact_less(b.passes, b.fails, c.passes, c.fails);
      double drop = b.pass_rate - c.pass_rate;
      bool significant = p < alpha;
      bool too_big = spec.max_pass_rate_drop && drop > *spec.max_pass_rate_drop;
      if (!significant && !too_big) continue;
      ++regressions;
      add({"pass_rate_drop", false,
           c.case_id + "/" + c.variant_id + "/" + c.criterion_id + ": pass rate " + f2(b.pass_rate) + " -> " +
               f2(c.pass_rate) + " (" + std::to_string(b.passes) + "/" + std::to_string(b.n) + " -> " +
               std::to_string(c.passes) + "/" + std::to_string(c.n) + "), one-sided Fisher exact p = " + f2(p) +
               (significant ? " < alpha " + f2(alpha) : "") +
               (too_big ? ", drop above " + f2(*spec.max_pass_rate_drop) : "")});
    }
    add({"baseline", true,
         "compared " + std::to_string(compared) + " criteria with baseline run " + std::to_string(baseline->run.id) +
             ", " + std::to_string(regressions) + " regressed"});
  }
  return res;
}

}  // namespace wobble
