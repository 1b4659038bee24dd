// The suite as JSON (the snapshot stored with every run) and back, its content hash, and the
// description of what changed between two suites.
#include <functional>
#include <stdexcept>

#include "suite/suite.h"
#include "util/sha256.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

using nlohmann::json;

// Reads j[key] when present and not null; a value of the wrong type names the field.
template <typename T>
std::optional<T> field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return std::nullopt;
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    throw std::runtime_error(where + "." + key + " has the wrong type");
  }
}

const json& object_at(const json& j, const char* key, const std::string& where) {
  static const json kEmpty = json::object();
  if (!j.contains(key) || j[key].is_null()) return kEmpty;
  if (!j[key].is_object()) throw std::runtime_error(where + "." + key + " is not an object");
  return j[key];
}

const json& array_at(const json& j, const char* key, const std::string& where) {
  static const json kEmpty = json::array();
  if (!j.contains(key) || j[key].is_null()) return kEmpty;
  if (!j[key].is_array()) throw std::runtime_error(where + "." + key + " is not an array");
  return j[key];
}

json extractor_json(const std::optional<ExtractorSpec>& e) {
  if (!e) return nullptr;
  return {{"kind", e->kind}, {"args", e->args}};
}

std::optional<ExtractorSpec> extractor_from(const json& j, const std::string& where) {
  if (j.is_null()) return std::nullopt;
  if (!j.is_object()) throw std::runtime_error(where + " is not an object");
  ExtractorSpec e;
  e.kind = field<std::string>(j, "kind", where).value_or("");
  e.args = j.contains("args") ? j["args"] : json::object();
  return e;
}

json gate_json(const GateSpec& g) {
  json gate = json::object();
  if (g.max_unstable) gate["max_unstable"] = *g.max_unstable;
  if (g.min_pass_rate) gate["min_pass_rate"] = *g.min_pass_rate;
  if (g.max_pass_rate_drop) gate["max_pass_rate_drop"] = *g.max_pass_rate_drop;
  if (g.alpha) gate["alpha"] = *g.alpha;
  if (g.max_routing_jsd) gate["max_routing_jsd"] = *g.max_routing_jsd;
  if (g.min_topk_overlap) gate["min_topk_overlap"] = *g.min_topk_overlap;
  if (g.max_provider_failures) gate["max_provider_failures"] = g.max_provider_failures->text();
  if (g.min_weighted_score) gate["min_weighted_score"] = *g.min_weighted_score;
  if (g.min_pass_hat_k) gate["min_pass_hat_k"] = *g.min_pass_hat_k;
  if (g.pass_k) gate["pass_k"] = *g.pass_k;
  return gate;
}

GateSpec gate_from(const json& j) {
  GateSpec g;
  const std::string w = "gate";
  g.max_unstable = field<int>(j, "max_unstable", w);
  g.min_pass_rate = field<double>(j, "min_pass_rate", w);
  g.max_pass_rate_drop = field<double>(j, "max_pass_rate_drop", w);
  g.alpha = field<double>(j, "alpha", w);
  g.max_routing_jsd = field<double>(j, "max_routing_jsd", w);
  g.min_topk_overlap = field<double>(j, "min_topk_overlap", w);
  g.min_weighted_score = field<double>(j, "min_weighted_score", w);
  g.min_pass_hat_k = field<double>(j, "min_pass_hat_k", w);
  g.pass_k = field<int>(j, "pass_k", w);
  if (auto t = field<std::string>(j, "max_provider_failures", w)) {
    g.max_provider_failures = FailureBudget::parse(*t);
    if (!g.max_provider_failures) throw std::runtime_error("gate.max_provider_failures is malformed: " + *t);
  }
  return g;
}

json criterion_json(const CriterionSpec& cr) {
  json j = {{"id", cr.id}, {"description", cr.description}, {"weight", cr.weight},
            {"scorer", cr.scorer}, {"args", cr.args}, {"not", cr.negate}};
  // Written only when not the default, so suites written before scopes keep their content hash.
  if (cr.scope != Scope::kAnswer) j["scope"] = scope_name(cr.scope);
  return j;
}

