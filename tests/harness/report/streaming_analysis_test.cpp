// The streamed analysis (analyze_run / analyze_routing reading one (case, variant) group at a time)
// against the in-memory one (Store::samples loaded whole, then analyze_samples /
// analyze_routing_samples) on a store built here with provider failures, unscored and missing
// criteria, weights, logprobs, several variants, ids the suite does not name, samples inserted out
// of order, and routing traces in two runs; and a remote-engine run with ids-only traces and
// routing errors. Every rendered number must be the same, and so must the verdict-first parts
// (disagreement quotes, variant deltas, latency percentiles, routing noise floor, absent traces).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "analysis/compare.h"
#include "analysis/gate.h"
#include "analysis/judge_noise.h"
#include "analysis/routing_drift.h"
#include "analysis/stability.h"
#include "moe/routing.h"
#include "report/report.h"
#include "store/store.h"
#include "support/scratch.h"

using namespace wobble;

namespace {

// `wobble report --format json` writes the document as it makes it (write_report_json); it must be
// the same text as the whole document re-indented.
std::string streamed_json(const RunAnalysis& a, const RoutingAnalysis* r = nullptr, const ReportOptions& o = {}) {
  std::ostringstream os;
  write_report_json(os, a, r, o);
  return os.str();
}

std::vector<uint8_t> trace_of(int seed, int tokens) {
  moe::RoutingTrace t(2, 4, 2);
  for (int i = 0; i < tokens; ++i)
    for (uint32_t l = 0; l < 2; ++l) {
      uint16_t e[2] = {uint16_t((seed + i + l) % 4), uint16_t((seed + 2 * i + l + 1) % 4)};
      if (e[0] == e[1]) e[1] = uint16_t((e[1] + 1) % 4);
      float w[2] = {0.7f, 0.3f};
      t.append(l, e, w, 1.0f + 0.1f * float(i % 3), 0.05f);
    }
  return t.serialize();
}

RunRecord make_run(const std::string& started) {
  RunRecord run;
  run.suite_name = "mix";
  run.suite_path = "suites/mix.yaml";
  run.suite_hash = "feedbeef";
  // Suite order differs from alphabetical order for both cases and variants.
  run.plan.suite = suite_from_json(
      {{"name", "mix"},
       {"repeats", 4},
       {"variants", {{{"id", "v2"}, {"prompt", "x"}}, {{"id", "v1"}, {"prompt", "y"}}}},
       {"cases",
        {{{"id", "b-case"},
          {"answer_extractor", {{"kind", "regex"}, {"args", {{"pattern", "(\\d+)"}}}}},
          {"rubric",
           {{"criteria", {{{"id", "ans"}, {"scorer", "contains"}, {"args", {{"value", "4"}}}, {"weight", 3}},
                          {{"id", "tone"}, {"scorer", "contains"}, {"args", {{"value", "ok"}}}, {"weight", 0.5}}}}}}},
         {{"id", "a-case"},
          {"rubric", {{"criteria", {{{"id", "fmt"}, {"scorer", "contains"}, {"args", {{"value", "A"}}}}}}}}}}}});
  run.provider = {{"kind", "openai"}, {"model", "m"}};
  run.model_id = "m";
  run.sampling = {{"temperature", 0.9}};
  run.repeats = 4;
  run.tool_version = "test";
  run.started_at = started;
  run.status = "complete";
  run.expected_samples = 16;
  return run;
}

CriterionResult res(const std::string& id, Outcome o, double score, const std::string& reason = "",
                    const std::string& evidence = "") {
  CriterionResult r;
  r.criterion_id = id;
  r.outcome = o;
  r.score = score;
  r.reason = reason;
  r.evidence = {0, int64_t(evidence.size()), evidence};
  r.expected = id == "ans" ? "4" : "";
  return r;
}

std::vector<SampleRecord> samples_of(int64_t run_id, int shift) {
  std::vector<SampleRecord> out;
  for (const std::string c : {"b-case", "a-case", "zz-extra"})
    for (const std::string v : {"v2", "v1", "v0-extra"})
      for (int r = 0; r < 4; ++r) {
        if (c == "zz-extra" && v != "v1") continue;
        if (v == "v0-extra" && c != "a-case") continue;
        SampleRecord s;
        s.run_id = run_id;
        s.case_id = c;
        s.variant_id = v;
        s.repeat = r;
        s.prompt = "prompt " + c + " " + v;
        s.seed = uint64_t(r);
        s.latency_s = 0.125 * (r + 1) + (v == "v1" ? 0.01 : 0);
        s.model_reported = (r == 3 && c == "b-case") ? "m-swapped" : "m";
        if ((r + shift) % 4 == 2 && v == "v1") {  // provider failure
          s.ok = false;
          s.error = "HTTP 503 on " + c;
          s.attempts = {{1, 503, "http_error", "HTTP 503", 0.1, 0}, {2, 503, "http_error", "HTTP 503", 0.1, 0.5}};
          out.push_back(std::move(s));
          continue;
        }
        s.ok = true;
        s.finish_reason = "stop";
        s.attempts = {{1, 200, "ok", "", s.latency_s, 0}};
        const bool right = (r + shift) % 3 != 1;
        s.output = "Answer " + std::string(right ? "4" : "5") + (r % 2 ? " ok" : " fine") + " for " + c;
        s.extracted_answer = right ? "4" : "5";
        if (c == "b-case") {
          s.scores = {res("ans", right ? Outcome::kPass : Outcome::kFail, right ? 1 : 0,
                          right ? "" : "expected 4", right ? "4" : "5")};
          if (r != 0) s.scores.push_back(res("tone", r == 1 ? Outcome::kUnscored : Outcome::kPass, 0.5, "judge", "ok"));
          s.logprobs = {{"Answer", -0.1, {}}, {" ", -0.01, {}}, {right ? "4" : "5", right ? -0.2 : -1.7, {{"4", -0.2}, {"5", -1.7}}}};
        } else {
          s.scores = {res("fmt", r == 3 ? Outcome::kFail : Outcome::kPass, r == 3 ? 0.25 : 1, "format", "A")};
          if (c == "a-case" && v != "v0-extra") {
            s.prompt_token_ids = {1, 2, 3};
            s.token_ids = {4, 5, int32_t(6 + (r + shift) % 2)};
            s.routing_trace = trace_of(r + shift + (v == "v1" ? 1 : 0), 6);
          }
        }
        out.push_back(std::move(s));
      }
  // Out of order on purpose: the store, not the insert order, decides the order of the analysis.
  std::reverse(out.begin(), out.end());
  std::rotate(out.begin(), out.begin() + 5, out.end());
  return out;
}

struct Fixture {
  Store store;
  int64_t base = 0, run = 0;
};

Fixture build(const std::string& name) {
  Fixture f{Store::open(testsupport::scratch_path(name)), 0, 0};
  f.base = f.store.create_run(make_run("2026-01-01T00:00:00Z"));
  f.store.insert_samples(samples_of(f.base, 1));
  f.run = f.store.create_run(make_run("2026-01-02T00:00:00Z"));
  auto s = samples_of(f.run, 0);
  // Two batches, so sample ids do not follow the suite order either.
  std::vector<SampleRecord> first(s.begin() + 7, s.end()), second(s.begin(), s.begin() + 7);
  f.store.insert_samples(first);
  f.store.insert_samples(second);
  return f;
}

RunAnalysis in_memory(const Store& store, int64_t id, int k) {
  return analyze_samples(*store.get_run(id), store.samples(id, false), k);
}

void expect_same_quote(const std::optional<Quote>& x, const std::optional<Quote>& y) {
  ASSERT_EQ(x.has_value(), y.has_value());
  if (!x) return;
  EXPECT_EQ(x->repeat, y->repeat);
  EXPECT_EQ(x->sample_id, y->sample_id);
  EXPECT_EQ(x->text, y->text);
  EXPECT_EQ(x->from_evidence, y->from_evidence);
  EXPECT_EQ(x->reason, y->reason);
  EXPECT_EQ(x->expected, y->expected);
}

// NaN-aware equality for the doubles of the noise floor and usage.
bool same(double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; }

void expect_same_noise(const RoutingNoise& x, const RoutingNoise& y) {
  EXPECT_EQ(x.tested, y.tested);
  EXPECT_EQ(x.exact, y.exact);
  EXPECT_EQ(x.splits, y.splits);
  EXPECT_TRUE(same(x.observed, y.observed)) << x.observed << " vs " << y.observed;
  EXPECT_TRUE(same(x.noise_jsd, y.noise_jsd));
  EXPECT_TRUE(same(x.p_value, y.p_value));
  EXPECT_EQ(x.moved, y.moved);
}

void expect_same_routing(const RoutingAnalysis& x, const RoutingAnalysis& y) {
  EXPECT_EQ(x.ids_only, y.ids_only);
  EXPECT_EQ(x.absent, y.absent);
  EXPECT_EQ(x.absent_samples, y.absent_samples);
  EXPECT_EQ(x.trace_bytes, y.trace_bytes);
  EXPECT_EQ(x.trace_tokens, y.trace_tokens);
  ASSERT_EQ(x.groups.size(), y.groups.size());
  for (size_t i = 0; i < x.groups.size(); ++i) {
    const auto &a = x.groups[i], &b = y.groups[i];
    EXPECT_EQ(a.case_id + "/" + a.variant_id, b.case_id + "/" + b.variant_id);
    EXPECT_EQ(a.n_expert, b.n_expert);
    EXPECT_EQ(a.usage, b.usage);
    EXPECT_EQ(a.entropy_na, b.entropy_na);
    EXPECT_EQ(a.load_cv_na, b.load_cv_na);
    EXPECT_EQ(a.generated_na, b.generated_na);
    EXPECT_EQ(a.repeats_compared, b.repeats_compared);
    EXPECT_EQ(a.prompt_divergent_repeats, b.prompt_divergent_repeats);
    EXPECT_EQ(a.first_prompt_divergence, b.first_prompt_divergence);
    EXPECT_EQ(a.first_generated_divergence, b.first_generated_divergence);
    EXPECT_EQ(a.first_routing_divergence, b.first_routing_divergence);
  }
  ASSERT_EQ(x.variants.size(), y.variants.size());
  for (size_t i = 0; i < x.variants.size(); ++i) {
    EXPECT_EQ(x.variants[i].jsd, y.variants[i].jsd);
    expect_same_noise(x.variants[i].noise, y.variants[i].noise);
  }
  ASSERT_EQ(x.baseline.size(), y.baseline.size());
  for (size_t i = 0; i < x.baseline.size(); ++i) {
    EXPECT_EQ(x.baseline[i].jsd, y.baseline[i].jsd);
    expect_same_noise(x.baseline[i].noise, y.baseline[i].noise);
  }
}

std::string markdown(const RunAnalysis& a, const RoutingAnalysis* r) {
  std::ostringstream os;
  render_markdown(a, os, r);
  return os.str();
}

}  // namespace

