// The HTML comparison of two runs: the verdict, the moved criteria (chart and McNemar table, most
// significant first), the rest, output changes and routing drift of B against A.
#include "analysis/compare.h"
#include "report/html_page.h"
#include "report/html_text.h"
#include "report/report.h"
#include "report/svg_chart.h"

namespace wobble {

void render_comparison_html(const RunComparison& c, std::ostream& out, const CompareOptions& opts) {
  std::string title = "Wobble comparison: run " + std::to_string(c.a.id) + " (A) vs run " + std::to_string(c.b.id) + " (B)";
  html_page_begin(out, title);
  out << "<h1>" << html_escape(title) << "</h1>\n<p class=\"verdict" << (c.regressions > 0 ? " flag" : "")
      << "\"><strong>" << html_escape(comparison_verdict(c)) << "</strong></p>\n";
  out << "<dl class=\"facts\"><dt>A</dt><dd><code>" << html_escape(c.a.model_id) << "</code> ("
      << html_escape(c.a.suite_name) << ", " << html_escape(c.a.started_at) << ")</dd><dt>B</dt><dd><code>"
      << html_escape(c.b.model_id) << "</code> (" << html_escape(c.b.suite_name) << ", " << html_escape(c.b.started_at)
      << ")</dd><dt>Paired criteria</dt><dd>" << c.criteria.size() << ", " << c.verdict_changes << " verdict changes, "
      << c.significant << " with McNemar p &lt; " << html_number(kCompareAlpha) << "</dd></dl>\n";
  if (!c.suite.same) {
    out << "<p class=\"flag\">Suites differ (compared with --allow-suite-change):";
    for (size_t i = 0; i < c.suite.differences.size() && i < 10; ++i)
      out << (i ? "; " : " ") << html_escape(c.suite.differences[i]);
    out << "</p>\n";
  }
  if (c.suite.dropped() > 0) out << "<p>" << html_escape(c.suite.dropped_sentence()) << "</p>\n";
  const char* header =
      "<table><tr><th>Case</th><th>Variant</th><th>Criterion</th><th>A</th><th>B</th><th>Δ</th><th>Paired</th><th>A "
      "only</th><th>B only</th><th>McNemar p</th><th>Verdict A → B</th></tr>\n";
  auto row = [&](const CriterionComparison& x) {
    out << "<tr><td>" << html_escape(x.case_id) << "</td><td>" << html_escape(x.variant_id) << "</td><td>"
        << html_escape(x.criterion_id) << "</td><td class=\"num\">" << x.passes_a << "/" << x.n_a
        << "</td><td class=\"num\">" << x.passes_b << "/" << x.n_b << "</td><td class=\"num\">"
        << (x.delta > 0 ? "+" : "") << html_number(x.delta) << "</td><td class=\"num\">" << x.pairs
        << "</td><td class=\"num\">" << x.only_a << "</td><td class=\"num\">" << x.only_b << "</td><td class=\"num"
        << (x.mcnemar_p < kCompareAlpha ? " flag" : "") << "\">" << html_number(x.mcnemar_p, 3) << "</td><td>"
        << html_escape(x.verdict_a)
        << (x.verdict_a == x.verdict_b ? "" : " → <strong>" + html_escape(x.verdict_b) + "</strong>") << "</td></tr>\n";
  };
  out << "<h2>What moved (most significant first)</h2>\n";
  if (c.moved.empty()) {
    out << "<p>No criterion moved.</p>\n";
  } else {
    std::vector<PairedRate> rows;
    for (size_t i : c.moved) {
      const auto& x = c.criteria[i];
      std::string label = x.case_id + " / " + x.variant_id + " / " + x.criterion_id;
      rows.push_back({label, x.pass_rate_a, x.pass_rate_b, "",
                      label + ": " + std::to_string(x.passes_a) + "/" + std::to_string(x.n_a) + " → " +
                          std::to_string(x.passes_b) + "/" + std::to_string(x.n_b) + ", McNemar p " +
                          html_number(x.mcnemar_p, 3)});
    }
    out << svg_paired_rates(rows, "Pass rate of run A (hollow) and run B (filled) per moved criterion") << header;
    for (size_t i : c.moved) row(c.criteria[i]);
    out << "</table>\n";
  }
  const auto moved_set = moved_indices(c);
  const size_t rest = c.criteria.size() - moved_set.size();
  if (opts.only_moved) {
    out << "<p>" << rest << " criteria did not move (listed without --only-moved).</p>\n";
  } else if (rest > 0) {
    out << "<h2>Did not move (" << rest << ", in the suite's order)</h2>\n" << header;
    for (size_t i = 0; i < c.criteria.size(); ++i)
      if (!moved_set.count(i)) row(c.criteria[i]);
    out << "</table>\n";
  }
  const auto groups_moved = moved_groups(c);
  out << "<h2>Outputs per case and variant" << (opts.only_moved ? " (groups with a moved criterion)" : "")
      << "</h2>\n<table><tr><th>Case</th><th>Variant</th><th>Unique outputs A → B</th><th>TARr A → B</th></tr>\n";
  for (const auto& g : c.groups)
    if (!opts.only_moved || groups_moved.count({g.case_id, g.variant_id}))
      out << "<tr><td>" << html_escape(g.case_id) << "</td><td>" << html_escape(g.variant_id) << "</td><td class=\"num\">"
          << g.unique_a << " → " << g.unique_b << "</td><td>" << (g.tar_r_a ? "yes" : "no") << " → "
          << (g.tar_r_b ? "yes" : "no") << "</td></tr>\n";
  out << "</table>\n";
  if (c.routing.has_traces && !c.routing.baseline.empty()) render_routing_html(c.routing, out);
  out << "<p class=\"muted\">McNemar: exact two-sided binomial test on repeats paired by index (both runs used the same "
         "derived seed for repeat r); only repeats scored in both runs are paired. A criterion moved when p &lt; "
      << html_number(kCompareAlpha)
      << " or its verdict changed; a regression when more paired repeats passed in A only than in B only, an "
         "improvement the other way.</p>\n";
  html_page_end(out, "wobble compare " + std::to_string(c.a.id) + " " + std::to_string(c.b.id) + " --format json");
}

}  // namespace wobble
