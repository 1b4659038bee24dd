// The self-contained HTML run report: pass-rate chart with Wilson intervals, stability grid
// (cases × criteria, each cell linking to its samples), aligned repeats with the first divergence
// and evidence spans marked, routing heatmaps and drift bars, and the metric definitions.
#include <algorithm>
#include <cmath>
#include <map>

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

void render_facts(const RunAnalysis& a, std::ostream& out) {
  const RunRecord& r = a.run;
  out << "<dl class=\"facts\">"
      << "<dt>Model</dt><dd><code>" << html_escape(r.model_id) << "</code></dd>"
      << "<dt>Status</dt><dd>" << html_escape(r.status) << ", started " << html_escape(r.started_at)
      << (r.finished_at.empty() ? "" : ", finished " + html_escape(r.finished_at)) << "</dd>"
      << "<dt>Suite</dt><dd><code>" << html_escape(r.suite_path) << "</code> (sha256 "
      << html_escape(r.suite_hash.substr(0, 12)) << ")</dd>"
      << "<dt>Sampling</dt><dd><code>" << html_escape(dump_json(r.sampling))
      << "</code>, repeats " << html_escape(r.plan.repeats_text()) << "</dd>";
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
                       std::ostream& out) {
  out << "<section id=\"pass-rates\"><h2>Pass rates with Wilson 95% intervals</h2>\n"
         "<p class=\"muted\">One bar per (case, variant, criterion), coloured by verdict; the whisker is the "
         "Wilson interval. Click a bar for its samples.</p>\n";
  std::vector<IntervalBar> rows;
  for (const auto& c : a.criteria) {
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

void render_grid(const RunAnalysis& a, const std::map<std::pair<std::string, std::string>, size_t>& group_of,
                 std::ostream& out) {
  std::vector<std::string> criteria;
  std::map<std::tuple<std::string, std::string, std::string>, const CriterionStability*> cell;
  for (const auto& c : a.criteria) {
    if (std::find(criteria.begin(), criteria.end(), c.criterion_id) == criteria.end()) criteria.push_back(c.criterion_id);
    cell[{c.case_id, c.variant_id, c.criterion_id}] = &c;
  }
  out << "<section id=\"grid\"><h2>Stability grid</h2>\n<p class=\"muted\">Rows are (case, variant), columns "
         "criteria; each cell shows passes/n and links to the samples. <span class=\"badge v-stable-pass\">stable-pass"
         "</span><span class=\"badge v-unstable\">unstable</span><span class=\"badge v-stable-fail\">stable-fail</span>"
         "<span class=\"badge v-unscored\">unscored</span></p>\n<table class=\"grid\"><tr><th>Case</th><th>Variant</th>";
  for (const auto& c : criteria) out << "<th>" << html_escape(c) << "</th>";
  out << "<th>Weighted (mean)</th></tr>\n";
  for (size_t gi = 0; gi < a.groups.size(); ++gi) {
    const auto& g = a.groups[gi];
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
  out << "<h3>Criteria across cases</h3>\n<table><tr><th>Criterion</th><th>Groups</th><th>Unstable</th><th>Stable "
         "pass</th><th>Stable fail</th><th>Fleiss' kappa</th></tr>\n";
  for (const auto& x : a.across)
    out << "<tr><td>" << html_escape(x.criterion_id) << "</td><td class=\"num\">" << x.groups << "</td><td class=\"num\">"
        << x.unstable << "</td><td class=\"num\">" << x.stable_pass << "</td><td class=\"num\">" << x.stable_fail
        << "</td><td class=\"num\">" << html_number(x.fleiss_kappa) << "</td></tr>\n";
  out << "</table></section>\n";
}

void render_group(const RunAnalysis& a, const GroupStability& g, size_t index, std::ostream& out) {
  std::vector<const SampleRecord*> samples;
  for (const auto& s : a.samples)
    if (s.case_id == g.case_id && s.variant_id == g.variant_id) samples.push_back(&s);
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
  out << "<table class=\"repeats\"><tr><th>Repeat</th><th>Weighted</th><th>Criteria</th><th>Output (highlight: departs from repeat "
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
    for (const auto& r : s->scores)
      out << "<span class=\"badge o-" << outcome_name(r.outcome) << "\" title=\""
          << html_escape(r.criterion_id + ": " + outcome_name(r.outcome) + (r.reason.empty() ? "" : " — " + r.reason))
          << "\">" << html_escape(r.criterion_id) << "</span>";
    out << "</td><td><pre class=\"out\">";
    std::vector<TextSpan> spans;
    if (reference && s != reference) {
      size_t d = first_difference(reference->output, s->output);
      if (d != std::string::npos)
        spans.push_back({int64_t(d), int64_t(s->output.size()), "div",
                         "departs from repeat " + std::to_string(reference->repeat) + " here (byte " + std::to_string(d) + ")"});
    }
    for (const auto& r : s->scores)
      if (r.evidence.end > r.evidence.start)
        spans.push_back({r.evidence.start, r.evidence.end, std::string("ev ev-") + outcome_name(r.outcome),
                         r.criterion_id + ": " + outcome_name(r.outcome) + (r.reason.empty() ? "" : " — " + r.reason)});
    out << html_marked_text(s->output, spans, kOutputClip) << "</pre></td></tr>\n";
  }
  out << "</table></div>\n";
}

}  // namespace

void render_routing_html(const RoutingAnalysis& r, std::ostream& out) {
  out << "<section id=\"routing\"><h2>Routing</h2>\n<p>Traces: " << r.trace_tokens << " tokens, " << r.trace_bytes
      << " bytes (" << html_number(r.trace_tokens ? double(r.trace_bytes) * 1000.0 / double(r.trace_tokens) : 0, 1)
      << " bytes per 1,000 tokens).</p>\n";
  out << "<table class=\"wide\"><tr><th>Case</th><th>Variant</th><th>Entropy</th><th>Load CV</th><th>Repetition</th><th>Prompt overlap "
         "(exact)</th><th>Generated overlap (exact, tokens)</th><th>First routing divergence</th><th>First output "
         "divergence</th></tr>\n";
  for (const auto& g : r.groups) {
    out << "<tr><td>" << html_escape(g.case_id) << "</td><td>" << html_escape(g.variant_id) << "</td><td class=\"num\">"
        << html_number(g.entropy, 3) << "</td><td class=\"num\">" << html_number(g.load_cv, 3) << "</td><td class=\"num\">"
        << html_number(g.repetition, 3) << "</td><td class=\"num\">" << html_number(g.prompt_overlap, 3) << " ("
        << html_number(g.prompt_exact, 3) << ")</td><td class=\"num\">" << html_number(g.gen_overlap, 3) << " ("
        << html_number(g.gen_exact, 3) << ", " << g.gen_compared << ")</td><td>";
    if (g.first_routing_divergence)
      out << "token " << g.first_routing_divergence->first << ", layer " << g.first_routing_divergence->second;
    else
      out << "—";
    out << "</td><td>";
    if (g.first_output_divergence_token) out << "generated token " << *g.first_output_divergence_token;
    else out << "—";
    out << "</td></tr>\n";
  }
  out << "</table>\n<h3>Expert usage per layer</h3>\n<p class=\"muted\">Share of the top-k selections at each MoE "
         "layer that went to each expert, pooled over the repeats (darker = more; scaled to the busiest cell).</p>\n";
  out << "<div class=\"routing-group\">";
  for (const auto& g : r.groups)
    out << "<div><strong>" << html_escape(g.case_id) << " / " << html_escape(g.variant_id) << "</strong>"
        << svg_heatmap(g.usage, "layer", "expert", "Expert usage: " + g.case_id + " / " + g.variant_id) << "</div>\n";
  out << "</div>\n";
  if (!r.variants.empty()) {
    out << "<h3>Does the prompt variant move routing, and does it help?</h3>\n<p class=\"muted\">Jensen-Shannon "
           "divergence of expert usage per layer between two variants of a case, beside the change in pass rate and "
           "unstable criteria.</p>\n<div class=\"routing-group\">";
    for (const auto& v : r.variants) {
      double y_max = 0.1;
      for (double x : v.jsd) y_max = std::max(y_max, std::isfinite(x) ? x : 0.0);
      out << "<div><strong>" << html_escape(v.case_id) << "</strong>: " << html_escape(v.variant_a) << " vs "
          << html_escape(v.variant_b) << "<br>mean JSD " << html_number(v.mean_jsd, 3) << ", pass rate "
          << html_number(v.pass_rate_a, 3) << " → " << html_number(v.pass_rate_b, 3) << ", unstable " << v.unstable_a
          << " → " << v.unstable_b
          << svg_index_bars(v.jsd, y_max, -1, "layer", "JSD per layer: " + v.case_id + ", " + v.variant_a + " vs " + v.variant_b)
          << "</div>";
    }
    out << "</div>\n";
  }
  if (!r.baseline.empty()) {
    out << "<h3>Routing drift against baseline run " << r.baseline_run << "</h3>\n<p class=\"muted\">JSD of pooled "
           "expert usage per layer; the dashed line is the flagging threshold ("
        << html_number(r.max_jsd_threshold, 3) << "); prompts whose top-k overlap is below "
        << html_number(r.min_overlap_threshold, 3) << " are flagged too.</p>\n<div class=\"routing-group\">";
    for (const auto& b : r.baseline) {
      double y_max = std::max(0.1, r.max_jsd_threshold * 1.5);
      for (double x : b.jsd) y_max = std::max(y_max, std::isfinite(x) ? x : 0.0);
      out << "<div><strong>" << html_escape(b.case_id) << " / " << html_escape(b.variant_id) << "</strong>"
          << (b.flagged ? " <span class=\"flag\">DRIFT</span>" : " ok") << "<br>mean JSD "
          << html_number(b.mean_jsd, 3) << ", prompt top-k overlap " << html_number(b.prompt_overlap, 3)
          << svg_index_bars(b.jsd, y_max, r.max_jsd_threshold, "layer",
                            "JSD per layer vs baseline: " + b.case_id + " / " + b.variant_id)
          << "</div>";
    }
    out << "</div>\n";
  }
  out << "</section>\n";
}

namespace {

void render_appendix(const RunAnalysis& a, bool routing, std::ostream& out) {
  out << "<section id=\"appendix\"><h2>Appendix: metric definitions</h2><dl>"
         "<dt>Pass rate</dt><dd>passes / n, where n counts repeats scored pass or fail (unscored results and provider "
         "failures are excluded).</dd>"
         "<dt>Wilson 95%</dt><dd>(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), z = 1.95996.</dd>"
         "<dt>pass@k, pass^k</dt><dd>1 − C(n−c, k)/C(n, k) and C(c, k)/C(n, k) with c passes, k = min(n, "
      << a.report_k
      << "): the chance that at least one, or all, of k repeats pass.</dd>"
         "<dt>Verdict</dt><dd>stable-pass when every scored repeat passed, stable-fail when every one failed, unstable "
         "when both occur, unscored when none was scored.</dd>"
         "<dt>Weighted score</dt><dd>Σ w·score / Σ w over a sample's criteria scored pass or fail (w: the "
         "criterion's weight, default 1; unscored criteria are left out); n/a when nothing was scored.</dd>"
         "<dt>Flips</dt><dd>pass↔fail changes in repeat order, skipping unscored repeats.</dd>"
         "<dt>TARr@N, TARa@N</dt><dd>all N raw outputs byte-identical; all extracted answers identical.</dd>"
         "<dt>First divergence</dt><dd>the smallest offset (in code points) at which a repeat's output departs from "
         "the lowest-numbered repeat's; highlighted in each repeat from the point it departs.</dd>"
         "<dt>Fleiss' kappa</dt><dd>agreement of repeats (raters) on pass/fail across (case, variant) groups.</dd>";
  if (routing)
    out << "<dt>Expert usage</dt><dd>u[l][e]: share of the k selections per token at MoE layer l that went to expert "
           "e. <b>Router entropy</b>: mean entropy (nats) of the router's softmax. <b>Load CV</b>: sd / mean of u[l] "
           "across experts, averaged over layers. <b>Repetition</b>: share of (token, layer) whose selected set equals "
           "the previous token's.</dd>"
           "<dt>Top-k overlap</dt><dd>mean |A ∩ B| / k between a repeat's selected set and repeat 0's at the same "
           "(token, layer); exact: share of identical sets; over prompt tokens, and over generated tokens before the "
           "first differing token id.</dd>"
           "<dt>JSD</dt><dd>Jensen-Shannon divergence (base 2; 0 = same usage, 1 = disjoint) of pooled u[l] between two "
           "variants of a case, or between this run and a baseline run.</dd>";
  out << "</dl></section>\n";
}

}  // namespace

void render_html(const RunAnalysis& a, std::ostream& out, const RoutingAnalysis* routing) {
  bool has_routing = routing && routing->has_traces;
  std::map<std::pair<std::string, std::string>, size_t> group_of;
  for (size_t i = 0; i < a.groups.size(); ++i) group_of[{a.groups[i].case_id, a.groups[i].variant_id}] = i;
  std::string title = "Wobble report: " + a.run.suite_name + " (run " + std::to_string(a.run.id) + ")";
  html_page_begin(out, title);
  out << "<h1>" << html_escape(title) << "</h1>\n<nav><a href=\"#pass-rates\">Pass rates</a><a href=\"#grid\">Stability "
         "grid</a><a href=\"#divergence\">Repeats</a>"
      << (has_routing ? "<a href=\"#routing\">Routing</a>" : "") << "<a href=\"#appendix\">Definitions</a></nav>\n";
  for (const auto& alert : a.alerts) out << "<div class=\"alert\" role=\"alert\">" << html_escape(alert) << "</div>\n";
  render_facts(a, out);
  render_providers_html(a.providers, out);
  render_pass_rates(a, group_of, out);
  render_grid(a, group_of, out);
  out << "<section id=\"divergence\"><h2>Repeats, aligned</h2>\n<p class=\"muted\">Each case's repeats one above "
         "the other; the part of each output that departs from the reference repeat is highlighted, evidence spans "
         "are underlined (hover for the criterion and reason). Outputs longer than "
      << kOutputClip << " bytes are clipped here; the JSON report has them whole.</p>\n";
  for (size_t i = 0; i < a.groups.size(); ++i) render_group(a, a.groups[i], i, out);
  out << "</section>\n";
  if (has_routing) render_routing_html(*routing, out);
  render_appendix(a, has_routing, out);
  html_page_end(out);
}

}  // namespace wobble
