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

// Markdown-safe inline text: escapes table pipes, backticks and newlines; clips to `max` bytes.
std::string md_inline(const std::string& s, size_t max = 120);

}  // namespace wobble