TEST(StreamingAnalysis, EqualsTheInMemoryAnalysis) {
  Fixture f = build("streaming-equal.db");
  RunAnalysis streamed = analyze_run(f.store, f.run, 2, -1);
  RunAnalysis loaded = in_memory(f.store, f.run, 2);
  // The fixture exercises what it claims to.
  ASSERT_GT(streamed.failed_samples, 0);
  ASSERT_GT(streamed.unstable, 0);
  ASSERT_TRUE(streamed.model_changed());
  ASSERT_EQ(streamed.total_samples, 24);
  EXPECT_EQ(streamed.detail_omitted, 0);
  EXPECT_EQ(streamed.detail_note(), "");

  EXPECT_EQ(report_json(streamed).dump(2), report_json(loaded).dump(2));
  EXPECT_EQ(markdown(streamed, nullptr), markdown(loaded, nullptr));
  std::ostringstream hs, hl, js, jl;
  render_html(streamed, hs);
  render_html(loaded, hl);
  EXPECT_EQ(hs.str(), hl.str());
  render_junit(streamed, js);
  render_junit(loaded, jl);
  EXPECT_EQ(js.str(), jl.str());
  // Fields no renderer prints whole.
  ASSERT_EQ(streamed.samples.size(), loaded.samples.size());
  for (size_t i = 0; i < streamed.samples.size(); ++i) {
    EXPECT_EQ(streamed.samples[i].id, loaded.samples[i].id);
    EXPECT_EQ(streamed.weighted_scores[i], loaded.weighted_scores[i]);
  }
  EXPECT_EQ(streamed.total_latency_s, loaded.total_latency_s);
  ASSERT_EQ(streamed.criteria.size(), loaded.criteria.size());
  for (size_t i = 0; i < streamed.criteria.size(); ++i) {
    EXPECT_EQ(streamed.criteria[i].outcomes, loaded.criteria[i].outcomes);
    EXPECT_EQ(streamed.criteria[i].first_fail_repeat, loaded.criteria[i].first_fail_repeat);
    EXPECT_EQ(streamed.criteria[i].first_fail_evidence, loaded.criteria[i].first_fail_evidence);
    EXPECT_EQ(streamed.criteria[i].expected, loaded.criteria[i].expected);
    expect_same_quote(streamed.criteria[i].disagreement.pass, loaded.criteria[i].disagreement.pass);
    expect_same_quote(streamed.criteria[i].disagreement.fail, loaded.criteria[i].disagreement.fail);
  }
  EXPECT_EQ(streamed.criteria_by_instability(), loaded.criteria_by_instability());
  EXPECT_EQ(streamed.stable_pass, loaded.stable_pass);
  EXPECT_EQ(streamed.stable_fail, loaded.stable_fail);
  EXPECT_EQ(streamed.unscored_criteria, loaded.unscored_criteria);
  // The verdict-first parts are exercised and equal.
  int64_t quoted = 0;
  for (const auto& c : streamed.criteria)
    if (c.disagreement.pass && c.disagreement.fail) ++quoted;
  EXPECT_EQ(quoted, streamed.unstable);
  ASSERT_FALSE(streamed.variant_deltas.empty());
  ASSERT_EQ(streamed.variant_deltas.size(), loaded.variant_deltas.size());
  for (size_t i = 0; i < streamed.variant_deltas.size(); ++i) {
    const auto &x = streamed.variant_deltas[i], &y = loaded.variant_deltas[i];
    EXPECT_EQ(x.case_id + x.variant_a + x.variant_b + x.criterion_id, y.case_id + y.variant_a + y.variant_b + y.criterion_id);
    EXPECT_EQ(x.passes_a, y.passes_a);
    EXPECT_EQ(x.passes_b, y.passes_b);
    EXPECT_EQ(x.fisher_p, y.fisher_p);
  }
  ASSERT_EQ(streamed.usage.size(), 1u);
  ASSERT_EQ(loaded.usage.size(), 1u);
  const auto &us = streamed.usage[0], &ul = loaded.usage[0];
  EXPECT_EQ(us.provider, ul.provider);
  EXPECT_EQ(us.samples, ul.samples);
  EXPECT_EQ(us.failed, ul.failed);
  EXPECT_GT(us.failed, 0);
  EXPECT_EQ(us.latency_n, ul.latency_n);
  EXPECT_EQ(us.latency_p50, ul.latency_p50);
  EXPECT_EQ(us.latency_p95, ul.latency_p95);
  EXPECT_EQ(us.latency_mean, ul.latency_mean);
  EXPECT_GT(us.latency_p95, us.latency_p50);
  EXPECT_EQ(us.tokens_n, ul.tokens_n);
  EXPECT_EQ(us.tokens_in_total, ul.tokens_in_total);
  EXPECT_EQ(us.tokens_out_total, ul.tokens_out_total);
  // Groups come in the suite's order (b-case before a-case, v2 before v1), unknown ids last.
  ASSERT_GE(streamed.groups.size(), 2u);
  EXPECT_EQ(streamed.groups[0].case_id, "b-case");
  EXPECT_EQ(streamed.groups[0].variant_id, "v2");
  EXPECT_EQ(streamed.groups.back().case_id, "zz-extra");
}

