#include "analysis/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <ostream>

#include "report/report.h"
#include "util/error.h"
#include "util/fixed.h"

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

namespace {

const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

// The graded content of each case and variant (suite_to_json's form), keyed by id (nlohmann
// objects keep keys sorted, so dump() is canonical).
struct Definition {
  std::string name;
  nlohmann::json cases = nlohmann::json::object(), variants = nlohmann::json::object();
};

Definition definition_of(const nlohmann::json& snap) {
  Definition d;
  if (member(snap, "name").is_string()) d.name = snap["name"].get<std::string>();
  for (const auto& v : member(snap, "variants")) {
    if (!member(v, "id").is_string()) continue;
    d.variants[v["id"].get<std::string>()] = {{"prompt", member(v, "prompt")}, {"messages", member(v, "messages")}};
  }
  for (const auto& c : member(snap, "cases")) {
    if (!member(c, "id").is_string()) continue;
    const auto& rubric = member(c, "rubric");
    nlohmann::json criteria = nlohmann::json::array();
    for (const auto& cr : member(rubric, "criteria"))
      criteria.push_back({{"id", member(cr, "id")}, {"scorer", member(cr, "scorer")}, {"args", member(cr, "args")},
                          {"not", member(cr, "not")}});
    d.cases[c["id"].get<std::string>()] = {{"vars", member(c, "vars")}, {"tags", member(c, "tags")},
                                           {"answer_extractor", member(c, "answer_extractor")},
                                           {"rubric_answer_extractor", member(rubric, "answer_extractor")},
                                           {"criteria", criteria}};
  }
  return d;
}

}  // namespace

std::string SuiteMatch::dropped_sentence() const {
  return std::to_string(dropped()) + " (case, variant, criterion) triple" + (dropped() == 1 ? "" : "s") +
         " present in only one run left out (" + std::to_string(criteria_only_a) + " only in run " +
         std::to_string(run_a) + ", " + std::to_string(criteria_only_b) + " only in run " + std::to_string(run_b) +
         "); " + std::to_string(criteria_common) + " compared";
}

SuiteMatch match_suites(const RunAnalysis& a, const RunAnalysis& b) {
  SuiteMatch m;
  m.run_a = a.run.id;
  m.run_b = b.run.id;
  m.name_a = a.run.suite_name;
  m.name_b = b.run.suite_name;
  Definition da = definition_of(suite_to_json(a.run.plan.suite)), db = definition_of(suite_to_json(b.run.plan.suite));
  m.digest_a = suite_content_hash(a.run.plan.suite);
  m.digest_b = suite_content_hash(b.run.plan.suite);
  m.same = m.name_a == m.name_b && m.digest_a == m.digest_b;
  auto run_name = [](int64_t id) { return "run " + std::to_string(id); };
  if (m.name_a != m.name_b) m.differences.push_back("suite names differ");
  auto diff = [&](const nlohmann::json& x, const nlohmann::json& y, const char* kind) {
    for (const auto& [id, def] : x.items()) {
      if (!y.contains(id)) m.differences.push_back(std::string(kind) + " '" + id + "' only in " + run_name(m.run_a));
      else if (y[id] != def) m.differences.push_back(std::string(kind) + " '" + id + "' is defined differently");
    }
    for (const auto& [id, def] : y.items())
      if (!x.contains(id)) m.differences.push_back(std::string(kind) + " '" + id + "' only in " + run_name(m.run_b));
  };
  diff(da.variants, db.variants, "variant");
  diff(da.cases, db.cases, "case");
  // A rescore grades the other run's very outputs with changed rubrics: showing what the rubric
  // change moved is the point of comparing them, so differing rubrics do not refuse the pair.
  const bool rescore_pair = (b.run.plan.source_run_id > 0 && b.run.plan.source_run_id == a.run.id) ||
                            (a.run.plan.source_run_id > 0 && a.run.plan.source_run_id == b.run.id);
  if (rescore_pair && m.name_a == m.name_b) {
    m.same = true;
    m.differences.insert(m.differences.begin(), "run " + std::to_string(b.run.plan.source_run_id > 0 ? m.run_b : m.run_a) +
                                                     " rescores the other run's stored outputs");
  }

  std::set<std::tuple<std::string, std::string, std::string>> in_a, in_b;
  for (const auto& c : a.criteria) in_a.emplace(c.case_id, c.variant_id, c.criterion_id);
  for (const auto& c : b.criteria) in_b.emplace(c.case_id, c.variant_id, c.criterion_id);
  for (const auto& t : in_a) (in_b.count(t) ? m.criteria_common : m.criteria_only_a)++;
  for (const auto& t : in_b)
    if (!in_a.count(t)) ++m.criteria_only_b;
  return m;
}

