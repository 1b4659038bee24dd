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

RepeatRouting repeat_stats(int repeat, const moe::RoutingTrace& t) {
  RepeatRouting r;
  r.repeat = repeat;
  r.tokens = t.n_tokens();
  r.usage.assign(t.n_layers(), std::vector<double>(t.n_expert(), 0.0));
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
  r.entropy = recs ? ent / double(recs) : 0;
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
  r.load_cv = r.usage.empty() ? 0 : cv / double(r.usage.size());
  return r;
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

namespace {

// Criterion pass rate and unstable criteria of one (case, variant), over its samples with output.
struct PassStats {
  double rate = 0;
  int64_t unstable = 0;
};

template <class Samples>
PassStats pass_stats_of(const Samples& samples, const std::string& c, const std::string& v) {
  std::map<std::string, std::pair<int, int>> per;  // criterion -> (pass, fail)
  for (const auto& s : samples)
    if (s.case_id == c && s.variant_id == v && s.ok)
      for (const auto& r : s.scores) {
        if (r.outcome == Outcome::kPass) per[r.criterion_id].first++;
        if (r.outcome == Outcome::kFail) per[r.criterion_id].second++;
      }
  PassStats out;
  int p = 0, f = 0;
  for (const auto& [_, pf] : per) {
    p += pf.first;
    f += pf.second;
    if (pf.first > 0 && pf.second > 0) ++out.unstable;
  }
  out.rate = p + f ? double(p) / double(p + f) : 0;
  return out;
}

// The decodable traces of samples with output, in the order given; counts bytes and tokens when asked.
std::vector<Decoded> decode_traces(const std::vector<const SampleRecord*>& samples, RoutingAnalysis* counts) {
  std::vector<Decoded> out;
  for (const auto* s : samples) {
    if (!s->ok || s->routing_trace.empty()) continue;
    auto t = moe::RoutingTrace::deserialize(s->routing_trace.data(), s->routing_trace.size());
    if (!t.ok()) continue;  // a corrupt blob is skipped, not fatal to the report
    if (counts) {
      counts->trace_bytes += s->routing_trace.size();
      counts->trace_tokens += t->n_tokens();
    }
    out.push_back({s, std::move(t).value()});
  }
  std::sort(out.begin(), out.end(), [](const Decoded& a, const Decoded& b) { return a.sample->repeat < b.sample->repeat; });
  return out;
}

// Builds a RoutingAnalysis one (case, variant) group at a time: analyze_routing_samples (all in
// memory) and analyze_routing (streamed from the store) both feed it.
class RoutingBuilder {
 public:
  RoutingBuilder(double max_jsd, double min_overlap) {
    out_.max_jsd_threshold = max_jsd;
    out_.min_overlap_threshold = min_overlap;
  }
  // members: the group's decoded traces in repeat order (none: the group is left out); base: the
  // baseline run's decoded traces of the same group (nullptr or empty: not compared).
  void add_group(const std::string& case_id, const std::string& variant_id, const std::vector<Decoded>& members,
                 PassStats pass, const std::vector<Decoded>* base);
  RoutingAnalysis finish();

 private:
  RoutingAnalysis out_;
  std::vector<PassStats> pass_;  // parallel to out_.groups
};

void RoutingBuilder::add_group(const std::string& case_id, const std::string& variant_id,
                               const std::vector<Decoded>& members, PassStats pass, const std::vector<Decoded>* base) {
  if (members.empty()) return;
  out_.has_traces = true;
  GroupRouting g;
  g.case_id = case_id;
  g.variant_id = variant_id;
  g.n_layers = members[0].trace.n_layers();
  g.n_expert = members[0].trace.n_expert();
  g.k = members[0].trace.k();
  for (const auto& m : members) g.repeats.push_back(repeat_stats(m.sample->repeat, m.trace));
  g.usage = pooled(g.repeats);
  for (const auto& r : g.repeats) {
    g.entropy += r.entropy / double(g.repeats.size());
    g.load_cv += r.load_cv / double(g.repeats.size());
    g.repetition += r.repetition / double(g.repeats.size());
  }
  const Decoded& ref = members[0];
  const size_t n_prompt = ref.sample->prompt_token_ids.size();
  double po = 0, pe = 0, go = 0, ge = 0;
  uint64_t pn = 0, gn = 0;
  for (size_t i = 1; i < members.size(); ++i) {
    const Decoded& other = members[i];
    if (other.trace.n_layers() != g.n_layers || other.trace.k() != g.k) continue;
    compare_range(ref.trace, other.trace, 0, n_prompt, po, pe, pn, g.first_routing_divergence);
    // Generated tokens share their whole history until the first differing token id.
    const auto& ta = ref.sample->token_ids;
    const auto& tb = other.sample->token_ids;
    size_t d = 0;
    while (d < ta.size() && d < tb.size() && ta[d] == tb[d]) ++d;
    if (d < ta.size() || d < tb.size())
      if (!g.first_output_divergence_token || int64_t(d) < *g.first_output_divergence_token)
        g.first_output_divergence_token = int64_t(d);
    compare_range(ref.trace, other.trace, n_prompt, n_prompt + d, go, ge, gn, g.first_routing_divergence);
  }
  if (pn) {
    g.prompt_overlap = po / double(pn);
    g.prompt_exact = pe / double(pn);
  }
  if (gn) {
    g.gen_overlap = go / double(gn);
    g.gen_exact = ge / double(gn);
  }
  g.gen_compared = int64_t(gn / std::max<uint32_t>(1, g.n_layers));

  // Against a baseline run: the same (case, variant).
  if (base && !base->empty()) {
    const auto& bm = *base;
    std::vector<RepeatRouting> reps;
    for (const auto& m : bm) reps.push_back(repeat_stats(m.sample->repeat, m.trace));
    auto busage = pooled(reps);
    if (busage.size() == g.usage.size()) {
      RunRoutingDrift d;
      d.case_id = g.case_id;
      d.variant_id = g.variant_id;
      for (size_t l = 0; l < g.usage.size(); ++l) d.jsd.push_back(jensen_shannon(g.usage[l], busage[l]));
      for (double x : d.jsd) d.mean_jsd += x / double(d.jsd.size());
      // Same prompt tokens: compare the first repeats' routing over the prompt.
      const auto& cur = members[0];
      if (cur.sample->prompt_token_ids == bm[0].sample->prompt_token_ids && cur.trace.k() == bm[0].trace.k()) {
        double o = 0, e = 0;
        uint64_t n = 0;
        std::optional<std::pair<int64_t, uint32_t>> first;
        compare_range(cur.trace, bm[0].trace, 0, cur.sample->prompt_token_ids.size(), o, e, n, first);
        if (n) d.prompt_overlap = o / double(n);
      }
      double max_layer = d.jsd.empty() ? 0 : *std::max_element(d.jsd.begin(), d.jsd.end());
      d.flagged = max_layer > out_.max_jsd_threshold || d.prompt_overlap < out_.min_overlap_threshold;
      out_.baseline_max_jsd = std::max(out_.baseline_max_jsd, max_layer);
      out_.baseline_min_overlap = std::min(out_.baseline_min_overlap, d.prompt_overlap);
      out_.baseline.push_back(std::move(d));
    }
  }
  out_.groups.push_back(std::move(g));
  pass_.push_back(pass);
}

RoutingAnalysis RoutingBuilder::finish() {
  // Between variants of a case: JSD of pooled usage, next to criterion pass rates.
  for (size_t i = 0; i < out_.groups.size(); ++i)
    for (size_t j = i + 1; j < out_.groups.size(); ++j) {
      const auto& a = out_.groups[i];
      const auto& b = out_.groups[j];
      if (a.case_id != b.case_id || a.usage.size() != b.usage.size()) continue;
      VariantDrift vd;
      vd.case_id = a.case_id;
      vd.variant_a = a.variant_id;
      vd.variant_b = b.variant_id;
      for (size_t l = 0; l < a.usage.size(); ++l) vd.jsd.push_back(jensen_shannon(a.usage[l], b.usage[l]));
      for (double x : vd.jsd) vd.mean_jsd += x / double(vd.jsd.size());
      vd.pass_rate_a = pass_[i].rate;
      vd.unstable_a = pass_[i].unstable;
      vd.pass_rate_b = pass_[j].rate;
      vd.unstable_b = pass_[j].unstable;
      out_.variants.push_back(std::move(vd));
    }
  return std::move(out_);
}

std::vector<const SampleRecord*> pointers(const std::vector<SampleRecord>& v) {
  std::vector<const SampleRecord*> out;
  out.reserve(v.size());
  for (const auto& s : v) out.push_back(&s);
  return out;
}

}  // namespace

RoutingAnalysis analyze_routing_samples(const std::vector<SampleRecord>& samples,
                                        const std::vector<SampleRecord>* baseline, double max_jsd,
                                        double min_overlap) {
  // Group by (case, variant) in order of first appearance of a sample with output and a trace.
  auto group = [](const std::vector<SampleRecord>& ss, std::vector<GroupKey>* order) {
    std::map<GroupKey, std::vector<const SampleRecord*>> g;
    for (const auto& s : ss) {
      if (!s.ok || s.routing_trace.empty()) continue;
      auto key = std::make_pair(s.case_id, s.variant_id);
      auto [it, added] = g.try_emplace(key);
      if (added && order) order->push_back(key);
      it->second.push_back(&s);
    }
    return g;
  };
  std::vector<GroupKey> order;
  auto groups = group(samples, &order);
  std::map<GroupKey, std::vector<const SampleRecord*>> base_groups;
  if (baseline) base_groups = group(*baseline, nullptr);
  RoutingBuilder b(max_jsd, min_overlap);
  RoutingAnalysis counts;
  for (const auto& key : order) {
    auto members = decode_traces(groups[key], &counts);
    std::vector<Decoded> base;
    if (auto it = base_groups.find(key); it != base_groups.end()) base = decode_traces(it->second, nullptr);
    b.add_group(key.first, key.second, members, pass_stats_of(samples, key.first, key.second),
                baseline ? &base : nullptr);
  }
  RoutingAnalysis out = b.finish();
  out.trace_bytes = counts.trace_bytes;
  out.trace_tokens = counts.trace_tokens;
  return out;
}

RoutingAnalysis analyze_routing(const Store& store, int64_t run_id, std::optional<int64_t> baseline_run,
                                double max_jsd, double min_overlap) {
  // Only groups with a trace are read (an index lookup), one group at a time: a run of a hosted
  // model has none, and memory follows one group's traces, not the run's.
  RoutingBuilder b(max_jsd, min_overlap);
  RoutingAnalysis counts;
  if (auto run = store.get_run(run_id)) {
    SampleColumns columns;
    columns.prompt = false;
    columns.traces = true;
    columns.logprobs = false;
    columns.attempts = false;
    store.for_each_group(run_id, store.sample_groups(run_id, run->plan.suite, true), columns,
                         [&](std::vector<SampleRecord>& group) {
                           const auto& key = group.front();
                           auto members = decode_traces(pointers(group), &counts);
                           std::vector<SampleRecord> base_samples;
                           if (baseline_run)
                             store.for_each_group(*baseline_run, {{key.case_id, key.variant_id}}, columns,
                                                  [&](std::vector<SampleRecord>& bg) { base_samples = std::move(bg); });
                           auto base = decode_traces(pointers(base_samples), nullptr);
                           b.add_group(key.case_id, key.variant_id, members,
                                       pass_stats_of(group, key.case_id, key.variant_id),
                                       baseline_run ? &base : nullptr);
                         });
  }
  RoutingAnalysis r = b.finish();
  r.trace_bytes = counts.trace_bytes;
  r.trace_tokens = counts.trace_tokens;
  if (baseline_run) r.baseline_run = *baseline_run;
  return r;
}

}  // namespace wobble
