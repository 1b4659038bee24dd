#include "analysis/stability.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

#include "analysis/providers.h"
#include "util/error.h"
#include "util/utf8.h"

namespace wobble {
namespace {

size_t utf8_boundary(std::string_view s, size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

int64_t code_points(std::string_view s, size_t end) {
  int64_t n = 0;
  for (size_t i = 0; i < end && i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++n;
  return n;
}

std::string cut(std::string_view s, size_t from, size_t len) {
  if (from >= s.size()) return "";
  size_t end = std::min(s.size(), from + len);
  while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(from, end - from));
}

// A quote of one repeat for one criterion: the evidence span, else the start of the text the
// criterion graded (its scope: the answer part, the thinking part or the raw output).
Quote quote_of(const SampleRecord& s, const CriterionResult& r) {
  constexpr size_t kQuoteBytes = 160;
  Quote q;
  q.repeat = s.repeat;
  q.sample_id = s.id;
  q.from_evidence = !r.evidence.text.empty();
  const bool parts = s.reasoning_form != ReasoningForm::kNone;
  if (!q.from_evidence && parts && r.scope != Scope::kRaw) q.source = scope_name(r.scope);
  const std::string& scoped = !parts || r.scope == Scope::kRaw ? s.output
                              : r.scope == Scope::kReasoning  ? s.reasoning
                                                              : s.answer;
  const std::string& text = q.from_evidence ? r.evidence.text : scoped;
  q.text = text.size() > kQuoteBytes ? text.substr(0, utf8_floor(text, kQuoteBytes)) + "…" : text;
  q.reason = r.reason;
  q.expected = r.expected;
  return q;
}

int verdict_rank(Verdict v) {
  switch (v) {
    case Verdict::kUnstable: return 0;
    case Verdict::kStableFail: return 1;
    case Verdict::kUnscored: return 2;
    case Verdict::kStablePass: return 3;
  }
  return 3;
}

}  // namespace

bool more_unstable(const CriterionStability& x, const CriterionStability& y) {
  const double dx = std::fabs(x.pass_rate - 0.5), dy = std::fabs(y.pass_rate - 0.5);
  if (dx != dy) return dx < dy;
  const double wx = x.wilson.hi - x.wilson.lo, wy = y.wilson.hi - y.wilson.lo;
  if (wx != wy) return wx > wy;
  return std::tie(x.case_id, x.variant_id, x.criterion_id) < std::tie(y.case_id, y.variant_id, y.criterion_id);
}

std::vector<size_t> RunAnalysis::criteria_by_instability() const {
  std::vector<size_t> idx(criteria.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t i, size_t j) {
    const auto &x = criteria[i], &y = criteria[j];
    int rx = verdict_rank(x.verdict), ry = verdict_rank(y.verdict);
    if (rx != ry) return rx < ry;
    if (x.verdict == Verdict::kUnstable) return more_unstable(x, y);
    return false;  // stable: keep the suite's order
  });
  return idx;
}

double percentile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return std::nan("");
  const double h = double(v.size() - 1) * std::clamp(q, 0.0, 1.0);
  const size_t lo = size_t(std::floor(h));
  if (lo + 1 >= v.size()) return v.back();
  return v[lo] + (h - double(lo)) * (v[lo + 1] - v[lo]);
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kStablePass: return "stable-pass";
    case Verdict::kStableFail: return "stable-fail";
    case Verdict::kUnstable: return "unstable";
    case Verdict::kUnscored: return "unscored";
  }
  return "unscored";
}

Divergence first_divergence(const std::vector<std::pair<int, std::string>>& outputs) {
  std::vector<std::pair<int, std::string_view>> views;
  views.reserve(outputs.size());
  for (const auto& [r, o] : outputs) views.emplace_back(r, o);
  return first_divergence_of(views);
}

