// Model comparison: two runs of the same suite (e.g. a hosted endpoint and the bundled engine, or
// two model versions), paired by case, variant and criterion.
//
// Repeat r of both runs used the same derived seed, so outcomes are paired by repeat index: the
// exact McNemar test on the discordant pairs (b = passed in A only, c = passed in B only) gives a
// two-sided p-value for "the pass rates differ"; unpaired repeats (present in one run only) are
// left out of the test but counted in the pass rates.
#pragma once

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
  std::string digest_a, digest_b;        // suite_definition_digest() of each snapshot
  std::vector<std::string> differences;  // human lines, e.g. "case 'mul' only in run 7"
  int64_t criteria_common = 0, criteria_only_a = 0, criteria_only_b = 0;
  int64_t dropped() const { return criteria_only_a + criteria_only_b; }
  // "3 (case, variant, criterion) triples present in only one run were left out (2 only in run 7, ...)"
  std::string dropped_sentence() const;
};

// SHA-256 (hex) over what a suite asks and how it grades, read from a run's suite snapshot: the
// suite name, each variant's prompt or messages, and each case's vars, answer extractor and
// criteria (id, scorer, args, not), keyed by id so that reordering changes nothing. Left out:
// provider and model, sampling, repeats, gate thresholds, weights, descriptions and file paths,
// since comparing two models or two settings on the same questions is what comparisons are for.
std::string suite_definition_digest(const Suite& suite);

SuiteMatch match_suites(const RunAnalysis& a, const RunAnalysis& b);

// Throws Error(kExitUsage) when the suites differ and !allow_change, naming both runs' suite names
// and definition digests and the first differences.
void require_same_suite(const SuiteMatch& m, bool allow_change);

struct RunComparison {
  RunRecord a, b;
  SuiteMatch suite;
  std::vector<CriterionComparison> criteria;
  std::vector<GroupComparison> groups;
  int64_t verdict_changes = 0, significant = 0;
  RoutingAnalysis routing;  // b against a as baseline, when both have traces
};

// Exact two-sided McNemar p-value for b and c discordant pairs (binomial, p = 1/2).
double mcnemar_exact(int64_t b, int64_t c);

RunComparison compare_runs(const RunAnalysis& a, const RunAnalysis& b);
nlohmann::json comparison_json(const RunComparison& c);
void render_comparison_markdown(const RunComparison& c, std::ostream& out);
void render_comparison_html(const RunComparison& c, std::ostream& out);  // self-contained page

}  // namespace wobble
