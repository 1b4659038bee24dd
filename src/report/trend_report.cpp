// Markdown and HTML renderings of a suite's trend over runs.
#include <cmath>

#include "analysis/trend.h"
#include "report/html_page.h"
#include "report/html_text.h"
#include "report/report.h"
#include "report/svg_chart.h"

namespace wobble {
namespace {

std::string opt3(const std::optional<double>& x) { return x ? html_number(*x, 3) : "—"; }

}  // namespace

void render_trend_markdown(const Trend& t, std::ostream& out) {
  const TrendVerdict v = trend_verdict(t);
  out << "# Wobble trend: " << md_inline(t.suite) << " (" << t.points.size() << " runs)\n\n**"
      << md_inline(v.latest, 600) << "**\n";
  if (!v.largest_drop.empty()) out << "\n" << md_inline(v.largest_drop, 300) << "\n";
  out << "\n## Runs, oldest first\n\n"
      << "| Run | Started | Status | Model | Samples | Failed | Pass rate | Unstable | Routing JSD vs previous (mean / max) |\n"
         "|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < t.points.size(); ++i) {
    const auto& p = t.points[i];
    out << "| " << p.run.id << " | " << md_inline(p.run.started_at) << " | " << md_inline(p.run.status) << " | `" << md_inline(p.run.model_id, 60)
        << "` | " << p.samples << " | " << p.failed << " | " << html_number(p.pass_rate) << " (" << p.passes << "/"
        << p.scored << ") | " << p.unstable << "/" << p.criteria << " | ";
    if (p.mean_jsd) out << opt3(p.mean_jsd) << " / " << opt3(p.max_jsd) << " (" << p.drift_groups << " groups)";
    else out << "—";
    out << " |\n";
  }
  bool changed_suite = false, changed_model = false;
  for (size_t i = 1; i < t.points.size(); ++i) {
    changed_suite |= t.points[i].run.suite_hash != t.points[i - 1].run.suite_hash;
    changed_model |= t.points[i].run.model_id != t.points[i - 1].run.model_id;
  }
  if (changed_suite) out << "\nNote: the suite's content changed between some of these runs (different hashes).\n";
  if (changed_model) out << "\nNote: the model changed between some of these runs.\n";
  out << "\nPass rate: passes / scored criterion results of the run. Unstable: (case, variant, criterion) triples "
         "with both passes and failures. Routing JSD: Jensen-Shannon divergence (base 2) of pooled expert usage per "
         "layer against the previous run, per (case, variant); mean over groups of the per-layer mean, and the "
         "largest single layer.\n";
}

void render_trend_html(const Trend& t, std::ostream& out) {
  std::string title = "Wobble trend: " + t.suite;
  html_page_begin(out, title);
  const TrendVerdict v = trend_verdict(t);
  out << "<h1>" << html_escape(title) << "</h1>\n<p class=\"verdict\"><strong>" << html_escape(v.latest)
      << "</strong></p>\n";
  if (!v.largest_drop.empty()) out << "<p>" << html_escape(v.largest_drop) << "</p>\n";
  out << "<p>" << t.points.size() << " runs, oldest first.</p>\n";
  std::vector<std::string> labels, dates;
  std::vector<double> pass, unstable_share, jsd;
  double jsd_axis = 0.05;
  for (const auto& p : t.points) {
    labels.push_back("#" + std::to_string(p.run.id));
    dates.push_back(p.run.started_at.substr(0, 10));
    pass.push_back(p.pass_rate);
    unstable_share.push_back(p.criteria ? double(p.unstable) / double(p.criteria) : std::nan(""));
    jsd.push_back(p.mean_jsd ? *p.mean_jsd : std::nan(""));
    if (p.mean_jsd) jsd_axis = std::max(jsd_axis, *p.mean_jsd * 1.2);
  }
  out << "<h2>Pass rate and unstable share</h2>\n"
      << svg_line_chart(labels, {{"pass rate", pass, "s1"}, {"unstable criteria (share)", unstable_share, "s2"}}, 0, 1,
                        "Pass rate and share of unstable criteria per run", dates)
      << "<h2>Routing drift against the previous run</h2>\n"
      << svg_line_chart(labels, {{"mean JSD", jsd, "s3"}}, 0, jsd_axis, "Mean routing JSD against the previous run",
                        dates)
      << "<table><tr><th>Run</th><th>Started</th><th>Status</th><th>Model</th><th>Samples</th><th>Failed</th><th>Pass "
         "rate</th><th>Unstable</th><th>Routing JSD vs previous (mean / max)</th></tr>\n";
  for (const auto& p : t.points)
    out << "<tr><td>" << p.run.id << "</td><td>" << html_escape(p.run.started_at) << "</td><td>"
        << html_escape(p.run.status) << "</td><td><code>" << html_escape(p.run.model_id) << "</code></td><td class=\"num\">"
        << p.samples << "</td><td class=\"num\">" << p.failed << "</td><td class=\"num\">" << html_number(p.pass_rate)
        << " (" << p.passes << "/" << p.scored << ")</td><td class=\"num\">" << p.unstable << "/" << p.criteria
        << "</td><td class=\"num\">" << (p.mean_jsd ? opt3(p.mean_jsd) + " / " + opt3(p.max_jsd) : "—") << "</td></tr>\n";
  out << "</table>\n<p class=\"muted\">Pass rate: passes / scored criterion results. Unstable: (case, variant, "
         "criterion) triples with both passes and failures. Routing JSD: Jensen-Shannon divergence (base 2) of pooled "
         "expert usage per layer against the previous run, averaged over layers and (case, variant) groups; max is the "
         "largest single layer.</p>\n";
  html_page_end(out, "wobble trend --suite " + t.suite + " --format json");
}

}  // namespace wobble
