#include "analysis/routing_drift.h"

#include "analysis/metric_definitions.h"
#include "analysis/stability.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <limits>
#include <random>
#include <set>

namespace wobble {
namespace {

struct Decoded {
  const SampleRecord* sample;
  moe::RoutingTrace trace;
};

bool same_set(std::span<const uint16_t> a, std::span<const uint16_t> b) {
  if (a.size() != b.size()) return false;
  // Called per token and layer: the usual top-k fits on the stack, without two allocations a call.
  constexpr size_t kSmall = 32;
  if (a.size() <= kSmall) {
    std::array<uint16_t, kSmall> x, y;
    std::copy(a.begin(), a.end(), x.begin());
    std::copy(b.begin(), b.end(), y.begin());
    std::sort(x.begin(), x.begin() + a.size());
    std::sort(y.begin(), y.begin() + b.size());
    return std::equal(x.begin(), x.begin() + a.size(), y.begin());
  }
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

// Token-weighted expert counts of one repeat, flattened (layer-major), for fast pooling.
std::vector<double> weighted_counts(const RepeatRouting& r) {
  std::vector<double> out;
  for (const auto& layer : r.usage)
    for (double u : layer) out.push_back(u * double(r.tokens));
  return out;
}

// Mean over layers of the JSD between the pooled usage of the repeats in `in_a` and the others.
// `counts` holds every repeat's weighted_counts() one after the other (repeat r at r * width) and
// `total` their sum over all repeats. Only the smaller side is summed (in repeat order); the other
// side is `total` minus it, clamped at 0 against rounding: half the work of summing both sides, at
// the cost of last-digit rounding differences from a direct sum (documented in routing_noise).
double split_jsd(const std::vector<double>& counts, const std::vector<double>& total, const std::vector<char>& in_a,
                 size_t n_layers, size_t n_expert, std::vector<double>& pa, std::vector<double>& pb,
                 std::vector<double>& p, std::vector<double>& q) {
  const size_t width = pa.size();
  size_t n_a = 0;
  for (char x : in_a) n_a += x ? 1 : 0;
  const bool sum_a = 2 * n_a <= in_a.size();
  std::vector<double>& summed = sum_a ? pa : pb;
  std::vector<double>& rest = sum_a ? pb : pa;
  std::fill(summed.begin(), summed.end(), 0.0);
  for (size_t r = 0; r < in_a.size(); ++r) {
    if ((in_a[r] != 0) != sum_a) continue;
    double* __restrict dst = summed.data();
    const double* __restrict src = counts.data() + r * width;
    for (size_t i = 0; i < width; ++i) dst[i] += src[i];
  }
  for (size_t i = 0; i < width; ++i) rest[i] = std::max(0.0, total[i] - summed[i]);
  double sum = 0;
  p.resize(n_expert);
  q.resize(n_expert);
  for (size_t l = 0; l < n_layers; ++l) {
    double sa = 0, sb = 0;
    for (size_t e = 0; e < n_expert; ++e) {
      sa += pa[l * n_expert + e];
      sb += pb[l * n_expert + e];
    }
    for (size_t e = 0; e < n_expert; ++e) {
      p[e] = sa > 0 ? pa[l * n_expert + e] / sa : 0;
      q[e] = sb > 0 ? pb[l * n_expert + e] / sb : 0;
    }
    sum += jensen_shannon(p, q);
  }
  return n_layers ? sum / double(n_layers) : 0;
}

// C(n, k), or limit + 1 when it is larger.
int64_t choose_capped(int64_t n, int64_t k, int64_t limit) {
  k = std::min(k, n - k);
  if (k < 0) return 0;
  __int128 c = 1;
  for (int64_t i = 1; i <= k; ++i) {
    c = c * (n - k + i) / i;
    if (c > limit) return limit + 1;
  }
  return int64_t(c);
}

// A uniform draw in [0, m) from a 64-bit Mersenne Twister by rejection, so the sequence is the same
// with every standard library (std::uniform_int_distribution is not specified bit for bit).
uint64_t uniform_below(std::mt19937_64& rng, uint64_t m) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % m;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % m;
}

}  // namespace

uint64_t routing_seed(const std::vector<std::string>& ids) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) h = (h ^ 0u) * 1099511628211ULL;
    for (unsigned char c : ids[i]) h = (h ^ c) * 1099511628211ULL;
  }
  return h;
}