TEST(StreamingAnalysis, RoutingEqualsTheInMemoryRouting) {
  Fixture f = build("streaming-routing.db");
  RoutingAnalysis streamed = analyze_routing(f.store, f.run, f.base, 0.05, 0.9);
  auto cur = f.store.samples(f.run, true), base = f.store.samples(f.base, true);
  RoutingAnalysis loaded = analyze_routing_samples(cur, &base, 0.05, 0.9);
  loaded.baseline_run = f.base;
  ASSERT_TRUE(streamed.has_traces);
  ASSERT_EQ(streamed.groups.size(), 2u);  // a-case v2 and v1; v0-extra has no traces
  ASSERT_EQ(streamed.baseline.size(), 2u);
  ASSERT_EQ(streamed.variants.size(), 1u);
  EXPECT_EQ(streamed.trace_bytes, loaded.trace_bytes);
  EXPECT_EQ(streamed.trace_tokens, loaded.trace_tokens);
  EXPECT_TRUE(streamed.variants[0].noise.tested);
  EXPECT_TRUE(streamed.baseline[0].noise.tested);
  expect_same_routing(streamed, loaded);
  RunAnalysis a = analyze_run(f.store, f.run, 3, -1);
  EXPECT_EQ(report_json(a, &streamed).dump(2), report_json(a, &loaded).dump(2));
  EXPECT_EQ(markdown(a, &streamed), markdown(a, &loaded));
  // Without a baseline as well.
  RoutingAnalysis alone = analyze_routing(f.store, f.run, std::nullopt);
  RoutingAnalysis alone_loaded = analyze_routing_samples(cur, nullptr, 0.1, 0.8);
  EXPECT_EQ(report_json(a, &alone).dump(2), report_json(a, &alone_loaded).dump(2));
}

