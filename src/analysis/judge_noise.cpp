#include "analysis/judge_noise.h"

#include <cmath>
#include <limits>
#include <tuple>

namespace wobble {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Group {
  JudgeNoise n;
  std::vector<std::vector<int64_t>> counts;  // per output: {passes, fails} among valid gradings
};

}  // namespace

double fleiss_kappa_varying(const std::vector<std::vector<int64_t>>& counts) {
  double p_bar = 0, total = 0;
  std::vector<double> per_cat;
  int64_t subjects = 0;
  for (const auto& row : counts) {
    int64_t n = 0;
    for (int64_t c : row) n += c;
    if (n < 2) continue;
    if (per_cat.size() < row.size()) per_cat.resize(row.size(), 0);
    double agree = 0;
    for (size_t j = 0; j < row.size(); ++j) {
      agree += double(row[j]) * double(row[j] - 1);
      per_cat[j] += double(row[j]);
    }
    p_bar += agree / (double(n) * double(n - 1));
    total += double(n);
    ++subjects;
  }
  if (subjects == 0) return kNaN;
  p_bar /= double(subjects);
  double p_e = 0;
  for (double c : per_cat) p_e += (c / total) * (c / total);
  if (p_e >= 1 - 1e-12) return kNaN;
  return (p_bar - p_e) / (1 - p_e);
}

std::vector<JudgeNoise> judge_noise(const std::vector<SampleRecord>& samples,
                                    const std::map<int64_t, std::vector<JudgeGrading>>& gradings) {
  std::vector<std::tuple<std::string, std::string, std::string>> order;
  std::map<std::tuple<std::string, std::string, std::string>, Group> groups;
  for (const auto& s : samples) {
    auto git = gradings.find(s.id);
    if (git == gradings.end()) continue;
    std::map<std::string, std::vector<const JudgeGrading*>> by_crit;
    for (const auto& g : git->second) by_crit[g.criterion_id].push_back(&g);
    for (const auto& [crit, gs] : by_crit) {
      auto key = std::make_tuple(s.case_id, s.variant_id, crit);
      auto [it, fresh] = groups.try_emplace(key);
      if (fresh) {
        order.push_back(key);
        it->second.n.case_id = s.case_id;
        it->second.n.variant_id = s.variant_id;
        it->second.n.criterion_id = crit;
      }
      JudgeNoise& n = it->second.n;
      ++n.outputs;
      n.k = std::max<int64_t>(n.k, int64_t(gs.size()));
      std::vector<int64_t> row = {0, 0};
      for (const auto* g : gs) {
        ++n.gradings;
        if (g->cached) ++n.cached;
        if (!g->counts()) {
          ++n.faults;
          if (g->fault == JudgeFault::kHallucinated) ++n.hallucinated;
          continue;
        }
        ++row[g->verdict == "pass" ? 0 : 1];
      }
      it->second.counts.push_back(row);
      for (const auto& r : s.scores) {
        if (r.criterion_id != crit) continue;
        if (r.outcome == Outcome::kPass) ++n.passes;
        else if (r.outcome == Outcome::kFail) ++n.fails;
        else ++n.unscored;
      }
    }
  }
  std::vector<JudgeNoise> out;
  for (const auto& key : order) {
    Group& g = groups[key];
    JudgeNoise& n = g.n;
    const int64_t scored = n.passes + n.fails;
    n.model_flip_rate = scored >= 2 ? 2.0 * double(n.passes) * double(n.fails) / (double(scored) * double(scored - 1)) : kNaN;
    double agree_sum = 0;
    int64_t unanimous = 0;
    for (const auto& row : g.counts) {
      int64_t m = row[0] + row[1];
      if (m < 2) continue;
      ++n.judged_outputs;
      double agree = (double(row[0]) * double(row[0] - 1) + double(row[1]) * double(row[1] - 1)) / (double(m) * double(m - 1));
      agree_sum += agree;
      if (row[0] == 0 || row[1] == 0) ++unanimous;
    }
    n.judge_unanimous = n.judged_outputs > 0 ? double(unanimous) / double(n.judged_outputs) : kNaN;
    n.judge_disagreement = n.judged_outputs > 0 ? 1 - agree_sum / double(n.judged_outputs) : kNaN;
    n.judge_kappa = fleiss_kappa_varying(g.counts);
    if (scored == 0) n.verdict = "unscored";
    else if (n.fails == 0) n.verdict = "stable-pass";
    else if (n.passes == 0) n.verdict = "stable-fail";
    else if (n.judged_outputs == 0) n.verdict = "unstable (k=1)";
    else if (n.judge_disagreement >= kJudgeBlameRatio * n.model_flip_rate) n.verdict = "unstable (judge)";
    else n.verdict = "unstable (model)";
    out.push_back(n);
  }
  return out;
}

std::vector<JudgeNoise> analyze_judge_noise(const Store& store, int64_t run_id) {
  return judge_noise(store.samples(run_id, false), store.judge_gradings(run_id));
}

}  // namespace wobble