RoutingNoise routing_permutation_test(const std::vector<RepeatRouting>& a, const std::vector<RepeatRouting>& b,
                                      uint64_t seed) {
  RoutingNoise out;
  if (a.empty() || b.empty() || a[0].usage.empty()) return out;
  const size_t n_layers = a[0].usage.size(), n_expert = a[0].usage[0].size();
  std::vector<double> counts;  // (repeats, n_layers * n_expert): a's repeats, then b's
  for (const auto* side : {&a, &b})
    for (const auto& r : *side) {
      if (r.usage.size() != n_layers) return out;
      for (const auto& l : r.usage)
        if (l.size() != n_expert) return out;
      const auto w = weighted_counts(r);
      counts.insert(counts.end(), w.begin(), w.end());
    }
  const size_t n = a.size() + b.size(), na = a.size();
  std::vector<double> all(n_layers * n_expert, 0.0);  // every repeat's counts, summed in repeat order
  for (size_t r = 0; r < n; ++r)
    for (size_t i = 0; i < all.size(); ++i) all[i] += counts[r * all.size() + i];
  std::vector<double> pa(n_layers * n_expert), pb(n_layers * n_expert), p, q;  // scratch of split_jsd
  std::vector<char> in_a(n, 0);
  for (size_t i = 0; i < na; ++i) in_a[i] = 1;
  out.tested = true;
  out.observed = split_jsd(counts, all, in_a, n_layers, n_expert, pa, pb, p, q);
  // A split counts as "at least as large" within a rounding tolerance, so the observed split and its
  // mirror image (equal JSD by symmetry) always count.
  const double at_least = out.observed - 1e-12;
  std::vector<double> others;
  int64_t as_large = 0;
  const int64_t total = choose_capped(int64_t(n), int64_t(na), kRoutingExactPermutationLimit);
  if (total <= kRoutingExactPermutationLimit) {
    out.exact = true;
    std::vector<size_t> pick(na);
    for (size_t i = 0; i < na; ++i) pick[i] = i;
    bool first = true;
    while (true) {
      std::fill(in_a.begin(), in_a.end(), 0);
      for (size_t i : pick) in_a[i] = 1;
      if (!first) {
        double x = split_jsd(counts, all, in_a, n_layers, n_expert, pa, pb, p, q);
        others.push_back(x);
        if (x >= at_least) ++as_large;
      }
      first = false;
      // Next combination in lexicographic order.
      size_t i = na;
      while (i > 0 && pick[i - 1] == n - na + (i - 1)) --i;
      if (i == 0) break;
      ++pick[i - 1];
      for (size_t j = i; j < na; ++j) pick[j] = pick[j - 1] + 1;
    }
  } else {
    std::mt19937_64 rng(uint64_t(kRoutingPermutationSeed) ^ seed);
    std::vector<size_t> idx(n);
    for (int64_t s = 0; s < kRoutingRandomPermutations; ++s) {
      for (size_t i = 0; i < n; ++i) idx[i] = i;
      for (size_t i = 0; i < na; ++i) std::swap(idx[i], idx[i + size_t(uniform_below(rng, n - i))]);
      std::fill(in_a.begin(), in_a.end(), 0);
      for (size_t i = 0; i < na; ++i) in_a[idx[i]] = 1;
      double x = split_jsd(counts, all, in_a, n_layers, n_expert, pa, pb, p, q);
      others.push_back(x);
      if (x >= at_least) ++as_large;
    }
  }
  out.splits = int64_t(others.size());
  std::sort(others.begin(), others.end());
  out.noise_jsd = others.empty() ? 0 : percentile_sorted(others, 0.5);
  out.p_value = double(1 + as_large) / double(1 + out.splits);
  out.moved = out.p_value < kRoutingMoveAlpha;
  return out;
}

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
      if (!t->has_gates()) counts->ids_only = true;
    }
    out.push_back({s, std::move(t).value()});
  }
  std::sort(out.begin(), out.end(), [](const Decoded& a, const Decoded& b) { return a.sample->repeat < b.sample->repeat; });
  return out;
}

// `count` samples whose routing trace is absent for `error` (the server sent none, or a payload
// failed its checks): the first 8 distinct errors in the order met, the rest counted on the last.
void add_absent(RoutingAnalysis& out, const std::string& error, int64_t count) {
  out.absent_samples += count;
  auto it = std::find_if(out.absent.begin(), out.absent.end(), [&](const auto& p) { return p.first == error; });
  if (it != out.absent.end()) it->second += count;
  else if (out.absent.size() < 8) out.absent.emplace_back(error, count);
  else out.absent.back().second += count;
}

