#include "analysis/providers.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "util/error.h"

namespace wobble {

std::vector<std::string> run_provider_ids(const RunRecord& run) {
  std::vector<std::string> ids;
  for (const auto& p : run.plan.suite.run_providers()) ids.push_back(p.id);
  return ids;
}

bool has_several_providers(const RunRecord& run, const std::vector<SampleRecord>& samples) {
  if (run.plan.suite.providers.size() > 1) return true;
  for (const auto& s : samples)
    if (s.provider_id != samples.front().provider_id) return true;
  return false;
}

std::vector<SampleRecord> samples_of_provider(const RunRecord& run, const std::vector<SampleRecord>& samples,
                                              const std::string& id) {
  auto ids = run_provider_ids(run);
  if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
    std::string list;
    for (const auto& i : ids) list += (list.empty() ? "" : ", ") + (i.empty() ? std::string("(unnamed)") : i);
    throw Error(kExitUsage, "run " + std::to_string(run.id) + " has no provider '" + id + "' (its providers: " + list + ")");
  }
  std::vector<SampleRecord> out;
  for (const auto& s : samples)
    if (s.provider_id == id) out.push_back(s);
  return out;
}

void label_variants_by_provider(std::vector<SampleRecord>& samples) {
  for (auto& s : samples) s.variant_id += "@" + s.provider_id;
}

std::string provider_model_text(const ProviderSpec& p) {
  if (p.kind == "openai") return p.model;
  return p.model_path.empty() ? std::string("bundled demo model") : p.model_path;
}

ProviderBreakdown provider_breakdown(const RunRecord& run, const std::vector<SampleRecord>& samples, int report_k) {
  // Ids found in samples but not in the plan (a hand-edited database) still get a column.
  std::vector<std::string> seen;
  for (const auto& s : samples)
    if (std::find(seen.begin(), seen.end(), s.provider_id) == seen.end()) seen.push_back(s.provider_id);
  std::map<std::string, RunAnalysis> per_provider;
  for (const auto& id : seen) {
    std::vector<SampleRecord> mine;
    for (const auto& s : samples)
      if (s.provider_id == id) mine.push_back(s);
    RunRecord alone = run;
    alone.plan.suite.providers.clear();  // one provider: analyze_samples does not split again
    per_provider.emplace(id, analyze_samples(alone, std::move(mine), report_k));
  }
  return provider_breakdown_of(run, seen, per_provider);
}

ProviderBreakdown provider_breakdown_of(const RunRecord& run, const std::vector<std::string>& seen,
                                        const std::map<std::string, RunAnalysis>& per_provider) {
  ProviderBreakdown b;
  for (const auto& p : run.plan.suite.run_providers()) {
    b.ids.push_back(p.id);
    b.models.push_back(provider_model_text(p));
  }
  for (const auto& id : seen)
    if (std::find(b.ids.begin(), b.ids.end(), id) == b.ids.end()) {
      b.ids.push_back(id);
      b.models.push_back("?");
    }
  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, size_t> row_of;
  const RunAnalysis none;
  for (size_t i = 0; i < b.ids.size(); ++i) {
    auto found = per_provider.find(b.ids[i]);
    const RunAnalysis& a = found == per_provider.end() ? none : found->second;
    b.samples.push_back(a.total_samples);
    b.failed.push_back(a.failed_samples);
    b.unstable.push_back(a.unstable);
    b.pass_rate.push_back(a.overall_pass_rate);
    for (const auto& c : a.criteria) {
      Key key{c.case_id, c.variant_id, c.criterion_id};
      auto [it, fresh] = row_of.emplace(key, b.rows.size());
      if (fresh) b.rows.push_back({c.case_id, c.variant_id, c.criterion_id, {}});
      auto& cells = b.rows[it->second].cells;
      cells.resize(b.ids.size());
      cells[i] = {c.n, c.passes, c.pass_rate, c.wilson, c.verdict, true};
    }
  }
  for (auto& r : b.rows) r.cells.resize(b.ids.size());
  return b;
}

namespace {

RunAnalysis analyze_one(const RunRecord& run, const std::vector<SampleRecord>& all, const std::string& id, int k) {
  RunRecord alone = run;
  for (const auto& p : run.plan.suite.run_providers())
    if (p.id == id) {
      alone.plan.suite.provider = p;
      alone.model_id = id.empty() ? provider_model_text(p) : id + ": " + provider_model_text(p);
    }
  alone.plan.suite.providers.clear();
  auto mine = samples_of_provider(run, all, id);
  // A provider's share of the planned samples, so alerts about an incomplete run stay true.
  auto n = int64_t(run.plan.suite.run_providers().size());
  if (n > 1) alone.expected_samples = run.expected_samples / n;
  return analyze_samples(alone, std::move(mine), k);
}

}  // namespace

RunAnalysis analyze_provider(const Store& store, int64_t run_id, const std::string& id, int report_k) {
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in this database");
  return analyze_one(*run, store.samples(run_id, false), id, report_k);
}

RunComparison compare_providers(const Store& store, int64_t run_id, const std::string& a, const std::string& b) {
  if (a == b) throw Error(kExitUsage, "--providers needs two different provider ids, got '" + a + "' twice");
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in this database");
  auto samples = store.samples(run_id, false);
  RunAnalysis x = analyze_one(*run, samples, a, 3), y = analyze_one(*run, samples, b, 3);
  return compare_runs(x, y);
}

}  // namespace wobble
