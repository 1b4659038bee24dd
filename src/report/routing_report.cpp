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

// "prompt token 3, layer 1; generated token 2, layer 0", either part alone, or "—".
std::string divergence_text(const GroupRouting& g) {
  std::string s;
  if (g.first_prompt_divergence)
    s = "prompt token " + std::to_string(g.first_prompt_divergence->first) + ", layer " +
        std::to_string(g.first_prompt_divergence->second);
  if (g.first_generated_divergence)
    s += (s.empty() ? "" : "; ") + std::string("generated token ") +
         std::to_string(g.first_generated_divergence->first) + ", layer " +
         std::to_string(g.first_generated_divergence->second);
  return s.empty() ? "—" : s;
}

std::string top_experts(const std::vector<double>& usage, int n) {
  std::vector<std::pair<double, int>> v;
  for (size_t e = 0; e < usage.size(); ++e) v.emplace_back(usage[e], int(e));
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  std::string s;
  for (int i = 0; i < n && i < int(v.size()); ++i) s += (i ? " " : "") + std::string("e") + std::to_string(v[size_t(i)].second) + ":" + f3(v[size_t(i)].first);
  return s;
}

nlohmann::json noise_json(const RoutingNoise& n) {
  if (!n.tested) return nullptr;
  return {{"observed_jsd", n.observed}, {"noise_jsd", n.noise_jsd}, {"p_value", n.p_value}, {"splits", n.splits},
          {"exact", n.exact}, {"moved", n.moved}};
}

std::string noise_md(const RoutingNoise& n) {
  if (!n.tested) return "n/a | n/a | —";
  return f3(n.noise_jsd) + " | " + fixed(n.p_value, 4) + (n.exact ? "" : "*") + " | " + (n.moved ? "**moved**" : "within noise");
}

bool group_shown(const RunAnalysis* a, bool only_unstable, const std::string& c, const std::string& v) {
  if (!a || !only_unstable) return true;
  for (const auto& x : a->criteria)
    if (x.case_id == c && x.variant_id == v && x.verdict == Verdict::kUnstable) return true;
  return false;
}

}  // namespace

std::string variant_delta_text(const RunAnalysis& a, const std::string& case_id, const std::string& va,
                               const std::string& vb) {
  std::string s;
  for (const auto& d : a.variant_deltas)
    if (d.case_id == case_id && d.variant_a == va && d.variant_b == vb)
      s += (s.empty() ? "" : ", ") + d.criterion_id + " " + fixed(d.pass_rate_a, 2) + "→" + fixed(d.pass_rate_b, 2);
  return s.empty() ? "—" : s;
}

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
                             {"jsd", v.jsd}, {"mean_jsd", v.mean_jsd}, {"unstable_a", v.unstable_a},
                             {"unstable_b", v.unstable_b}, {"noise", noise_json(v.noise)}});
  j["baseline"] = nlohmann::json::array();
  for (const auto& b : r.baseline)
    j["baseline"].push_back({{"case", b.case_id}, {"variant", b.variant_id}, {"jsd", b.jsd}, {"mean_jsd", b.mean_jsd},
                             {"prompt_overlap", b.prompt_overlap}, {"flagged", b.flagged},
                             {"noise", noise_json(b.noise)}});
  return j;
}

void render_routing_markdown(const RoutingAnalysis& r, std::ostream& out, const RunAnalysis* a, bool only_unstable) {
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
    if (!group_shown(a, only_unstable, g.case_id, g.variant_id)) continue;
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
           "Mean JSD between the variants against the noise floor (median JSD between random splits of the pooled "
           "repeats; permutation p-value, * when sampled rather than exact).\n\n"
           "| Case | Variants | Mean JSD | Noise floor | p | Routing | JSD per layer | Pass rate per criterion |\n"
           "|---|---|---|---|---|---|---|---|\n";
    for (const auto& v : r.variants) {
      if (!group_shown(a, only_unstable, v.case_id, v.variant_a) && !group_shown(a, only_unstable, v.case_id, v.variant_b))
        continue;
      out << "| " << md_inline(v.case_id) << " | " << md_inline(v.variant_a) << " vs " << md_inline(v.variant_b) << " | "
          << f3(v.mean_jsd) << " | " << noise_md(v.noise) << " | ";
      for (size_t l = 0; l < v.jsd.size(); ++l) out << (l ? " " : "") << f3(v.jsd[l]);
      out << " | " << (a ? md_inline(variant_delta_text(*a, v.case_id, v.variant_a, v.variant_b), 300) : "—") << " |\n";
    }
  }
  if (!r.baseline.empty()) {
    out << "\n### Routing drift against the baseline run\n\n| Case | Variant | Mean JSD | Noise floor | p | Routing | "
           "JSD per layer | Prompt top-k overlap | Flag |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& b : r.baseline) {
      if (!group_shown(a, only_unstable, b.case_id, b.variant_id)) continue;
      out << "| " << md_inline(b.case_id) << " | " << md_inline(b.variant_id) << " | " << f3(b.mean_jsd) << " | "
          << noise_md(b.noise) << " | ";
      for (size_t l = 0; l < b.jsd.size(); ++l) out << (l ? " " : "") << f3(b.jsd[l]);
      out << " | " << f3(b.prompt_overlap) << " | " << (b.flagged ? "**DRIFT**" : "ok") << " |\n";
    }
  }
}

}  // namespace wobble
