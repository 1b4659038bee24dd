// The self-contained HTML run report: pass-rate chart with Wilson intervals, stability grid
// (cases × criteria, each cell linking to its samples), aligned repeats with the first divergence
// and evidence spans marked, routing heatmaps and drift bars, and the metric definitions.
#include <algorithm>
#include <cmath>
#include <climits>
#include <cstdint>
#include <map>
#include <set>

#include "report/html_page.h"
#include "report/html_text.h"
#include "report/report.h"
#include "report/svg_chart.h"
#include "util/text_policy.h"
#include "util/utf8.h"

namespace wobble {
namespace {

constexpr size_t kOutputClip = 4000;  // bytes of each output shown; the JSON report has all of it

std::string verdict_class(Verdict v) { return std::string("v-") + verdict_name(v); }

std::string group_anchor(size_t index) { return "g-" + std::to_string(index); }

// The first byte where b departs from a, at a UTF-8 boundary of b; npos when identical.
size_t first_difference(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size()), i = 0;
  while (i < n && a[i] == b[i]) ++i;
  if (i == n && a.size() == b.size()) return std::string::npos;
  return utf8_floor(b, i);
}

std::string verdict_legend() {
  return "<span class=\"badge v-unstable\">unstable</span><span class=\"badge v-stable-fail\">stable-fail</span>"
         "<span class=\"badge v-stable-pass\">stable-pass</span><span class=\"badge v-unscored\">unscored</span>";
}

std::string quote_html(const std::optional<Quote>& q, const char* cls) {
  if (!q) return "—";
  std::string s = "<a href=\"#s-" + std::to_string(q->sample_id) + "\">#" + std::to_string(q->repeat) +
                  "</a> <span class=\"" + std::string(cls) + "\">“" + html_escape(q->text) + "”</span>";
  if (!q->from_evidence)
    s += " <span class=\"muted\">(" + (q->source.empty() ? std::string("output") : html_escape(q->source)) + ")</span>";
  if (!q->reason.empty()) s += "<br><span class=\"muted\">" + html_escape(q->reason) + "</span>";
  return s;
}

void render_verdict(const RunAnalysis& a, const ReportOptions& opts, std::ostream& out) {
  const auto gate = suite_gate(a);
  out << "<section id=\"verdict\" class=\"verdict\"><h2>Verdict</h2>\n<p class=\"headline\">";
  if (gate)
    out << "<span class=\"gate " << (gate->passed ? "gate-pass\">Gate PASSED" : "gate-fail\">Gate FAILED")
        << "</span> <span class=\"muted\">(the suite's gate: block, no baseline)</span>";
  else
    out << "<span class=\"gate gate-none\">No gate thresholds</span> <span class=\"muted\">(add a gate: block to the "
           "suite)</span>";
  out << "</p>\n";
  if (gate) {
    out << "<ul class=\"checks\">";
    for (const auto& c : gate->checks)
      out << "<li class=\"" << (c.passed ? "ok" : "flag") << "\">" << (c.passed ? "ok" : "FAIL") << " "
          << html_escape(c.name) << ": " << html_escape(c.detail) << "</li>";
    out << "</ul>\n";
  }
  out << "<p class=\"counts\"><span class=\"badge v-unstable\">" << a.unstable << " unstable</span><span class=\"badge "
      << "v-stable-fail\">" << a.stable_fail << " stable-fail</span><span class=\"badge v-stable-pass\">" << a.stable_pass
      << " stable-pass</span>";
  if (a.unscored_criteria) out << "<span class=\"badge v-unscored\">" << a.unscored_criteria << " unscored</span>";
  out << " of " << a.criteria.size() << " (case, variant, criterion) triples; <span class=\""
      << (a.failed_samples ? "flag" : "") << "\">" << a.failed_samples << " provider failures</span> in "
      << a.total_samples << " samples; overall pass rate " << html_number(a.overall_pass_rate) << " (" << a.passes << "/"
      << a.scored << ")</p>\n";
  if (a.unstable == 0) {
    out << "<p>No unstable criterion: every scored criterion gave the same verdict on every repeat.</p></section>\n";
    return;
  }
  out << "<h3>Unstable criteria, most unstable first</h3>\n<table class=\"unstable\"><tr><th>Case / variant / "
         "criterion</th><th>Passed</th><th>Wilson 95%</th><th>Expected</th><th>A passing repeat</th><th>A failing "
         "repeat</th></tr>\n";
  for (size_t i : a.criteria_by_instability()) {
    const auto& c = a.criteria[i];
    if (c.verdict != Verdict::kUnstable) break;
    out << "<tr><td>" << html_escape(c.case_id) << " / " << html_escape(c.variant_id) << " / <b>"
        << html_escape(c.criterion_id) << "</b></td><td class=\"num\">" << c.passes << "/" << c.n << " ("
        << html_number(c.pass_rate) << ")</td><td class=\"num\">[" << html_number(c.wilson.lo) << ", "
        << html_number(c.wilson.hi) << "]</td><td><code>" << html_escape(c.expected.empty() ? "—" : c.expected)
        << "</code></td><td>" << quote_html(c.disagreement.pass, "q-pass") << "</td><td>"
        << quote_html(c.disagreement.fail, "q-fail") << "</td></tr>\n";
  }
  out << "</table></section>\n";
}

void render_variant_deltas(const RunAnalysis& a, bool only_unstable, std::ostream& out) {
  bool any = false;
  for (const auto& d : a.variant_deltas) {
    if (only_unstable && d.verdict_a != Verdict::kUnstable && d.verdict_b != Verdict::kUnstable) continue;
    if (!any)
      out << "<section id=\"variants\"><h2>Variants compared per criterion</h2>\n<p class=\"muted\">Pass rate of "
             "variant B minus variant A for each criterion (never pooled over criteria), with Fisher's exact "
             "two-sided p.</p>\n<table><tr><th>Case</th><th>A → B</th><th>Criterion</th><th>A</th><th>B</th><th>Δ</th>"
             "<th>Fisher p</th><th>Verdict A → B</th></tr>\n";
    any = true;
    out << "<tr><td>" << html_escape(d.case_id) << "</td><td>" << html_escape(d.variant_a) << " → "
        << html_escape(d.variant_b) << "</td><td>" << html_escape(d.criterion_id) << "</td><td class=\"num\">"
        << d.passes_a << "/" << d.n_a << "</td><td class=\"num\">" << d.passes_b << "/" << d.n_b
        << "</td><td class=\"num " << (d.delta > 0 ? "up" : d.delta < 0 ? "down" : "") << "\">"
        << (d.delta > 0 ? "+" : "") << html_number(d.delta) << "</td><td class=\"num" << (d.fisher_p < 0.05 ? " flag" : "")
        << "\">" << html_number(d.fisher_p, 3) << "</td><td><span class=\"badge " << verdict_class(d.verdict_a) << "\">"
        << verdict_name(d.verdict_a) << "</span> → <span class=\"badge " << verdict_class(d.verdict_b) << "\">"
        << verdict_name(d.verdict_b) << "</span></td></tr>\n";
  }
  if (any) out << "</table></section>\n";
}

void render_usage(const RunAnalysis& a, std::ostream& out) {
  if (a.usage.empty()) return;
  out << "<section id=\"usage\"><h2>Latency and tokens</h2>\n<table><tr><th>Provider</th><th>Samples</th><th>Failed"
         "</th><th>Latency p50</th><th>Latency p95</th><th>Tokens in / sample</th><th>Tokens out / sample</th></tr>\n";
  for (const auto& u : a.usage)
    out << "<tr><td><code>" << html_escape(u.provider) << "</code></td><td class=\"num\">" << u.samples
        << "</td><td class=\"num\">" << u.failed << "</td><td class=\"num\">" << html_number(u.latency_p50, 3)
        << " s</td><td class=\"num\">" << html_number(u.latency_p95, 3) << " s</td><td class=\"num\">"
        << html_number(u.tokens_in_mean, 1) << "</td><td class=\"num\">" << html_number(u.tokens_out_mean, 1)
        << "</td></tr>\n";
  out << "</table></section>\n";
}

// Only for runs whose outputs have a thinking part (the Markdown report's "Reasoning and answer").
bool render_reasoning(const RunAnalysis& a, std::ostream& out) {
  bool any = false;
  for (const auto& g : a.groups) {
    if (!g.reasoning) continue;
    if (!any)
      out << "<section id=\"reasoning\"><h2>Reasoning and answer</h2>\n<p class=\"muted\">Criteria grade the answer "
             "part unless their scope says otherwise.</p>\n<table><tr><th>Case / variant</th><th>With thinking</th>"
             "<th>Unclosed</th><th>Unique answers</th><th>Unique reasoning</th><th>Reasoning first apart</th>"
             "<th>Reasoning length (min / mean / max)</th><th></th></tr>\n";
    any = true;
    const auto& r = *g.reasoning;
    out << "<tr><td>" << html_escape(g.case_id) << " / " << html_escape(g.variant_id) << "</td><td class=\"num\">"
        << r.samples << "</td><td class=\"num\">" << r.unclosed << "</td><td class=\"num\">" << r.unique_answers
        << "</td><td class=\"num\">" << r.unique_reasoning << "</td><td class=\"num\">"
        << (r.reasoning_divergence.diverged ? "char " + std::to_string(r.reasoning_divergence.char_offset) : "—")
        << "</td><td class=\"num\">" << html_number(r.reasoning_chars.min, 0) << " / "
        << html_number(r.reasoning_chars.mean, 0) << " / " << html_number(r.reasoning_chars.max, 0) << "</td><td>"
        << (r.same_answer_different_reasoning() ? "same answer, different reasoning" : "") << "</td></tr>\n";
  }
  if (any) out << "</table></section>\n";
  return any;
}

void render_facts(const RunAnalysis& a, std::ostream& out) {
  const RunRecord& r = a.run;
  out << "<dl class=\"facts\">"
      << "<dt>Model</dt><dd><code>" << html_escape(r.model_id) << "</code></dd>"
      << "<dt>Status</dt><dd>" << html_escape(r.status) << ", started " << html_escape(r.started_at)
      << (r.finished_at.empty() ? "" : ", finished " + html_escape(r.finished_at)) << "</dd>"
      << "<dt>Suite</dt><dd><code>" << html_escape(r.suite_path) << "</code> (sha256 "
      << html_escape(r.suite_hash.substr(0, 12)) << ")</dd>"
      << "<dt>Sampling</dt><dd><code>" << html_escape(dump_json(r.sampling))
      << "</code>, repeats " << html_escape(r.plan.repeats_text());
  for (const auto& [id, sampling] : provider_sampling(r))
    out << "<br>provider " << html_escape(id) << " samples with <code>" << html_escape(sampling) << "</code>";
  out << "</dd>";
  if (!r.shard.empty()) out << "<dt>Shard</dt><dd>" << html_escape(r.shard) << "</dd>";
  out << "<dt>Samples</dt><dd>" << a.total_samples << " stored of " << r.expected_samples << " planned, "
      << a.failed_samples << " provider failures</dd>"
      << "<dt>Criteria</dt><dd>" << a.unstable << " unstable (case, variant, criterion) triples; overall pass rate "
      << html_number(a.overall_pass_rate) << " (" << a.passes << "/" << a.scored << " scored results)</dd>";
  if (a.weighted.n > 0)
    out << "<dt>Weighted score</dt><dd>mean " << html_number(a.weighted.mean) << " over " << a.weighted.n
        << " samples (min " << html_number(a.weighted.min) << ", max " << html_number(a.weighted.max) << ")</dd>";
  out << "</dl>\n";
}

void render_pass_rates(const RunAnalysis& a, const std::map<std::pair<std::string, std::string>, size_t>& group_of,
                       bool only_unstable, std::ostream& out) {
  out << "<section id=\"pass-rates\"><h2>Pass rates with Wilson 95% intervals</h2>\n"
         "<p class=\"muted\">One bar per (case, variant, criterion), most unstable first, coloured by verdict "
      << verdict_legend()
      << "; the whisker is the Wilson interval; a pass rate of 0 draws a short stub. Click a bar for its samples.</p>\n";
  std::vector<IntervalBar> rows;
  for (size_t i : a.criteria_by_instability()) {
    const auto& c = a.criteria[i];
    if (only_unstable && c.verdict != Verdict::kUnstable) continue;
    IntervalBar b;
    b.label = c.case_id + " / " + c.variant_id + " / " + c.criterion_id;
    b.value = c.n ? c.pass_rate : 0;
    b.lo = c.n ? c.wilson.lo : 0;
    b.hi = c.n ? c.wilson.hi : 0;
    b.css_class = verdict_class(c.verdict);
    auto it = group_of.find({c.case_id, c.variant_id});
    if (it != group_of.end()) b.href = "#" + group_anchor(it->second);
    b.tooltip = b.label + ": " + std::to_string(c.passes) + "/" + std::to_string(c.n) + " passed, Wilson [" +
                html_number(c.wilson.lo) + ", " + html_number(c.wilson.hi) + "], " + verdict_name(c.verdict);
    rows.push_back(std::move(b));
  }
  out << svg_interval_bars(rows, "Pass rate per case, variant and criterion") << "</section>\n";
}

// Groups ordered by their most unstable criterion; groups with none keep the suite's order after them,
// those with a stable-fail criterion first.
std::vector<size_t> groups_by_instability(const RunAnalysis& a) {
  std::map<std::pair<std::string, std::string>, size_t> rank;
  size_t r = 0;
  for (size_t i : a.criteria_by_instability()) {
    const auto& c = a.criteria[i];
    rank.emplace(std::make_pair(c.case_id, c.variant_id), c.verdict == Verdict::kStablePass || c.verdict == Verdict::kUnscored ? SIZE_MAX : r++);
  }
  std::vector<size_t> idx(a.groups.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  auto rank_of = [&](size_t i) {
    auto it = rank.find({a.groups[i].case_id, a.groups[i].variant_id});
    return it == rank.end() ? SIZE_MAX : it->second;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return rank_of(x) < rank_of(y); });
  return idx;
}

void render_grid(const RunAnalysis& a, const std::map<std::pair<std::string, std::string>, size_t>& group_of,
                 bool only_unstable, std::ostream& out) {
  std::vector<std::string> criteria;
  std::map<std::tuple<std::string, std::string, std::string>, const CriterionStability*> cell;
  for (const auto& c : a.criteria) {
    if (std::find(criteria.begin(), criteria.end(), c.criterion_id) == criteria.end()) criteria.push_back(c.criterion_id);
    cell[{c.case_id, c.variant_id, c.criterion_id}] = &c;
  }
  out << "<section id=\"grid\"><h2>Stability grid</h2>\n<p class=\"muted\">Rows are (case, variant), the most "
         "unstable first; columns criteria; each cell shows passes/n and links to the samples. "
      << verdict_legend() << "</p>\n<table class=\"grid\"><tr><th>Case</th><th>Variant</th>";
  for (const auto& c : criteria) out << "<th>" << html_escape(c) << "</th>";
  out << "<th>Weighted (mean)</th></tr>\n";
  std::set<std::pair<std::string, std::string>> unstable;
  for (const auto& c : a.criteria)
    if (c.verdict == Verdict::kUnstable) unstable.insert({c.case_id, c.variant_id});
  for (size_t gi : groups_by_instability(a)) {
    const auto& g = a.groups[gi];
    if (only_unstable && !unstable.count({g.case_id, g.variant_id})) continue;
    out << "<tr><td>" << html_escape(g.case_id) << "</td><td>" << html_escape(g.variant_id) << "</td>";
    for (const auto& crit : criteria) {
      auto it = cell.find({g.case_id, g.variant_id, crit});
      if (it == cell.end()) {
        out << "<td class=\"muted\">—</td>";
        continue;
      }
      const auto& c = *it->second;
      out << "<td class=\"cell " << verdict_class(c.verdict) << "\"><a href=\"#" << group_anchor(group_of.at({g.case_id, g.variant_id}))
          << "\" title=\"" << html_escape(crit + ": " + verdict_name(c.verdict) + ", Wilson [" + html_number(c.wilson.lo) +
                                          ", " + html_number(c.wilson.hi) + "], " + std::to_string(c.flips) + " flips")
          << "\">" << c.passes << "/" << c.n << "</a></td>";
    }
    out << "<td class=\"num\">" << (g.weighted.n ? html_number(g.weighted.mean) : std::string("n/a")) << "</td></tr>\n";
  }
  out << "</table>\n";
  if (only_unstable) {
    out << "</section>\n";
    return;
  }
  out << "<h3>Criteria across cases</h3>\n<table><tr><th>Criterion</th><th>Groups</th><th>Unstable</th><th>Stable "
         "pass</th><th>Stable fail</th><th>Fleiss' kappa</th></tr>\n";
  for (const auto& x : a.across)
    out << "<tr><td>" << html_escape(x.criterion_id) << "</td><td class=\"num\">" << x.groups << "</td><td class=\"num\">"
        << x.unstable << "</td><td class=\"num\">" << x.stable_pass << "</td><td class=\"num\">" << x.stable_fail
        << "</td><td class=\"num\">" << html_number(x.fleiss_kappa) << "</td></tr>\n";
  out << "</table></section>\n";
}

void render_group(const RunAnalysis& a, const GroupStability& g, size_t index,
                  const std::vector<const SampleRecord*>& samples, std::ostream& out) {
  const SampleRecord* reference = nullptr;
  for (const auto* s : samples)
    if (s->ok) {
      reference = s;
      break;
    }
  out << "<div class=\"group\" id=\"" << group_anchor(index) << "\"><h3>" << html_escape(g.case_id) << " / "
      << html_escape(g.variant_id) << "</h3>\n<p>" << g.samples << " outputs, " << g.unique_outputs
      << " unique; TARr " << (g.tar_r ? "yes" : "no") << ", TARa " << (g.tar_a ? (*g.tar_a ? "yes" : "no") : "n/a");
  if (g.failed) out << ", <span class=\"err\">" << g.failed << " provider failures</span>";
  if (g.divergence.diverged)
    out << "; repeats first diverge at char " << g.divergence.char_offset << " (repeat " << g.divergence.repeat_a
        << " vs " << g.divergence.repeat_b << ")";
  out << ".</p>\n";
  // Criterion rows for the prompt's per-criterion stability.
  out << "<table class=\"repeats\"><tr><th>Repeat</th><th>Weighted</th><th>Criteria</th><th>Output (yellow: departs "
         "from repeat "
      << (reference ? std::to_string(reference->repeat) : std::string("—"))
      << "; underline: evidence)</th></tr>\n";
  for (const auto* s : samples) {
    const auto weighted = a.weighted_score_of(s);
    out << "<tr id=\"s-" << s->id << "\"><td class=\"num\">#" << s->repeat << "</td><td class=\"num\">"
        << (weighted ? html_number(*weighted) : std::string("n/a")) << "</td><td>";
    if (!s->ok) {
      out << "<span class=\"badge o-error\">error</span></td><td><span class=\"err\">provider failure after "
          << s->attempts.size() << " attempt(s): " << html_escape(s->error) << "</span></td></tr>\n";
      continue;
    }
    for (const auto& r : s->scores) {
      out << "<span class=\"badge o-" << outcome_name(r.outcome) << "\" title=\""
          << html_escape(r.criterion_id + ": " + outcome_name(r.outcome) + (r.reason.empty() ? "" : " — " + r.reason))
          << "\">" << html_escape(r.criterion_id) << "</span>";
      // The expected value in the page itself, not only on hover: it is what a reader checks first.
      if (r.outcome == Outcome::kFail && !r.expected.empty())
        out << "<span class=\"expected\">expected <code>" << html_escape(r.expected) << "</code></span>";
    }
    out << "</td><td><pre class=\"out\">";
    std::vector<TextSpan> spans;
    if (reference && s != reference) {
      size_t d = first_difference(reference->output, s->output);
      if (d != std::string::npos)
        spans.push_back({int64_t(d), int64_t(s->output.size()), "div",
                         "departs from repeat " + std::to_string(reference->repeat) + " here (byte " + std::to_string(d) + ")"});
    }
    for (const auto& r : s->scores) {
      if (r.evidence.end <= r.evidence.start) continue;
      // Offsets point into the text the criterion graded; mark them on the output only where that
      // text stands in it (a server's separate reasoning field does not).
      int64_t base = 0;
      if (s->reasoning_form != ReasoningForm::kNone && r.scope != Scope::kRaw) {
        const std::string& t = r.scope == Scope::kReasoning ? s->reasoning : s->answer;
        size_t at = t.empty() ? std::string::npos : s->output.find(t);
        if (at == std::string::npos) continue;
        base = int64_t(at);
      }
      spans.push_back({base + r.evidence.start, base + r.evidence.end, std::string("ev ev-") + outcome_name(r.outcome),
                       r.criterion_id + ": " + outcome_name(r.outcome) + (r.reason.empty() ? "" : " — " + r.reason)});
    }
    out << html_marked_text(s->output, spans, kOutputClip) << "</pre></td></tr>\n";
  }
  out << "</table></div>\n";
}

}  // namespace

