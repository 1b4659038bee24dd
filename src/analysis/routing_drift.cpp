#include "analysis/routing_drift.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace wobble {
namespace {

struct Decoded {
  const SampleRecord* sample;
  moe::RoutingTrace trace;
};

bool same_set(std::span<const uint16_t> a, std::span<const uint16_t> b) {
  std::vector<uint16_t> x(a.begin(), a.end()), y(b.begin(), b.end());
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return x == y;
}

// `width` >= t.n_expert(): traces whose expert count was inferred from the ids they hold differ
// in n_expert, so a group's usage is laid out at its widest; experts no trace used count zero.
RepeatRouting repeat_stats(int repeat, const moe::RoutingTrace& t, uint32_t width) {
  RepeatRouting r;
  r.repeat = repeat;
  r.tokens = t.n_tokens();
  r.usage.assign(t.n_layers(), std::vector<double>(std::max(width, t.n_expert()), 0.0));
  double ent = 0, rep = 0;
  uint64_t rep_n = 0;
  for (uint64_t tok = 0; tok < t.n_tokens(); ++tok)
    for (uint32_t l = 0; l < t.n_layers(); ++l) {
      auto st = t.at(tok, l);
      for (auto e : st.experts) r.usage[l][e] += 1;
      ent += st.entropy;
      if (tok > 0) {
        rep += same_set(st.experts, t.at(tok - 1, l).experts) ? 1 : 0;
        ++rep_n;
      }
    }
  uint64_t recs = t.n_tokens() * t.n_layers();
  r.entropy = !t.has_gates() ? std::nan("") : recs ? ent / double(recs) : 0;
  r.repetition = rep_n ? rep / double(rep_n) : 0;
  double cv = 0;
  for (auto& layer : r.usage) {
    double sum = 0;
    for (double v : layer) sum += v;
    if (sum > 0)
      for (double& v : layer) v /= sum;
    double mean = 1.0 / double(layer.size()), var = 0;
    for (double v : layer) var += (v - mean) * (v - mean);
    cv += std::sqrt(var / double(layer.size())) / mean;
  }
  r.load_cv = !t.n_expert_known() ? std::nan("") : r.usage.empty() ? 0 : cv / double(r.usage.size());
  return r;
}

// Two usage tables at one width (the wider one's), for a JSD between them.
void pad_usage(std::vector<std::vector<double>>& a, std::vector<std::vector<double>>& b) {
  for (size_t l = 0; l < a.size() && l < b.size(); ++l) {
    const size_t w = std::max(a[l].size(), b[l].size());
    a[l].resize(w, 0.0);
    b[l].resize(w, 0.0);
  }
}

std::vector<double> layer_jsd(std::vector<std::vector<double>> a, std::vector<std::vector<double>> b) {
  pad_usage(a, b);
  std::vector<double> out;
  for (size_t l = 0; l < a.size() && l < b.size(); ++l) out.push_back(jensen_shannon(a[l], b[l]));
  return out;
}

void keep_first(std::optional<std::pair<int64_t, uint32_t>>& into, const std::optional<std::pair<int64_t, uint32_t>>& x) {
  if (x && (!into || x->first < into->first)) into = x;
}

std::vector<std::vector<double>> pooled(const std::vector<RepeatRouting>& reps) {
  if (reps.empty()) return {};
  auto out = reps[0].usage;
  for (auto& l : out) std::fill(l.begin(), l.end(), 0.0);
  double total = 0;
  for (const auto& r : reps) {
    for (size_t l = 0; l < out.size(); ++l)
      for (size_t e = 0; e < out[l].size(); ++e) out[l][e] += r.usage[l][e] * double(r.tokens);
    total += double(r.tokens);
  }
  for (auto& l : out) {
    double s = 0;
    for (double v : l) s += v;
    if (s > 0)
      for (double& v : l) v /= s;
  }
  return out;
}

// Overlap and exact match over trace positions [begin, end) of two traces.
void compare_range(const moe::RoutingTrace& a, const moe::RoutingTrace& b, uint64_t begin, uint64_t end,
                   double& overlap_sum, double& exact_sum, uint64_t& n, std::optional<std::pair<int64_t, uint32_t>>& first) {
  end = std::min({end, a.n_tokens(), b.n_tokens()});
  for (uint64_t t = begin; t < end; ++t)
    for (uint32_t l = 0; l < a.n_layers(); ++l) {
      auto x = a.at(t, l).experts, y = b.at(t, l).experts;
      double o = topk_overlap(x, y);
      overlap_sum += o;
      bool eq = same_set(x, y);
      exact_sum += eq ? 1 : 0;
      ++n;
      if (!eq && (!first || int64_t(t) < first->first)) first = std::make_pair(int64_t(t), l);
    }
}

}  // namespace