TEST(StreamingAnalysis, CappedDetailKeepsEveryNumber) {
  Fixture f = build("streaming-cap.db");
  RunAnalysis full = analyze_run(f.store, f.run, 3, -1);
  RunAnalysis capped = analyze_run(f.store, f.run, 3, 6);  // 24 samples in 6 groups: 1 repeat of each
  EXPECT_EQ(capped.samples.size(), 6u);
  EXPECT_EQ(capped.detail_omitted, full.total_samples - int64_t(capped.samples.size()));
  EXPECT_EQ(capped.detail_per_group, 1);
  for (const auto& s : capped.samples) EXPECT_EQ(s.repeat, 0) << s.case_id << "/" << s.variant_id;
  EXPECT_EQ(capped.weighted_scores.size(), capped.samples.size());
  EXPECT_NE(capped.detail_note().find("lists " + std::to_string(capped.samples.size()) + " of 24 samples"),
            std::string::npos)
      << capped.detail_note();
  // Everything but the per-repeat lists is the same.
  nlohmann::json jf = report_json(full), jc = report_json(capped);
  EXPECT_EQ(jc["summary"]["samples_listed"], capped.samples.size());
  jf.erase("samples");
  jc.erase("samples");
  jc["summary"].erase("samples_listed");
  jc["summary"].erase("samples_note");
  EXPECT_EQ(jf.dump(2), jc.dump(2));
  EXPECT_EQ(capped.total_latency_s, full.total_latency_s);
  std::ostringstream jf_xml, jc_xml;
  render_junit(full, jf_xml);
  render_junit(capped, jc_xml);
  EXPECT_EQ(jf_xml.str(), jc_xml.str());
  // The Markdown per-repeat tables (--detail) say how much they list.
  std::ostringstream md;
  ReportOptions detail;
  detail.detail = true;
  render_markdown(capped, md, nullptr, detail);
  EXPECT_NE(md.str().find(capped.detail_note()), std::string::npos);
  // Commands that render no samples keep none and still compare the same.
  RunAnalysis none = analyze_run(f.store, f.run, 3, 0), base = analyze_run(f.store, f.base, 3, 0);
  EXPECT_TRUE(none.samples.empty());
  EXPECT_EQ(comparison_json(compare_runs(base, none)).dump(),
            comparison_json(compare_runs(analyze_run(f.store, f.base, 3, -1), full)).dump());
  GateSpec spec;
  spec.max_unstable = 0;
  spec.min_pass_rate = 0.9;
  spec.min_weighted_score = 0.9;
  spec.max_pass_rate_drop = 0.1;
  RunAnalysis full_base = analyze_run(f.store, f.base, 3, -1);
  EXPECT_EQ(evaluate_gate(none, spec, &base).to_json().dump(), evaluate_gate(full, spec, &full_base).to_json().dump());
  EXPECT_FALSE(evaluate_gate(none, spec, &base).passed);
}

