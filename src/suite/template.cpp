// {{var}} substitution for prompts and expected values.
#include <cctype>

#include "suite/suite.h"
#include "util/error.h"
#include "util/url.h"

namespace wobble {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string render_template(const std::string& tmpl, const std::map<std::string, std::string>& vars,
                            const std::string& where) {
  std::string out;
  out.reserve(tmpl.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("{{", i);
    if (open == std::string::npos) {
      out.append(tmpl, i, std::string::npos);
      break;
    }
    out.append(tmpl, i, open - i);
    size_t close = tmpl.find("}}", open + 2);
    if (close == std::string::npos)
      throw ConfigError(where, 0, "", "unterminated '{{' in template");
    std::string name = trim(tmpl.substr(open + 2, close - open - 2));
    auto it = vars.find(name);
    if (it == vars.end())
      throw ConfigError(where, 0, "", "template uses '{{" + name + "}}' but the case has no var '" + name + "'");
    out += it->second;
    i = close + 2;
  }
  return out;
}

std::string RenderedPrompt::as_text() const {
  if (prompt) return *prompt;
  std::string s;
  for (const auto& m : messages) {
    if (!s.empty()) s += "\n";
    s += "[" + m.role + "]\n" + m.content;
  }
  return s;
}

RenderedPrompt render_prompt(const Variant& v, const Case& c) {
  RenderedPrompt r;
  std::string where = "variant '" + v.id + "' for case '" + c.id + "'";
  if (v.prompt) {
    r.prompt = render_template(*v.prompt, c.vars, where);
  } else {
    for (const auto& m : v.messages) r.messages.push_back({m.role, render_template(m.content, c.vars, where)});
  }
  return r;
}

SamplingSpec SamplingSpec::overlaid_with(const SamplingSpec& over) const {
  SamplingSpec s = *this;
  if (over.temperature) s.temperature = over.temperature;
  if (over.top_p) s.top_p = over.top_p;
  if (over.min_p) s.min_p = over.min_p;
  if (over.top_k) s.top_k = over.top_k;
  if (over.max_tokens) s.max_tokens = over.max_tokens;
  if (over.seed) s.seed = over.seed;
  if (over.stop) s.stop = over.stop;
  return s;
}

nlohmann::json SamplingSpec::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (temperature) j["temperature"] = *temperature;
  if (top_p) j["top_p"] = *top_p;
  if (min_p) j["min_p"] = *min_p;
  if (top_k) j["top_k"] = *top_k;
  if (max_tokens) j["max_tokens"] = *max_tokens;
  if (seed) j["seed"] = *seed;
  if (stop) j["stop"] = *stop;
  return j;
}

Sampling Sampling::resolve(const SamplingSpec& s) {
  Sampling r;
  r.temperature = s.temperature.value_or(0.0);
  r.top_p = s.top_p.value_or(1.0);
  r.min_p = s.min_p.value_or(0.0);
  r.top_k = s.top_k.value_or(0);
  r.max_tokens = s.max_tokens.value_or(256);
  r.seed = s.seed.value_or(0);
  r.stop = s.stop.value_or(std::vector<std::string>{});
  return r;
}

nlohmann::json Sampling::to_json() const {
  return {{"temperature", temperature}, {"top_p", top_p}, {"min_p", min_p}, {"top_k", top_k},
          {"max_tokens", max_tokens}, {"seed", seed}, {"stop", stop}};
}

nlohmann::json ProviderSpec::to_json() const {
  nlohmann::json j = {{"kind", kind}};
  if (!id.empty()) j["id"] = id;  // absent for a single unnamed provider, as before ids existed
  if (kind == "openai") {
    j["base_url"] = url_without_userinfo(base_url);  // credentials never stored (util/url.h)
    j["model"] = model;
    j["api_key_env"] = api_key_env;  // the variable's name only; the key is never stored
    j["endpoint"] = endpoint;
    j["timeout_s"] = timeout_s;
    j["max_concurrency"] = max_concurrency;
    j["requests_per_second"] = requests_per_second;
    j["max_attempts"] = max_attempts;
    j["logprobs"] = logprobs;
    j["top_logprobs"] = top_logprobs;
    if (routing != "off") {  // absent when off, so snapshots of suites without it are unchanged
      j["routing"] = routing;
      j["routing_shape"] = {{"layers", routing_layers}, {"top_k", routing_top_k}, {"n_experts", routing_n_experts}};
    }
  } else {
    j["model_path"] = model_path;
    j["chat_template"] = chat_template;
    // Absent when unset, so snapshots of suites without them are unchanged.
    if (thinking) j["thinking"] = *thinking;
    if (!reasoning_effort.empty()) j["reasoning_effort"] = reasoning_effort;
    if (!chat_date.empty()) j["chat_date"] = chat_date;
    j["threads"] = threads;
    j["max_concurrency"] = max_concurrency;
    j["trace_routing"] = trace_routing;
    // Only when on, so snapshots of suites without it are unchanged; `batch` does not change
    // results and is not recorded.
    if (batch_variance) j["batch_variance"] = true;
  }
  j["circuit_breaker"] = circuit_breaker;
  j["max_output_bytes"] = max_output_bytes;
  if (auto sj = sampling.to_json(); !sj.empty()) j["sampling"] = sj;
  return j;
}

}  // namespace wobble