json variant_json(const Variant& v) {
  json vj = {{"id", v.id}, {"description", v.description}};
  if (v.prompt) vj["prompt"] = *v.prompt;
  json msgs = json::array();
  for (const auto& m : v.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
  vj["messages"] = msgs;
  return vj;
}

// What a case asks and how it is graded: the part of the snapshot the content hash covers. A
// criterion's weight is left out (it changes the weighted score, not any pass or fail), and so is
// the rubric's name.
json case_content_json(const Case& c) {
  json rub = {{"answer_extractor", extractor_json(c.rubric.answer_extractor)}};
  rub["criteria"] = json::array();
  for (const auto& cr : c.rubric.criteria) {
    json k = criterion_json(cr);
    k.erase("description");
    k.erase("weight");
    rub["criteria"].push_back(k);
  }
  return {{"id", c.id}, {"vars", c.vars}, {"tags", c.tags},
          {"answer_extractor", extractor_json(c.answer_extractor)}, {"rubric", rub}};
}

}  // namespace

SamplingSpec SamplingSpec::from_json(const json& j) {
  SamplingSpec s;
  const std::string w = "sampling";
  s.temperature = field<double>(j, "temperature", w);
  s.top_p = field<double>(j, "top_p", w);
  s.min_p = field<double>(j, "min_p", w);
  s.top_k = field<int>(j, "top_k", w);
  s.max_tokens = field<int>(j, "max_tokens", w);
  s.seed = field<uint64_t>(j, "seed", w);
  s.stop = field<std::vector<std::string>>(j, "stop", w);
  return s;
}

Sampling Sampling::from_json(const json& j) {
  return Sampling::resolve(SamplingSpec::from_json(j));
}

ProviderSpec ProviderSpec::from_json(const json& j) {
  ProviderSpec p;
  const std::string w = "provider";
  p.id = field<std::string>(j, "id", w).value_or("");
  p.kind = field<std::string>(j, "kind", w).value_or(p.kind);
  p.base_url = field<std::string>(j, "base_url", w).value_or("");
  p.model = field<std::string>(j, "model", w).value_or("");
  p.api_key_env = field<std::string>(j, "api_key_env", w).value_or("");
  p.endpoint = field<std::string>(j, "endpoint", w).value_or(p.endpoint);
  p.timeout_s = field<double>(j, "timeout_s", w).value_or(p.timeout_s);
  p.max_concurrency = field<int>(j, "max_concurrency", w).value_or(p.max_concurrency);
  p.requests_per_second = field<double>(j, "requests_per_second", w).value_or(0);
  p.max_attempts = field<int>(j, "max_attempts", w).value_or(p.max_attempts);
  p.logprobs = field<bool>(j, "logprobs", w).value_or(false);
  p.top_logprobs = field<int>(j, "top_logprobs", w).value_or(0);
  p.routing = field<std::string>(j, "routing", w).value_or("off");
  if (auto shape = field<json>(j, "routing_shape", w)) {
    p.routing_layers = field<uint32_t>(*shape, "layers", w).value_or(0);
    p.routing_top_k = field<uint32_t>(*shape, "top_k", w).value_or(0);
    p.routing_n_experts = field<uint32_t>(*shape, "n_experts", w).value_or(0);
  }
  p.circuit_breaker = field<int>(j, "circuit_breaker", w).value_or(p.circuit_breaker);
  // A run recorded before the cap existed stored outputs up to the 16 MiB response limit; resuming
  // it keeps that, so one run never mixes cut and uncut outputs.
  p.max_output_bytes = field<int64_t>(j, "max_output_bytes", w).value_or(int64_t(16) << 20);
  p.model_path = field<std::string>(j, "model_path", w).value_or("");
  p.chat_template = field<std::string>(j, "chat_template", w).value_or(p.chat_template);
  p.thinking = field<bool>(j, "thinking", w);
  p.reasoning_effort = field<std::string>(j, "reasoning_effort", w).value_or("");
  p.chat_date = field<std::string>(j, "chat_date", w).value_or("");
  p.threads = field<int>(j, "threads", w).value_or(0);
  p.trace_routing = field<bool>(j, "trace_routing", w).value_or(p.trace_routing);
  p.batch_variance = field<bool>(j, "batch_variance", w).value_or(false);
  p.sampling = SamplingSpec::from_json(object_at(j, "sampling", w));
  return p;
}

