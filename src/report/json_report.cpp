#include <algorithm>
#include <cmath>
#include <iterator>
#include <ostream>
#include <set>

#include "report/judge_report.h"
#include "report/report.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

nlohmann::json num(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

nlohmann::json quote_json(const std::optional<Quote>& q) {
  if (!q) return nullptr;
  nlohmann::json j = {{"repeat", q->repeat},         {"sample_id", q->sample_id}, {"text", q->text},
                      {"from_evidence", q->from_evidence}, {"reason", q->reason},      {"expected", q->expected}};
  if (!q->source.empty()) j["source"] = q->source;  // only for outputs with a thinking part
  return j;
}

nlohmann::json criterion_json(const CriterionStability& c) {
  nlohmann::json j = {{"case", c.case_id}, {"variant", c.variant_id}, {"criterion", c.criterion_id},
                      {"n", c.n}, {"passes", c.passes}, {"fails", c.fails}, {"unscored", c.unscored},
                      {"pass_rate", num(c.pass_rate)}, {"wilson_lo", num(c.wilson.lo)},
                      {"wilson_hi", num(c.wilson.hi)}, {"k", c.k}, {"pass_at_k", num(c.pass_at_k)},
                      {"pass_hat_k", num(c.pass_hat_k)}, {"verdict", verdict_name(c.verdict)},
                      {"flips", c.flips}, {"numeric", c.numeric}, {"expected", c.expected},
                      {"score", {{"mean", num(c.score.mean)}, {"sd", num(c.score.sd)}, {"min", num(c.score.min)},
                                 {"max", num(c.score.max)}}},
                      {"outcomes", c.outcomes}};
  if (c.verdict == Verdict::kUnstable)
    j["disagreement"] = {{"pass", quote_json(c.disagreement.pass)}, {"fail", quote_json(c.disagreement.fail)}};
  return j;
}

// The order a reader (or `jq` without -S) meets the report in: the answer first, raw samples last.
constexpr const char* kKeyOrder[] = {"verdict", "alerts", "summary", "criteria", "variant_deltas", "usage",
                                     "across", "groups", "failures", "routing", "run", "samples"};

}  // namespace

std::string report_json_text(const nlohmann::json& j) {
  // Each value is dumped on its own and indented one level: JSON strings hold no raw newline, so
  // re-indenting after every newline cannot touch data.
  std::string out = "{";
  bool first = true;
  auto emit = [&](const std::string& key, const nlohmann::json& v) {
    std::string body = dump_json(v, 2), indented;
    for (char c : body) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    out += std::string(first ? "" : ",") + "\n  " + dump_json(nlohmann::json(key)) + ": " + indented;
    first = false;
  };
  for (const char* k : kKeyOrder)
    if (j.contains(k)) emit(k, j.at(k));
  for (const auto& [k, v] : j.items())
    if (std::find_if(std::begin(kKeyOrder), std::end(kKeyOrder), [&](const char* x) { return k == x; }) ==
        std::end(kKeyOrder))
      emit(k, v);
  return out + "\n}";
}

namespace {

// Receives a report one top-level key at a time, in the order the text shows them, and the large
// arrays one element at a time: TreeSink assembles the nlohmann::json tree (report_json), TextSink
// writes the text report_json_text would make of that tree as it goes (write_report_json), so the
// document is never whole in memory.
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  virtual void value(const std::string& key, const nlohmann::json& v) = 0;
  virtual void begin_array(const std::string& key) = 0;
  virtual void element(const nlohmann::json& v) = 0;
  virtual void end_array() = 0;
  // Object `key`: head's members, then `array_key` (which sorts after all of them, as nlohmann::json
  // orders keys) holding the element()s up to end_array().
  virtual void begin_array_in(const std::string& key, const nlohmann::json& head, const std::string& array_key) = 0;
};