namespace {

std::string noise_html(const RoutingNoise& n) {
  if (!n.tested) return "noise floor n/a";
  return "noise floor " + html_number(n.noise_jsd, 3) + ", p = " + html_number(n.p_value, 4) +
         (n.exact ? " (exact, " : " (sampled, ") + std::to_string(n.splits) + " splits)" +
         ": " + (n.moved ? "<b class=\"flag\">moved beyond repeat noise</b>" : "<span class=\"muted\">within repeat noise</span>");
}

std::vector<std::vector<double>> difference(const std::vector<std::vector<double>>& a,
                                            const std::vector<std::vector<double>>& b) {
  std::vector<std::vector<double>> d = b;
  for (size_t l = 0; l < d.size() && l < a.size(); ++l)
    for (size_t e = 0; e < d[l].size() && e < a[l].size(); ++e) d[l][e] = b[l][e] - a[l][e];
  return d;
}

}  // namespace

void render_routing_html(const RoutingAnalysis& r, std::ostream& out, const RunAnalysis* a, bool only_unstable) {
  std::set<std::pair<std::string, std::string>> unstable;
  if (a)
    for (const auto& c : a->criteria)
      if (c.verdict == Verdict::kUnstable) unstable.insert({c.case_id, c.variant_id});
  auto shown = [&](const std::string& c, const std::string& v) { return !a || !only_unstable || unstable.count({c, v}); };
  out << "<section id=\"routing\"><h2>Routing</h2>\n<p>Traces: " << r.trace_tokens << " tokens, " << r.trace_bytes
      << " bytes (" << html_number(r.trace_tokens ? double(r.trace_bytes) * 1000.0 / double(r.trace_tokens) : 0, 1)
      << " bytes per 1,000 tokens).</p>\n";
  out << "<table class=\"wide\"><tr><th>Case</th><th>Variant</th><th>Entropy</th><th>Load CV</th><th>Repetition</th><th>Prompt overlap "
         "(exact)</th><th>Generated overlap (exact, tokens)</th><th>First routing divergence</th><th>First output "
         "divergence</th></tr>\n";
  for (const auto& g : r.groups) {
    if (!shown(g.case_id, g.variant_id)) continue;
    out << "<tr><td>" << html_escape(g.case_id) << "</td><td>" << html_escape(g.variant_id) << "</td><td class=\"num\">"
        << (std::isnan(g.entropy) ? "n/a" : html_number(g.entropy, 3)) << "</td><td class=\"num\">"
        << (std::isnan(g.load_cv) ? "n/a" : html_number(g.load_cv, 3)) << "</td><td class=\"num\">"
        << html_number(g.repetition, 3) << "</td><td class=\"num\">" << html_number(g.prompt_overlap, 3) << " ("
        << html_number(g.prompt_exact, 3) << ")</td><td class=\"num\">" << html_number(g.gen_overlap, 3) << " ("
        << html_number(g.gen_exact, 3) << ", " << g.gen_compared << ")</td><td>";
    if (g.first_prompt_divergence)
      out << "prompt token " << g.first_prompt_divergence->first << ", layer " << g.first_prompt_divergence->second;
    if (g.first_prompt_divergence && g.first_generated_divergence) out << "; ";
    if (g.first_generated_divergence)
      out << "generated token " << g.first_generated_divergence->first << ", layer "
          << g.first_generated_divergence->second;
    if (!g.first_prompt_divergence && !g.first_generated_divergence) out << "—";
    out << "</td><td>";
    if (g.first_output_divergence_token) out << "generated token " << *g.first_output_divergence_token;
    else out << "—";
    out << "</td></tr>\n";
  }
  out << "</table>\n";
  for (const auto& g : r.groups)
    for (const std::string* na : {&g.entropy_na, &g.load_cv_na, &g.generated_na})
      if (!na->empty()) {
        out << "<p class=\"muted\">" << html_escape(g.case_id + " / " + g.variant_id + ": n/a because " + *na) << "</p>\n";
      }
  if (!r.absent.empty()) {
    out << "<p>Routing absent for " << r.absent_samples << " samples:</p><ul>";
    for (const auto& [why, n] : r.absent) out << "<li>" << n << " × " << html_escape(why) << "</li>";
    out << "</ul>\n";
  }
  // One colour scale for every usage map and one for every difference map, so maps compare by eye.
  HeatScale usage_scale, diff_scale{0, true};
  std::map<std::pair<std::string, std::string>, const GroupRouting*> by_key;
  for (const auto& g : r.groups) {
    by_key[{g.case_id, g.variant_id}] = &g;
    for (const auto& l : g.usage)
      for (double v : l) usage_scale.max = std::max(usage_scale.max, std::isfinite(v) ? v : 0.0);
  }
  std::set<std::pair<std::string, std::string>> paired;
  for (const auto& v : r.variants) {
    auto ia = by_key.find({v.case_id, v.variant_a}), ib = by_key.find({v.case_id, v.variant_b});
    if (ia == by_key.end() || ib == by_key.end()) continue;
    for (const auto& l : difference(ia->second->usage, ib->second->usage))
      for (double x : l) diff_scale.max = std::max(diff_scale.max, std::isfinite(x) ? std::fabs(x) : 0.0);
  }
  if (!(usage_scale.max > 0)) usage_scale.max = 1;
  if (!(diff_scale.max > 0)) diff_scale.max = 0.01;
  out << "<h3>Expert usage per layer</h3>\n<p class=\"muted\">Share of the top-k selections at each MoE layer that went "
         "to each expert, pooled over the repeats; every map uses the same scale.</p>\n<div class=\"scales\">"
      << svg_colour_bar(usage_scale, "expert usage (share of selections)");
  if (!r.variants.empty()) out << svg_colour_bar(diff_scale, "difference B − A (blue: B uses the expert more)");
  out << "</div>\n";
  if (!r.variants.empty()) {
    out << "<h3>Does the prompt variant move routing, and does it help?</h3>\n<p class=\"muted\">Each pair of variants "
           "of a case side by side with their difference (B − A). Mean JSD between the variants is tested against the "
           "JSD between random splits of their pooled repeats (a permutation test; see the definitions).</p>\n";
    for (const auto& v : r.variants) {
      auto ia = by_key.find({v.case_id, v.variant_a}), ib = by_key.find({v.case_id, v.variant_b});
      if (ia == by_key.end() || ib == by_key.end()) continue;
      if (!shown(v.case_id, v.variant_a) && !shown(v.case_id, v.variant_b)) continue;
      paired.insert({v.case_id, v.variant_a});
      paired.insert({v.case_id, v.variant_b});
      out << "<div class=\"pair\"><p><strong>" << html_escape(v.case_id) << "</strong>: " << html_escape(v.variant_a)
          << " (A) vs " << html_escape(v.variant_b) << " (B). Mean JSD " << html_number(v.mean_jsd, 3) << "; "
          << noise_html(v.noise);
      if (a) out << "<br>Pass rate per criterion A → B: " << html_escape(variant_delta_text(*a, v.case_id, v.variant_a, v.variant_b));
      out << "</p><div class=\"routing-group\"><div><strong>A: " << html_escape(v.variant_a) << "</strong>"
          << svg_heatmap(ia->second->usage, "layer", "expert", "Expert usage: " + v.case_id + " / " + v.variant_a, usage_scale)
          << "</div><div><strong>B: " << html_escape(v.variant_b) << "</strong>"
          << svg_heatmap(ib->second->usage, "layer", "expert", "Expert usage: " + v.case_id + " / " + v.variant_b, usage_scale)
          << "</div><div><strong>B − A</strong>"
          << svg_heatmap(difference(ia->second->usage, ib->second->usage), "layer", "expert",
                         "Usage difference: " + v.case_id + ", " + v.variant_b + " minus " + v.variant_a, diff_scale)
          << "</div></div></div>\n";
    }
  }
  bool alone = false;
  for (const auto& g : r.groups) {
    if (paired.count({g.case_id, g.variant_id}) || !shown(g.case_id, g.variant_id)) continue;
    if (!alone) out << "<div class=\"routing-group\">";
    alone = true;
    out << "<div><strong>" << html_escape(g.case_id) << " / " << html_escape(g.variant_id) << "</strong>"
        << svg_heatmap(g.usage, "layer", "expert", "Expert usage: " + g.case_id + " / " + g.variant_id, usage_scale)
        << "</div>\n";
  }
  if (alone) out << "</div>\n";
  if (!r.baseline.empty()) {
    out << "<h3>Routing drift against baseline run " << r.baseline_run << "</h3>\n<p class=\"muted\">One row per "
           "(case, variant): the bar is the mean JSD over layers against the baseline, the black tick the noise floor "
           "(median JSD between random splits of both runs' repeats), the dashed line the per-layer flagging threshold ("
        << html_number(r.max_jsd_threshold, 3) << "); red rows are flagged (a layer above the threshold, or prompt top-k "
        << "overlap below " << html_number(r.min_overlap_threshold, 3) << ").</p>\n";
    std::vector<ValueRow> rows;
    double x_max = r.max_jsd_threshold * 1.2;
    for (const auto& b : r.baseline) {
      if (!shown(b.case_id, b.variant_id)) continue;
      x_max = std::max({x_max, std::isfinite(b.mean_jsd) ? b.mean_jsd : 0.0, b.noise.tested ? b.noise.noise_jsd : 0.0});
      rows.push_back({b.case_id + " / " + b.variant_id, b.mean_jsd, b.noise.tested ? b.noise.noise_jsd : std::nan(""),
                      b.flagged ? "drift flagged" : "drift",
                      b.case_id + " / " + b.variant_id + ": mean JSD " + html_number(b.mean_jsd, 3) + ", max layer " +
                          html_number(b.jsd.empty() ? 0 : *std::max_element(b.jsd.begin(), b.jsd.end()), 3) +
                          ", prompt top-k overlap " + html_number(b.prompt_overlap, 3) +
                          (b.noise.tested ? ", noise floor " + html_number(b.noise.noise_jsd, 3) + ", p " +
                                                html_number(b.noise.p_value, 3)
                                          : std::string())});
    }
    out << svg_value_rows(rows, x_max, r.max_jsd_threshold, "Mean routing JSD against the baseline per case and variant");
    out << "<table><tr><th>Case</th><th>Variant</th><th>Mean JSD</th><th>Noise floor, p</th><th>Prompt top-k "
           "overlap</th><th>Flag</th></tr>\n";
    for (const auto& b : r.baseline)
      if (shown(b.case_id, b.variant_id))
        out << "<tr><td>" << html_escape(b.case_id) << "</td><td>" << html_escape(b.variant_id) << "</td><td class=\"num\">"
          << html_number(b.mean_jsd, 3) << "</td><td>" << noise_html(b.noise) << "</td><td class=\"num\">"
          << html_number(b.prompt_overlap, 3) << "</td><td>" << (b.flagged ? "<span class=\"flag\">DRIFT</span>" : "ok")
          << "</td></tr>\n";
    out << "</table>\n";
  }
  out << "</section>\n";
}

