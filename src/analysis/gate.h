// The CI gate: thresholds over a RunAnalysis, optionally against a baseline run.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/stability.h"
#include "suite/suite.h"

namespace wobble {

struct GateCheck {
  std::string name;     // "max_unstable", "min_pass_rate", "pass_rate_drop" ...
  bool passed = true;
  std::string detail;   // human sentence with the numbers
};

struct GateResult {
  bool passed = true;
  std::vector<GateCheck> checks;
  nlohmann::json to_json() const;
};

GateSpec merge_gate(const GateSpec& from_suite, const GateSpec& from_cli);  // CLI wins where set

// Always checked: the run is complete; it has scored samples (a run with none never passes);
// provider failures stay within max_provider_failures (default: none).
// Baseline comparison: every (case, variant, criterion) whose pass rate fell is checked with a
// one-sided Fisher exact test; a drop is a failure when p < alpha (default 0.05) or the absolute
// drop exceeds max_pass_rate_drop.
GateResult evaluate_gate(const RunAnalysis& run, const GateSpec& spec, const RunAnalysis* baseline);

// Whether `spec` sets a threshold that a run can be checked against without a baseline.
bool has_thresholds(const GateSpec& spec);
// The suite's own gate: block applied to the run without a baseline, as reports show it first;
// nullopt when the suite sets no thresholds.
std::optional<GateResult> suite_gate(const RunAnalysis& run);

}  // namespace wobble