json JudgeSpec::to_json() const {
  json j = {{"provider", provider.to_json()}, {"sampling", sampling.to_json()}, {"repeats", repeats},
            {"max_concurrency", max_concurrency}, {"max_malformed_retries", max_malformed_retries}};
  // Only when the suite says so: a judge block without the key keeps the hash it always had.
  if (structured) j["structured"] = *structured;
  return j;
}

JudgeSpec JudgeSpec::from_json(const json& j) {
  JudgeSpec s;
  const std::string w = "judge";
  if (!j.is_object()) throw std::runtime_error("judge is not an object");
  s.provider = ProviderSpec::from_json(object_at(j, "provider", w));
  s.sampling = SamplingSpec::from_json(object_at(j, "sampling", w));
  s.repeats = field<int>(j, "repeats", w).value_or(s.repeats);
  s.max_concurrency = field<int>(j, "max_concurrency", w).value_or(s.max_concurrency);
  s.max_malformed_retries = field<int>(j, "max_malformed_retries", w).value_or(s.max_malformed_retries);
  s.structured = field<bool>(j, "structured", w);
  if (s.repeats < 1 || s.repeats > 25 || s.max_concurrency < 1)
    throw std::runtime_error("judge.repeats or judge.max_concurrency is out of range");
  return s;
}

json suite_to_json(const Suite& s) {
  json j;
  j["name"] = s.name;
  j["description"] = s.description;
  j["source_path"] = s.source_path;
  j["content_hash"] = s.content_hash;
  j["provider"] = s.provider.to_json();
  if (!s.providers.empty()) {
    j["providers"] = json::array();
    for (const auto& p : s.providers) j["providers"].push_back(p.to_json());
  }
  j["sampling"] = s.sampling.to_json();
  j["repeats"] = s.repeats;
  j["gate"] = gate_json(s.gate);
  if (s.judge) j["judge"] = s.judge->to_json();
  j["variants"] = json::array();
  for (const auto& v : s.variants) j["variants"].push_back(variant_json(v));
  j["cases"] = json::array();
  for (const auto& c : s.cases) {
    json cj = {{"id", c.id}, {"description", c.description}, {"vars", c.vars}, {"tags", c.tags},
               {"sampling", c.sampling.to_json()}};
    cj["repeats"] = s.repeats_for(c);
    cj["answer_extractor"] = extractor_json(c.answer_extractor);
    json rub = {{"name", c.rubric.name}, {"source_path", c.rubric.source_path},
                {"answer_extractor", extractor_json(c.rubric.answer_extractor)}};
    rub["criteria"] = json::array();
    for (const auto& cr : c.rubric.criteria) rub["criteria"].push_back(criterion_json(cr));
    cj["rubric"] = rub;
    j["cases"].push_back(cj);
  }
  return j;
}