void render_metrics_html(std::ostream& out, const std::vector<MetricGroup>& groups) {
  out << "<table class=\"defs\"><tr><th>Metric</th><th>Definition</th><th>Formula</th><th>Available from</th></tr>\n";
  for (const auto& m : metric_definitions()) {
    if (!groups.empty() && std::find(groups.begin(), groups.end(), m.group) == groups.end()) continue;
    out << "<tr><td><b>" << html_escape(m.name) << "</b></td><td>" << html_escape(m.definition) << "</td><td>"
        << (m.formula.empty() ? std::string("—") : "<code>" + html_escape(m.formula) + "</code>") << "</td><td>"
        << html_escape(m.sources) << "</td></tr>\n";
  }
  out << "</table>\n";
}

void render_html(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing, const ReportOptions& opts) {
  bool has_routing = routing && routing->reportable();
  std::map<std::pair<std::string, std::string>, size_t> group_of;
  for (size_t i = 0; i < a.groups.size(); ++i) group_of[{a.groups[i].case_id, a.groups[i].variant_id}] = i;
  std::set<std::pair<std::string, std::string>> unstable;
  for (const auto& c : a.criteria)
    if (c.verdict == Verdict::kUnstable) unstable.insert({c.case_id, c.variant_id});
  std::string title = "Wobble report: " + a.run.suite_name + " (run " + std::to_string(a.run.id) + ")";
  html_page_begin(out, title);
  out << "<h1>" << html_escape(title) << "</h1>\n<nav><a href=\"#verdict\">Verdict</a><a href=\"#pass-rates\">Pass "
         "rates</a><a href=\"#grid\">Stability grid</a>"
      << (a.variant_deltas.empty() ? "" : "<a href=\"#variants\">Variants</a>") << "<a href=\"#usage\">Latency</a>"
      << (has_routing ? "<a href=\"#routing\">Routing</a>" : "")
      << "<a href=\"#divergence\">Repeats</a><a href=\"#run\">Run</a><a href=\"#appendix\">Definitions</a></nav>\n";
  for (const auto& alert : a.alerts) out << "<div class=\"alert\" role=\"alert\">" << html_escape(alert) << "</div>\n";
  render_verdict(a, opts, out);
  render_providers_html(a.providers, out);
  render_pass_rates(a, group_of, opts.only_unstable, out);
  render_grid(a, group_of, opts.only_unstable, out);
  render_variant_deltas(a, opts.only_unstable, out);
  render_usage(a, out);
  if (has_routing) render_routing_html(*routing, out, &a, opts.only_unstable);
  out << "<section id=\"divergence\"><h2>Repeats, aligned</h2>\n<p class=\"muted\">Each (case, variant)'s repeats one "
         "above the other, most unstable groups first. <span class=\"div\">Yellow</span>: the part of an output that "
         "departs from the reference repeat. Underlined: evidence a criterion's scorer pointed at, "
         "<span class=\"ev ev-pass\">green when it passed</span>, <span class=\"ev ev-fail\">red when it failed</span>, "
         "<span class=\"ev ev-unscored\">grey when unscored</span> (hover for the criterion and reason). Outputs longer "
         "than "
      << kOutputClip << " bytes are clipped here; the JSON report has them whole.</p>\n";
  if (auto note = a.detail_note(); !note.empty()) out << "<p class=\"muted\">" << html_escape(note) << "</p>\n";
  // One pass over the samples, not one per group (a run has thousands of groups).
  std::map<std::pair<std::string, std::string>, std::vector<const SampleRecord*>> samples_of;
  for (const auto& s : a.samples) samples_of[{s.case_id, s.variant_id}].push_back(&s);
  static const std::vector<const SampleRecord*> kNone;
  for (size_t i : groups_by_instability(a)) {
    if (opts.only_unstable && !unstable.count({a.groups[i].case_id, a.groups[i].variant_id})) continue;
    auto it = samples_of.find({a.groups[i].case_id, a.groups[i].variant_id});
    render_group(a, a.groups[i], i, it == samples_of.end() ? kNone : it->second, out);
  }
  out << "</section>\n";
  const bool reasoning = render_reasoning(a, out);
  out << "<section id=\"run\"><h2>Run</h2>\n";
  render_facts(a, out);
  out << "</section>\n<section id=\"appendix\"><h2>Appendix: metric definitions</h2>\n";
  std::vector<MetricGroup> groups = {MetricGroup::kStability, MetricGroup::kOutput, MetricGroup::kVariants,
                                     MetricGroup::kUsage};
  if (has_routing) groups.push_back(MetricGroup::kRouting);
  if (reasoning) groups.push_back(MetricGroup::kReasoning);
  render_metrics_html(out, groups);
  out << "</section>\n";
  html_page_end(out, "wobble report " + std::to_string(a.run.id) + " --format json");
}

}  // namespace wobble