Divergence first_divergence_of(const std::vector<std::pair<int, std::string_view>>& outputs) {
  Divergence d;
  if (outputs.size() < 2) return d;
  const std::string_view ref = outputs[0].second;
  size_t best = std::string::npos;
  int best_repeat = 0;
  for (size_t i = 1; i < outputs.size(); ++i) {
    const std::string_view o = outputs[i].second;
    if (o == ref) continue;
    size_t p = 0;
    while (p < ref.size() && p < o.size() && ref[p] == o[p]) ++p;
    if (best == std::string::npos || p < best) {
      best = p;
      best_repeat = outputs[i].first;
    }
  }
  if (best == std::string::npos) return d;
  d.diverged = true;
  d.repeat_a = outputs[0].first;
  d.repeat_b = best_repeat;
  size_t pos = utf8_boundary(ref, best);
  d.byte_offset = int64_t(pos);
  d.char_offset = code_points(ref, pos);
  size_t ctx_start = utf8_boundary(ref, pos > 40 ? pos - 40 : 0);
  d.context = std::string(ref.substr(ctx_start, pos - ctx_start));
  std::string_view other;
  for (const auto& [r, o] : outputs)
    if (r == best_repeat) other = o;
  d.continuation_a = cut(ref, pos, 60);
  d.continuation_b = cut(other, pos, 60);
  return d;
}

CriterionWeights criterion_weights(const Suite& suite) {
  CriterionWeights w;
  for (const auto& c : suite.cases)
    for (const auto& cr : c.rubric.criteria)
      // The loader allows [0, 1e6]; anything else (a hand-edited database) does not count.
      w[c.id][cr.id] = std::isfinite(cr.weight) && cr.weight >= 0 ? cr.weight : 0;
  return w;
}

std::optional<double> weighted_score(const SampleRecord& s, const CriterionWeights& weights) {
  if (!s.ok) return std::nullopt;
  const std::map<std::string, double>* by_criterion = nullptr;
  if (auto it = weights.find(s.case_id); it != weights.end()) by_criterion = &it->second;
  double sum_w = 0, sum_ws = 0;
  for (const auto& c : s.scores) {
    if (c.outcome == Outcome::kUnscored) continue;
    double w = 1;
    if (by_criterion)
      if (auto it = by_criterion->find(c.criterion_id); it != by_criterion->end()) w = it->second;
    sum_w += w;
    sum_ws += w * c.score;
  }
  if (!(sum_w > 0)) return std::nullopt;
  return sum_ws / sum_w;
}

namespace {

std::optional<ReasoningStability> reasoning_stability(const std::vector<SampleRecord>& members) {
  ReasoningStability r;
  std::vector<std::pair<int, std::string>> answers, thoughts;
  std::set<std::string> unique_answers, unique_thoughts;
  std::vector<double> lengths;
  for (const auto& s : members) {
    if (!s.ok) continue;
    answers.emplace_back(s.repeat, s.answer_text());
    unique_answers.insert(s.answer_text());
    if (s.reasoning_form == ReasoningForm::kNone) continue;
    ++r.samples;
    if (!s.reasoning_closed) ++r.unclosed;
    thoughts.emplace_back(s.repeat, s.reasoning);
    unique_thoughts.insert(s.reasoning);
    lengths.push_back(double(code_points(s.reasoning, s.reasoning.size())));
  }
  if (r.samples == 0) return std::nullopt;
  r.unique_answers = int64_t(unique_answers.size());
  r.unique_reasoning = int64_t(unique_thoughts.size());
  r.answer_divergence = first_divergence(answers);
  r.reasoning_divergence = first_divergence(thoughts);
  r.reasoning_chars = summarize(lengths);
  return r;
}

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The sentences every report leads with, most severe first.
void add_alerts(RunAnalysis& a) {
  const int64_t planned = std::max<int64_t>(a.run.expected_samples, a.total_samples);
  if (a.total_samples > 0 && a.failed_samples == a.total_samples) {
    a.alerts.push_back("Every sample failed at the provider (" + std::to_string(a.failed_samples) + " of " +
                       std::to_string(planned) + "): nothing was scored, no verdict below means anything. Last error: " +
                       a.failures.back().error);
  } else if (a.failed_samples > 0) {
    a.alerts.push_back(plural(a.failed_samples, "sample", "samples") + " of " + std::to_string(planned) +
                       " failed at the provider and are not scored; e.g. " + a.failures.front().case_id + "/" +
                       a.failures.front().variant_id + " #" + std::to_string(a.failures.front().repeat) + ": " +
                       a.failures.front().error);
  }
  if (a.run.status != "complete")
    a.alerts.push_back("Run " + std::to_string(a.run.id) + " is " + a.run.status + ": " +
                       std::to_string(a.total_samples) + " of " + std::to_string(planned) +
                       " planned samples are stored (wobble run --resume " + std::to_string(a.run.id) + ")");
  if (a.model_changed()) {
    std::string which;
    for (const auto& [m, n] : a.reported_models) which += (which.empty() ? "" : ", ") + m + " (" + std::to_string(n) + ")";
    a.alerts.push_back("The endpoint reported " + std::to_string(a.reported_models.size()) +
                       " different model ids across samples: " + which +
                       "; a model swapped behind the endpoint changes outputs by itself");
  }
}
}  // namespace

