#include "analysis/gate.h"
#include "util/fixed.h"

#include <algorithm>
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

// pass^k of every scored criterion, recomputed with the gate's k (not the report's), so the check
// does not depend on how the analysis was rendered. The detail names the criteria below the bound.
GateCheck pass_hat_k_check(const RunAnalysis& a, double minimum, int k) {
  int checked = 0;
  std::string below;
  int n_below = 0;
  for (const auto& c : a.criteria) {
    if (c.n == 0) continue;
    ++checked;
    const int64_t kk = std::min<int64_t>(c.n, k);
    const double p = pass_hat_k(c.n, c.passes, kk);
    if (p >= minimum) continue;
    ++n_below;
    below += (below.empty() ? "" : ", ") + c.case_id + "/" + c.variant_id + "/" + c.criterion_id + " " + f2(p) +
             " (" + std::to_string(c.passes) + "/" + std::to_string(c.n) + ", k=" + std::to_string(kk) + ")";
  }
  if (checked == 0) return {"min_pass_hat_k", false, "no criterion was scored, minimum pass^k " + f2(minimum)};
  return {"min_pass_hat_k", n_below == 0,
          std::to_string(n_below) + " of " + std::to_string(checked) + " criteria have pass^" + std::to_string(k) +
              " below " + f2(minimum) + (below.empty() ? "" : ": " + below)};
}

}  // namespace

nlohmann::json GateResult::to_json() const {
  nlohmann::json j = {{"passed", passed}, {"checks", nlohmann::json::array()}};
  for (const auto& c : checks) j["checks"].push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
  return j;
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
  if (c.max_provider_failures) g.max_provider_failures = c.max_provider_failures;
  if (c.min_pass_hat_k) g.min_pass_hat_k = c.min_pass_hat_k;
  if (c.pass_k) g.pass_k = c.pass_k;
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
  {
    const FailureBudget budget = spec.max_provider_failures.value_or(FailureBudget{});
    const int64_t planned = std::max<int64_t>(a.run.expected_samples, a.total_samples);
    std::string detail = std::to_string(a.failed_samples) + " of " + std::to_string(planned) +
                         " samples failed at the provider, limit " + budget.text();
    if (!a.failures.empty()) {
      const auto& f = a.failures.front();
      detail += "; e.g. " + f.case_id + "/" + f.variant_id + " #" + std::to_string(f.repeat) + ": " + f.error;
    }
    add({"provider_failures", budget.allows(a.failed_samples, planned), detail});
  }
  if (a.scored == 0)
    add({"scored_samples", false, "no criterion was scored (" + std::to_string(a.total_samples - a.failed_samples) +
                                      " samples with output): a run with nothing scored cannot pass"});
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
  if (spec.min_pass_hat_k) add(pass_hat_k_check(a, *spec.min_pass_hat_k, spec.pass_k.value_or(3)));
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
