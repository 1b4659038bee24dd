// Report renderers. Each takes a RunAnalysis (computed from the database) and writes text; none
// computes new numbers, so every figure in a report is reproducible from the database.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "analysis/routing_drift.h"
#include "analysis/stability.h"

namespace wobble {

// `routing` adds the routing section when the run has traces (nullptr: none).
nlohmann::json report_json(const RunAnalysis& a, const RoutingAnalysis* routing = nullptr);
void render_markdown(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing = nullptr);
nlohmann::json routing_json(const RoutingAnalysis& r);
void render_routing_markdown(const RoutingAnalysis& r, std::ostream& out);

// One self-contained HTML page (inline CSS and SVG, no script, no external assets); all model and
// suite text is escaped.
void render_html(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing = nullptr);
// The routing section alone (heatmaps, variant and baseline drift bars), for pages that embed it.
void render_routing_html(const RoutingAnalysis& r, std::ostream& out);

// JUnit XML: one testcase per (case, variant, criterion); unstable and stable-fail are failures.
void render_junit(const RunAnalysis& a, std::ostream& out);
// A short Markdown summary for a CI step summary (e.g. $GITHUB_STEP_SUMMARY).
void render_summary(const RunAnalysis& a, std::ostream& out);
std::string xml_escape(const std::string& s);

// The "Providers side by side" section of a run on several providers (no output when a.providers
// is empty); report_json puts providers_json() under "providers".
void render_providers_markdown(const ProviderBreakdown& b, std::ostream& out);
void render_providers_html(const ProviderBreakdown& b, std::ostream& out);
nlohmann::json providers_json(const ProviderBreakdown& b);

// Markdown-safe inline text: escapes table pipes, backticks and newlines; clips to `max` bytes.
std::string md_inline(const std::string& s, size_t max = 120);

}  // namespace wobble