Suite suite_from_json(const json& j) {
  if (!j.is_object()) throw std::runtime_error("suite snapshot is not an object");
  Suite s;
  s.name = field<std::string>(j, "name", "suite").value_or("");
  s.description = field<std::string>(j, "description", "suite").value_or("");
  s.source_path = field<std::string>(j, "source_path", "suite").value_or("");
  s.content_hash = field<std::string>(j, "content_hash", "suite").value_or("");
  s.provider = ProviderSpec::from_json(object_at(j, "provider", "suite"));
  for (const auto& pj : array_at(j, "providers", "suite")) {
    if (!pj.is_object()) throw std::runtime_error("suite.providers[" + std::to_string(s.providers.size()) + "] is not an object");
    s.providers.push_back(ProviderSpec::from_json(pj));
    if (s.providers.back().id.empty())
      throw std::runtime_error("suite.providers[" + std::to_string(s.providers.size() - 1) + "] has no id");
  }
  s.sampling = SamplingSpec::from_json(object_at(j, "sampling", "suite"));
  s.repeats = field<int>(j, "repeats", "suite").value_or(s.repeats);
  s.gate = gate_from(object_at(j, "gate", "suite"));
  if (j.contains("judge") && !j["judge"].is_null()) s.judge = JudgeSpec::from_json(j["judge"]);
  for (const auto& vj : array_at(j, "variants", "suite")) {
    const std::string w = "variants[" + std::to_string(s.variants.size()) + "]";
    if (!vj.is_object()) throw std::runtime_error(w + " is not an object");
    Variant v;
    v.id = field<std::string>(vj, "id", w).value_or("");
    v.description = field<std::string>(vj, "description", w).value_or("");
    v.prompt = field<std::string>(vj, "prompt", w);
    for (const auto& m : array_at(vj, "messages", w))
      v.messages.push_back({field<std::string>(m, "role", w + ".messages").value_or(""),
                            field<std::string>(m, "content", w + ".messages").value_or("")});
    s.variants.push_back(std::move(v));
  }
  for (const auto& cj : array_at(j, "cases", "suite")) {
    const std::string w = "cases[" + std::to_string(s.cases.size()) + "]";
    if (!cj.is_object()) throw std::runtime_error(w + " is not an object");
    Case c;
    c.id = field<std::string>(cj, "id", w).value_or("");
    c.description = field<std::string>(cj, "description", w).value_or("");
    c.vars = field<std::map<std::string, std::string>>(cj, "vars", w).value_or(std::map<std::string, std::string>{});
    c.tags = field<std::vector<std::string>>(cj, "tags", w).value_or(std::vector<std::string>{});
    c.sampling = SamplingSpec::from_json(object_at(cj, "sampling", w));
    c.repeats = field<int>(cj, "repeats", w);
    c.answer_extractor = extractor_from(cj.value("answer_extractor", json()), w + ".answer_extractor");
    const json& rj = object_at(cj, "rubric", w);
    c.rubric.name = field<std::string>(rj, "name", w + ".rubric").value_or("");
    c.rubric.source_path = field<std::string>(rj, "source_path", w + ".rubric").value_or("");
    c.rubric.answer_extractor = extractor_from(rj.value("answer_extractor", json()), w + ".rubric.answer_extractor");
    for (const auto& kj : array_at(rj, "criteria", w + ".rubric")) {
      const std::string kw = w + ".rubric.criteria";
      CriterionSpec cr;
      cr.id = field<std::string>(kj, "id", kw).value_or("");
      cr.description = field<std::string>(kj, "description", kw).value_or("");
      cr.weight = field<double>(kj, "weight", kw).value_or(1.0);
      cr.scorer = field<std::string>(kj, "scorer", kw).value_or("");
      cr.args = kj.contains("args") ? kj["args"] : json::object();
      cr.negate = field<bool>(kj, "not", kw).value_or(false);
      if (auto sc = field<std::string>(kj, "scope", kw)) {
        auto scope = scope_from_name(*sc);
        if (!scope) throw std::runtime_error(kw + ".scope is not answer, reasoning or raw: " + *sc);
        cr.scope = *scope;
      }
      cr.source = c.rubric.source_path;
      c.rubric.criteria.push_back(std::move(cr));
    }
    s.cases.push_back(std::move(c));
  }
  return s;
}

std::string suite_content_hash(const Suite& s) {
  json j = {{"name", s.name}, {"variants", json::array()}, {"cases", json::array()}};
  for (const auto& v : s.variants) {
    json vj = variant_json(v);
    vj.erase("description");
    j["variants"].push_back(vj);
  }
  for (const auto& c : s.cases) j["cases"].push_back(case_content_json(c));
  Sha256 h;
  h.update(dump_json(j));
  return h.hex_digest();
}

