// The routing section of the Markdown and JSON reports.
#include <cmath>
#include <algorithm>
#include <cstdio>

#include "report/report.h"
#include "util/fixed.h"

namespace wobble {
namespace {

std::string f3(double x) { return fixed(x, 3); }
// A metric the trace's source cannot give (expert ids only) is NaN; the reason is printed below.
std::string f3_or_na(double x) { return std::isnan(x) ? "n/a" : fixed(x, 3); }

nlohmann::json divergence_json(const std::optional<std::pair<int64_t, uint32_t>>& d) {
  return d ? nlohmann::json{{"token", d->first}, {"layer", d->second}} : nlohmann::json(nullptr);
}

// "prompt token 3, layer 1" / "generated token 2, layer 0" / "—".
std::string divergence_text(const GroupRouting& g) {
  if (g.first_prompt_divergence)
    return "prompt token " + std::to_string(g.first_prompt_divergence->first) + ", layer " +
           std::to_string(g.first_prompt_divergence->second);
  if (g.first_generated_divergence)
    return "generated token " + std::to_string(g.first_generated_divergence->first) + ", layer " +
           std::to_string(g.first_generated_divergence->second);
  return "—";
}

std::string top_experts(const std::vector<double>& usage, int n) {
  std::vector<std::pair<double, int>> v;
  for (size_t e = 0; e < usage.size(); ++e) v.emplace_back(usage[e], int(e));
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  std::string s;
  for (int i = 0; i < n && i < int(v.size()); ++i) s += (i ? " " : "") + std::string("e") + std::to_string(v[size_t(i)].second) + ":" + f3(v[size_t(i)].first);
  return s;
}

}  // namespace

nlohmann::json routing_json(const RoutingAnalysis& r) {
  nlohmann::json j;
  j["trace_bytes"] = r.trace_bytes;
  j["trace_tokens"] = r.trace_tokens;
  j["bytes_per_1000_tokens"] = r.trace_tokens ? double(r.trace_bytes) * 1000.0 / double(r.trace_tokens) : 0.0;
  j["groups"] = nlohmann::json::array();
  for (const auto& g : r.groups) {
    nlohmann::json gj = {{"case", g.case_id}, {"variant", g.variant_id}, {"layers", g.n_layers}, {"experts", g.n_expert},
                         {"k", g.k}, {"usage", g.usage}, {"entropy", g.entropy}, {"load_cv", g.load_cv},
                         {"repetition", g.repetition}, {"prompt_overlap", g.prompt_overlap},
                         {"prompt_exact", g.prompt_exact}, {"gen_overlap", g.gen_overlap}, {"gen_exact", g.gen_exact},
                         {"gen_compared_tokens", g.gen_compared}};
    gj["first_routing_divergence"] = divergence_json(g.first_routing_divergence);
    gj["first_prompt_divergence"] = divergence_json(g.first_prompt_divergence);
    gj["first_generated_divergence"] = divergence_json(g.first_generated_divergence);
    gj["repeats_compared"] = g.repeats_compared;
    gj["prompt_divergent_repeats"] = g.prompt_divergent_repeats;
    if (!g.entropy_na.empty()) gj["entropy_na"] = g.entropy_na;
    if (!g.load_cv_na.empty()) gj["load_cv_na"] = g.load_cv_na;
    if (!g.generated_na.empty()) gj["generated_na"] = g.generated_na;
    gj["first_output_divergence_token"] =
        g.first_output_divergence_token ? nlohmann::json(*g.first_output_divergence_token) : nlohmann::json(nullptr);
    gj["repeats"] = nlohmann::json::array();
    for (const auto& rep : g.repeats)
      gj["repeats"].push_back({{"repeat", rep.repeat}, {"tokens", rep.tokens}, {"entropy", rep.entropy},
                               {"load_cv", rep.load_cv}, {"repetition", rep.repetition}, {"usage", rep.usage}});
    j["groups"].push_back(gj);
  }
  j["ids_only"] = r.ids_only;
  j["absent_samples"] = r.absent_samples;
  j["absent"] = nlohmann::json::array();
  for (const auto& [why, n] : r.absent) j["absent"].push_back({{"reason", why}, {"samples", n}});
  j["variants"] = nlohmann::json::array();
  for (const auto& v : r.variants)
    j["variants"].push_back({{"case", v.case_id}, {"variant_a", v.variant_a}, {"variant_b", v.variant_b},
                             {"jsd", v.jsd}, {"mean_jsd", v.mean_jsd}, {"pass_rate_a", v.pass_rate_a},
                             {"pass_rate_b", v.pass_rate_b}, {"unstable_a", v.unstable_a}, {"unstable_b", v.unstable_b}});
  j["baseline"] = nlohmann::json::array();
  for (const auto& b : r.baseline)
    j["baseline"].push_back({{"case", b.case_id}, {"variant", b.variant_id}, {"jsd", b.jsd}, {"mean_jsd", b.mean_jsd},
                             {"prompt_overlap", b.prompt_overlap}, {"flagged", b.flagged}});
  return j;
}

void render_routing_markdown(const RoutingAnalysis& r, std::ostream& out) {
  out << "\n## Routing\n\nTraces: " << r.trace_tokens << " tokens, " << r.trace_bytes << " bytes ("
      << (r.trace_tokens ? f3(double(r.trace_bytes) * 1000.0 / double(r.trace_tokens)) : "0")
      << " bytes per 1,000 tokens).\n\n"
         "| Case | Variant | Entropy | Load CV | Repetition | Prompt overlap (exact) | Generated overlap (exact, tokens) | "
         "First routing divergence | First output divergence | Busiest experts, last layer |\n"
         "|---|---|---|---|---|---|---|---|---|---|\n";
  std::vector<std::string> notes;
  auto note = [&](const std::string& n) {
    if (!n.empty() && std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  };
  for (const auto& g : r.groups) {
    out << "| " << md_inline(g.case_id) << " | " << md_inline(g.variant_id) << " | " << f3_or_na(g.entropy) << " | "
        << f3_or_na(g.load_cv) << " | " << f3(g.repetition) << " | " << f3(g.prompt_overlap) << " ("
        << f3(g.prompt_exact) << ") | ";
    if (g.generated_na.empty()) out << f3(g.gen_overlap) << " (" << f3(g.gen_exact) << ", " << g.gen_compared << ")";
    else out << "n/a";
    out << " | " << divergence_text(g) << " | ";
    if (!g.entropy_na.empty()) note("Entropy n/a: " + g.entropy_na + ".");
    if (!g.load_cv_na.empty()) note("Load CV n/a: " + g.load_cv_na + ".");
    if (!g.generated_na.empty()) note("Generated overlap n/a: " + g.generated_na + ".");
    if (g.first_output_divergence_token) out << "generated token " << *g.first_output_divergence_token;
    else out << "—";
    out << " | " << (g.usage.empty() ? "" : top_experts(g.usage.back(), 3)) << " |\n";
  }
  if (r.ids_only) {
    // Identical inputs: on the prompt any routing difference between repeats is the server's own
    // numerics or batching, not the sampler.
    int compared = 0, divergent = 0;
    for (const auto& g : r.groups) {
      compared += g.repeats_compared;
      divergent += g.prompt_divergent_repeats;
    }
    out << "\nExpert ids reported by the server. Prompt routing differed from the first repeat in " << divergent
        << " of " << compared << " repeat comparisons (identical inputs: the difference is the server's numerics or "
        << "batching).\n";
  }
  for (const auto& n : notes) out << "\n" << md_inline(n, 400) << "\n";
  if (!r.absent.empty()) {
    out << "\nRouting absent for " << r.absent_samples << " sample" << (r.absent_samples == 1 ? "" : "s") << ":\n\n";
    for (const auto& [why, n] : r.absent) out << "- " << n << " × " << md_inline(why, 400) << "\n";
  }
  if (!r.variants.empty()) {
    out << "\n### Does the prompt variant move routing, and does it help?\n\n"
           "| Case | Variants | JSD per layer | Mean JSD | Pass rate | Unstable criteria |\n|---|---|---|---|---|---|\n";
    for (const auto& v : r.variants) {
      out << "| " << md_inline(v.case_id) << " | " << md_inline(v.variant_a) << " vs " << md_inline(v.variant_b) << " | ";
      for (size_t l = 0; l < v.jsd.size(); ++l) out << (l ? " " : "") << f3(v.jsd[l]);
      out << " | " << f3(v.mean_jsd) << " | " << f3(v.pass_rate_a) << " → " << f3(v.pass_rate_b) << " | "
          << v.unstable_a << " → " << v.unstable_b << " |\n";
    }
  }
  if (!r.baseline.empty()) {
    out << "\n### Routing drift against the baseline run\n\n| Case | Variant | JSD per layer | Prompt top-k overlap | "
           "Flag |\n|---|---|---|---|---|\n";
    for (const auto& b : r.baseline) {
      out << "| " << md_inline(b.case_id) << " | " << md_inline(b.variant_id) << " | ";
      for (size_t l = 0; l < b.jsd.size(); ++l) out << (l ? " " : "") << f3(b.jsd[l]);
      out << " | " << f3(b.prompt_overlap) << " | " << (b.flagged ? "**DRIFT**" : "ok") << " |\n";
    }
  }
}

}  // namespace wobble