namespace {

// Per criterion, every pair of variants of a case (A before B in the suite's order).
void add_variant_deltas(RunAnalysis& a) {
  std::map<std::string, std::vector<std::string>> variants_of;  // case -> variants in order
  std::map<std::tuple<std::string, std::string, std::string>, const CriterionStability*> cell;
  std::vector<std::string> case_order;
  for (const auto& g : a.groups) {
    if (!variants_of.count(g.case_id)) case_order.push_back(g.case_id);
    variants_of[g.case_id].push_back(g.variant_id);
  }
  for (const auto& c : a.criteria) cell[{c.case_id, c.variant_id, c.criterion_id}] = &c;
  for (const auto& case_id : case_order) {
    const auto& vs = variants_of[case_id];
    for (size_t i = 0; i < vs.size(); ++i)
      for (size_t j = i + 1; j < vs.size(); ++j)
        for (const auto& c : a.criteria) {
          if (c.case_id != case_id || c.variant_id != vs[i]) continue;
          auto it = cell.find({case_id, vs[j], c.criterion_id});
          if (it == cell.end()) continue;
          const auto& b = *it->second;
          VariantCriterionDelta d;
          d.case_id = case_id;
          d.variant_a = vs[i];
          d.variant_b = vs[j];
          d.criterion_id = c.criterion_id;
          d.n_a = c.n;
          d.passes_a = c.passes;
          d.n_b = b.n;
          d.passes_b = b.passes;
          d.pass_rate_a = c.pass_rate;
          d.pass_rate_b = b.pass_rate;
          d.delta = b.pass_rate - c.pass_rate;
          d.fisher_p = fisher_exact_two_sided(c.passes, c.fails, b.passes, b.fails);
          d.verdict_a = c.verdict;
          d.verdict_b = b.verdict;
          a.variant_deltas.push_back(std::move(d));
        }
  }
}


// Builds a RunAnalysis one (case, variant) group at a time, in the order groups are added; both
// analyze_samples (everything in memory) and analyze_run (streamed from the store) feed it, so the
// two compute every number the same way.
class AnalysisBuilder {
 public:
  // keep_per_group < 0 keeps every sample; keep_total caps the kept samples over the run.
  AnalysisBuilder(const RunRecord& run, int report_k, int64_t keep_per_group, int64_t keep_total,
                  const AnalysisReads& reads = AnalysisReads::all())
      : keep_per_group_(keep_per_group), keep_total_(keep_total), outputs_(reads.outputs), quotes_(reads.quotes) {
    a_.run = run;
    a_.report_k = std::max(1, report_k);
    weights_ = criterion_weights(run.plan.suite);
    for (const auto& c : run.plan.suite.cases)
      if (c.answer_extractor || c.rubric.answer_extractor) has_extractor_.insert(c.id);
  }

  // members: the samples of one (case, variant), in repeat order. Their contents may be moved out.
  void add_group(std::vector<SampleRecord>& members);
  RunAnalysis finish();

