// Merging shard databases: the runs of `wobble run --shard i/N` (one database per CI job or
// Kubernetes Indexed Job pod) become one run in an output database, as if one machine had run
// the whole suite.
//
// Refuses (Error, exit 2, naming the file and the field) when the runs differ in suite content,
// parsed suite, provider, model, sampling, repeats or tool version, or when shard counts differ.
// Each (case, variant, repeat) appears once: an ok sample wins over a provider failure; among
// equals, the first input given wins, and differing ok outputs for the same triple are counted as
// conflicts. The merged run is written batch by batch and deleted again if anything fails, so the
// output database never keeps half a merge. Inputs are only read (opening one may apply pending
// schema migrations to it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wobble {

struct MergeResult {
  int64_t run_id = 0;             // the new run in the output database
  int64_t input_runs = 0;
  int64_t samples = 0;            // stored in the merged run
  int64_t duplicates = 0;         // candidate samples left out because their triple was already taken
  int64_t conflicts = 0;          // duplicates whose ok output differed from the kept one
  int64_t expected = 0;           // triples the whole suite plans (cases × variants × repeats)
  std::vector<std::string> shards;  // shard specs seen, e.g. "1/4"
  std::string status;             // "complete" or "interrupted" (resume fills the gaps)
};

MergeResult merge_databases(const std::string& out_path, const std::vector<std::string>& inputs);

}  // namespace wobble
