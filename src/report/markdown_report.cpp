#include <cmath>
#include <cstdio>
#include <map>

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

void render_markdown(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing) {
  const RunRecord& r = a.run;
  out << "# Wobble report: " << md_inline(r.suite_name) << " (run " << r.id << ")\n\n";
  for (const auto& alert : a.alerts) out << "> **Warning:** " << md_inline(alert, 400) << "\n\n";
  out << "- Model: `" << md_inline(r.model_id) << "`\n";
  out << "- Status: " << md_inline(r.status) << ", started " << md_inline(r.started_at);
  if (!r.finished_at.empty()) out << ", finished " << md_inline(r.finished_at);
  out << "\n- Suite: `" << md_inline(r.suite_path) << "` (sha256 " << md_inline(r.suite_hash.substr(0, 12)) << ")\n";
  out << "- Sampling: `" << md_inline(dump_json(r.sampling), 400)
      << "`, repeats " << md_inline(r.plan.repeats_text()) << "\n";
  if (!r.plan.overrides.empty()) {
    out << "- Overrides:";
    for (const auto& [k, v] : r.plan.overrides) out << " --" << md_inline(k) << " " << md_inline(v);
    out << "\n";
  }
  if (!r.shard.empty()) out << "- Shard: " << md_inline(r.shard) << "\n";
  out << "- Samples: " << a.total_samples << " stored of " << r.expected_samples << " planned, " << a.failed_samples
      << " provider failures\n";
  out << "- Criteria: " << a.unstable << " unstable (case, variant, criterion) triples; overall pass rate "
      << fmt(a.overall_pass_rate) << " (" << a.passes << "/" << a.scored << " scored results)\n";
  if (a.weighted.n > 0)
    out << "- Weighted score: mean " << fmt(a.weighted.mean) << " over " << a.weighted.n << " samples (min "
        << fmt(a.weighted.min) << ", max " << fmt(a.weighted.max) << ")\n";
  out << "\n";

  render_providers_markdown(a.providers, out);

  // Per case: one row per repeat of each variant.
  std::map<std::string, std::vector<const SampleRecord*>> by_case;
  std::vector<std::string> case_order;
  for (const auto& s : a.samples) {
    if (!by_case.count(s.case_id)) case_order.push_back(s.case_id);
    by_case[s.case_id].push_back(&s);
  }
  out << "## Cases\n\n";
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
      out << pass << "/" << scored << " | " << (weighted ? fmt(*weighted) : "n/a") << " | " << (failures.empty() ? "—" : md_inline(failures, 160)) << " | ";
      std::string notes = "finish " + (s->finish_reason.empty() ? std::string("?") : s->finish_reason);
      if (s->extracted_answer) notes += ", answer \"" + *s->extracted_answer + "\"";
      if (!unscored.empty()) notes += ", unscored: " + unscored;
      if (s->attempts.size() > 1) notes += ", " + std::to_string(s->attempts.size()) + " attempts";
      out << md_inline(notes, 160) << " |\n";
    }
    out << "\n";
  }

  out << "## Criterion stability\n\n| Case | Variant | Criterion | n | Pass rate | Wilson 95% | pass@k | pass^k | k | "
         "Flips | Verdict |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : a.criteria) {
    out << "| " << md_inline(c.case_id) << " | " << md_inline(c.variant_id) << " | " << md_inline(c.criterion_id) << " | "
        << c.n << " | " << fmt(c.pass_rate) << " | [" << fmt(c.wilson.lo) << ", " << fmt(c.wilson.hi) << "] | "
        << (c.k ? fmt(c.pass_at_k) : "n/a") << " | " << (c.k ? fmt(c.pass_hat_k) : "n/a") << " | " << c.k << " | "
        << c.flips << " | " << verdict_badge(c.verdict);
    if (c.numeric) out << " (score mean " << fmt(c.score.mean) << ", sd " << fmt(c.score.sd) << ")";
    out << " |\n";
  }
  out << "\n## Criteria across cases\n\n| Criterion | Groups | Unstable | Stable pass | Stable fail | Fleiss' kappa |\n"
         "|---|---|---|---|---|---|\n";
  for (const auto& x : a.across) {
    out << "| " << md_inline(x.criterion_id) << " | " << x.groups << " | " << x.unstable << " | " << x.stable_pass
        << " | " << x.stable_fail << " | " << fmt(x.fleiss_kappa);
    if (x.kappa_subjects) out << " (" << x.kappa_subjects << " groups × " << x.kappa_raters << " repeats)";
    out << " |\n";
  }

  out << "\n## Output stability and disagreements\n\n| Case | Variant | Samples | Unique outputs | TARr | TARa | First "
         "divergence |\n|---|---|---|---|---|---|---|\n";
  for (const auto& g : a.groups) {
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
    if (!any) out << "\n### Where repeats first diverge\n";
    any = true;
    const auto& d = g.divergence;
    out << "\n**" << md_inline(g.case_id) << " / " << md_inline(g.variant_id) << "** at char " << d.char_offset
        << ", after “" << md_inline(d.context, 60) << "”\n\n| repeat " << d.repeat_a << " | repeat " << d.repeat_b
        << " |\n|---|---|\n| " << md_inline(d.continuation_a, 80) << " | " << md_inline(d.continuation_b, 80)
        << " |\n";
  }

  if (routing && routing->has_traces) render_routing_markdown(*routing, out);
  out << "\n## Appendix: metric definitions\n\n"
         "- **Pass rate**: passes / n, where n counts repeats scored pass or fail (unscored and provider failures "
         "are excluded).\n"
         "- **Wilson 95%**: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = 1.95996.\n"
         "- **pass@k**: 1 - C(n-c, k)/C(n, k), the chance that at least one of k repeats drawn without replacement "
         "passes (c = passes). **pass^k**: C(c, k)/C(n, k), the chance that all k pass. k = min(n, "
      << a.report_k
      << ").\n"
         "- **Verdict**: stable-pass when every scored repeat passed, stable-fail when every one failed, unstable "
         "when both occur, unscored when none was scored.\n"
         "- **Weighted**: a sample's weighted score, Σ w·score / Σ w over its criteria scored pass or fail "
         "(w: the criterion's `weight`, default 1; unscored criteria are left out); n/a when nothing was scored.\n"
         "- **Flips**: number of pass↔fail changes in repeat order, skipping unscored repeats.\n"
         "- **Unique outputs / TARr@N**: distinct raw outputs; TARr is yes when all N outputs are byte-identical. "
         "**TARa@N**: yes when all extracted answers are identical (n/a without an answer extractor).\n"
         "- **First divergence**: the smallest offset at which any repeat's output departs from the lowest-numbered "
         "repeat's, in Unicode code points.\n"
         "- **Fleiss' kappa**: agreement of repeats (raters) on pass/fail across (case, variant) groups (subjects) "
         "with the same number of scored repeats; n/a when undefined (e.g. every rating identical).\n";
  if (routing && routing->has_traces)
    out << "- **Expert usage** u[l][e]: share of the k selections per token at MoE layer l that went to expert e "
           "(prompt and generated tokens). **Router entropy**: mean entropy (nats) of the router's softmax. "
           "**Load CV**: standard deviation / mean of u[l] across experts, averaged over layers. **Repetition**: "
           "share of (token, layer) whose selected set equals the previous token's.\n"
           "- **Top-k overlap**: mean |A ∩ B| / k between a repeat's selected set and repeat 0's at the same "
           "(token, layer); **exact**: share of identical sets. Over prompt tokens, and over generated tokens "
           "before the first differing token id (their inputs are identical, so any difference is numerical).\n"
           "- **JSD**: Jensen-Shannon divergence (base 2, 0 = same usage, 1 = disjoint) of pooled u[l] between "
           "two variants of a case, or between this run and a baseline run.\n";
}

}  // namespace wobble