void require_same_suite(const SuiteMatch& m, bool allow_change) {
  if (m.same || allow_change) return;
  std::string msg = "run " + std::to_string(m.run_a) + " and run " + std::to_string(m.run_b) +
                    " are runs of different suites: '" + m.name_a + "' (definition sha256 " + m.digest_a.substr(0, 12) +
                    ") and '" + m.name_b + "' (definition sha256 " + m.digest_b.substr(0, 12) + ")";
  size_t shown = std::min<size_t>(m.differences.size(), 5);
  for (size_t i = 0; i < shown; ++i) msg += (i ? "; " : ": ") + m.differences[i];
  if (m.differences.size() > shown) msg += "; and " + std::to_string(m.differences.size() - shown) + " more";
  msg += ". Pass --allow-suite-change to compare only the (case, variant, criterion) triples both runs have";
  throw Error(kExitUsage, msg);
}

RunComparison compare_runs(const RunAnalysis& a, const RunAnalysis& b) {
  RunComparison out;
  out.a = a.run;
  out.b = b.run;
  out.suite = match_suites(a, b);
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
    if (x.mcnemar_p < kCompareAlpha) {
      ++out.significant;
      if (x.only_a > x.only_b) ++out.regressions;
      if (x.only_b > x.only_a) ++out.improvements;
    }
    if (x.mcnemar_p < kCompareAlpha || x.verdict_a != x.verdict_b) out.moved.push_back(out.criteria.size());
    out.criteria.push_back(std::move(x));
  }
  std::stable_sort(out.moved.begin(), out.moved.end(), [&](size_t i, size_t j) {
    const auto &x = out.criteria[i], &y = out.criteria[j];
    if (x.mcnemar_p != y.mcnemar_p) return x.mcnemar_p < y.mcnemar_p;
    return std::fabs(x.delta) > std::fabs(y.delta);
  });
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

std::set<size_t> moved_indices(const RunComparison& c) { return {c.moved.begin(), c.moved.end()}; }

std::set<std::pair<std::string, std::string>> moved_groups(const RunComparison& c) {
  std::set<std::pair<std::string, std::string>> out;
  for (size_t i : c.moved) out.emplace(c.criteria[i].case_id, c.criteria[i].variant_id);
  return out;
}

std::string comparison_verdict(const RunComparison& c) {
  auto count = [](int64_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); };
  std::string alpha = "McNemar p < " + fixed(kCompareAlpha, 2);
  std::string tail = count(int64_t(c.criteria.size()), "paired criterion", "paired criteria");
  if (c.moved.empty()) return "Nothing moved: no criterion with " + alpha + " and no verdict change over " + tail;
  return count(c.regressions, "regression", "regressions") + ", " + count(c.improvements, "improvement", "improvements") +
         " (" + alpha + "); " + count(c.verdict_changes, "verdict change", "verdict changes") + "; " + tail;
}

nlohmann::json comparison_json(const RunComparison& c, const CompareOptions& opts) {
  nlohmann::json j;
  j["run_a"] = {{"id", c.a.id}, {"suite", c.a.suite_name}, {"model_id", c.a.model_id}};
  j["run_b"] = {{"id", c.b.id}, {"suite", c.b.suite_name}, {"model_id", c.b.model_id}};
  j["suite"] = {{"same", c.suite.same}, {"definition_a", c.suite.digest_a}, {"definition_b", c.suite.digest_b},
                {"differences", c.suite.differences}, {"criteria_compared", c.suite.criteria_common},
                {"criteria_dropped", c.suite.dropped()}, {"criteria_only_a", c.suite.criteria_only_a},
                {"criteria_only_b", c.suite.criteria_only_b}};
  j["verdict_changes"] = c.verdict_changes;
  j["significant"] = c.significant;
  j["verdict"] = {{"text", comparison_verdict(c)}, {"regressions", c.regressions}, {"improvements", c.improvements},
                  {"verdict_changes", c.verdict_changes}, {"moved", int64_t(c.moved.size())}, {"alpha", kCompareAlpha}};
  auto row = [](const CriterionComparison& x) {
    return nlohmann::json{{"case", x.case_id}, {"variant", x.variant_id}, {"criterion", x.criterion_id},
                          {"n_a", x.n_a}, {"passes_a", x.passes_a}, {"n_b", x.n_b}, {"passes_b", x.passes_b},
                          {"pass_rate_a", x.pass_rate_a}, {"pass_rate_b", x.pass_rate_b}, {"delta", x.delta},
                          {"pairs", x.pairs}, {"only_a", x.only_a}, {"only_b", x.only_b},
                          {"mcnemar_p", x.mcnemar_p}, {"verdict_a", x.verdict_a}, {"verdict_b", x.verdict_b}};
  };
  // The moved criteria, most significant first; `criteria` keeps every one in the suite's order
  // (only the moved ones with only_moved).
  j["moved"] = nlohmann::json::array();
  for (size_t i : c.moved) j["moved"].push_back(row(c.criteria[i]));
  const auto moved_set = moved_indices(c);
  j["criteria"] = nlohmann::json::array();
  for (size_t i = 0; i < c.criteria.size(); ++i)
    if (!opts.only_moved || moved_set.count(i)) j["criteria"].push_back(row(c.criteria[i]));
  j["only_moved"] = opts.only_moved;
  const auto groups_moved = moved_groups(c);
  j["groups"] = nlohmann::json::array();
  for (const auto& g : c.groups)
    if (!opts.only_moved || groups_moved.count({g.case_id, g.variant_id}))
      j["groups"].push_back({{"case", g.case_id}, {"variant", g.variant_id}, {"unique_outputs_a", g.unique_a},
                             {"unique_outputs_b", g.unique_b}, {"tar_r_a", g.tar_r_a}, {"tar_r_b", g.tar_r_b}});
  if (c.routing.has_traces && !c.routing.baseline.empty()) j["routing"] = routing_json(c.routing);
  return j;
}

