// RunPlan: the typed record of what a run is. Written once by `wobble run`, read through
// plan_of_run() (store.cpp) by every command: report, gate, merge, trend, resume, show.
//
// It holds the suite as run (cases filtered, command-line overrides applied, rubric contents
// included), each case's effective repeats and sampling, the shard and the overrides, so a run can
// be reported on or resumed with nothing but the database. Plain value; immutable once written.
//
// Storage: runs.suite_snapshot holds suite_to_json(suite); runs.plan holds the rest as JSON
// (format 1: {"format", "suite_dir", "shard", "overrides", "cases": [{id, repeats, sampling}],
// "prompts": [{case, variant, prompt}]}). Runs recorded before schema v2 have no runs.plan; their
// plan is rebuilt from the snapshot (whose per-case repeats are the effective ones) and the shard
// column.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "suite/suite.h"

namespace wobble {

using Triple = std::tuple<std::string, std::string, int>;  // (case, variant, repeat)
// One sample to take: (provider id, case, variant, repeat). A suite with one unnamed provider has
// provider id "".
using WorkItem = std::tuple<std::string, std::string, std::string, int>;

struct RunPlan {
  static constexpr int kFormat = 1;
  Suite suite;                 // as run
  std::string suite_dir;       // absolute directory of the suite file at the start (resolves model paths)
  int shard_index = 0, shard_count = 1;
  // Command-line settings that changed the suite as written, e.g. {"repeats": "2", "case": "a,b"}.
  std::map<std::string, std::string> overrides;
  // Set on a run made by `wobble rescore`: the run whose stored outputs it graded again (no model
  // call). Stored as plan "source_run"; 0 for a run that called the model.
  int64_t source_run_id = 0;

  std::string shard_text() const;  // "" or "i/N"
  // Planned samples over every shard: sum(repeats) x variants x providers.
  int64_t samples_per_shard_set() const;
  bool uniform_repeats() const;    // every case runs the suite's repeats
  // "5", or "2-5 (per case)" when cases differ.
  std::string repeats_text() const;

  nlohmann::json plan_json() const;  // the runs.plan column
  // Rebuilds a plan from the stored columns; plan_column may be null (a run from schema v1).
  // Throws std::runtime_error naming the field when the stored JSON is malformed.
  static RunPlan from_stored(const nlohmann::json& suite_snapshot, const nlohmann::json& plan_column,
                             const std::string& shard_column);
};

// Parses "i/N" (0 <= i < N); false when malformed.
bool parse_shard_text(const std::string& text, int& index, int& count);

}  // namespace wobble