// A remote engine's run: ids-only traces whose expert count was inferred (so the repeats of a group
// differ in width), no token ids on some samples, and samples whose trace is absent with a
// routing_error (one error per group and more than 8 distinct errors in all, so the overflow onto
// the last listed error is exercised). The streamed routing reads the index of traced or erroring
// samples only; it must give what the whole run in memory gives.
TEST(StreamingAnalysis, IdsOnlyTracesAndRoutingErrorsEqualTheInMemoryRouting) {
  Store store = Store::open(testsupport::scratch_path("streaming-remote.db"));
  std::vector<int64_t> runs;
  for (int which = 0; which < 2; ++which) {
    int64_t id = store.create_run(make_run(which ? "2026-01-04T00:00:00Z" : "2026-01-03T00:00:00Z"));
    runs.push_back(id);
    std::vector<SampleRecord> batch;
    int err = 0;
    for (const std::string c : {"b-case", "a-case"})
      for (const std::string v : {"v2", "v1", "v3-extra"})
        for (int r = 0; r < 6; ++r) {
          SampleRecord s;
          s.run_id = id;
          s.case_id = c;
          s.variant_id = v;
          s.repeat = r;
          s.provider_id = "srv";  // one named provider: the streamed reads bind its id
          s.ok = true;
          s.output = "out " + std::to_string(r % 2);
          s.latency_s = 0.1 * (r + 1);
          s.prompt_tokens = 3;
          s.completion_tokens = 2;
          s.scores = {res("fmt", r % 3 ? Outcome::kPass : Outcome::kFail, r % 3 ? 1 : 0, "why", "o")};
          if (v == "v3-extra" || (r == 5 && c == "b-case")) {
            s.routing_error = "no routing payload (" + std::to_string(err++ % 11) + ")";
          } else {
            const uint32_t n_expert = uint32_t(4 + (r + which) % 3);  // inferred: largest id + 1
            auto t = moe::RoutingTrace::ids_only(2, n_expert, 2, false);
            for (int tok = 0; tok < 5; ++tok)
              for (uint32_t l = 0; l < 2; ++l) {
                uint16_t e[2] = {uint16_t((tok + l + r) % n_expert), uint16_t((tok + l + r + 1) % n_expert)};
                t.append_ids(l, e);
              }
            s.routing_trace = t.serialize();
            if (c == "a-case") s.token_ids = {7, 8};  // b-case: the server sent no token ids
          }
          batch.push_back(std::move(s));
        }
    std::reverse(batch.begin(), batch.end());
    store.insert_samples(batch);
  }
  RoutingAnalysis streamed = analyze_routing(store, runs[1], runs[0], 0.05, 0.9);
  auto cur = store.samples(runs[1], true), base = store.samples(runs[0], true);
  RoutingAnalysis loaded = analyze_routing_samples(cur, &base, 0.05, 0.9);
  loaded.baseline_run = runs[0];
  ASSERT_TRUE(streamed.ids_only);
  ASSERT_EQ(streamed.groups.size(), 4u);
  ASSERT_EQ(streamed.absent_samples, 2 * 6 + 2);  // v3-extra of both cases, repeat 5 of b-case v2 and v1
  ASSERT_EQ(streamed.absent.size(), 8u);
  EXPECT_FALSE(streamed.groups[0].entropy_na.empty());
  EXPECT_FALSE(streamed.groups[0].load_cv_na.empty());
  EXPECT_FALSE(streamed.groups[0].generated_na.empty());  // b-case: no token ids
  EXPECT_EQ(streamed.groups[0].n_expert, 6u);              // the group's widest inferred count
  expect_same_routing(streamed, loaded);
  RunAnalysis a = analyze_run(store, runs[1], 3, -1);
  ASSERT_EQ(a.total_samples, 36);
  EXPECT_EQ(report_json(a).dump(2), report_json(in_memory(store, runs[1], 3)).dump(2));
  EXPECT_EQ(report_json(a, &streamed).dump(2), report_json(a, &loaded).dump(2));
  EXPECT_EQ(markdown(a, &streamed), markdown(a, &loaded));
  std::ostringstream hs, hl;
  render_html(a, hs, &streamed);
  render_html(a, hl, &loaded);
  EXPECT_EQ(hs.str(), hl.str());
}

