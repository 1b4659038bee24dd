// Report renderers. Each takes a RunAnalysis (computed from the database) and writes text; none
// computes new numbers, so every figure in a report is reproducible from the database.
#pragma once

#include <optional>
#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/gate.h"
#include "analysis/metric_definitions.h"
#include "analysis/routing_drift.h"
#include "analysis/stability.h"

namespace wobble {

// What every format shows and in which order. Each format opens with the verdict: the suite's gate
// (when it sets thresholds), the counts of unstable / stable-fail / stable-pass criteria and provider
// failures, then the unstable criteria most unstable first with their quoted disagreement, then the
// rest; per-repeat tables come last (Markdown: only with `detail`).
struct ReportOptions {
  bool detail = false;         // Markdown: per-repeat tables and every divergence, not only unstable groups
  bool only_unstable = false;  // every section limited to unstable criteria and the groups that have one
};
// The gate every format leads with is suite_gate(a): the suite's own thresholds, no baseline.

// The metric table (analysis/metric_definitions.h) as a Markdown table, groups in `groups` only
// (empty: every group). `wobble metrics` prints it whole; reports/README.md embeds it.
void render_metrics_markdown(std::ostream& out, const std::vector<MetricGroup>& groups = {});
void render_metrics_html(std::ostream& out, const std::vector<MetricGroup>& groups = {});

// A JSON report as text with the verdict first and the samples last (nlohmann::json sorts keys).
std::string report_json_text(const nlohmann::json& report);

// `routing` adds the routing section when the run has traces (nullptr: none).
nlohmann::json report_json(const RunAnalysis& a, const RoutingAnalysis* routing = nullptr,
                           const ReportOptions& opts = {});
// The same document as report_json_text(report_json(a, routing, opts)), written to `out` as it is
// made: one top-level section or one element of a large array at a time, so memory follows the
// largest element, not the document.
void write_report_json(std::ostream& out, const RunAnalysis& a, const RoutingAnalysis* routing = nullptr,
                       const ReportOptions& opts = {});
void render_markdown(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing = nullptr,
                     const ReportOptions& opts = {});
nlohmann::json routing_json(const RoutingAnalysis& r);
// `a` (optional) adds per-criterion variant deltas; only_unstable keeps the (case, variant) groups
// with an unstable criterion in `a`.
void render_routing_markdown(const RoutingAnalysis& r, std::ostream& out, const RunAnalysis* a = nullptr,
                             bool only_unstable = false);
// The verdict block and the unstable-criteria table, shared by the Markdown report and the summary;
// `heading` is the Markdown heading prefix ("##" or "####"); at most `limit` unstable rows.
void render_verdict_markdown(const RunAnalysis& a, const ReportOptions& opts, std::ostream& out, const char* heading);
void render_unstable_markdown(const RunAnalysis& a, std::ostream& out, const char* heading, size_t limit);
// Per-criterion deltas of one (case, A, B) pair, e.g. "format 1.00→1.00, correct 0.20→0.60".
std::string variant_delta_text(const RunAnalysis& a, const std::string& case_id, const std::string& va,
                               const std::string& vb);

// One self-contained HTML page (inline CSS and SVG, no script, no external assets); all model and
// suite text is escaped.
void render_html(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing = nullptr,
                 const ReportOptions& opts = {});
// The routing section alone (heatmaps on one scale, variant pairs with their difference map, one
// baseline drift chart), for pages that embed it. `a` (optional) adds per-criterion variant deltas.
// only_unstable keeps the (case, variant) groups with an unstable criterion in `a`.
void render_routing_html(const RoutingAnalysis& r, std::ostream& out, const RunAnalysis* a = nullptr,
                         bool only_unstable = false);

// JUnit XML: one testcase per (case, variant, criterion); unstable and stable-fail are failures.
// <properties> carry the verdict; testcases come most unstable first.
void render_junit(const RunAnalysis& a, std::ostream& out, const ReportOptions& opts = {});
// A short Markdown summary for a CI step summary (e.g. $GITHUB_STEP_SUMMARY).
void render_summary(const RunAnalysis& a, std::ostream& out, const ReportOptions& opts = {});
std::string xml_escape(const std::string& s);

// The "Providers side by side" section of a run on several providers (no output when a.providers
// is empty); report_json puts providers_json() under "providers".
// Each provider's effective sampling (command-line overrides applied): the suite's defaults with
// the provider's own on top, resolved to what is sent (a case's own sampling still layers between
// them). One (provider id, compact JSON) per provider; empty for a run on one provider that sets
// no sampling of its own, whose sampling is the suite's.
std::vector<std::pair<std::string, std::string>> provider_sampling(const RunRecord& r);
void render_providers_markdown(const ProviderBreakdown& b, std::ostream& out);
void render_providers_html(const ProviderBreakdown& b, std::ostream& out);
nlohmann::json providers_json(const ProviderBreakdown& b);

// Markdown-safe inline text: escapes table pipes, backticks and newlines; clips to `max` bytes.
std::string md_inline(const std::string& s, size_t max = 120);

}  // namespace wobble