std::string describe_suite_change(const Suite& was, const Suite& now) {
  std::vector<std::string> diffs;
  if (was.name != now.name) diffs.push_back("name '" + was.name + "' -> '" + now.name + "'");
  std::map<std::string, const Variant*> vnow;
  for (const auto& v : now.variants) vnow[v.id] = &v;
  for (const auto& v : was.variants) {
    auto it = vnow.find(v.id);
    if (it == vnow.end()) diffs.push_back("variant '" + v.id + "' removed");
    else if (variant_json(v) != variant_json(*it->second)) diffs.push_back("variant '" + v.id + "' prompt changed");
  }
  if (was.variants.size() != now.variants.size() && diffs.empty()) diffs.push_back("variants added");
  std::map<std::string, const Case*> cnow;
  for (const auto& c : now.cases) cnow[c.id] = &c;
  for (const auto& c : was.cases) {
    auto it = cnow.find(c.id);
    if (it == cnow.end()) {
      diffs.push_back("case '" + c.id + "' removed");
      continue;
    }
    const Case& n = *it->second;
    if (case_content_json(c)["rubric"] != case_content_json(n)["rubric"]) diffs.push_back("case '" + c.id + "' rubric changed");
    else if (case_content_json(c) != case_content_json(n)) diffs.push_back("case '" + c.id + "' vars, tags or extractor changed");
    if (was.sampling_for(c).to_json() != now.sampling_for(n).to_json()) diffs.push_back("case '" + c.id + "' sampling changed");
    if (was.repeats_for(c) != now.repeats_for(n))
      diffs.push_back("case '" + c.id + "' repeats " + std::to_string(was.repeats_for(c)) + " -> " +
                      std::to_string(now.repeats_for(n)));
  }
  std::vector<std::string> ids_was, ids_now;
  for (const auto& p : was.run_providers()) ids_was.push_back(p.id);
  for (const auto& p : now.run_providers()) ids_now.push_back(p.id);
  if (ids_was != ids_now) {
    auto list = [](const std::vector<std::string>& ids) {
      std::string t;
      for (const auto& id : ids) t += (t.empty() ? "" : ", ") + (id.empty() ? std::string("(unnamed)") : id);
      return t;
    };
    diffs.push_back("providers " + list(ids_was) + " -> " + list(ids_now));
  } else {
    for (size_t i = 1; i < was.providers.size(); ++i)  // the first is compared below as `provider`
      if (was.providers[i].to_json() != now.providers[i].to_json())
        diffs.push_back("provider '" + was.providers[i].id + "' changed");
  }
  json pw = was.provider.to_json(), pn = now.provider.to_json();
  if (pw != pn && ids_was == ids_now) {
    std::string which;
    for (auto it = pw.begin(); it != pw.end(); ++it)
      if (!pn.contains(it.key()) || pn[it.key()] != it.value()) which += (which.empty() ? "" : ", ") + it.key();
    diffs.push_back("provider changed (" + (which.empty() ? std::string("kind") : which) + ")");
  }
  if (diffs.empty()) return "";
  std::string out;
  for (size_t i = 0; i < diffs.size() && i < 4; ++i) out += (i ? "; " : "") + diffs[i];
  if (diffs.size() > 4) out += "; and " + std::to_string(diffs.size() - 4) + " more";
  return out;
}

std::optional<FailureBudget> FailureBudget::parse(const std::string& text) {
  if (text.empty()) return std::nullopt;
  FailureBudget b;
  std::string num = text;
  if (num.back() == '%') {
    b.share = true;
    num.pop_back();
  }
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(num, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != num.size() || !(v >= 0)) return std::nullopt;
  if (b.share) {
    if (v > 100) return std::nullopt;
    b.value = v / 100.0;
  } else {
    if (v != double(int64_t(v)) || v > 1e12) return std::nullopt;  // a count is a whole number
    b.value = v;
  }
  return b;
}

std::string FailureBudget::text() const {
  if (!share) return std::to_string(int64_t(value));
  std::string s = std::to_string(value * 100.0);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + "%";
}

bool FailureBudget::allows(int64_t failed, int64_t planned) const {
  if (!share) return double(failed) <= value;
  return planned > 0 ? double(failed) <= value * double(planned) + 1e-9 : failed == 0;
}

}  // namespace wobble
