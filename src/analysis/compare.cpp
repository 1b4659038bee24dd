#include "analysis/compare.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>

#include "report/report.h"

namespace wobble {

double mcnemar_exact(int64_t b, int64_t c) {
  int64_t n = b + c;
  if (n == 0) return 1.0;
  int64_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2), doubled.
  double p = 0;
  for (int64_t i = 0; i <= k; ++i)
    p += std::exp(std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) - std::lgamma(double(n - i) + 1) -
                  double(n) * std::log(2.0));
  return std::min(1.0, 2 * p);
}

RunComparison compare_runs(const RunAnalysis& a, const RunAnalysis& b) {
  RunComparison out;
  out.a = a.run;
  out.b = b.run;
  std::map<std::tuple<std::string, std::string, std::string>, const CriterionStability*> in_b;
  for (const auto& c : b.criteria) in_b[{c.case_id, c.variant_id, c.criterion_id}] = &c;
  for (const auto& ca : a.criteria) {
    auto it = in_b.find({ca.case_id, ca.variant_id, ca.criterion_id});
    if (it == in_b.end()) continue;
    const auto& cb = *it->second;
    CriterionComparison x;
    x.case_id = ca.case_id;
    x.variant_id = ca.variant_id;
    x.criterion_id = ca.criterion_id;
    x.n_a = ca.n;
    x.passes_a = ca.passes;
    x.n_b = cb.n;
    x.passes_b = cb.passes;
    x.pass_rate_a = ca.pass_rate;
    x.pass_rate_b = cb.pass_rate;
    x.delta = cb.pass_rate - ca.pass_rate;
    for (size_t r = 0; r < ca.outcomes.size() && r < cb.outcomes.size(); ++r) {
      const auto& oa = ca.outcomes[r];
      const auto& ob = cb.outcomes[r];
      bool scored = (oa == "pass" || oa == "fail") && (ob == "pass" || ob == "fail");
      if (!scored) continue;
      ++x.pairs;
      if (oa == "pass" && ob == "fail") ++x.only_a;
      if (oa == "fail" && ob == "pass") ++x.only_b;
    }
    x.mcnemar_p = mcnemar_exact(x.only_a, x.only_b);
    x.verdict_a = verdict_name(ca.verdict);
    x.verdict_b = verdict_name(cb.verdict);
    if (x.verdict_a != x.verdict_b) ++out.verdict_changes;
    if (x.mcnemar_p < 0.05) ++out.significant;
    out.criteria.push_back(std::move(x));
  }
  std::map<std::pair<std::string, std::string>, const GroupStability*> gb;
  for (const auto& g : b.groups) gb[{g.case_id, g.variant_id}] = &g;
  for (const auto& g : a.groups) {
    auto it = gb.find({g.case_id, g.variant_id});
    if (it == gb.end()) continue;
    out.groups.push_back({g.case_id, g.variant_id, g.unique_outputs, it->second->unique_outputs, g.tar_r,
                          it->second->tar_r});
  }
  return out;
}

nlohmann::json comparison_json(const RunComparison& c) {
  nlohmann::json j;
  j["run_a"] = {{"id", c.a.id}, {"suite", c.a.suite_name}, {"model_id", c.a.model_id}};
  j["run_b"] = {{"id", c.b.id}, {"suite", c.b.suite_name}, {"model_id", c.b.model_id}};
  j["verdict_changes"] = c.verdict_changes;
  j["significant"] = c.significant;
  j["criteria"] = nlohmann::json::array();
  for (const auto& x : c.criteria)
    j["criteria"].push_back({{"case", x.case_id}, {"variant", x.variant_id}, {"criterion", x.criterion_id},
                             {"n_a", x.n_a}, {"passes_a", x.passes_a}, {"n_b", x.n_b}, {"passes_b", x.passes_b},
                             {"pass_rate_a", x.pass_rate_a}, {"pass_rate_b", x.pass_rate_b}, {"delta", x.delta},
                             {"pairs", x.pairs}, {"only_a", x.only_a}, {"only_b", x.only_b},
                             {"mcnemar_p", x.mcnemar_p}, {"verdict_a", x.verdict_a}, {"verdict_b", x.verdict_b}});
  j["groups"] = nlohmann::json::array();
  for (const auto& g : c.groups)
    j["groups"].push_back({{"case", g.case_id}, {"variant", g.variant_id}, {"unique_outputs_a", g.unique_a},
                           {"unique_outputs_b", g.unique_b}, {"tar_r_a", g.tar_r_a}, {"tar_r_b", g.tar_r_b}});
  if (c.routing.has_traces && !c.routing.baseline.empty()) j["routing"] = routing_json(c.routing);
  return j;
}

void render_comparison_markdown(const RunComparison& c, std::ostream& out) {
  out << "# Wobble comparison: run " << c.a.id << " (A) vs run " << c.b.id << " (B)\n\n";
  out << "- A: `" << md_inline(c.a.model_id) << "` (" << md_inline(c.a.suite_name) << ")\n";
  out << "- B: `" << md_inline(c.b.model_id) << "` (" << md_inline(c.b.suite_name) << ")\n";
  out << "- " << c.criteria.size() << " paired criteria, " << c.verdict_changes << " verdict changes, " << c.significant
      << " with McNemar p < 0.05\n\n";
  out << "| Case | Variant | Criterion | A | B | Δ | Paired | A only | B only | McNemar p | Verdict A → B |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|\n";
  char buf[160];
  for (const auto& x : c.criteria) {
    std::snprintf(buf, sizeof buf, "%lld/%lld | %lld/%lld | %+.2f | %lld | %lld | %lld | %.3f", (long long)x.passes_a,
                  (long long)x.n_a, (long long)x.passes_b, (long long)x.n_b, x.delta, (long long)x.pairs,
                  (long long)x.only_a, (long long)x.only_b, x.mcnemar_p);
    out << "| " << md_inline(x.case_id) << " | " << md_inline(x.variant_id) << " | " << md_inline(x.criterion_id)
        << " | " << buf << " | " << x.verdict_a << (x.verdict_a == x.verdict_b ? "" : " → " + x.verdict_b) << " |\n";
  }
  out << "\n| Case | Variant | Unique outputs A → B | TARr A → B |\n|---|---|---|---|\n";
  for (const auto& g : c.groups)
    out << "| " << md_inline(g.case_id) << " | " << md_inline(g.variant_id) << " | " << g.unique_a << " → "
        << g.unique_b << " | " << (g.tar_r_a ? "yes" : "no") << " → " << (g.tar_r_b ? "yes" : "no") << " |\n";
  if (c.routing.has_traces && !c.routing.baseline.empty()) render_routing_markdown(c.routing, out);
  out << "\nMcNemar: exact two-sided binomial test on repeats paired by index (both runs used the same "
         "derived seed for repeat r); only repeats scored in both runs are paired.\n";
}

}  // namespace wobble