class TreeSink : public ReportSink {
 public:
  explicit TreeSink(nlohmann::json& j) : j_(j) {}
  void value(const std::string& key, const nlohmann::json& v) override { j_[key] = v; }
  void begin_array(const std::string& key) override {
    key_ = key;
    j_[key] = nlohmann::json::array();
  }
  void element(const nlohmann::json& v) override { (in_ ? j_[key_][in_key_] : j_[key_]).push_back(v); }
  void end_array() override { in_ = false; }
  void begin_array_in(const std::string& key, const nlohmann::json& head, const std::string& array_key) override {
    key_ = key;
    in_key_ = array_key;
    in_ = true;
    j_[key] = head;
    j_[key][array_key] = nlohmann::json::array();
  }

 private:
  nlohmann::json& j_;
  std::string key_, in_key_;
  bool in_ = false;
};

// `text` with every line after the first indented by `pad` (JSON strings hold no raw newline, so
// this touches no data).
void write_indented(std::ostream& os, const std::string& text, const char* pad) {
  size_t from = 0;
  for (size_t nl; (nl = text.find('\n', from)) != std::string::npos; from = nl + 1)
    os.write(text.data() + from, std::streamsize(nl + 1 - from)) << pad;
  os.write(text.data() + from, std::streamsize(text.size() - from));
}

class TextSink : public ReportSink {
 public:
  explicit TextSink(std::ostream& os) : os_(os) { os_ << "{"; }
  void value(const std::string& key, const nlohmann::json& v) override {
    write_key(key);
    write_indented(os_, dump_json(v, 2), "  ");
  }
  void begin_array(const std::string& key) override {
    write_key(key);
    elements_ = 0;
    pad_ = "    ";
  }
  void element(const nlohmann::json& v) override {
    os_ << (elements_++ ? "," : "[") << "\n" << pad_;
    write_indented(os_, dump_json(v, 2), pad_.c_str());
  }
  void end_array() override {
    if (elements_) os_ << "\n" << pad_.substr(2) << "]";
    else os_ << "[]";
    if (pad_.size() > 4) os_ << "\n  }";  // the object begin_array_in opened
  }
  void begin_array_in(const std::string& key, const nlohmann::json& head, const std::string& array_key) override {
    write_key(key);
    // head's text without its closing "\n}", then the array as its last member.
    std::string text = head.empty() ? std::string("{") : dump_json(head, 2);
    if (!head.empty()) text.resize(text.size() - 2);
    write_indented(os_, text, "  ");
    os_ << (head.empty() ? "" : ",") << "\n    " << dump_json(nlohmann::json(array_key)) << ": ";
    elements_ = 0;
    pad_ = "      ";
  }
  void finish() { os_ << "\n}"; }

 private:
  void write_key(const std::string& key) {
    os_ << (first_ ? "" : ",") << "\n  " << dump_json(nlohmann::json(key)) << ": ";
    first_ = false;
  }
  std::ostream& os_;
  bool first_ = true;
  size_t elements_ = 0;
  std::string pad_;  // indentation of the current array's elements
};

