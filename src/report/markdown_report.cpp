#include <cmath>
#include <cstdio>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>
#include <set>

#include "report/judge_report.h"
#include "report/report.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

std::string fmt(double x, int digits = 2) {
  if (!std::isfinite(x)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

const char* verdict_badge(Verdict v) {
  switch (v) {
    case Verdict::kStablePass: return "stable-pass";
    case Verdict::kStableFail: return "stable-fail";
    case Verdict::kUnstable: return "**UNSTABLE**";
    case Verdict::kUnscored: return "unscored";
  }
  return "";
}

}  // namespace

std::string md_inline(const std::string& raw, size_t max) {
  // The terminal rule first (text_policy.h): ill-formed UTF-8 repaired, controls and bidi
  // overrides shown as visible escapes; then Markdown's table and code-span escapes.
  std::string s = visible_text(raw, /*keep_newlines=*/true);
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (n >= max && (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      out += "…";
      break;
    }
    char c = s[i];
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    if (c == '\n') out += "⏎";
    else if (c == '\t') out += ' ';
    else if (c == '|') out += "\\|";
    else if (c == '`') out += "'";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

namespace {

// The groups (case, variant) that have an unstable criterion.
std::set<std::pair<std::string, std::string>> unstable_groups(const RunAnalysis& a) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& c : a.criteria)
    if (c.verdict == Verdict::kUnstable) out.insert({c.case_id, c.variant_id});
  return out;
}

std::string quote_md(const std::optional<Quote>& q) {
  if (!q) return "—";
  std::string s = "#" + std::to_string(q->repeat) + " “" + md_inline(q->text, 80) + "”";
  if (!q->from_evidence) s += " (" + (q->source.empty() ? std::string("output") : q->source) + ")";
  if (!q->reason.empty()) s += ": " + md_inline(q->reason, 100);
  return s;
}

void render_cases_detail(const RunAnalysis& a, std::ostream& out,
                         const std::set<std::pair<std::string, std::string>>* only) {
  // Per case: one row per repeat of each variant.
  std::map<std::string, std::vector<const SampleRecord*>> by_case;
  std::vector<std::string> case_order;
  for (const auto& s : a.samples) {
    if (only && !only->count({s.case_id, s.variant_id})) continue;
    if (!by_case.count(s.case_id)) case_order.push_back(s.case_id);
    by_case[s.case_id].push_back(&s);
  }
  out << "\n## Per-repeat results\n\n";
  if (auto note = a.detail_note(); !note.empty()) out << "_" << note << "_\n\n";
  for (const auto& cid : case_order) {
    out << "### " << md_inline(cid) << "\n\n| Run | Score | Weighted | Failure modes | Notes |\n|---|---|---|---|---|\n";
    for (const auto* s : by_case[cid]) {
      out << "| " << md_inline(s->variant_id) << " #" << s->repeat << " | ";
      if (!s->ok) {
        out << "error | — | provider failure after " << s->attempts.size() << " attempt(s) | " << md_inline(s->error, 100)
            << " |\n";
        continue;
      }
      int pass = 0, scored = 0;
      std::string failures, unscored;
      for (const auto& c : s->scores) {
        if (c.outcome == Outcome::kUnscored) {
          unscored += (unscored.empty() ? "" : "; ") + c.criterion_id + ": " + c.reason;
          continue;
        }
        ++scored;
        if (c.outcome == Outcome::kPass) {
          ++pass;
        } else {
          failures += (failures.empty() ? "" : "; ") + c.criterion_id + ": " + c.reason;
          if (!c.evidence.text.empty()) failures += " [" + c.evidence.text + "]";
        }
      }
      const auto weighted = a.weighted_score_of(s);
      out << pass << "/" << scored << " | " << (weighted ? fmt(*weighted) : "n/a") << " | "
          << (failures.empty() ? "—" : md_inline(failures, 160)) << " | ";
      std::string notes = "finish " + (s->finish_reason.empty() ? std::string("?") : s->finish_reason);
      if (s->extracted_answer) notes += ", answer \"" + *s->extracted_answer + "\"";
      if (!unscored.empty()) notes += ", unscored: " + unscored;
      if (s->attempts.size() > 1) notes += ", " + std::to_string(s->attempts.size()) + " attempts";
      out << md_inline(notes, 160) << " |\n";
    }
    out << "\n";
  }
}

bool has_reasoning(const RunAnalysis& a) {
  for (const auto& g : a.groups)
    if (g.reasoning) return true;
  return false;
}

std::vector<MetricGroup> groups_shown(bool routing, bool reasoning) {
  std::vector<MetricGroup> g = {MetricGroup::kStability, MetricGroup::kOutput, MetricGroup::kVariants,
                                MetricGroup::kUsage};
  if (routing) g.push_back(MetricGroup::kRouting);
  if (reasoning) g.push_back(MetricGroup::kReasoning);
  return g;
}

std::string divergence_cell(const Divergence& d) {
  if (!d.diverged) return "—";
  return "char " + std::to_string(d.char_offset) + " (repeats " + std::to_string(d.repeat_a) + " vs " +
         std::to_string(d.repeat_b) + ")";
}

// Only for runs whose outputs have a thinking part: a run without one renders as before.
void render_reasoning_markdown(const RunAnalysis& a, std::ostream& out,
                               const std::set<std::pair<std::string, std::string>>* only) {
  if (!has_reasoning(a)) return;
  out << "\n## Reasoning and answer\n\nCriteria grade the answer part unless their `scope` says otherwise; the "
         "thinking part's variance is shown beside the answer's.\n\n"
         "| Case | Variant | With thinking | Unclosed | Unique answers | Answer divergence | Unique reasoning | "
         "Reasoning divergence | Reasoning length (chars, min / mean / max) |\n|---|---|---|---|---|---|---|---|---|\n";
  std::vector<const GroupStability*> same;
  for (const auto& g : a.groups) {
    if (!g.reasoning || (only && !only->count({g.case_id, g.variant_id}))) continue;
    const auto& r = *g.reasoning;
    if (r.same_answer_different_reasoning()) same.push_back(&g);
    out << "| " << md_inline(g.case_id) << " | " << md_inline(g.variant_id) << " | " << r.samples << " of "
        << g.samples << " | " << r.unclosed << " | " << r.unique_answers << " | "
        << divergence_cell(r.answer_divergence) << " | " << r.unique_reasoning << " | "
        << divergence_cell(r.reasoning_divergence) << " | " << fmt(r.reasoning_chars.min, 0) << " / "
        << fmt(r.reasoning_chars.mean, 0) << " / " << fmt(r.reasoning_chars.max, 0) << " |\n";
  }
  if (!same.empty()) {
    out << "\n**Same answer, different reasoning** (the verdict is stable, the path to it is not):\n\n";
    for (const auto* g : same)
      out << "- " << md_inline(g->case_id) << " / " << md_inline(g->variant_id) << ": 1 answer, "
          << g->reasoning->unique_reasoning << " different thinking texts over " << g->reasoning->samples
          << " repeats, first apart at char " << g->reasoning->reasoning_divergence.char_offset << "\n";
  }
}

}  // namespace

void render_verdict_markdown(const RunAnalysis& a, const ReportOptions& opts, std::ostream& out, const char* heading) {
  const auto gate = suite_gate(a);
  out << heading << " Verdict\n\n";
  if (gate) {
    out << "- **Gate " << (gate->passed ? "PASSED" : "FAILED") << "** (the suite's gate: block, no baseline)";
    std::string failed;
    for (const auto& c : gate->checks)
      if (!c.passed) failed += (failed.empty() ? "" : "; ") + c.name + ": " + c.detail;
    if (!failed.empty()) out << ": " << md_inline(failed, 400);
    out << "\n";
  } else {
    out << "- Gate: the suite sets no thresholds (add a gate: block or run `wobble gate` with flags)\n";
  }
  const int64_t triples = int64_t(a.criteria.size());
  out << "- **" << a.unstable << " unstable**, " << a.stable_fail << " stable-fail, " << a.stable_pass
      << " stable-pass";
  if (a.unscored_criteria) out << ", " << a.unscored_criteria << " unscored";
  out << " of " << triples << " (case, variant, criterion) triples; " << a.failed_samples
      << " provider failures in " << a.total_samples << " samples\n";
  out << "- Overall pass rate " << fmt(a.overall_pass_rate) << " (" << a.passes << "/" << a.scored
      << " scored results)";
  if (a.weighted.n > 0) out << "; weighted score mean " << fmt(a.weighted.mean) << " over " << a.weighted.n << " samples";
  out << "\n\n";
}

void render_unstable_markdown(const RunAnalysis& a, std::ostream& out, const char* heading, size_t limit) {
  if (a.unstable == 0) {
    out << heading << " Unstable criteria\n\nNone: every scored criterion gave the same verdict on every repeat.\n\n";
    return;
  }
  out << heading << " Unstable criteria, most unstable first\n\n"
      << "| Case | Variant | Criterion | Passed | Wilson 95% | pass^k | Expected | A passing repeat | A failing repeat |\n"
         "|---|---|---|---|---|---|---|---|---|\n";
  size_t shown = 0;
  for (size_t i : a.criteria_by_instability()) {
    const auto& c = a.criteria[i];
    if (c.verdict != Verdict::kUnstable) break;
    if (++shown > limit) break;
    out << "| " << md_inline(c.case_id) << " | " << md_inline(c.variant_id) << " | " << md_inline(c.criterion_id)
        << " | " << c.passes << "/" << c.n << " (" << fmt(c.pass_rate) << ") | [" << fmt(c.wilson.lo) << ", "
        << fmt(c.wilson.hi) << "] | " << (c.k ? fmt(c.pass_hat_k) : "n/a") << " (k=" << c.k << ") | "
        << (c.expected.empty() ? "—" : md_inline(c.expected, 60)) << " | " << quote_md(c.disagreement.pass) << " | "
        << quote_md(c.disagreement.fail) << " |\n";
  }
  if (shown > limit) out << "\n(" << a.unstable - int64_t(limit) << " more unstable criteria in the full report)\n";
  out << "\n";
}

void render_markdown(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing, const ReportOptions& opts) {
  const RunRecord& r = a.run;
  const auto unstable_set = unstable_groups(a);
  const auto* only = opts.only_unstable ? &unstable_set : nullptr;
  out << "# Wobble report: " << md_inline(r.suite_name) << " (run " << r.id << ")\n\n";
  for (const auto& alert : a.alerts) out << "> **Warning:** " << md_inline(alert, 400) << "\n\n";
  render_verdict_markdown(a, opts, out, "##");
  render_unstable_markdown(a, out, "##", SIZE_MAX);
  render_providers_markdown(a.providers, out);

  if (!opts.only_unstable && int64_t(a.criteria.size()) > a.unstable) {
    out << "## Other criteria\n\n";
    if (a.stable_fail + a.unscored_criteria > 0) {
      out << "| Case | Variant | Criterion | n | Pass rate | Wilson 95% | Expected | Verdict |\n"
             "|---|---|---|---|---|---|---|---|\n";
      for (size_t i : a.criteria_by_instability()) {
        const auto& c = a.criteria[i];
        if (c.verdict != Verdict::kStableFail && c.verdict != Verdict::kUnscored) continue;
        out << "| " << md_inline(c.case_id) << " | " << md_inline(c.variant_id) << " | " << md_inline(c.criterion_id)
            << " | " << c.n << " | " << fmt(c.pass_rate) << " | [" << fmt(c.wilson.lo) << ", " << fmt(c.wilson.hi)
            << "] | " << (c.expected.empty() ? "—" : md_inline(c.expected, 60)) << " | " << verdict_badge(c.verdict);
        if (c.numeric) out << " (score mean " << fmt(c.score.mean) << ", sd " << fmt(c.score.sd) << ")";
        out << " |\n";
      }
      out << "\n";
    }
    if (a.stable_pass > 0) {
      // One line per (case, variant): a stable pass needs no more than its name (the JSON has every figure).
      out << "Stable-pass (every scored repeat passed):\n\n";
      std::vector<std::pair<std::string, std::string>> order;
      std::map<std::pair<std::string, std::string>, std::string> names;
      for (const auto& c : a.criteria) {
        if (c.verdict != Verdict::kStablePass) continue;
        auto key = std::make_pair(c.case_id, c.variant_id);
        if (!names.count(key)) order.push_back(key);
        auto& n = names[key];
        n += (n.empty() ? "" : ", ") + md_inline(c.criterion_id) + " " + std::to_string(c.passes) + "/" +
             std::to_string(c.n);
      }
      for (const auto& key : order)
        out << "- " << md_inline(key.first) << " / " << md_inline(key.second) << ": " << names[key] << "\n";
      out << "\n";
    }
  }

  {
    // Criteria whose pass rate and verdict are the same under both variants are counted, not listed.
    int64_t listed = 0, same = 0;
    for (const auto& d : a.variant_deltas) {
      if (opts.only_unstable && d.verdict_a != Verdict::kUnstable && d.verdict_b != Verdict::kUnstable) continue;
      if (d.passes_a * d.n_b == d.passes_b * d.n_a && d.verdict_a == d.verdict_b) {
        ++same;
        continue;
      }
      if (listed++ == 0)
        out << "## Variants compared per criterion\n\n"
               "| Case | Variants A → B | Criterion | A | B | Δ | Fisher p | Verdict A → B |\n"
               "|---|---|---|---|---|---|---|---|\n";
      char buf[128];
      std::snprintf(buf, sizeof buf, "%lld/%lld | %lld/%lld | %+.2f | %.3f", (long long)d.passes_a, (long long)d.n_a,
                    (long long)d.passes_b, (long long)d.n_b, d.delta, d.fisher_p);
      out << "| " << md_inline(d.case_id) << " | " << md_inline(d.variant_a) << " → " << md_inline(d.variant_b)
          << " | " << md_inline(d.criterion_id) << " | " << buf << " | " << verdict_name(d.verdict_a)
          << (d.verdict_a == d.verdict_b ? "" : std::string(" → ") + verdict_name(d.verdict_b)) << " |\n";
    }
    if (listed == 0 && same > 0) out << "## Variants compared per criterion\n\n";
    if (listed > 0 && same > 0) out << "\n";
    if (same > 0)
      out << same << " (case, criterion) pairs have the same pass rate and verdict under both variants.\n";
    if (listed + same > 0) out << "\n";
  }

  if (!a.usage.empty()) {
    out << "## Latency and tokens\n\n| Provider | Samples | Failed | Latency p50 | Latency p95 | Tokens in / sample | "
           "Tokens out / sample |\n|---|---|---|---|---|---|---|\n";
    for (const auto& u : a.usage)
      out << "| `" << md_inline(u.provider, 80) << "` | " << u.samples << " | " << u.failed << " | "
          << fmt(u.latency_p50, 3) << " s | " << fmt(u.latency_p95, 3) << " s | " << fmt(u.tokens_in_mean, 1) << " | "
          << fmt(u.tokens_out_mean, 1) << " |\n";
    out << "\n";
  }

  if (!opts.only_unstable) {
    out << "## Criteria across cases\n\n| Criterion | Groups | Unstable | Stable pass | Stable fail | Fleiss' kappa |\n"
           "|---|---|---|---|---|---|\n";
    for (const auto& x : a.across) {
      out << "| " << md_inline(x.criterion_id) << " | " << x.groups << " | " << x.unstable << " | " << x.stable_pass
          << " | " << x.stable_fail << " | " << fmt(x.fleiss_kappa);
      if (x.kappa_subjects) out << " (" << x.kappa_subjects << " groups × " << x.kappa_raters << " repeats)";
      out << " |\n";
    }
    out << "\n";
  }

  out << "## Output stability\n\n| Case | Variant | Samples | Unique outputs | TARr | TARa | First "
         "divergence |\n|---|---|---|---|---|---|---|\n";
  for (const auto& g : a.groups) {
    if (only && !only->count({g.case_id, g.variant_id})) continue;
    out << "| " << md_inline(g.case_id) << " | " << md_inline(g.variant_id) << " | " << g.samples << " | "
        << g.unique_outputs << " | " << (g.tar_r ? "yes" : "no") << " | "
        << (g.tar_a ? (*g.tar_a ? "yes" : "no") : "n/a") << " | ";
    if (g.divergence.diverged)
      out << "char " << g.divergence.char_offset << " (repeats " << g.divergence.repeat_a << " vs "
          << g.divergence.repeat_b << ")";
    else
      out << "—";
    out << " |\n";
  }
  bool any = false;
  for (const auto& g : a.groups) {
    if (!g.divergence.diverged) continue;
    // Without --detail only the groups whose verdict wobbles: those are the ones a reader acts on.
    if (!opts.detail && !unstable_set.count({g.case_id, g.variant_id})) continue;
    if (!any)
      out << "\n### Where repeats first diverge" << (opts.detail ? "" : " (groups with an unstable criterion)") << "\n";
    any = true;
    const auto& d = g.divergence;
    out << "\n**" << md_inline(g.case_id) << " / " << md_inline(g.variant_id) << "** at char " << d.char_offset
        << ", after “" << md_inline(d.context, 60) << "”\n\n| repeat " << d.repeat_a << " | repeat " << d.repeat_b
        << " |\n|---|---|\n| " << md_inline(d.continuation_a, 80) << " | " << md_inline(d.continuation_b, 80)
        << " |\n";
  }

  render_reasoning_markdown(a, out, only);

  if (routing && routing->reportable()) render_routing_markdown(*routing, out, &a, opts.only_unstable);

  render_judge_markdown(a.judge, out);

  out << "\n## Run\n\n";
  out << "- Model: `" << md_inline(r.model_id) << "`\n";
  out << "- Status: " << md_inline(r.status) << ", started " << md_inline(r.started_at);
  if (!r.finished_at.empty()) out << ", finished " << md_inline(r.finished_at);
  out << "\n- Suite: `" << md_inline(r.suite_path) << "` (sha256 " << md_inline(r.suite_hash.substr(0, 12)) << ")\n";
  out << "- Sampling: `" << md_inline(dump_json(r.sampling), 400) << "`, repeats " << md_inline(r.plan.repeats_text())
      << "\n";
  for (const auto& [id, sampling] : provider_sampling(r))
    out << "  - provider " << md_inline(id) << " samples with `" << md_inline(sampling, 400) << "`\n";
  if (!r.plan.overrides.empty()) {
    out << "- Overrides:";
    for (const auto& [k, v] : r.plan.overrides) out << " --" << md_inline(k) << " " << md_inline(v);
    out << "\n";
  }
  if (!r.shard.empty()) out << "- Shard: " << md_inline(r.shard) << "\n";
  out << "- Samples: " << a.total_samples << " stored of " << r.expected_samples << " planned, " << a.failed_samples
      << " provider failures\n";
  if (opts.only_unstable) out << "- Limited to unstable criteria and their groups (--only-unstable)\n";

  if (opts.detail) render_cases_detail(a, out, only);
  else out << "- Per-repeat tables: `wobble report " << r.id << " --detail`\n";

  out << "\n## Appendix: metric definitions\n\n";
  render_metrics_markdown(out, groups_shown(routing && routing->reportable(), has_reasoning(a)));
  render_judge_definitions_markdown(a.judge, out);
}

void render_metrics_markdown(std::ostream& out, const std::vector<MetricGroup>& groups) {
  out << "| Metric | Group | Definition | Formula | Available from |\n|---|---|---|---|---|\n";
  for (const auto& m : metric_definitions()) {
    if (!groups.empty() && std::find(groups.begin(), groups.end(), m.group) == groups.end()) continue;
    out << "| **" << md_inline(std::string(m.name), 1000) << "** | " << metric_group_name(m.group) << " | "
        << md_inline(std::string(m.definition), 2000) << " | "
        << (m.formula.empty() ? std::string("—") : md_inline(std::string(m.formula), 1000)) << " | "
        << md_inline(std::string(m.sources), 1000) << " |\n";
  }
}

}  // namespace wobble