// A run on two providers is streamed one (case, variant, provider) group at a time, its variants
// relabelled per provider; analyze_run and analyze_routing must equal the in-memory analysis (every
// format, the side-by-side breakdown, routing against a two-provider baseline with routing errors),
// and no statistic may mix the providers. One provider id the suite does not name ("p0-extra",
// alphabetically first but met after p2 in the sample order) gets its column after the plan's.
TEST(StreamingAnalysis, TwoProvidersEqualTheInMemoryAnalysis) {
  Store store = Store::open(testsupport::scratch_path("streaming-providers.db"));
  RunRecord plan = make_run("2026-01-05T00:00:00Z");
  plan.plan.suite.providers = {plan.plan.suite.provider, plan.plan.suite.provider};
  plan.plan.suite.providers[0].id = "p2";  // suite order differs from alphabetical order
  plan.plan.suite.providers[1].id = "p1";
  plan.plan.suite.provider = plan.plan.suite.providers[0];
  std::vector<int64_t> ids;
  for (int which = 0; which < 2; ++which) {
    int64_t id = store.create_run(plan);
    ids.push_back(id);
    for (const std::string p : {"p1", "p2", "p0-extra"}) {
      auto s = samples_of(id, (p == "p1" ? 0 : 1) + which);
      if (p == "p0-extra") std::erase_if(s, [](const SampleRecord& x) { return x.case_id != "zz-extra"; });
      for (auto& x : s) {
        x.provider_id = p;
        if (x.ok && x.routing_trace.empty() && x.case_id == "b-case" && x.repeat == 2)
          x.routing_error = "no payload from " + p;  // absent traces on both providers
      }
      store.insert_samples(s);
    }
  }
  const int64_t id = ids[1];
  RunAnalysis streamed = analyze_run(store, id, 3, -1);
  RunAnalysis loaded = in_memory(store, id, 3);
  ASSERT_EQ(streamed.total_samples, 52);
  ASSERT_EQ(streamed.providers.ids, (std::vector<std::string>{"p2", "p1", "p0-extra"}));
  for (const auto& g : streamed.groups) EXPECT_NE(g.variant_id.find('@'), std::string::npos) << g.variant_id;
  EXPECT_EQ(streamed.groups[0].variant_id, "v2@p2");  // the suite's provider order within a group
  EXPECT_EQ(report_json(streamed).dump(2), report_json(loaded).dump(2));
  EXPECT_EQ(markdown(streamed, nullptr), markdown(loaded, nullptr));
  std::ostringstream hs, hl;
  render_html(streamed, hs);
  render_html(loaded, hl);
  EXPECT_EQ(hs.str(), hl.str());
  // Commands that keep no sample compare and gate the same.
  const AnalysisReads compare_reads{false, true, false};  // what `wobble compare` reads
  RunAnalysis none = analyze_run(store, id, 3, 0, compare_reads);
  RunAnalysis base_none = analyze_run(store, ids[0], 3, 0, compare_reads);
  EXPECT_EQ(comparison_json(compare_runs(base_none, none)).dump(),
            comparison_json(compare_runs(in_memory(store, ids[0], 3), loaded)).dump());
  RoutingAnalysis r = analyze_routing(store, id, ids[0], 0.05, 0.9);
  auto cur = store.samples(id, true), base = store.samples(ids[0], true);
  RoutingAnalysis rl = analyze_routing_samples(cur, &base, 0.05, 0.9);
  rl.baseline_run = ids[0];
  ASSERT_TRUE(r.has_traces);
  ASSERT_FALSE(r.baseline.empty());
  ASSERT_GT(r.absent_samples, 0);
  expect_same_routing(r, rl);
  EXPECT_EQ(report_json(streamed, &r).dump(2), report_json(loaded, &rl).dump(2));
  // Streamed JSON text, with providers, routing and absent traces, whole and --only-unstable.
  for (bool only_unstable : {false, true}) {
    ReportOptions o;
    o.only_unstable = only_unstable;
    EXPECT_EQ(streamed_json(streamed, &r, o), report_json_text(report_json(streamed, &r, o))) << only_unstable;
  }
}