 private:
  RunAnalysis a_;
  CriterionWeights weights_;
  std::set<std::string> has_extractor_;
  std::vector<double> all_weighted_;       // every sample's weighted score, in order (for a.weighted)
  std::vector<std::string> criterion_order_;
  // Latency and tokens of the run's one provider: the latencies of samples with output (for the
  // percentiles) and running totals; the key is the run's model id ("<kind>:<model>").
  ProviderUsage usage_;
  std::vector<double> latencies_;
  int64_t keep_per_group_, keep_total_;
  bool outputs_;  // false: outputs were not read, so the output statistics are left unset
  bool quotes_;   // false: score texts were not read, so nothing is quoted
};

void AnalysisBuilder::add_group(std::vector<SampleRecord>& members) {
  if (members.empty()) return;
  RunAnalysis& a = a_;
  std::vector<std::optional<double>> weighted(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const SampleRecord& s = members[i];
    ++a.total_samples;
    if (!s.ok) {
      ++a.failed_samples;
      a.failures.push_back({s.case_id, s.variant_id, s.repeat, s.error, int64_t(s.attempts.size())});
    } else if (!s.model_reported.empty()) {
      ++a.reported_models[s.model_reported];
    }
    weighted[i] = weighted_score(s, weights_);
    if (weighted[i]) all_weighted_.push_back(*weighted[i]);
    a.total_latency_s += s.latency_s;
    ++usage_.samples;
    if (!s.ok) {
      ++usage_.failed;
    } else {
      if (std::isfinite(s.latency_s) && s.latency_s >= 0) latencies_.push_back(s.latency_s);
      if (s.prompt_tokens >= 0 && s.completion_tokens >= 0) {
        ++usage_.tokens_n;
        usage_.tokens_in_total += s.prompt_tokens;
        usage_.tokens_out_total += s.completion_tokens;
      }
    }
  }

  GroupStability g;
  g.case_id = members[0].case_id;
  g.variant_id = members[0].variant_id;
  // Views into `members` (alive for this call): no output is copied.
  std::vector<std::pair<int, std::string_view>> outputs;
  std::set<std::string_view> unique, answers;
  static const std::string kNoAnswer = "\x01<none>";
  for (const auto& s : members) {
    if (!s.ok) {
      ++g.failed;
      continue;
    }
    ++g.samples;
    if (!outputs_) continue;
    outputs.emplace_back(s.repeat, s.output);
    unique.insert(s.output);
    answers.insert(s.extracted_answer ? std::string_view(*s.extracted_answer) : std::string_view(kNoAnswer));
  }
  if (outputs_) {
    g.unique_outputs = int64_t(unique.size());
    g.tar_r = g.samples > 0 && unique.size() == 1;
    if (has_extractor_.count(g.case_id)) {
      g.tar_a = g.samples > 0 && answers.size() == 1;
      g.unique_answers = int64_t(answers.size());
    }
    g.divergence = first_divergence_of(outputs);
  }
  outputs.clear();
  g.reasoning = reasoning_stability(members);
  if (g.divergence.diverged) {
    const SampleRecord *sa = nullptr, *sb = nullptr;
    for (const auto& s : members) {
      if (s.ok && s.repeat == g.divergence.repeat_a) sa = &s;
      if (s.ok && s.repeat == g.divergence.repeat_b) sb = &s;
    }
    if (sa && sb) attach_divergence_tokens(g.divergence, *sa, *sb);
  }
  std::vector<double> group_weighted;
  for (const auto& w : weighted)
    if (w) group_weighted.push_back(*w);
  g.weighted = summarize(group_weighted);
  const std::string case_id = g.case_id, variant_id = g.variant_id;
  a.groups.push_back(std::move(g));

  // Criteria in first-seen order within the group.
  std::vector<std::string> crit_ids;
  for (const auto& s : members)
    for (const auto& c : s.scores)
      if (std::find(crit_ids.begin(), crit_ids.end(), c.criterion_id) == crit_ids.end())
        crit_ids.push_back(c.criterion_id);
  for (const auto& cid : crit_ids) {
    CriterionStability cs;
    cs.outcomes.reserve(members.size());
    cs.case_id = case_id;
    cs.variant_id = variant_id;
    cs.criterion_id = cid;
    std::vector<double> scores;
    int last = -1;  // 1 pass, 0 fail
    for (const auto& s : members) {
      const CriterionResult* r = nullptr;
      for (const auto& c : s.scores)
        if (c.criterion_id == cid) {
          r = &c;
          if (c.outcome == Outcome::kFail && cs.first_fail_repeat < 0) {
            cs.first_fail_repeat = s.repeat;
            cs.first_fail_reason = c.reason;
            cs.first_fail_evidence = c.evidence.text;
          }
        }
      if (!s.ok || !r) {
        cs.outcomes.push_back(s.ok ? "unscored" : "error");
        ++cs.unscored;
        continue;
      }
      cs.outcomes.push_back(outcome_name(r->outcome));
      if (r->outcome == Outcome::kUnscored) {
        ++cs.unscored;
        continue;
      }
      if (cs.expected.empty()) cs.expected = r->expected;
      int v = r->outcome == Outcome::kPass ? 1 : 0;
      auto& quoted = v ? cs.disagreement.pass : cs.disagreement.fail;
      if (quotes_ && (!quoted || s.repeat < quoted->repeat)) quoted = quote_of(s, *r);
      (v ? cs.passes : cs.fails)++;
      if (last >= 0 && last != v) ++cs.flips;
      last = v;
      scores.push_back(r->score);
      if (r->score > 0 && r->score < 1) cs.numeric = true;
    }
    cs.n = cs.passes + cs.fails;
    cs.pass_rate = cs.n ? double(cs.passes) / double(cs.n) : 0;
    cs.wilson = wilson_interval(cs.n, cs.passes);
    cs.k = std::min<int64_t>(cs.n, a.report_k);
    if (cs.k > 0) {
      cs.pass_at_k = pass_at_k(cs.n, cs.passes, cs.k);
      cs.pass_hat_k = pass_hat_k(cs.n, cs.passes, cs.k);
    }
    cs.score = summarize(scores);
    if (cs.n == 0) cs.verdict = Verdict::kUnscored;
    else if (cs.passes == cs.n) cs.verdict = Verdict::kStablePass;
    else if (cs.fails == cs.n) cs.verdict = Verdict::kStableFail;
    else cs.verdict = Verdict::kUnstable;
    if (cs.verdict == Verdict::kUnstable) ++a.unstable;
    if (cs.verdict == Verdict::kStablePass) ++a.stable_pass;
    if (cs.verdict == Verdict::kStableFail) ++a.stable_fail;
    if (cs.verdict == Verdict::kUnscored) ++a.unscored_criteria;
    if (cs.verdict != Verdict::kUnstable) cs.disagreement = {};
    a.scored += cs.n;
    a.passes += cs.passes;
    if (std::find(criterion_order_.begin(), criterion_order_.end(), cid) == criterion_order_.end())
      criterion_order_.push_back(cid);
    a.criteria.push_back(std::move(cs));
  }

  // Keep the group's first repeats for per-repeat sections, with what those sections show of them.
  int64_t keep = int64_t(members.size());
  if (keep_per_group_ >= 0) {
    keep = std::min(keep, keep_per_group_);
    keep = std::max<int64_t>(0, std::min(keep, keep_total_ - int64_t(a.samples.size())));
  }
  a.detail_omitted += int64_t(members.size()) - keep;
  for (int64_t i = 0; i < keep; ++i) {
    SampleRecord& s = members[size_t(i)];
    if (s.ok && !s.logprobs.empty()) {
      LogprobSummary ls;
      ls.tokens = int64_t(s.logprobs.size());
      ls.min = s.logprobs[0].logprob;
      double sum = 0;
      for (const auto& t : s.logprobs) {
        sum += t.logprob;
        ls.min = std::min(ls.min, t.logprob);
      }
      ls.mean = sum / double(ls.tokens);
      a.logprobs[s.id] = ls;
    }
    a.weighted_scores.push_back(weighted[size_t(i)]);
    a.samples.push_back(std::move(s));
  }
}

RunAnalysis AnalysisBuilder::finish() {
  RunAnalysis& a = a_;
  if (a.detail_omitted > 0) a.detail_per_group = keep_per_group_;
  a.weighted = summarize(all_weighted_);
  a.overall_pass_rate = a.scored ? double(a.passes) / double(a.scored) : 0;
  for (const auto& cid : criterion_order_) {
    CriterionAcross x;
    x.criterion_id = cid;
    std::map<int64_t, std::vector<std::vector<int64_t>>> by_raters;  // raters -> subjects
    for (const auto& cs : a.criteria) {
      if (cs.criterion_id != cid) continue;
      ++x.groups;
      if (cs.verdict == Verdict::kUnstable) ++x.unstable;
      if (cs.verdict == Verdict::kStablePass) ++x.stable_pass;
      if (cs.verdict == Verdict::kStableFail) ++x.stable_fail;
      if (cs.n >= 2) by_raters[cs.n].push_back({cs.passes, cs.fails});
    }
    // Fleiss' kappa needs equal raters per subject: use the most common scored-repeat count.
    size_t best = 0;
    int64_t raters = 0;
    for (const auto& [r, subjects] : by_raters)
      if (subjects.size() > best) {
        best = subjects.size();
        raters = r;
      }
    x.fleiss_kappa = best ? fleiss_kappa(by_raters[raters]) : std::nan("");
    x.kappa_subjects = int64_t(best);
    x.kappa_raters = raters;
    a.across.push_back(std::move(x));
  }
  add_variant_deltas(a);
  if (usage_.samples > 0) {
    ProviderUsage& u = usage_;
    u.provider = a.run.model_id;
    std::sort(latencies_.begin(), latencies_.end());
    u.latency_n = int64_t(latencies_.size());
    u.latency_p50 = percentile_sorted(latencies_, 0.5);
    u.latency_p95 = percentile_sorted(latencies_, 0.95);
    double sum = 0;
    for (double x : latencies_) sum += x;
    u.latency_mean = latencies_.empty() ? std::nan("") : sum / double(latencies_.size());
    u.tokens_in_mean = u.tokens_n ? double(u.tokens_in_total) / double(u.tokens_n) : std::nan("");
    u.tokens_out_mean = u.tokens_n ? double(u.tokens_out_total) / double(u.tokens_n) : std::nan("");
    a.usage.push_back(std::move(u));
  }
  add_alerts(a);
  return std::move(a_);
}

}  // namespace

