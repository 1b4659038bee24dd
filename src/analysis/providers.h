// Several providers in one run: splitting a run's samples by provider, the side-by-side
// breakdown every report shows, and the paired comparison of two providers (`compare RUN
// --providers A B`).
//
// Repeat r of every provider used the same derived seed (runner/seeds.h), so two providers of one
// run pair exactly like two runs of one suite: by (case, variant, criterion, repeat).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "analysis/compare.h"
#include "analysis/stability.h"

namespace wobble {

// True when the run's plan names several providers or its samples carry more than one provider id.
bool has_several_providers(const RunRecord& run, const std::vector<SampleRecord>& samples);

// The provider ids of a run, in the suite's order ("" for a single unnamed provider).
std::vector<std::string> run_provider_ids(const RunRecord& run);

// The samples of provider `id`. Throws Error(kExitUsage) naming the run's providers when `id` is
// not one of them.
std::vector<SampleRecord> samples_of_provider(const RunRecord& run, const std::vector<SampleRecord>& samples,
                                              const std::string& id);

// Rewrites each sample's variant id to "variant@provider" (provider ids never contain '@').
void label_variants_by_provider(std::vector<SampleRecord>& samples);

// Each provider's samples analysed on their own, one row per (case, variant, criterion).
ProviderBreakdown provider_breakdown(const RunRecord& run, const std::vector<SampleRecord>& samples, int report_k);
// The same from each provider's analysis already made (analyze_run streams them): `seen` holds the
// provider ids in the order their samples first appear in the run's sample order; `per_provider`
// the analysis of each id (an id of the plan without samples may be missing: it counts nothing).
ProviderBreakdown provider_breakdown_of(const RunRecord& run, const std::vector<std::string>& seen,
                                        const std::map<std::string, RunAnalysis>& per_provider);

// One provider of a run analysed alone (report --provider).
RunAnalysis analyze_provider(const Store& store, int64_t run_id, const std::string& id, int report_k = 3);

// Provider `a` against provider `b` of the same run, with compare_runs()' statistics.
RunComparison compare_providers(const Store& store, int64_t run_id, const std::string& a, const std::string& b);

// "model-x" for an openai provider, the GGUF path (or "bundled demo model") for a local one.
std::string provider_model_text(const ProviderSpec& p);

}  // namespace wobble
