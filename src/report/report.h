// Report renderers. Each takes a RunAnalysis (computed from the database) and writes text; none
// computes new numbers, so every figure in a report is reproducible from the database.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "analysis/stability.h"

namespace wobble {

nlohmann::json report_json(const RunAnalysis& a);
void render_markdown(const RunAnalysis& a, std::ostream& out);

// Markdown-safe inline text: escapes table pipes, backticks and newlines; clips to `max` bytes.
std::string md_inline(const std::string& s, size_t max = 120);

}  // namespace wobble