// The report, key by key in kKeyOrder and then the keys it does not name in alphabetical order
// (nlohmann::json's), as report_json_text orders them.
void build_report(const RunAnalysis& a, const RoutingAnalysis* routing, const ReportOptions& opts, ReportSink& out) {
  std::set<std::pair<std::string, std::string>> keep;  // --only-unstable: groups with an unstable criterion
  for (const auto& c : a.criteria)
    if (c.verdict == Verdict::kUnstable) keep.insert({c.case_id, c.variant_id});
  auto shown = [&](const std::string& c, const std::string& v) { return !opts.only_unstable || keep.count({c, v}); };
  const std::vector<size_t> by_instability = a.criteria_by_instability();
  {
    nlohmann::json v;
    const auto gate = suite_gate(a);
    v["gate"] = gate ? gate->to_json() : nlohmann::json(nullptr);
    v["counts"] = {{"unstable", a.unstable}, {"stable_fail", a.stable_fail}, {"stable_pass", a.stable_pass},
                   {"unscored", a.unscored_criteria}, {"criteria", a.criteria.size()},
                   {"provider_failures", a.failed_samples}, {"samples", a.total_samples}};
    v["only_unstable"] = opts.only_unstable;
    out.begin_array_in("verdict", v, "unstable");  // sorts after counts, gate and only_unstable
    for (size_t i : by_instability)
      if (a.criteria[i].verdict == Verdict::kUnstable) out.element(criterion_json(a.criteria[i]));
    out.end_array();
  }
  out.value("alerts", a.alerts);
  {
    nlohmann::json summary = {{"samples", a.total_samples}, {"failed_samples", a.failed_samples},
                              {"unstable", a.unstable}, {"scored", a.scored}, {"passes", a.passes},
                              {"pass_rate", num(a.overall_pass_rate)}, {"report_k", a.report_k}};
    summary["weighted_score"] = {{"n", a.weighted.n}, {"mean", a.weighted.n ? num(a.weighted.mean) : nullptr},
                                 {"min", a.weighted.n ? num(a.weighted.min) : nullptr},
                                 {"max", a.weighted.n ? num(a.weighted.max) : nullptr}};
    // Above kDetailSamples the array lists the first repeats of each group; say so in the document.
    if (a.detail_omitted > 0) {
      summary["samples_listed"] = a.samples.size();
      summary["samples_note"] = a.detail_note();
    }
    out.value("summary", summary);
  }
  out.begin_array("criteria");  // most unstable first, then stable-fail, unscored, stable-pass
  for (size_t i : by_instability)
    if (!opts.only_unstable || a.criteria[i].verdict == Verdict::kUnstable) out.element(criterion_json(a.criteria[i]));
  out.end_array();
  out.begin_array("variant_deltas");
  for (const auto& d : a.variant_deltas) {
    if (opts.only_unstable && d.verdict_a != Verdict::kUnstable && d.verdict_b != Verdict::kUnstable) continue;
    out.element({{"case", d.case_id}, {"variant_a", d.variant_a}, {"variant_b", d.variant_b},
                 {"criterion", d.criterion_id}, {"n_a", d.n_a}, {"passes_a", d.passes_a},
                 {"n_b", d.n_b}, {"passes_b", d.passes_b}, {"pass_rate_a", num(d.pass_rate_a)},
                 {"pass_rate_b", num(d.pass_rate_b)}, {"delta", num(d.delta)},
                 {"fisher_p", num(d.fisher_p)}, {"verdict_a", verdict_name(d.verdict_a)},
                 {"verdict_b", verdict_name(d.verdict_b)}});
  }
  out.end_array();
  out.begin_array("usage");
  for (const auto& u : a.usage)
    out.element({{"provider", u.provider}, {"samples", u.samples}, {"failed", u.failed},
                 {"latency_n", u.latency_n}, {"latency_p50_s", num(u.latency_p50)},
                 {"latency_p95_s", num(u.latency_p95)}, {"latency_mean_s", num(u.latency_mean)},
                 {"tokens_n", u.tokens_n}, {"tokens_in_mean", num(u.tokens_in_mean)},
                 {"tokens_out_mean", num(u.tokens_out_mean)}, {"tokens_in_total", u.tokens_in_total},
                 {"tokens_out_total", u.tokens_out_total}});
  out.end_array();
  out.begin_array("across");
  for (const auto& x : a.across)
    out.element({{"criterion", x.criterion_id}, {"groups", x.groups}, {"unstable", x.unstable},
                 {"stable_pass", x.stable_pass}, {"stable_fail", x.stable_fail},
                 {"fleiss_kappa", num(x.fleiss_kappa)}, {"kappa_subjects", x.kappa_subjects},
                 {"kappa_raters", x.kappa_raters}});
  out.end_array();
  out.begin_array("groups");
  for (const auto& g : a.groups) {
    if (!shown(g.case_id, g.variant_id)) continue;
    nlohmann::json gj = {{"case", g.case_id}, {"variant", g.variant_id}, {"samples", g.samples},
                         {"failed", g.failed}, {"unique_outputs", g.unique_outputs}, {"tar_r", g.tar_r}};
    gj["tar_a"] = g.tar_a ? nlohmann::json(*g.tar_a) : nlohmann::json(nullptr);
    gj["unique_answers"] = g.unique_answers;
    gj["weighted_score"] = {{"n", g.weighted.n}, {"mean", g.weighted.n ? num(g.weighted.mean) : nullptr},
                            {"sd", g.weighted.n ? num(g.weighted.sd) : nullptr},
                            {"min", g.weighted.n ? num(g.weighted.min) : nullptr},
                            {"max", g.weighted.n ? num(g.weighted.max) : nullptr}};
    const auto& d = g.divergence;
    gj["divergence"] = d.diverged ? nlohmann::json{{"repeat_a", d.repeat_a}, {"repeat_b", d.repeat_b},
                                                   {"byte_offset", d.byte_offset}, {"char_offset", d.char_offset},
                                                   {"context", d.context}, {"continuation_a", d.continuation_a},
                                                   {"continuation_b", d.continuation_b}}
                                  : nlohmann::json(nullptr);
    if (d.diverged && d.token_a && d.token_b) {
      gj["divergence"]["token_a"] = {{"text", d.token_a->text}, {"prob", num(d.token_a->prob)}};
      gj["divergence"]["token_b"] = {{"text", d.token_b->text}, {"prob", num(d.token_b->prob)}};
      gj["divergence"]["prob_b_under_a"] = d.prob_b_under_a ? num(*d.prob_b_under_a) : nlohmann::json(nullptr);
    }
    if (g.reasoning) {
      const auto& r = *g.reasoning;
      auto div = [](const Divergence& d) {
        return d.diverged ? nlohmann::json{{"repeat_a", d.repeat_a}, {"repeat_b", d.repeat_b},
                                           {"byte_offset", d.byte_offset}, {"char_offset", d.char_offset}}
                          : nlohmann::json(nullptr);
      };
      gj["reasoning"] = {{"samples", r.samples}, {"unclosed", r.unclosed}, {"unique_answers", r.unique_answers},
                         {"answer_divergence", div(r.answer_divergence)}, {"unique_reasoning", r.unique_reasoning},
                         {"reasoning_divergence", div(r.reasoning_divergence)},
                         {"reasoning_chars", {{"min", num(r.reasoning_chars.min)}, {"mean", num(r.reasoning_chars.mean)},
                                              {"max", num(r.reasoning_chars.max)}}},
                         {"same_answer_different_reasoning", r.same_answer_different_reasoning()}};
    }
    out.element(gj);
  }
  out.end_array();
  out.begin_array("failures");
  for (const auto& f : a.failures)
    out.element({{"case", f.case_id}, {"variant", f.variant_id}, {"repeat", f.repeat},
                 {"error", f.error}, {"attempts", f.attempts}});
  out.end_array();
  if (routing && routing->reportable()) out.value("routing", routing_json(*routing));
  {
    const RunRecord& r = a.run;
    nlohmann::json run = {{"id", r.id}, {"suite", r.suite_name}, {"suite_path", r.suite_path},
                          {"suite_hash", r.suite_hash}, {"model_id", r.model_id}, {"provider", r.provider},
                          {"sampling", r.sampling},
                          {"repeats", r.plan.uniform_repeats() ? nlohmann::json(r.plan.suite.repeats) : nlohmann::json(nullptr)},
                          {"tool_version", r.tool_version}, {"started_at", r.started_at}, {"finished_at", r.finished_at},
                          {"status", r.status}, {"shard", r.shard}, {"expected_samples", r.expected_samples}};
    nlohmann::json per_case = nlohmann::json::object();
    for (const auto& c : r.plan.suite.cases) per_case[c.id] = r.plan.suite.repeats_for(c);
    run["repeats_per_case"] = per_case;
    run["overrides"] = r.plan.overrides;
    // Each provider's effective sampling, when it differs by provider (see provider_sampling).
    if (auto ps = provider_sampling(r); !ps.empty()) {
      nlohmann::json by_provider = nlohmann::json::object();
      for (const auto& [id, sampling] : ps) by_provider[id] = nlohmann::json::parse(sampling);
      run["provider_sampling"] = by_provider;
    }
    run["reported_models"] = a.reported_models;
    out.value("run", run);
  }
  out.begin_array("samples");
  for (size_t i = 0; i < a.samples.size(); ++i) {
    const SampleRecord& s = a.samples[i];
    if (!shown(s.case_id, s.variant_id)) continue;
    nlohmann::json sj = {{"id", s.id}, {"case", s.case_id}, {"variant", s.variant_id}, {"repeat", s.repeat},
                         {"ok", s.ok}, {"output", s.output}, {"finish_reason", s.finish_reason},
                         {"latency_s", s.latency_s}, {"error", s.error}, {"seed", s.seed},
                         {"prompt_tokens", s.prompt_tokens}, {"completion_tokens", s.completion_tokens},
                         {"attempts", s.attempts.size()}};
    const auto weighted = a.weighted_score_of(&s);
    sj["weighted_score"] = weighted ? num(*weighted) : nlohmann::json(nullptr);
    sj["extracted_answer"] = s.extracted_answer ? nlohmann::json(*s.extracted_answer) : nlohmann::json(nullptr);
    sj["model_reported"] = s.model_reported;
    if (s.output_original_bytes >= 0) sj["output_original_bytes"] = s.output_original_bytes;
    if (auto lp = a.logprobs.find(s.id); lp != a.logprobs.end())
      sj["logprobs"] = {{"tokens", lp->second.tokens}, {"mean", num(lp->second.mean)}, {"min", num(lp->second.min)}};
    else
      sj["logprobs"] = nullptr;
    // Only outputs with a thinking part carry the parts and say which text each evidence span points
    // into; without one the output is the answer, and reports of such runs are unchanged.
    const bool parts = s.ok && s.reasoning_form != ReasoningForm::kNone;
    if (parts)
      sj["reasoning"] = {{"form", reasoning_form_name(s.reasoning_form)}, {"text", s.reasoning},
                         {"closed", s.reasoning_closed}, {"answer", s.answer}};
    sj["scores"] = nlohmann::json::array();
    for (const auto& c : s.scores) {
      nlohmann::json ev = {{"start", c.evidence.start}, {"end", c.evidence.end}, {"text", c.evidence.text}};
      if (parts) ev["in"] = scope_name(c.scope);
      sj["scores"].push_back({{"criterion", c.criterion_id}, {"outcome", outcome_name(c.outcome)}, {"score", c.score},
                              {"evidence", ev}, {"reason", c.reason}, {"expected", c.expected}});
    }
    out.element(sj);
  }
  out.end_array();
  // Keys kKeyOrder does not name, alphabetically.
  if (!a.judge.empty()) out.value("judge", judge_json(a.judge));
  if (!a.providers.empty()) out.value("providers", providers_json(a.providers));
  if (a.run.plan.source_run_id > 0) out.value("source_run_id", a.run.plan.source_run_id);
}

}  // namespace

nlohmann::json report_json(const RunAnalysis& a, const RoutingAnalysis* routing, const ReportOptions& opts) {
  nlohmann::json j;
  TreeSink sink(j);
  build_report(a, routing, opts, sink);
  return j;
}

void write_report_json(std::ostream& os, const RunAnalysis& a, const RoutingAnalysis* routing,
                       const ReportOptions& opts) {
  TextSink sink(os);
  build_report(a, routing, opts, sink);
  sink.finish();
}

}  // namespace wobble
