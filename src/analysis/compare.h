// Model comparison: two runs of the same suite (e.g. a hosted endpoint and the bundled engine, or
// two model versions), paired by case, variant and criterion.
//
// Repeat r of both runs used the same derived seed, so outcomes are paired by repeat index: the
// exact McNemar test on the discordant pairs (b = passed in A only, c = passed in B only) gives a
// two-sided p-value for "the pass rates differ"; unpaired repeats (present in one run only) are
// left out of the test but counted in the pass rates.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/routing_drift.h"
#include "analysis/stability.h"

namespace wobble {

struct CriterionComparison {
  std::string case_id, variant_id, criterion_id;
  int64_t n_a = 0, passes_a = 0, n_b = 0, passes_b = 0;
  double pass_rate_a = 0, pass_rate_b = 0, delta = 0;  // delta = b - a
  int64_t pairs = 0, only_a = 0, only_b = 0;          // paired repeats and discordant counts
  double mcnemar_p = 1;
  std::string verdict_a, verdict_b;
};

struct GroupComparison {
  std::string case_id, variant_id;
  int64_t unique_a = 0, unique_b = 0;
  bool tar_r_a = false, tar_r_b = false;
};

// Whether two runs asked the same questions and graded them the same way, and how many
// (case, variant, criterion) triples they share. gate --baseline and compare refuse runs whose
// suites differ (exit 2) unless --allow-suite-change; then only the shared triples are compared.
struct SuiteMatch {
  bool same = true;  // same suite name and same definition digest
  int64_t run_a = 0, run_b = 0;
  std::string name_a, name_b;
  std::string digest_a, digest_b;        // suite_content_hash() of each run's plan
  std::vector<std::string> differences;  // human lines, e.g. "case 'mul' only in run 7"
  int64_t criteria_common = 0, criteria_only_a = 0, criteria_only_b = 0;
  int64_t dropped() const { return criteria_only_a + criteria_only_b; }
  // "3 (case, variant, criterion) triples present in only one run were left out (2 only in run 7, ...)"
  std::string dropped_sentence() const;
};


SuiteMatch match_suites(const RunAnalysis& a, const RunAnalysis& b);

// Throws Error(kExitUsage) when the suites differ and !allow_change, naming both runs' suite names
// and definition digests and the first differences.
void require_same_suite(const SuiteMatch& m, bool allow_change);

// The significance level of compare's McNemar test: a criterion "moved" when p is below it or its
// verdict changed.
inline constexpr double kCompareAlpha = 0.05;

struct RunComparison {
  RunRecord a, b;
  SuiteMatch suite;
  std::vector<CriterionComparison> criteria;
  std::vector<GroupComparison> groups;
  int64_t verdict_changes = 0, significant = 0;
  // Significant criteria (McNemar p < kCompareAlpha) by direction of the discordant pairs: more
  // repeats passed in A only (a regression from A to B) or in B only (an improvement).
  int64_t regressions = 0, improvements = 0;
  // Indices into `criteria` of the moved ones (p < kCompareAlpha or a verdict change), most
  // significant first: smaller p, then larger |delta|, then the suite's order.
  std::vector<size_t> moved;
  RoutingAnalysis routing;  // b against a as baseline, when both have traces
};

// How compare renders: every format leads with the verdict and the moved criteria; the rest follow
// unless only_moved, which also limits the outputs table to groups with a moved criterion.
struct CompareOptions {
  bool only_moved = false;
};

// Exact two-sided McNemar p-value for b and c discordant pairs (binomial, p = 1/2).
double mcnemar_exact(int64_t b, int64_t c);

RunComparison compare_runs(const RunAnalysis& a, const RunAnalysis& b);
nlohmann::json comparison_json(const RunComparison& c, const CompareOptions& opts = {});
void render_comparison_markdown(const RunComparison& c, std::ostream& out, const CompareOptions& opts = {});
void render_comparison_html(const RunComparison& c, std::ostream& out,
                            const CompareOptions& opts = {});  // self-contained page
// "3 regressions, 1 improvement (McNemar p < 0.05); 5 verdict changes; 120 paired criteria", or
// "nothing moved ..." when no criterion moved: the line every format leads with.
std::string comparison_verdict(const RunComparison& c);
std::set<size_t> moved_indices(const RunComparison& c);  // RunComparison::moved as a set
// The (case, variant) groups that have a moved criterion.
std::set<std::pair<std::string, std::string>> moved_groups(const RunComparison& c);

}  // namespace wobble