double jensen_shannon(const std::vector<double>& p, const std::vector<double>& q) {
  double js = 0;
  for (size_t i = 0; i < p.size() && i < q.size(); ++i) {
    double m = 0.5 * (p[i] + q[i]);
    if (p[i] > 0) js += 0.5 * p[i] * std::log2(p[i] / m);
    if (q[i] > 0) js += 0.5 * q[i] * std::log2(q[i] / m);
  }
  return std::clamp(js, 0.0, 1.0);
}

double topk_overlap(std::span<const uint16_t> a, std::span<const uint16_t> b) {
  if (a.empty()) return 1;
  size_t common = 0;
  for (auto x : a)
    if (std::find(b.begin(), b.end(), x) != b.end()) ++common;
  return double(common) / double(a.size());
}

RoutingAnalysis analyze_routing_samples(const std::vector<SampleRecord>& samples,
                                        const std::vector<SampleRecord>* baseline, double max_jsd,
                                        double min_overlap) {
  RoutingAnalysis out;
  out.max_jsd_threshold = max_jsd;
  out.min_overlap_threshold = min_overlap;
  auto decode_all = [&](const std::vector<SampleRecord>& ss, std::map<std::pair<std::string, std::string>, std::vector<Decoded>>& g,
                        std::vector<std::pair<std::string, std::string>>* order) {
    for (const auto& s : ss) {
      if (order && s.ok && s.routing_trace.empty() && !s.routing_error.empty()) {
        ++out.absent_samples;
        auto it = std::find_if(out.absent.begin(), out.absent.end(), [&](const auto& p) { return p.first == s.routing_error; });
        if (it != out.absent.end()) ++it->second;
        else if (out.absent.size() < 8) out.absent.emplace_back(s.routing_error, 1);
        else ++out.absent.back().second;
      }
      if (!s.ok || s.routing_trace.empty()) continue;
      auto t = moe::RoutingTrace::deserialize(s.routing_trace.data(), s.routing_trace.size());
      if (!t.ok()) continue;  // a corrupt blob is skipped, not fatal to the report
      auto key = std::make_pair(s.case_id, s.variant_id);
      if (order && !g.count(key)) order->push_back(key);
      if (order) {
        out.trace_bytes += s.routing_trace.size();
        out.trace_tokens += t->n_tokens();
        if (!t->has_gates()) out.ids_only = true;
      }
      g[key].push_back({&s, std::move(t).value()});
    }
  };
  std::map<std::pair<std::string, std::string>, std::vector<Decoded>> groups, base_groups;
  std::vector<std::pair<std::string, std::string>> order;
  decode_all(samples, groups, &order);
  if (baseline) decode_all(*baseline, base_groups, nullptr);
  out.has_traces = !groups.empty();

  for (const auto& key : order) {
    auto& members = groups[key];
    std::sort(members.begin(), members.end(), [](const Decoded& a, const Decoded& b) { return a.sample->repeat < b.sample->repeat; });
    GroupRouting g;
    g.case_id = key.first;
    g.variant_id = key.second;
    g.n_layers = members[0].trace.n_layers();
    g.k = members[0].trace.k();
    for (const auto& m : members) g.n_expert = std::max(g.n_expert, m.trace.n_expert());
    for (const auto& m : members) g.repeats.push_back(repeat_stats(m.sample->repeat, m.trace, g.n_expert));
    g.usage = pooled(g.repeats);
    for (const auto& r : g.repeats) {
      g.entropy += r.entropy / double(g.repeats.size());  // NaN from any ids-only repeat stays NaN
      g.load_cv += r.load_cv / double(g.repeats.size());
      g.repetition += r.repetition / double(g.repeats.size());
    }
    if (std::isnan(g.entropy)) g.entropy_na = "expert ids only (remote engine): the server reports no router probabilities";
    if (std::isnan(g.load_cv))
      g.load_cv_na = "the model's expert count is unknown: set provider.routing_shape.n_experts";
    const Decoded& ref = members[0];
    // A remote server that sent no prompt ids still counted the prompt's tokens.
    size_t n_prompt = ref.sample->prompt_token_ids.size();
    if (n_prompt == 0 && !ref.trace.has_gates() && ref.sample->prompt_tokens > 0) n_prompt = size_t(ref.sample->prompt_tokens);
    double po = 0, pe = 0, go = 0, ge = 0;
    uint64_t pn = 0, gn = 0;
    for (size_t i = 1; i < members.size(); ++i) {
      const Decoded& other = members[i];
      if (other.trace.n_layers() != g.n_layers || other.trace.k() != g.k) continue;
      ++g.repeats_compared;
      std::optional<std::pair<int64_t, uint32_t>> first_p, first_g;
      compare_range(ref.trace, other.trace, 0, n_prompt, po, pe, pn, first_p);
      if (first_p) ++g.prompt_divergent_repeats;
      keep_first(g.first_prompt_divergence, first_p);
      // Generated tokens share their whole history until the first differing token id.
      const auto& ta = ref.sample->token_ids;
      const auto& tb = other.sample->token_ids;
      if (ta.empty() && tb.empty() && !ref.trace.has_gates() && ref.sample->completion_tokens != 0) {
        g.generated_na = "the server returned no token ids, so where the outputs part is unknown";
        continue;
      }
      size_t d = 0;
      while (d < ta.size() && d < tb.size() && ta[d] == tb[d]) ++d;
      if (d < ta.size() || d < tb.size())
        if (!g.first_output_divergence_token || int64_t(d) < *g.first_output_divergence_token)
          g.first_output_divergence_token = int64_t(d);
      compare_range(ref.trace, other.trace, n_prompt, n_prompt + d, go, ge, gn, first_g);
      if (first_g) first_g->first -= int64_t(n_prompt);
      keep_first(g.first_generated_divergence, first_g);
    }
    keep_first(g.first_routing_divergence, g.first_prompt_divergence);
    if (g.first_generated_divergence && !g.first_prompt_divergence)
      g.first_routing_divergence = std::make_pair(g.first_generated_divergence->first + int64_t(n_prompt),
                                                  g.first_generated_divergence->second);
    if (pn) {
      g.prompt_overlap = po / double(pn);
      g.prompt_exact = pe / double(pn);
    }
    if (gn) {
      g.gen_overlap = go / double(gn);
      g.gen_exact = ge / double(gn);
    }
    g.gen_compared = int64_t(gn / std::max<uint32_t>(1, g.n_layers));
    out.groups.push_back(std::move(g));
  }

  // Between variants of a case: JSD of pooled usage, next to criterion pass rates.
  auto pass_stats = [&](const std::string& c, const std::string& v, double& rate, int64_t& unstable) {
    std::map<std::string, std::pair<int, int>> per;  // criterion -> (pass, fail)
    for (const auto& s : samples)
      if (s.case_id == c && s.variant_id == v && s.ok)
        for (const auto& r : s.scores) {
          if (r.outcome == Outcome::kPass) per[r.criterion_id].first++;
          if (r.outcome == Outcome::kFail) per[r.criterion_id].second++;
        }
    int p = 0, f = 0;
    unstable = 0;
    for (const auto& [_, pf] : per) {
      p += pf.first;
      f += pf.second;
      if (pf.first > 0 && pf.second > 0) ++unstable;
    }
    rate = p + f ? double(p) / double(p + f) : 0;
  };
  for (size_t i = 0; i < out.groups.size(); ++i)
    for (size_t j = i + 1; j < out.groups.size(); ++j) {
      const auto& a = out.groups[i];
      const auto& b = out.groups[j];
      if (a.case_id != b.case_id || a.usage.size() != b.usage.size()) continue;
      VariantDrift vd;
      vd.case_id = a.case_id;
      vd.variant_a = a.variant_id;
      vd.variant_b = b.variant_id;
      vd.jsd = layer_jsd(a.usage, b.usage);
      for (double x : vd.jsd) vd.mean_jsd += x / double(vd.jsd.size());
      pass_stats(a.case_id, a.variant_id, vd.pass_rate_a, vd.unstable_a);
      pass_stats(b.case_id, b.variant_id, vd.pass_rate_b, vd.unstable_b);
      out.variants.push_back(std::move(vd));
    }

  // Against a baseline run: the same (case, variant).
  if (baseline) {
    for (const auto& g : out.groups) {
      auto it = base_groups.find({g.case_id, g.variant_id});
      if (it == base_groups.end() || it->second.empty()) continue;
      auto& bm = it->second;
      std::sort(bm.begin(), bm.end(), [](const Decoded& a, const Decoded& b) { return a.sample->repeat < b.sample->repeat; });
      std::vector<RepeatRouting> reps;
      uint32_t width = 0;
      for (const auto& m : bm) width = std::max(width, m.trace.n_expert());
      for (const auto& m : bm) reps.push_back(repeat_stats(m.sample->repeat, m.trace, width));
      auto busage = pooled(reps);
      if (busage.size() != g.usage.size()) continue;
      RunRoutingDrift d;
      d.case_id = g.case_id;
      d.variant_id = g.variant_id;
      d.jsd = layer_jsd(g.usage, busage);
      for (double x : d.jsd) d.mean_jsd += x / double(d.jsd.size());
      // Same prompt tokens: compare the first repeats' routing over the prompt.
      const auto& cur = groups[{g.case_id, g.variant_id}][0];
      if (cur.sample->prompt_token_ids == bm[0].sample->prompt_token_ids && cur.trace.k() == bm[0].trace.k()) {
        double o = 0, e = 0;
        uint64_t n = 0;
        std::optional<std::pair<int64_t, uint32_t>> first;
        compare_range(cur.trace, bm[0].trace, 0, cur.sample->prompt_token_ids.size(), o, e, n, first);
        if (n) d.prompt_overlap = o / double(n);
      }
      double max_layer = d.jsd.empty() ? 0 : *std::max_element(d.jsd.begin(), d.jsd.end());
      d.flagged = max_layer > max_jsd || d.prompt_overlap < min_overlap;
      out.baseline_max_jsd = std::max(out.baseline_max_jsd, max_layer);
      out.baseline_min_overlap = std::min(out.baseline_min_overlap, d.prompt_overlap);
      out.baseline.push_back(std::move(d));
    }
  }
  return out;
}

RoutingAnalysis analyze_routing(const Store& store, int64_t run_id, std::optional<int64_t> baseline_run,
                                double max_jsd, double min_overlap) {
  auto samples = store.samples(run_id, true);
  if (!baseline_run) return analyze_routing_samples(samples, nullptr, max_jsd, min_overlap);
  auto base = store.samples(*baseline_run, true);
  RoutingAnalysis r = analyze_routing_samples(samples, &base, max_jsd, min_overlap);
  r.baseline_run = *baseline_run;
  return r;
}

}  // namespace wobble
