#include "store/merge.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "store/store.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

namespace fs = std::filesystem;

// The parsed suite without file locations: shards of one suite may run from different checkouts.
nlohmann::json without_paths(nlohmann::json j) {
  if (j.is_object()) {
    j.erase("source_path");
    for (auto& [key, value] : j.items()) value = without_paths(value);
  } else if (j.is_array()) {
    for (auto& value : j) value = without_paths(value);
  }
  return j;
}

// The first field in which two runs differ ("" when they may be merged).
std::string differing_field(const RunRecord& a, const RunRecord& b) {
  if (a.suite_name != b.suite_name) return "suite name ('" + a.suite_name + "' vs '" + b.suite_name + "')";
  if (a.suite_hash != b.suite_hash) return "suite content hash (" + a.suite_hash.substr(0, 12) + " vs " + b.suite_hash.substr(0, 12) + ")";
  if (without_paths(suite_to_json(a.plan.suite)) != without_paths(suite_to_json(b.plan.suite)))
    return "planned suite (cases, filters or per-case overrides differ)";
  if (a.provider != b.provider) return "provider (" + dump_json(a.provider) + " vs " + dump_json(b.provider) + ")";
  if (a.model_id != b.model_id) return "model ('" + a.model_id + "' vs '" + b.model_id + "')";
  if (a.sampling != b.sampling) return "sampling (" + dump_json(a.sampling) + " vs " + dump_json(b.sampling) + ")";
  if (a.repeats != b.repeats) return "repeats (" + std::to_string(a.repeats) + " vs " + std::to_string(b.repeats) + ")";
  if (a.tool_version != b.tool_version) return "tool version ('" + a.tool_version + "' vs '" + b.tool_version + "')";
  return "";
}

int shard_count(const std::string& shard) {
  auto slash = shard.find('/');
  if (slash == std::string::npos) return 1;
  try {
    return std::stoi(shard.substr(slash + 1));
  } catch (const std::exception&) {
    return 0;
  }
}

struct Candidate {
  size_t input = 0;
  int64_t run_id = 0, sample_id = 0;
  bool ok = false;
  std::string output;
};

}  // namespace

MergeResult merge_databases(const std::string& out_path, const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw Error(kExitUsage, "merge needs at least one input database");
  std::error_code ec;
  for (const auto& in : inputs) {
    if (!fs::is_regular_file(in)) throw Error(kExitUsage, in + ": no such database file");
    if (fs::exists(out_path) && fs::equivalent(in, out_path, ec))
      throw Error(kExitUsage, in + ": the output database cannot also be an input");
  }
  std::vector<Store> stores;
  std::vector<std::vector<RunRecord>> runs;
  const RunRecord* reference = nullptr;
  std::string reference_file;
  MergeResult result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    stores.push_back(Store::open_read_only(inputs[i]));  // inputs are only read: never migrated or written
    runs.push_back(stores.back().list_runs());
    if (runs.back().empty()) throw Error(kExitUsage, inputs[i] + ": contains no run");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (const auto& r : runs[i]) {
      if (!reference) {
        reference = &r;
        reference_file = inputs[i];
      }
      std::string diff = differing_field(*reference, r);
      if (!diff.empty())
        throw Error(kExitUsage, inputs[i] + ": run " + std::to_string(r.id) + " differs from run " +
                                    std::to_string(reference->id) + " of " + reference_file + " in " + diff +
                                    "; refusing to merge runs of different suites or configurations");
      if (shard_count(r.shard) != shard_count(reference->shard) && !r.shard.empty() && !reference->shard.empty())
        throw Error(kExitUsage, inputs[i] + ": run " + std::to_string(r.id) + " is shard " + r.shard +
                                    " but run " + std::to_string(reference->id) + " of " + reference_file +
                                    " is shard " + reference->shard + "; shard counts must match");
      if (std::find(result.shards.begin(), result.shards.end(), r.shard) == result.shards.end())
        result.shards.push_back(r.shard);
      ++result.input_runs;
    }
  }

  // Choose one sample per (provider, case, variant, repeat) before writing anything.
  std::map<WorkItem, Candidate> chosen;
  for (size_t i = 0; i < inputs.size(); ++i)
    for (auto it = runs[i].rbegin(); it != runs[i].rend(); ++it) {  // oldest run first
      for (const auto& s : stores[i].samples(it->id, false)) {
        WorkItem t{s.provider_id, s.case_id, s.variant_id, s.repeat};
        Candidate c{i, it->id, s.id, s.ok, s.output};
        auto found = chosen.find(t);
        if (found == chosen.end()) {
          chosen.emplace(t, std::move(c));
          continue;
        }
        ++result.duplicates;
        if (found->second.ok && c.ok && found->second.output != c.output) ++result.conflicts;
        if (!found->second.ok && c.ok) found->second = std::move(c);
      }
    }

  RunRecord merged = *reference;
  merged.id = 0;
  merged.shard = "";
  merged.plan.shard_index = 0;
  merged.plan.shard_count = 1;
  merged.status = "running";
  merged.expected_samples = reference->plan.samples_per_shard_set();
  for (const auto& rs : runs)
    for (const auto& r : rs) merged.started_at = std::min(merged.started_at, r.started_at);
  result.expected = merged.expected_samples;

  Store out = Store::open(out_path);
  result.run_id = out.create_run(merged);
  try {
    for (size_t i = 0; i < inputs.size(); ++i)
      for (const auto& r : runs[i]) {
        std::vector<SampleRecord> batch;
        for (auto& s : stores[i].samples(r.id, true)) {
          auto c = chosen.find(WorkItem{s.provider_id, s.case_id, s.variant_id, s.repeat});
          if (c == chosen.end() || c->second.input != i || c->second.sample_id != s.id) continue;
          s.run_id = result.run_id;
          batch.push_back(std::move(s));
          if (batch.size() == 256) {
            out.insert_samples(batch);
            result.samples += int64_t(batch.size());
            batch.clear();
          }
        }
        out.insert_samples(batch);
        result.samples += int64_t(batch.size());
      }
    bool all_complete = true;
    for (const auto& rs : runs)
      for (const auto& r : rs) all_complete = all_complete && r.status == "complete";
    result.status = all_complete && result.samples == result.expected ? "complete" : "interrupted";
    out.set_run_status(result.run_id, result.status, true);
  } catch (...) {
    out.delete_run(result.run_id);
    throw;
  }
  return result;
}

}  // namespace wobble