void render_comparison_markdown(const RunComparison& c, std::ostream& out, const CompareOptions& opts) {
  out << "# Wobble comparison: run " << c.a.id << " (A) vs run " << c.b.id << " (B)\n\n";
  out << "**" << md_inline(comparison_verdict(c), 400) << "**\n\n";
  out << "- A: `" << md_inline(c.a.model_id) << "` (" << md_inline(c.a.suite_name) << ")\n";
  out << "- B: `" << md_inline(c.b.model_id) << "` (" << md_inline(c.b.suite_name) << ")\n";
  if (!c.suite.same) {
    out << "- **Suites differ** (compared with --allow-suite-change):";
    for (size_t i = 0; i < c.suite.differences.size() && i < 10; ++i)
      out << (i ? "; " : " ") << md_inline(c.suite.differences[i]);
    out << "\n";
  }
  if (c.suite.dropped() > 0) out << "- " << c.suite.dropped_sentence() << "\n";
  const char* header =
      "| Case | Variant | Criterion | A | B | Δ | Paired | A only | B only | McNemar p | Verdict A → B |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  char buf[160];
  auto row = [&](const CriterionComparison& x) {
    std::snprintf(buf, sizeof buf, "%lld/%lld | %lld/%lld | %+.2f | %lld | %lld | %lld | %.3f", (long long)x.passes_a,
                  (long long)x.n_a, (long long)x.passes_b, (long long)x.n_b, x.delta, (long long)x.pairs,
                  (long long)x.only_a, (long long)x.only_b, x.mcnemar_p);
    out << "| " << md_inline(x.case_id) << " | " << md_inline(x.variant_id) << " | " << md_inline(x.criterion_id)
        << " | " << buf << " | " << x.verdict_a << (x.verdict_a == x.verdict_b ? "" : " → " + x.verdict_b) << " |\n";
  };
  out << "\n## What moved (most significant first)\n\n";
  if (c.moved.empty()) {
    out << "No criterion moved.\n";
  } else {
    out << header;
    for (size_t i : c.moved) row(c.criteria[i]);
  }
  const auto moved_set = moved_indices(c);
  const size_t rest = c.criteria.size() - moved_set.size();
  if (opts.only_moved) {
    out << "\n" << rest << " criteria did not move (listed without --only-moved).\n";
  } else if (rest > 0) {
    out << "\n## Did not move (" << rest << ", in the suite's order)\n\n" << header;
    for (size_t i = 0; i < c.criteria.size(); ++i)
      if (!moved_set.count(i)) row(c.criteria[i]);
  }
  const auto groups_moved = moved_groups(c);
  out << "\n## Outputs per case and variant" << (opts.only_moved ? " (groups with a moved criterion)" : "")
      << "\n\n| Case | Variant | Unique outputs A → B | TARr A → B |\n|---|---|---|---|\n";
  for (const auto& g : c.groups)
    if (!opts.only_moved || groups_moved.count({g.case_id, g.variant_id}))
      out << "| " << md_inline(g.case_id) << " | " << md_inline(g.variant_id) << " | " << g.unique_a << " → "
          << g.unique_b << " | " << (g.tar_r_a ? "yes" : "no") << " → " << (g.tar_r_b ? "yes" : "no") << " |\n";
  if (c.routing.has_traces && !c.routing.baseline.empty()) render_routing_markdown(c.routing, out);
  out << "\nMcNemar: exact two-sided binomial test on repeats paired by index (both runs used the same "
         "derived seed for repeat r); only repeats scored in both runs are paired. A criterion moved when p < "
      << fixed(kCompareAlpha, 2)
      << " or its verdict changed; a regression when more paired repeats passed in A only than in B only, an "
         "improvement the other way.\n";
}

}  // namespace wobble
