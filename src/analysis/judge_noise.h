// Judge noise vs model noise, per (case, variant, criterion) graded by the judge scorer.
//
// A judge criterion's outcome can flip across repeats because the model's outputs differ or because
// the judge grades the same output differently each time it is asked. The k gradings of each
// stored output measure the second directly: the judge is asked k times about one frozen output.
// Definitions (the metric table, analysis/metric_definitions.cpp group Judge, renders them in the
// reports and in reports/README.md):
//   model flip rate     share of pairs of scored repeats whose outcomes differ: 2*p*f / (n*(n-1))
//                       with p passes and f fails among n scored repeats (undefined below 2).
//   judge disagreement  over outputs with at least 2 valid gradings (faults left out): the mean
//                       share of pairs of gradings of the same output that differ (1 - Fleiss' P-bar).
//   judge unanimous     share of those outputs whose valid gradings all agree.
//   judge kappa         Fleiss' kappa over those outputs (categories pass/fail; raters may differ in
//                       number per output); undefined when every grading is the same category.
//   verdict             stable-pass / stable-fail / unscored as for any criterion; an unstable one is
//                       "unstable (judge)" when judge disagreement >= 0.5 x model flip rate (the
//                       judge disagrees with itself on frozen outputs about as often as outcomes
//                       flip, so the judge alone can explain the flips), else "unstable (model)";
//                       "unstable (k=1)" when no output has two valid gradings to tell.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace wobble {

inline constexpr double kJudgeBlameRatio = 0.5;

struct JudgeNoise {
  std::string case_id, variant_id, criterion_id;
  int64_t outputs = 0;        // stored outputs with at least one grading
  int64_t gradings = 0, faults = 0, hallucinated = 0, cached = 0;
  int64_t k = 0;              // gradings per output (the most seen)
  int64_t passes = 0, fails = 0, unscored = 0;  // criterion outcomes over repeats
  double model_flip_rate = 0;     // NaN when fewer than 2 scored repeats
  int64_t judged_outputs = 0;     // outputs with >= 2 valid gradings
  double judge_unanimous = 0;     // NaN when judged_outputs == 0
  double judge_disagreement = 0;  // NaN when judged_outputs == 0
  double judge_kappa = 0;         // NaN when undefined
  std::string verdict;
};

// Over a run's samples and their gradings (Store::judge_gradings), in the samples' order.
std::vector<JudgeNoise> judge_noise(const std::vector<SampleRecord>& samples,
                                    const std::map<int64_t, std::vector<JudgeGrading>>& gradings);
std::vector<JudgeNoise> analyze_judge_noise(const Store& store, int64_t run_id);


// Fleiss' kappa for subjects rated by varying numbers of raters (n_i >= 2), counts[i][j] = raters
// putting subject i in category j. NaN when undefined (no subject, or one category only).
double fleiss_kappa_varying(const std::vector<std::vector<int64_t>>& counts);

}  // namespace wobble