std::string RunAnalysis::detail_note() const {
  if (detail_omitted <= 0) return "";
  return "Per-repeat detail lists " + std::to_string(samples.size()) + " of " + std::to_string(total_samples) +
         " samples (at most the first " + std::to_string(detail_per_group) + " repeats of each case and variant, " +
         std::to_string(kDetailSamples) + " in all); every count, rate and verdict uses all " +
         std::to_string(total_samples) + ".";
}

RunAnalysis analyze_samples(const RunRecord& run, std::vector<SampleRecord> samples, int report_k) {
  ProviderBreakdown providers;
  if (has_several_providers(run, samples)) {
    providers = provider_breakdown(run, samples, report_k);
    label_variants_by_provider(samples);
  }
  // Group samples by (case, variant), keeping the order they arrive in (the suite's).
  std::map<GroupKey, std::vector<SampleRecord>> groups;
  std::vector<GroupKey> order;
  for (auto& s : samples) {
    auto key = std::make_pair(s.case_id, s.variant_id);
    auto [it, added] = groups.try_emplace(key);
    if (added) order.push_back(key);
    it->second.push_back(std::move(s));
  }
  AnalysisBuilder b(run, report_k, -1, 0);
  for (const auto& key : order) b.add_group(groups[key]);
  RunAnalysis a = b.finish();
  a.providers = std::move(providers);
  return a;
}

