// Every metric a report shows, defined once. The Markdown and HTML reports, `wobble metrics` and
// the metric table in reports/README.md all render from this table (a test checks the README's copy
// against the rendering), so a definition cannot drift between them.
//
// Plain constant data; thread-safe. Text is trusted (written here), but renderers still escape it
// for their medium.
#pragma once

#include <span>
#include <string_view>

namespace wobble {

// Which section of a report a metric belongs to: renderers show only the groups they have data for.
enum class MetricGroup { kStability, kOutput, kVariants, kUsage, kRouting, kJudge, kGate, kReasoning, kCount };

struct MetricDefinition {
  std::string_view id;          // stable key, e.g. "pass_rate"
  std::string_view name;        // as a report's column header says it
  MetricGroup group;
  std::string_view definition;  // one or two sentences
  std::string_view formula;     // plain text; may be empty
  std::string_view sources;     // which providers can supply the data
};

// In the order reports list them.
std::span<const MetricDefinition> metric_definitions();
// nullptr when no metric has this id.
const MetricDefinition* find_metric(std::string_view id);
std::string_view metric_group_name(MetricGroup g);  // "Stability", "Outputs", ...

// Permutation test behind routing movement (documented in the table, used by routing_drift.cpp).
inline constexpr long long kRoutingPermutationSeed = 20261130;
inline constexpr long long kRoutingExactPermutationLimit = 5000;  // enumerate every split up to this many
inline constexpr long long kRoutingRandomPermutations = 2000;     // otherwise this many random splits
inline constexpr double kRoutingMoveAlpha = 0.05;

}  // namespace wobble
