// Stability analysis of one run, computed from the Store only (every number in a report comes
// from here, so it is reproducible from the database). Plain data; renderers take a RunAnalysis.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/judge_noise.h"
#include "analysis/stats.h"
#include "store/store.h"

namespace wobble {

enum class Verdict { kStablePass, kStableFail, kUnstable, kUnscored };
const char* verdict_name(Verdict v);  // "stable-pass" | "stable-fail" | "unstable" | "unscored"

// One repeat quoted for a criterion: its evidence span (or the start of its output when the scorer
// marked none), the scorer's reason and the expected value as the scorer rendered it.
struct Quote {
  int repeat = 0;
  int64_t sample_id = 0;
  std::string text;
  bool from_evidence = false;  // false: `text` is the start of the output (or of `source`)
  // Without evidence, which part of an output with a thinking part `text` starts: "answer" or
  // "reasoning"; "" for the output itself.
  std::string source;
  std::string reason, expected;
};

// Why an unstable criterion is unstable: the lowest-numbered passing and failing repeats.
struct Disagreement {
  std::optional<Quote> pass, fail;
};

// Per (case, variant, criterion).
struct CriterionStability {
  std::string case_id, variant_id, criterion_id;
  int64_t n = 0;         // scored repeats (pass + fail)
  int64_t passes = 0, fails = 0, unscored = 0;
  double pass_rate = 0;  // passes / n; 0 when n = 0
  Interval wilson;       // 95%
  int64_t k = 0;         // the k used for pass_at_k / pass_hat_k: min(n, report k)
  double pass_at_k = 0, pass_hat_k = 0;
  Verdict verdict = Verdict::kUnscored;
  int64_t flips = 0;     // pass<->fail changes in repeat order, unscored repeats skipped
  bool numeric = false;  // some score strictly between 0 and 1
  Summary score;         // over scored repeats
  std::vector<std::string> outcomes;  // by repeat index: "pass" | "fail" | "unscored" | "error"
  std::string expected;  // the expected value of the first scored repeat that rendered one
  Disagreement disagreement;  // filled for unstable criteria
  // The first repeat (in repeat order) whose result is a fail, with its reason and evidence text:
  // kept here so a renderer can quote it when the sample itself is not among RunAnalysis::samples.
  int first_fail_repeat = -1;
  std::string first_fail_reason, first_fail_evidence;
};

// True when x is more unstable than y: pass rate nearer 0.5, then a wider Wilson interval, then
// case, variant and criterion id (a total order, so every format lists the same sequence).
bool more_unstable(const CriterionStability& x, const CriterionStability& y);

// One criterion of one case under two of its variants (A before B in the suite's order).
struct VariantCriterionDelta {
  std::string case_id, variant_a, variant_b, criterion_id;
  int64_t n_a = 0, passes_a = 0, n_b = 0, passes_b = 0;
  double pass_rate_a = 0, pass_rate_b = 0, delta = 0;  // delta = b - a
  double fisher_p = 1;                                 // two-sided, on [[c_a, n_a-c_a], [c_b, n_b-c_b]]
  Verdict verdict_a = Verdict::kUnscored, verdict_b = Verdict::kUnscored;
};

// Latency and token use of the samples of one provider and model.
struct ProviderUsage {
  std::string provider;          // "<kind>:<model id>" of the run's provider
  int64_t samples = 0, failed = 0;
  int64_t latency_n = 0;         // samples with output
  double latency_p50 = 0, latency_p95 = 0, latency_mean = 0;  // seconds
  int64_t tokens_n = 0;          // samples whose provider reported both counts
  double tokens_in_mean = 0, tokens_out_mean = 0;
  int64_t tokens_in_total = 0, tokens_out_total = 0;
};

// Linear interpolation between order statistics (h = (n-1)q) of `sorted` (ascending); NaN when empty.
double percentile_sorted(const std::vector<double>& sorted, double q);

struct Divergence {
  bool diverged = false;
  int repeat_a = 0, repeat_b = 0;  // the reference repeat and the first that departs from it
  int64_t byte_offset = 0;         // first differing byte (moved back to a UTF-8 boundary)
  int64_t char_offset = 0;         // same position in code points
  std::string context;             // up to 40 bytes before the divergence
  std::string continuation_a, continuation_b;  // up to 60 bytes from the divergence on
  // The tokens at the divergence and their probabilities, when both repeats carry logprobs whose
  // tokens spell their outputs: the "why" of a divergence (a near tie, or an unlikely sample).
  struct Token {
    std::string text;
    double prob = 0;          // exp(logprob) of the token the repeat produced
  };
  std::optional<Token> token_a, token_b;
  std::optional<double> prob_b_under_a;  // repeat b's token among repeat a's top alternatives
};

// Per-sample token log-probabilities, summarised.
struct LogprobSummary {
  int64_t tokens = 0;
  double mean = 0, min = 0;
};

// The thinking parts and answer parts of a (case, variant)'s repeats, side by side
// (scorer/output_parts.h). Set only when some repeat has a thinking part.
struct ReasoningStability {
  int64_t samples = 0;           // repeats with output and a thinking part
  int64_t unclosed = 0;          // of them, the thinking never ended (no answer)
  int64_t unique_answers = 0;    // distinct answer parts over every repeat with output
  int64_t unique_reasoning = 0;  // distinct thinking parts
  Divergence answer_divergence, reasoning_divergence;
  Summary reasoning_chars;       // thinking length in code points
  // One answer over every repeat, more than one thinking text.
  bool same_answer_different_reasoning() const { return unique_answers == 1 && unique_reasoning > 1; }
};

// Per (case, variant).
struct GroupStability {
  std::string case_id, variant_id;
  int64_t samples = 0;           // stored samples with a model output
  int64_t failed = 0;            // provider failures (no output)
  int64_t unique_outputs = 0;
  bool tar_r = false;            // all raw outputs identical (and at least one)
  std::optional<bool> tar_a;     // all extracted answers identical; nullopt without an extractor
  int64_t unique_answers = 0;
  Divergence divergence;
  Summary weighted;              // weighted scores of the group's samples (n = samples that have one)
  std::optional<ReasoningStability> reasoning;
};

// Per criterion across all (case, variant) groups.
struct CriterionAcross {
  std::string criterion_id;
  int64_t groups = 0, unstable = 0, stable_pass = 0, stable_fail = 0;
  double fleiss_kappa = 0;       // NaN when undefined
  int64_t kappa_subjects = 0, kappa_raters = 0;
};

// A sample that failed at the provider (every attempt failed).
struct FailedSample {
  std::string case_id, variant_id;
  int repeat = 0;
  std::string error;    // the last attempt's error
  int64_t attempts = 0;
};

// A run on several providers, side by side: each provider's samples analysed on their own
// (analysis/providers.h). Empty for a run on one provider.
struct ProviderCell {
  int64_t n = 0, passes = 0;  // scored repeats, passes
  double pass_rate = 0;
  Interval wilson;
  Verdict verdict = Verdict::kUnscored;
  bool present = false;       // the provider has this (case, variant, criterion)
};
struct ProviderRow {
  std::string case_id, variant_id, criterion_id;
  std::vector<ProviderCell> cells;  // one per ProviderBreakdown::ids entry
};
struct ProviderBreakdown {
  std::vector<std::string> ids, models;  // the run's providers in the suite's order; model as configured
  std::vector<int64_t> samples, failed, unstable;
  std::vector<double> pass_rate;          // over all criterion results of that provider
  std::vector<ProviderRow> rows;
  bool empty() const { return ids.empty(); }
};

struct RunAnalysis {
  RunRecord run;
  // Set for a run on several providers. Every other field then keys a sample's (case, variant) as
  // (case, "variant@provider"), so no statistic ever mixes two models' repeats.
  ProviderBreakdown providers;
  // In the suite's case and variant order, then repeat (no traces). Every sample for a run of up to
  // kDetailSamples; above that only the first detail_per_group repeats of each (case, variant), for
  // per-repeat sections (every other field counts all samples). See detail_note().
  std::vector<SampleRecord> samples;
  int64_t detail_omitted = 0;    // samples analysed but not kept in `samples`
  int64_t detail_per_group = 0;  // the per-group limit applied when detail_omitted > 0
  double total_latency_s = 0;    // summed over every sample, in `samples` order
  // "" when every sample is in `samples`; else one sentence saying how many are listed and how
  // they were chosen, for renderers to print where per-repeat detail starts.
  std::string detail_note() const;
  std::vector<CriterionStability> criteria;
  std::vector<GroupStability> groups;
  std::vector<CriterionAcross> across;
  int64_t total_samples = 0, failed_samples = 0, unstable = 0;
  int64_t stable_pass = 0, stable_fail = 0, unscored_criteria = 0;  // (case, variant, criterion) triples
  std::vector<VariantCriterionDelta> variant_deltas;  // every pair of variants of a case, per criterion
  std::vector<ProviderUsage> usage;                   // one per provider and model
  // Indices into `criteria`: unstable ones most unstable first (more_unstable), then stable-fail,
  // unscored and stable-pass, each in the suite's order.
  std::vector<size_t> criteria_by_instability() const;
  std::vector<FailedSample> failures;              // every provider failure, in the suite's order
  std::map<std::string, int64_t> reported_models;  // model id the endpoint answered with -> samples
  std::map<int64_t, LogprobSummary> logprobs;      // by sample id, for samples that carry logprobs
  // Sentences a reader must see first (every sample failed, provider failures, incomplete run,
  // model swap), most severe first. Renderers show them at the top of every format.
  std::vector<std::string> alerts;
  // More than one model id reported across samples: a silent model swap behind the endpoint.
  bool model_changed() const { return reported_models.size() > 1; }
  int64_t scored = 0, passes = 0;  // over all criterion results
  double overall_pass_rate = 0;
  std::vector<std::optional<double>> weighted_scores;  // per sample, same order as `samples`
  Summary weighted;                                     // over every sample that has a weighted score
  int report_k = 3;
  std::vector<JudgeNoise> judge;  // judge noise vs model noise per judged criterion (analyze_run only)
  // The weighted score of one of `samples` (by address); nullopt when it has none or is not one of them.
  std::optional<double> weighted_score_of(const SampleRecord* s) const {
    std::less<const SampleRecord*> before;  // a total order even for pointers into other arrays
    if (samples.empty() || before(s, samples.data()) || !before(s, samples.data() + samples.size())) return std::nullopt;
    size_t i = size_t(s - samples.data());
    return i < weighted_scores.size() ? weighted_scores[i] : std::nullopt;
  }
};

// Criterion weights by case id, then criterion id: the `weight` of each criterion of each case's
// rubric in the suite as run (run.plan.suite). A criterion the suite does not name weighs 1.
using CriterionWeights = std::map<std::string, std::map<std::string, double>>;
CriterionWeights criterion_weights(const Suite& suite);

// A sample's weighted score: sum(w * score) / sum(w) over its criteria scored pass or fail
// (unscored criteria are left out, not counted as 0). nullopt when the sample failed at the
// provider, has no scored criterion, or the scored criteria weigh 0 in total.
std::optional<double> weighted_score(const SampleRecord& s, const CriterionWeights& weights);

// Per-repeat detail kept by analyze_run (RunAnalysis::samples): runs up to this many samples keep
// every sample; larger ones keep the first repeats of each (case, variant), this many in total.
inline constexpr int64_t kDetailSamples = 10000;

// What analyze_run reads beyond what every command uses (counts, rates, verdicts, outcomes by
// repeat, weighted scores, failures, latency and tokens). What is not read is left empty, in the
// analysis and in any kept sample: a report reads everything; gate, compare and trend less.
struct AnalysisReads {
  // Score reasons, evidence texts and expected values: disagreement quotes, first fails,
  // CriterionStability::expected.
  bool quotes = true;
  // Outputs and extracted answers: GroupStability's unique outputs and answers, TARr, TARa and
  // first divergence (false: 0, false, nullopt and no divergence).
  bool outputs = true;
  bool logprobs = true;  // divergence tokens and RunAnalysis::logprobs
  static AnalysisReads all() { return {}; }
  static AnalysisReads outcomes_only() { return {false, false, false}; }  // gate, trend
};

// Reads the run one (case, variant) group at a time (Store::for_each_group), so memory follows
// the largest group and the kept detail, not the run. detail_samples: how many samples to keep in
// RunAnalysis::samples (0 for commands that render none: gate, compare, trend; -1 keeps all).
// A run on several providers or with judge gradings is read whole (see reports/README.md, Scale).
RunAnalysis analyze_run(const Store& store, int64_t run_id, int report_k = 3, int64_t detail_samples = kDetailSamples,
                        const AnalysisReads& reads = AnalysisReads::all());
// The same, over samples already loaded (tests, merged views); keeps every sample. Samples are
// grouped by (case, variant) in order of first appearance; `samples` ends up in that group order.
RunAnalysis analyze_samples(const RunRecord& run, std::vector<SampleRecord> samples, int report_k = 3);

Divergence first_divergence(const std::vector<std::pair<int, std::string>>& outputs_by_repeat);
// The same over views of the outputs (the analysis reads a group's outputs in place).
Divergence first_divergence_of(const std::vector<std::pair<int, std::string_view>>& outputs_by_repeat);
// Fills d.token_a/token_b/prob_b_under_a from the two repeats' logprobs (no-op when unusable).
void attach_divergence_tokens(Divergence& d, const SampleRecord& a, const SampleRecord& b);

}  // namespace wobble