RunAnalysis analyze_run(const Store& store, int64_t run_id, int report_k, int64_t detail_samples,
                        const AnalysisReads& reads) {
  auto run = store.get_run(run_id);
  if (!run) throw Error(kExitUsage, "no run with id " + std::to_string(run_id) + " in this database");
  // Streamed one (case, variant, provider) group at a time, in the order analyze_samples meets them
  // (the suite's cases and variants, then its providers; ids it does not name after, alphabetically).
  // A run on several providers relabels each group's variant "variant@provider" for the run's
  // analysis and feeds every provider's own analysis (the side-by-side breakdown) unrelabelled;
  // judge noise is computed per group from the gradings read with it.
  const auto providers = store.sample_providers_in_order(run_id, run->plan.suite);
  const bool several = providers.size() > 1 || run_provider_ids(*run).size() > 1;
  const bool judged = store.has_judge_gradings(run_id);
  std::vector<ProviderGroup> triples;
  for (const auto& [case_id, variant_id] : store.sample_groups(run_id, run->plan.suite))
    for (const auto& p : providers) triples.push_back({case_id, variant_id, p});
  int64_t per_group = -1, total = 0;
  if (detail_samples >= 0 && store.sample_count(run_id) > detail_samples) {
    // Groups of the analysis: one per (case, variant) and provider that has samples.
    per_group = std::max<int64_t>(1, detail_samples / std::max<int64_t>(1, int64_t(triples.size())));
    total = detail_samples;
  }
  AnalysisBuilder b(*run, report_k, per_group, total, reads);
  // Several providers: each one's own analysis, for the breakdown (counts and verdicts only).
  RunRecord alone = *run;
  alone.plan.suite.providers.clear();
  std::map<std::string, AnalysisBuilder> per_provider;
  std::vector<std::string> seen;  // provider ids in the order their samples first appear
  std::vector<JudgeNoise> judge;
  SampleColumns columns;
  columns.prompt = detail_samples != 0;
  columns.token_ids = detail_samples != 0;  // for the kept samples; the analysis itself needs none
  columns.logprobs = reads.logprobs && reads.outputs;  // divergence tokens need them
  columns.output = reads.outputs;
  // Without kept samples nothing renders a sample's attempts or every score's text.
  columns.attempts_of_ok_samples = detail_samples != 0;
  // Every score's text: an unstable criterion quotes its first passing and failing repeats
  // (reason, evidence, expected value), and which repeat that is shows only once the group is read.
  columns.score_text = reads.quotes ? SampleColumns::ScoreText::kAll : SampleColumns::ScoreText::kNone;
  columns.judge_gradings = judged;
  store.for_each_group(run_id, triples, columns, [&](size_t, std::vector<SampleRecord>& g) {
    if (g.empty()) return;
    if (judged) {
      // Gradings leave the samples (no renderer shows them there), keyed by sample id as
      // Store::judge_gradings gives them.
      std::map<int64_t, std::vector<JudgeGrading>> gradings;
      for (auto& s : g) {
        if (!s.judge_gradings.empty()) gradings[s.id] = std::move(s.judge_gradings);
        s.judge_gradings.clear();
      }
      if (several)
        for (auto& s : g) s.variant_id += "@" + s.provider_id;
      for (auto& n : judge_noise(g, gradings)) judge.push_back(std::move(n));
      if (several)
        for (auto& s : g) s.variant_id.resize(s.variant_id.size() - s.provider_id.size() - 1);
    }
    if (several) {
      const std::string& id = g.front().provider_id;
      if (std::find(seen.begin(), seen.end(), id) == seen.end()) seen.push_back(id);
      auto it = per_provider.find(id);
      if (it == per_provider.end()) it = per_provider.try_emplace(id, alone, report_k, 0, 0, reads).first;
      it->second.add_group(g);  // keeps no sample, so `g` is left as it was
      for (auto& s : g) s.variant_id += "@" + s.provider_id;
    }
    b.add_group(g);
  });
  RunAnalysis a = b.finish();
  if (several) {
    std::map<std::string, RunAnalysis> analyses;
    for (auto& [id, builder] : per_provider) analyses.emplace(id, builder.finish());
    a.providers = provider_breakdown_of(*run, seen, analyses);
  }
  a.judge = std::move(judge);
  return a;
}

void attach_divergence_tokens(Divergence& d, const SampleRecord& a, const SampleRecord& b) {
  // The token of `s` covering byte `offset`, when its logprob tokens spell its output exactly.
  auto token_at = [](const SampleRecord& s, int64_t offset) -> const TokenLogprob* {
    std::string spelled;
    const TokenLogprob* hit = nullptr;
    for (const auto& t : s.logprobs) {
      if (!hit && int64_t(spelled.size() + t.token.size()) > offset) hit = &t;
      spelled += t.token;
    }
    return spelled == s.output ? hit : nullptr;
  };
  const TokenLogprob* ta = token_at(a, d.byte_offset);
  const TokenLogprob* tb = token_at(b, d.byte_offset);
  if (!ta || !tb) return;
  d.token_a = Divergence::Token{ta->token, std::exp(ta->logprob)};
  d.token_b = Divergence::Token{tb->token, std::exp(tb->logprob)};
  for (const auto& [alt, lp] : ta->top)
    if (alt == tb->token) d.prob_b_under_a = std::exp(lp);
}

}  // namespace wobble