// A run with judge gradings is streamed too: judge noise per group from the gradings read with it
// equals judge_noise over the whole run (one provider, then two).
TEST(StreamingAnalysis, JudgeGradingsEqualTheInMemoryJudgeNoise) {
  for (int providers : {1, 2}) {
    Store store = Store::open(testsupport::scratch_path("streaming-judge-" + std::to_string(providers) + ".db"));
    RunRecord plan = make_run("2026-01-06T00:00:00Z");
    if (providers == 2) {
      plan.plan.suite.providers = {plan.plan.suite.provider, plan.plan.suite.provider};
      plan.plan.suite.providers[0].id = "hosted";
      plan.plan.suite.providers[1].id = "local";
    }
    int64_t id = store.create_run(plan);
    for (int p = 0; p < providers; ++p) {
      auto s = samples_of(id, p);
      for (auto& x : s) {
        if (providers == 2) x.provider_id = p ? "local" : "hosted";
        if (!x.ok) continue;
        for (const auto& sc : x.scores)
          for (int k = 0; k < 3; ++k) {
            JudgeGrading g;
            g.criterion_id = sc.criterion_id;
            g.k_index = k;
            // A judge that disagrees with itself on some outputs, and one fault.
            g.verdict = (x.repeat + k + p) % 3 == 0 ? "fail" : "pass";
            if (x.repeat == 1 && k == 2) {
              g.fault = JudgeFault::kHallucinated;
              g.verdict = "";
            }
            g.cached = k == 1;
            g.raw = "{\"verdict\": \"" + g.verdict + "\"}";
            g.judge_model = "judge";
            x.judge_gradings.push_back(g);
          }
      }
      store.insert_samples(s);
    }
    RunAnalysis streamed = analyze_run(store, id, 3, -1);
    RunAnalysis loaded = in_memory(store, id, 3);
    loaded.judge = judge_noise(loaded.samples, store.judge_gradings(id));
    ASSERT_FALSE(streamed.judge.empty()) << providers;
    EXPECT_EQ(report_json(streamed).dump(2), report_json(loaded).dump(2)) << providers;
    EXPECT_EQ(markdown(streamed, nullptr), markdown(loaded, nullptr)) << providers;
    EXPECT_EQ(streamed_json(streamed), report_json_text(report_json(streamed))) << providers;  // judge section
    for (const auto& s : streamed.samples) EXPECT_TRUE(s.judge_gradings.empty());
  }
}