// Builds a RoutingAnalysis one (case, variant) group at a time: analyze_routing_samples (all in
// memory) and analyze_routing (streamed from the store) both feed it.
class RoutingBuilder {
 public:
  RoutingBuilder(double max_jsd, double min_overlap, bool noise_floor) : noise_floor_(noise_floor) {
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
  bool noise_floor_;             // false: no permutation test (RoutingNoise left untested)
};

void RoutingBuilder::add_group(const std::string& case_id, const std::string& variant_id,
                               const std::vector<Decoded>& members, PassStats pass, const std::vector<Decoded>* base) {
  if (members.empty()) return;
  out_.has_traces = true;
  GroupRouting g;
  g.case_id = case_id;
  g.variant_id = variant_id;
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

  // Against a baseline run: the same (case, variant).
  if (base && !base->empty()) {
    const auto& bm = *base;
    std::vector<RepeatRouting> reps;
    uint32_t width = 0;
    for (const auto& m : bm) width = std::max(width, m.trace.n_expert());
    for (const auto& m : bm) reps.push_back(repeat_stats(m.sample->repeat, m.trace, width));
    auto busage = pooled(reps);
    if (busage.size() == g.usage.size()) {
      RunRoutingDrift d;
      d.case_id = g.case_id;
      d.variant_id = g.variant_id;
      d.jsd = layer_jsd(g.usage, busage);
      for (double x : d.jsd) d.mean_jsd += x / double(d.jsd.size());
      if (noise_floor_)
        d.noise = routing_permutation_test(reps, g.repeats, routing_seed({g.case_id, g.variant_id, "baseline"}));
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
      vd.jsd = layer_jsd(a.usage, b.usage);
      for (double x : vd.jsd) vd.mean_jsd += x / double(vd.jsd.size());
      vd.pass_rate_a = pass_[i].rate;
      vd.unstable_a = pass_[i].unstable;
      vd.pass_rate_b = pass_[j].rate;
      vd.unstable_b = pass_[j].unstable;
      if (noise_floor_)
        vd.noise = routing_permutation_test(a.repeats, b.repeats, routing_seed({a.case_id, a.variant_id, b.variant_id}));
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
                                        double min_overlap, bool noise_floor) {
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
  RoutingBuilder b(max_jsd, min_overlap, noise_floor);
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
  out.ids_only = counts.ids_only;
  for (const auto& s : samples)
    if (s.ok && s.routing_trace.empty() && !s.routing_error.empty()) add_absent(out, s.routing_error, 1);
  return out;
}

RoutingAnalysis analyze_routing(const Store& store, int64_t run_id, std::optional<int64_t> baseline_run,
                                double max_jsd, double min_overlap, bool noise_floor) {
  // Only groups with a trace are read (an index lookup), one (case, variant) group at a time: a run
  // of a hosted model has none, and memory follows one group's traces, not the run's. A run on
  // several providers pools a group's providers (as the whole-run analysis does): each group is
  // read provider by provider in the order the whole run lists them, then concatenated.
  RoutingBuilder b(max_jsd, min_overlap, noise_floor);
  RoutingAnalysis counts;
  const auto run = store.get_run(run_id);  // once: it parses the suite snapshot
  if (run) {
    const auto providers = store.sample_providers_in_order(run_id, run->plan.suite);
    std::vector<std::string> base_providers;
    if (baseline_run)
      if (auto base_run = store.get_run(*baseline_run))
        base_providers = store.sample_providers_in_order(*baseline_run, base_run->plan.suite);
    SampleColumns columns;
    columns.prompt = false;
    columns.traces = true;
    columns.logprobs = false;
    columns.attempts = false;
    columns.output = false;  // the traces, token ids and outcomes are what routing reads
    columns.score_text = SampleColumns::ScoreText::kNone;
    auto triples = [](const std::vector<GroupKey>& keys, const std::vector<std::string>& ids) {
      std::vector<ProviderGroup> out;
      for (const auto& [c, v] : keys)
        for (const auto& p : ids) out.push_back({c, v, p});
      return out;
    };
    const auto keys = store.sample_groups(run_id, run->plan.suite, true);
    std::vector<SampleRecord> group;
    store.for_each_group(run_id, triples(keys, providers), columns, [&](size_t index, std::vector<SampleRecord>& part) {
      for (auto& x : part) group.push_back(std::move(x));
      if ((index + 1) % providers.size() != 0) return;  // more providers of this (case, variant) to come
      const auto& key = keys[index / providers.size()];
      if (!group.empty()) {
        auto members = decode_traces(pointers(group), &counts);
        std::vector<SampleRecord> base_samples;
        if (baseline_run && !base_providers.empty())
          store.for_each_group(*baseline_run, triples({key}, base_providers), columns,
                               [&](size_t, std::vector<SampleRecord>& bg) {
                                 for (auto& x : bg) base_samples.push_back(std::move(x));
                               });
        auto base = decode_traces(pointers(base_samples), nullptr);
        b.add_group(key.first, key.second, members, pass_stats_of(group, key.first, key.second),
                    baseline_run ? &base : nullptr);
      }
      group.clear();
    });
  }
  RoutingAnalysis r = b.finish();
  r.trace_bytes = counts.trace_bytes;
  r.trace_tokens = counts.trace_tokens;
  r.ids_only = counts.ids_only;
  // Samples without a trace but with a routing error, counted by the database (an index range of
  // the few such samples), in the order the in-memory path meets them.
  if (run)
    for (const auto& e : store.routing_errors(run_id, run->plan.suite)) add_absent(r, e.error, e.samples);
  if (baseline_run) r.baseline_run = *baseline_run;
  return r;
}

}  // namespace wobble
