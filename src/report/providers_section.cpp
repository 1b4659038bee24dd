// The "Providers side by side" section: one row per (case, variant, criterion), one column per
// provider. Numbers come from RunAnalysis::providers (analysis/providers.h); nothing is computed here.
#include <algorithm>
#include <cstdio>

#include "report/html_text.h"
#include "report/report.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

std::string cell_text(const ProviderCell& c) {
  if (!c.present) return "—";
  char buf[96];
  std::snprintf(buf, sizeof buf, "%lld/%lld [%.2f, %.2f] %s", (long long)c.passes, (long long)c.n, c.wilson.lo,
                c.wilson.hi, verdict_name(c.verdict));
  return buf;
}

std::string percent(double rate) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100.0);
  return buf;
}

std::string shown_id(const std::string& id) { return id.empty() ? "(unnamed)" : id; }

}  // namespace

std::vector<std::pair<std::string, std::string>> provider_sampling(const RunRecord& r) {
  const Suite& suite = r.plan.suite;
  std::vector<std::pair<std::string, std::string>> out;
  const auto providers = suite.run_providers();
  const bool own = std::any_of(providers.begin(), providers.end(),
                               [](const ProviderSpec& p) { return !p.sampling.to_json().empty(); });
  if (providers.size() < 2 && !own) return out;
  for (const auto& p : providers)
    out.emplace_back(shown_id(p.id), dump_json(Sampling::resolve(suite.sampling.overlaid_with(p.sampling)).to_json()));
  return out;
}

nlohmann::json providers_json(const ProviderBreakdown& b) {
  nlohmann::json j = {{"providers", nlohmann::json::array()}, {"criteria", nlohmann::json::array()}};
  for (size_t i = 0; i < b.ids.size(); ++i)
    j["providers"].push_back({{"id", b.ids[i]}, {"model", b.models[i]}, {"samples", b.samples[i]},
                              {"failed", b.failed[i]}, {"unstable", b.unstable[i]}, {"pass_rate", b.pass_rate[i]}});
  for (const auto& r : b.rows) {
    nlohmann::json cells = nlohmann::json::object();
    for (size_t i = 0; i < b.ids.size() && i < r.cells.size(); ++i) {
      const auto& c = r.cells[i];
      if (!c.present) continue;
      cells[b.ids[i]] = {{"n", c.n}, {"passes", c.passes}, {"pass_rate", c.pass_rate},
                         {"wilson_lo", c.wilson.lo}, {"wilson_hi", c.wilson.hi}, {"verdict", verdict_name(c.verdict)}};
    }
    j["criteria"].push_back({{"case", r.case_id}, {"variant", r.variant_id}, {"criterion", r.criterion_id},
                             {"by_provider", cells}});
  }
  return j;
}

void render_providers_markdown(const ProviderBreakdown& b, std::ostream& out) {
  if (b.empty()) return;
  out << "## Providers side by side\n\n";
  out << "Each provider's repeats analysed on their own; a cell is passes/scored [95% Wilson interval] verdict. "
         "Repeat r of every provider used the same seed: `wobble compare RUN --providers A B` tests a difference.\n\n";
  out << "| Provider | Model | Samples | Failed | Unstable | Pass rate |\n|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < b.ids.size(); ++i)
    out << "| " << md_inline(shown_id(b.ids[i])) << " | `" << md_inline(b.models[i]) << "` | " << b.samples[i] << " | "
        << b.failed[i] << " | " << b.unstable[i] << " | " << percent(b.pass_rate[i]) << " |\n";
  out << "\n| Case | Variant | Criterion |";
  for (const auto& id : b.ids) out << " " << md_inline(shown_id(id)) << " |";
  out << "\n|---|---|---|";
  for (size_t i = 0; i < b.ids.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& r : b.rows) {
    out << "| " << md_inline(r.case_id) << " | " << md_inline(r.variant_id) << " | " << md_inline(r.criterion_id) << " |";
    for (const auto& c : r.cells) out << " " << cell_text(c) << " |";
    out << "\n";
  }
  out << "\n";
}

void render_providers_html(const ProviderBreakdown& b, std::ostream& out) {
  if (b.empty()) return;
  out << "<section id=\"providers\"><h2>Providers side by side</h2>\n<p class=\"muted\">Each provider's repeats "
         "analysed on their own: passes/scored [95% Wilson interval] verdict. Repeat r of every provider used the "
         "same seed.</p>\n<table><tr><th>Case</th><th>Variant</th><th>Criterion</th>";
  for (size_t i = 0; i < b.ids.size(); ++i)
    out << "<th>" << html_escape(shown_id(b.ids[i])) << "<br><small>" << html_escape(b.models[i]) << "</small></th>";
  out << "</tr>\n";
  for (const auto& r : b.rows) {
    out << "<tr><td>" << html_escape(r.case_id) << "</td><td>" << html_escape(r.variant_id) << "</td><td>"
        << html_escape(r.criterion_id) << "</td>";
    for (const auto& c : r.cells) out << "<td>" << html_escape(cell_text(c)) << "</td>";
    out << "</tr>\n";
  }
  out << "</table></section>\n";
}

}  // namespace wobble
