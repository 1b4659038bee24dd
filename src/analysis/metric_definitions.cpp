#include "analysis/metric_definitions.h"

#include <array>

namespace wobble {
namespace {

constexpr std::string_view kAny = "every provider";
constexpr std::string_view kRoutingSources =
    "the bundled engine (kind: local); vLLM or SGLang with provider.routing (expert ids only)";
constexpr std::string_view kRouterProbabilitySources =
    "the bundled engine only (kind: local); n/a for vLLM and SGLang, whose expert ids carry no router "
    "probabilities";

constexpr std::array kMetrics = {
    MetricDefinition{"verdict", "Verdict", MetricGroup::kStability,
                     "stable-pass when every scored repeat of a (case, variant, criterion) passed, stable-fail when "
                     "every one failed, unstable when both occur, unscored when none was scored.",
                     "", kAny},
    MetricDefinition{"instability", "Instability order", MetricGroup::kStability,
                     "Unstable criteria are listed most unstable first: pass rate nearest 0.5, then the widest Wilson "
                     "interval, then case, variant and criterion id.",
                     "sort by abs(p - 0.5) ascending, then (hi - lo) descending", kAny},
    MetricDefinition{"pass_rate", "Pass rate", MetricGroup::kStability,
                     "Share of repeats that passed, among repeats scored pass or fail (unscored results and provider "
                     "failures are left out of n).",
                     "p = c / n", kAny},
    MetricDefinition{"wilson", "Wilson 95%", MetricGroup::kStability,
                     "Score interval for the pass rate; it stays inside [0, 1] and is honest at small n.",
                     "(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.95996", kAny},
    MetricDefinition{"pass_at_k", "pass@k", MetricGroup::kStability,
                     "Chance that at least one of k repeats drawn without replacement passes; k = min(n, --k), "
                     "default 3.",
                     "1 - C(n-c, k) / C(n, k)", kAny},
    MetricDefinition{"pass_hat_k", "pass^k", MetricGroup::kStability,
                     "Chance that all k repeats drawn without replacement pass: the number to gate a criterion that "
                     "must hold every time.",
                     "C(c, k) / C(n, k)", kAny},
    MetricDefinition{"flips", "Flips", MetricGroup::kStability,
                     "Pass/fail changes in repeat order, skipping unscored repeats.", "", kAny},
    MetricDefinition{"disagreement", "Disagreement", MetricGroup::kStability,
                     "For an unstable criterion, the lowest-numbered passing repeat and the lowest-numbered failing "
                     "repeat, each quoted by its evidence span (or the start of its output when the scorer marked "
                     "none) with the scorer's reason.",
                     "", kAny},
    MetricDefinition{"weighted", "Weighted score", MetricGroup::kStability,
                     "A sample's score over its criteria scored pass or fail, weighted by each criterion's weight "
                     "(default 1; score 1/0 for pass/fail scorers, the partial value for numeric ones); unscored "
                     "criteria are left out, not counted as 0; n/a when nothing was scored. The run's mean is what "
                     "the min_weighted_score gate checks.",
                     "Σ w·score / Σ w", kAny},
    MetricDefinition{"fleiss_kappa", "Fleiss' kappa", MetricGroup::kStability,
                     "Agreement of repeats (raters) on pass/fail across (case, variant) groups (subjects) with the "
                     "same number of scored repeats; n/a when undefined, e.g. every rating identical.",
                     "(P̄ - P̄e) / (1 - P̄e)", kAny},
    MetricDefinition{"unique_outputs", "Unique outputs", MetricGroup::kOutput,
                     "Distinct raw outputs among a (case, variant)'s repeats.", "", kAny},
    MetricDefinition{"tar_r", "TARr", MetricGroup::kOutput,
                     "yes when every repeat's raw output is byte-identical.", "", kAny},
    MetricDefinition{"tar_a", "TARa", MetricGroup::kOutput,
                     "yes when every repeat's extracted answer is identical; n/a without an answer extractor.", "",
                     kAny},
    MetricDefinition{"first_divergence", "First divergence", MetricGroup::kOutput,
                     "Smallest offset, in Unicode code points, at which any repeat's output departs from the "
                     "lowest-numbered repeat's.",
                     "", kAny},
    MetricDefinition{"unique_answers", "Unique answers", MetricGroup::kReasoning,
                     "For outputs with a thinking part (<think>, harmony analysis channel, or a server's "
                     "reasoning_content), distinct answer parts among a (case, variant)'s repeats; criteria grade "
                     "the answer part unless their scope says otherwise.",
                     "", kAny},
    MetricDefinition{"unique_reasoning", "Unique reasoning", MetricGroup::kReasoning,
                     "Distinct thinking parts among the repeats that have one.", "", kAny},
    MetricDefinition{"reasoning_divergence", "Answer / reasoning divergence", MetricGroup::kReasoning,
                     "First divergence (as for outputs) computed over the answer parts and, separately, over the "
                     "thinking parts.",
                     "", kAny},
    MetricDefinition{"reasoning_length", "Reasoning length", MetricGroup::kReasoning,
                     "Minimum, mean and maximum length of the thinking parts in Unicode code points.", "", kAny},
    MetricDefinition{"unclosed_thinking", "Unclosed", MetricGroup::kReasoning,
                     "Repeats whose thinking never ended (no </think>, no final channel, or an empty answer cut by "
                     "the token limit): they have no answer, and answer-scoped criteria fail on them.",
                     "", kAny},
    MetricDefinition{"same_answer_different_reasoning", "Same answer, different reasoning", MetricGroup::kReasoning,
                     "Every repeat gave the same answer part while the thinking parts differ: the verdict is stable, "
                     "the path to it is not.",
                     "", kAny},
    MetricDefinition{"variant_delta", "Variant Δ", MetricGroup::kVariants,
                     "Per criterion, the pass rate of variant B minus variant A of the same case, with Fisher's exact "
                     "two-sided p-value on the 2×2 table of passes and fails (never pooled over criteria).",
                     "Δ = c_B/n_B - c_A/n_A", kAny},
    MetricDefinition{"latency", "Latency p50 / p95", MetricGroup::kUsage,
                     "Per provider and model, percentiles of the wall time of samples that returned output "
                     "(retries included), linear interpolation between order statistics.",
                     "x[h] + (h - floor h)(x[h+1] - x[h]), h = (n - 1)·q", kAny},
    MetricDefinition{"tokens", "Tokens in / out", MetricGroup::kUsage,
                     "Per provider and model, mean prompt and completion tokens per sample, over samples whose "
                     "provider reported the count.",
                     "", "every provider that reports usage (the bundled engine always does)"},
    MetricDefinition{"expert_usage", "Expert usage", MetricGroup::kRouting,
                     "u[l][e]: share of the top-k selections per token at MoE layer l that went to expert e, over "
                     "prompt and generated tokens; pooled over repeats weighted by tokens.",
                     "", kRoutingSources},
    MetricDefinition{"router_entropy", "Entropy", MetricGroup::kRouting,
                     "Mean entropy (nats) of the router's softmax over tokens and layers.", "", kRouterProbabilitySources},
    MetricDefinition{"load_cv", "Load CV", MetricGroup::kRouting,
                     "Standard deviation over mean of u[l] across experts, averaged over layers; n/a when the expert "
                     "count is unknown (a server trace without provider.routing_shape.n_experts).",
                     "sd / mean",
                     kRoutingSources},
    MetricDefinition{"repetition", "Repetition", MetricGroup::kRouting,
                     "Share of (token, layer) whose selected expert set equals the previous token's.", "",
                     kRoutingSources},
    MetricDefinition{"topk_overlap", "Top-k overlap", MetricGroup::kRouting,
                     "Mean overlap of a repeat's selected set with repeat 0's at the same (token, layer), over prompt "
                     "tokens and over generated tokens before the first differing token id; exact: share of "
                     "identical sets.",
                     "size(A ∩ B) / k", kRoutingSources},
    MetricDefinition{"first_routing_divergence", "First routing divergence", MetricGroup::kRouting,
                     "The first (token, layer) at which a repeat's selected experts differ from repeat 0's, "
                     "earliest over the repeats; given separately over prompt tokens (identical inputs, so a "
                     "difference is the server's numerics or batching) and over generated tokens before the first "
                     "differing token id.",
                     "", kRoutingSources},
    MetricDefinition{"jsd", "JSD", MetricGroup::kRouting,
                     "Jensen-Shannon divergence (base 2; 0 same usage, 1 disjoint) of pooled u[l] between two "
                     "variants of a case, or between a run and its baseline; the mean is over layers.",
                     "½ Σ p log2(p/m) + ½ Σ q log2(q/m), m = (p + q)/2", kRoutingSources},
    MetricDefinition{"routing_noise", "Noise floor / p", MetricGroup::kRouting,
                     "Permutation test of whether routing moved beyond repeat-to-repeat noise: the repeats of both "
                     "sides are pooled and split again into groups of the same sizes, and the mean JSD is recomputed "
                     "for each split (the smaller group's token-weighted expert counts are summed in repeat order; "
                     "the other group's are the sum over all repeats minus them, floored at 0). Every split is enumerated when there are at most 5000; otherwise 2000 random "
                     "splits from a 64-bit Mersenne Twister (mt19937_64, draws by rejection) seeded with 20261130 XOR "
                     "the 64-bit FNV-1a hash of the compared ids (case, variant A, variant B; or case, variant, "
                     "\"baseline\"). Noise floor: the median mean JSD over the S splits other than the observed one; "
                     "moved: p < 0.05.",
                     "p = (1 + #{splits with JSD ≥ observed}) / (1 + S)", kRoutingSources},
    MetricDefinition{"model_flip_rate", "Model flip rate", MetricGroup::kJudge,
                     "For a judge criterion of a (case, variant): the share of pairs of scored repeats whose judge "
                     "outcomes differ; undefined below 2 scored repeats.",
                     "2pf / (n(n - 1)), p passes and f fails among n scored repeats", "every provider (judge criteria)"},
    MetricDefinition{"judge_disagreement", "Judge disagreement", MetricGroup::kJudge,
                     "Over the outputs with at least 2 valid gradings (faults left out), the mean share of pairs of "
                     "gradings of the same frozen output that differ.",
                     "1 - Fleiss' P-bar", "every provider (judge criteria)"},
    MetricDefinition{"judge_unanimous", "Judge unanimous", MetricGroup::kJudge,
                     "Share of those outputs whose valid gradings all give the same verdict.", "",
                     "every provider (judge criteria)"},
    MetricDefinition{"judge_kappa", "Judge kappa", MetricGroup::kJudge,
                     "Fleiss' kappa over those outputs (subjects = outputs, raters = gradings, categories pass and "
                     "fail, raters per output may differ); undefined when every grading has the same verdict.",
                     "(P-bar - P-bar_e) / (1 - P-bar_e)", "every provider (judge criteria)"},
    MetricDefinition{"judge_faults", "Judge faults", MetricGroup::kJudge,
                     "Gradings that count toward neither pass nor fail: the judge call failed, the reply was not the "
                     "JSON asked for (after retries), a quote was not in the output (hallucinated, also counted on its "
                     "own), or a fail came without a quote on a criterion without expect_missing.",
                     "", "every provider (judge criteria)"},
    MetricDefinition{"judge_blame", "unstable (judge) / unstable (model)", MetricGroup::kJudge,
                     "An unstable judge criterion is blamed on the judge when the judge disagrees with itself on frozen "
                     "outputs about as often as outcomes flip, else on the model; unstable (k=1) when no output has "
                     "two valid gradings. The factor 0.5 allows for the majority vote, which flips less often than "
                     "single gradings disagree.",
                     "judge when judge disagreement >= 0.5 x model flip rate", "every provider (judge criteria)"},
    MetricDefinition{"gate_baseline", "Gate baseline test", MetricGroup::kGate,
                     "For each (case, variant, criterion) whose pass rate fell against the baseline run, a one-sided "
                     "Fisher exact test on [[baseline passes, baseline fails], [current passes, current fails]]; a "
                     "regression when p < alpha (default 0.05) or the drop exceeds max_pass_rate_drop.",
                     "", kAny},
};

}  // namespace

std::span<const MetricDefinition> metric_definitions() { return kMetrics; }

const MetricDefinition* find_metric(std::string_view id) {
  for (const auto& m : kMetrics)
    if (m.id == id) return &m;
  return nullptr;
}

std::string_view metric_group_name(MetricGroup g) {
  static constexpr std::array<std::string_view, size_t(MetricGroup::kCount)> kNames = {
      "Stability", "Outputs", "Variants", "Latency and tokens", "Routing", "Judge", "Gate", "Reasoning"};
  static_assert(kNames.size() == size_t(MetricGroup::kCount));
  return kNames[size_t(g)];
}

}  // namespace wobble
