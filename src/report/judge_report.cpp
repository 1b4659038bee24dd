#include "report/judge_report.h"

#include <cmath>
#include <cstdio>

#include "report/report.h"

namespace wobble {
namespace {

std::string fixed2(double x) {
  if (!std::isfinite(x)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

}  // namespace

void render_judge_markdown(const std::vector<JudgeNoise>& judge, std::ostream& out) {
  if (judge.empty()) return;
  out << "\n## Judge noise vs model noise\n\n"
         "| Case | Variant | Criterion | Outputs | k | Pass / fail / unscored | Model flip rate | Judge disagreement | "
         "Judge unanimous | Judge kappa | Judge faults (hallucinated) | Cached | Verdict |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& n : judge)
    out << "| " << md_inline(n.case_id) << " | " << md_inline(n.variant_id) << " | " << md_inline(n.criterion_id)
        << " | " << n.outputs << " | " << n.k << " | " << n.passes << " / " << n.fails << " / " << n.unscored << " | "
        << fixed2(n.model_flip_rate) << " | " << fixed2(n.judge_disagreement) << " | " << fixed2(n.judge_unanimous)
        << " | " << fixed2(n.judge_kappa) << " | " << n.faults << " (" << n.hallucinated << ") | " << n.cached << "/"
        << n.gradings << " | " << n.verdict << " |\n";
}

void render_judge_definitions_markdown(const std::vector<JudgeNoise>& judge, std::ostream& out) {
  if (judge.empty()) return;
  out << "\n";
  render_metrics_markdown(out, {MetricGroup::kJudge});
}

nlohmann::json judge_json(const std::vector<JudgeNoise>& judge) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& n : judge)
    a.push_back({{"case", n.case_id},
                 {"variant", n.variant_id},
                 {"criterion", n.criterion_id},
                 {"outputs", n.outputs},
                 {"k", n.k},
                 {"passes", n.passes},
                 {"fails", n.fails},
                 {"unscored", n.unscored},
                 {"gradings", n.gradings},
                 {"faults", n.faults},
                 {"hallucinated", n.hallucinated},
                 {"cached", n.cached},
                 {"model_flip_rate", num(n.model_flip_rate)},
                 {"judged_outputs", n.judged_outputs},
                 {"judge_disagreement", num(n.judge_disagreement)},
                 {"judge_unanimous", num(n.judge_unanimous)},
                 {"judge_kappa", num(n.judge_kappa)},
                 {"verdict", n.verdict}});
  return a;
}

}  // namespace wobble
