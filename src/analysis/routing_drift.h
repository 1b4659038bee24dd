// Routing analysis over the engine's per-token traces stored with each sample.
//
// Definitions (also in the report appendix):
//   usage[l][e]       share of (token, slot) selections at MoE layer l that went to expert e
//   entropy           mean router entropy (nats) over tokens and layers
//   load CV           coefficient of variation (sd / mean) of usage across experts, mean over layers
//   repetition        share of (token, layer) whose selected set equals the previous token's
//   top-k overlap     mean |A ∩ B| / k between two repeats' selected sets at the same (token, layer)
//   exact match       share of (token, layer) where the two sets are equal
//   JSD               Jensen-Shannon divergence (base 2, in [0, 1]) between two usage distributions
//
// Traces a remote engine reported (vLLM, SGLang) hold expert ids only: entropy is NaN for them
// (rendered "n/a" with entropy_na), and load CV too when the server did not give the expert
// count (load_cv_na); everything else needs only the ids and is computed for every source.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "moe/routing.h"
#include "store/store.h"

namespace wobble {

struct RepeatRouting {
  int repeat = 0;
  std::vector<std::vector<double>> usage;  // (n_layers, n_expert)
  double entropy = 0, load_cv = 0, repetition = 0;  // entropy / load_cv NaN when not available
  uint64_t tokens = 0;
};

struct GroupRouting {
  std::string case_id, variant_id;
  uint32_t n_layers = 0, n_expert = 0, k = 0;
  std::vector<RepeatRouting> repeats;
  std::vector<std::vector<double>> usage;  // pooled over repeats (n_layers, n_expert)
  double entropy = 0, load_cv = 0, repetition = 0;
  std::string entropy_na, load_cv_na;  // why entropy / load_cv are NaN; "" when they are values
  // Between repeats (each repeat against the lowest-numbered one).
  double prompt_overlap = 1, prompt_exact = 1;  // over prompt tokens
  double gen_overlap = 1, gen_exact = 1;        // over generated tokens before the first output divergence
  int64_t gen_compared = 0;                     // generated tokens compared
  std::optional<std::pair<int64_t, uint32_t>> first_routing_divergence;  // (token index, layer)
  std::optional<int64_t> first_output_divergence_token;                  // generated-token index
  // The same split in two: over the prompt (identical inputs, so any difference is the server's
  // numerics or batching) as (prompt token, layer), and over the generated tokens before the first
  // differing token id as (generated token index, layer).
  std::optional<std::pair<int64_t, uint32_t>> first_prompt_divergence, first_generated_divergence;
  int repeats_compared = 0, prompt_divergent_repeats = 0;  // repeats whose prompt routing differs
  std::string generated_na;  // why generated tokens were not compared (no token ids); "" otherwise
};

// Whether two sets of repeats route differently beyond repeat-to-repeat noise: a permutation test
// on the mean-over-layers JSD of pooled usage (procedure and seed in analysis/metric_definitions.cpp,
// "routing_noise"). Deterministic: the same repeats give the same numbers on every platform.
struct RoutingNoise {
  bool tested = false;     // false: a side had no usable repeat or the shapes differ
  double observed = 0;     // mean JSD of the two sides as they are
  double noise_jsd = 0;    // median mean JSD over the other splits of the pooled repeats
  double p_value = 1;      // (1 + splits at least as large) / (1 + splits)
  int64_t splits = 0;      // splits other than the observed one
  bool exact = false;      // every split enumerated (no random draw)
  bool moved = false;      // p_value < kRoutingMoveAlpha
};

// `seed` is XORed into kRoutingPermutationSeed; pass routing_seed(ids...) so that the draw depends
// only on what is compared.
RoutingNoise routing_permutation_test(const std::vector<RepeatRouting>& a, const std::vector<RepeatRouting>& b,
                                      uint64_t seed);
uint64_t routing_seed(const std::vector<std::string>& ids);  // FNV-1a 64 of the ids joined by NUL

struct VariantDrift {
  std::string case_id, variant_a, variant_b;
  std::vector<double> jsd;  // per layer
  double mean_jsd = 0;
  // Pooled over every criterion of the case: kept for the JSON, not shown (a criterion that always
  // passes and one that always fails pool to 0.5 on both sides); reports show per-criterion deltas.
  double pass_rate_a = 0, pass_rate_b = 0;
  int64_t unstable_a = 0, unstable_b = 0;
  RoutingNoise noise;
};

struct RunRoutingDrift {  // current vs baseline run, same (case, variant)
  std::string case_id, variant_id;
  std::vector<double> jsd;        // per layer, of pooled usage
  double mean_jsd = 0;
  double prompt_overlap = 1;      // top-k overlap on the same prompt tokens (first repeat of each)
  bool flagged = false;
  RoutingNoise noise;             // current repeats against the baseline's
};

struct RoutingAnalysis {
  bool has_traces = false;
  bool ids_only = false;  // some traces came from a remote engine (expert ids only)
  // Samples that asked for routing but have none, by reason (at most 8 reasons kept, the rest
  // counted under the last one).
  std::vector<std::pair<std::string, int64_t>> absent;
  int64_t absent_samples = 0;
  uint64_t trace_bytes = 0, trace_tokens = 0;
  std::vector<GroupRouting> groups;
  std::vector<VariantDrift> variants;
  std::vector<RunRoutingDrift> baseline;
  double baseline_max_jsd = 0, baseline_min_overlap = 1;  // observed extremes
  double max_jsd_threshold = 0.1, min_overlap_threshold = 0.8;  // the flagging thresholds used
  int64_t baseline_run = 0;                                     // 0: none

  // Whether a report has a routing section: traces to show, or samples whose routing was asked
  // for and is absent (the reasons are shown so a missing trace is never silent).
  bool reportable() const { return has_traces || absent_samples > 0; }
};

double jensen_shannon(const std::vector<double>& p, const std::vector<double>& q);  // base 2
double topk_overlap(std::span<const uint16_t> a, std::span<const uint16_t> b);      // |A∩B| / k

// Loads traces of `run_id` (and the baseline when given) from the store and computes everything.
// noise_floor = false leaves every RoutingNoise untested (gate and trend show no noise floor; the
// permutation tests are most of the routing analysis's time on a large run).
RoutingAnalysis analyze_routing(const Store& store, int64_t run_id, std::optional<int64_t> baseline_run,
                                double max_jsd = 0.1, double min_overlap = 0.8, bool noise_floor = true);
RoutingAnalysis analyze_routing_samples(const std::vector<SampleRecord>& samples,
                                        const std::vector<SampleRecord>* baseline, double max_jsd,
                                        double min_overlap, bool noise_floor = true);

}  // namespace wobble
