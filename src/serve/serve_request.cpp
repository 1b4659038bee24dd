#include "serve/serve_request.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "util/text_policy.h"

namespace wobble::serve {

nlohmann::json error_body(const ApiError& e) {
  nlohmann::json err = {{"message", e.message}, {"type", e.type}};
  err["param"] = e.param.empty() ? nlohmann::json() : nlohmann::json(e.param);
  err["code"] = e.code.empty() ? nlohmann::json() : nlohmann::json(e.code);
  return {{"error", err}};
}

namespace {

constexpr size_t kMaxDepth = 64;

// Deepest nesting of arrays and objects, counted outside strings, stopping once past `limit`: a
// body of a million '[' must be refused before a parser or a destructor recurses into it.
size_t nesting_depth(std::string_view s, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

ApiError bad(const std::string& param, const std::string& message, const std::string& code = "") {
  ApiError e;
  e.param = param;
  e.message = message;
  e.code = code;
  return e;
}

ApiError unsupported(const std::string& param, const std::string& what) {
  return bad(param, what + " is not supported by wobble serve", "unsupported_parameter");
}

// A field's value, or null when absent (absent and null mean the same for every field here).
const nlohmann::json& field(const nlohmann::json& j, const char* name) {
  static const nlohmann::json kNull;
  auto it = j.find(name);
  return it == j.end() ? kNull : *it;
}

std::optional<ApiError> get_bool(const nlohmann::json& j, const char* name, bool& out) {
  const auto& v = field(j, name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_boolean()) return bad(name, std::string("'") + name + "' must be a boolean");
  out = v.get<bool>();
  return std::nullopt;
}

std::string fmt_number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// A finite number in [lo, hi].
std::optional<ApiError> get_number(const nlohmann::json& j, const char* name, double lo, double hi,
                                   std::optional<double>& out) {
  const auto& v = field(j, name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_number()) return bad(name, std::string("'") + name + "' must be a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    return bad(name, std::string("'") + name + "' must be a number between " + fmt_number(lo) + " and " + fmt_number(hi));
  out = d;
  return std::nullopt;
}

// An integer in [lo, hi]; 3.0 is not an integer here (OpenAI's API refuses it too).
std::optional<ApiError> get_int(const nlohmann::json& j, const char* name, int64_t lo, int64_t hi,
                                std::optional<int64_t>& out) {
  const auto& v = field(j, name);
  if (v.is_null()) return std::nullopt;
  const std::string range = " between " + std::to_string(lo) + " and " + std::to_string(hi);
  if (!v.is_number_integer()) return bad(name, std::string("'") + name + "' must be an integer" + range);
  bool in_range = v.is_number_unsigned()
                      ? v.get<uint64_t>() <= uint64_t(hi) && (lo <= 0 || v.get<uint64_t>() >= uint64_t(lo))
                      : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!in_range)
    return bad(name, std::string("'") + name + "' must be an integer" + range);
  out = v.get<int64_t>();
  return std::nullopt;
}

// Message content: a string, or an array of {"type": "text", "text": ...} parts joined.
std::optional<ApiError> message_text(const nlohmann::json& content, const std::string& param, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return bad(param, "'" + param + "' must be a string or an array of text parts");
  for (size_t i = 0; i < content.size(); ++i) {
    const auto& part = content[i];
    std::string p = param + "[" + std::to_string(i) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return bad(p, "'" + p + "' must be an object with a string 'type'");
    if (part["type"] != "text") return unsupported(p + ".type", "content of type '" + clip_utf8(part["type"].get<std::string>(), 40) + "'");
    if (!part.contains("text") || !part["text"].is_string()) return bad(p + ".text", "'" + p + ".text' must be a string");
    out += part["text"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> parse_messages(const nlohmann::json& j, std::vector<moe::ChatMessage>& out) {
  const auto& msgs = field(j, "messages");
  if (msgs.is_null()) return bad("messages", "'messages' is required");
  if (!msgs.is_array() || msgs.empty()) return bad("messages", "'messages' must be a non-empty array");
  for (size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad(p, "'" + p + "' must be an object");
    const auto& role = field(m, "role");
    if (!role.is_string()) return bad(p + ".role", "'" + p + ".role' must be a string");
    std::string r = role.get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for the system turn
    if (r != "system" && r != "user" && r != "assistant")
      return unsupported(p + ".role", "role '" + clip_utf8(role.get<std::string>(), 40) + "'");
    const auto& content = field(m, "content");
    std::string text;
    if (!(content.is_null() && r == "assistant"))
      if (auto e = message_text(content, p + ".content", text)) return e;
    if (m.contains("tool_calls") && !m["tool_calls"].is_null()) return unsupported(p + ".tool_calls", "tool calls");
    out.push_back({r, std::move(text)});
  }
  return std::nullopt;
}

std::optional<ApiError> parse_stop(const nlohmann::json& j, const RequestLimits& limits, std::vector<std::string>& out) {
  const auto& v = field(j, "stop");
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& s : v) {
      if (!s.is_string()) return bad("stop", "'stop' must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    return bad("stop", "'stop' must be a string or an array of strings");
  }
  if (out.size() > limits.max_stop)
    return bad("stop", "'stop' has " + std::to_string(out.size()) + " strings; at most " + std::to_string(limits.max_stop));
  for (const auto& s : out)
    if (s.size() > limits.max_stop_bytes)
      return bad("stop", "a stop string is longer than " + std::to_string(limits.max_stop_bytes) + " bytes");
  return std::nullopt;
}

// Fields that change the output and that the engine cannot apply.
std::optional<ApiError> refuse_unsupported(const nlohmann::json& j, Endpoint endpoint) {
  std::optional<int64_t> n;
  if (auto e = get_int(j, "n", 1, 1, n)) return unsupported("n", "n other than 1");
  for (const char* p : {"presence_penalty", "frequency_penalty"}) {
    const auto& v = field(j, p);
    if (v.is_null()) continue;
    if (!v.is_number()) return bad(p, std::string("'") + p + "' must be a number");
    if (v.get<double>() != 0) return unsupported(p, std::string("a non-zero ") + p);
  }
  const auto& rp = field(j, "repetition_penalty");
  if (!rp.is_null() && !(rp.is_number() && rp.get<double>() == 1)) return unsupported("repetition_penalty", "repetition_penalty other than 1");
  const auto& bias = field(j, "logit_bias");
  if (!bias.is_null() && !(bias.is_object() && bias.empty())) return unsupported("logit_bias", "logit_bias");
  const auto& tools = field(j, "tools");
  if (!tools.is_null() && !(tools.is_array() && tools.empty())) return unsupported("tools", "tools");
  const auto& fmt = field(j, "response_format");
  if (!fmt.is_null() && !(fmt.is_object() && field(fmt, "type") == "text"))
    return unsupported("response_format", "a response_format other than text");
  if (endpoint == Endpoint::kCompletions) {
    bool echo = false;
    if (auto e = get_bool(j, "echo", echo)) return e;
    if (echo) return unsupported("echo", "echo");
    std::optional<int64_t> best_of;
    if (auto e = get_int(j, "best_of", 1, 1, best_of)) return unsupported("best_of", "best_of other than 1");
    const auto& suffix = field(j, "suffix");
    if (!suffix.is_null() && !(suffix.is_string() && suffix.get<std::string>().empty())) return unsupported("suffix", "suffix");
  }
  return std::nullopt;
}

}  // namespace

ParsedRequest parse_request(std::string_view body, Endpoint endpoint, const RequestLimits& limits) {
  if (nesting_depth(body, kMaxDepth) > kMaxDepth)
    return bad("", "the request body nests arrays and objects deeper than " + std::to_string(kMaxDepth) + " levels");
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("", "the request body is not valid JSON");
  if (!j.is_object()) return bad("", "the request body must be a JSON object");

  ServeRequest r;
  r.endpoint = endpoint;
  const auto& model = field(j, "model");
  if (!model.is_null() && !model.is_string()) return bad("model", "'model' must be a string");
  if (model.is_string()) r.model = model.get<std::string>();
  if (auto e = refuse_unsupported(j, endpoint)) return *e;

  if (endpoint == Endpoint::kChat) {
    if (auto e = parse_messages(j, r.messages)) return *e;
  } else {
    const auto& p = field(j, "prompt");
    if (p.is_string()) r.prompt = p.get<std::string>();
    else if (p.is_array() && p.size() == 1 && p[0].is_string()) r.prompt = p[0].get<std::string>();
    else if (p.is_null()) return bad("prompt", "'prompt' is required");
    else if (p.is_array() && p.size() > 1) return unsupported("prompt", "more than one prompt per request");
    else return bad("prompt", "'prompt' must be a string (token-id prompts are not supported)");
  }

  std::optional<double> temperature, top_p, min_p;
  if (auto e = get_number(j, "temperature", 0, 100, temperature)) return *e;
  if (auto e = get_number(j, "top_p", 0, 1, top_p)) return *e;
  if (top_p && *top_p <= 0) return bad("top_p", "'top_p' must be greater than 0 and at most 1");
  if (auto e = get_number(j, "min_p", 0, 1, min_p)) return *e;
  std::optional<int64_t> top_k;
  // -1 is vLLM's "off"; 0 is llama.cpp's.
  if (auto e = get_int(j, "top_k", -1, std::numeric_limits<int32_t>::max(), top_k)) return *e;
  r.sampling.temperature = float(temperature.value_or(1.0));
  r.sampling.top_p = float(top_p.value_or(1.0));
  r.sampling.min_p = float(min_p.value_or(0.0));
  r.sampling.top_k = int32_t(std::max<int64_t>(0, top_k.value_or(0)));

  const auto& seed = field(j, "seed");
  if (!seed.is_null()) {
    if (!seed.is_number_integer()) return bad("seed", "'seed' must be an integer");
    if (seed.is_number_unsigned()) {
      r.sampling.seed = seed.get<uint64_t>();
      r.seed_given = true;
    } else if (seed.get<int64_t>() != -1) {  // -1: a fresh seed, as llama.cpp reads it
      return bad("seed", "'seed' must be a non-negative integer (or -1 for a random one)");
    }
  }

  std::optional<int64_t> max_tokens, max_completion_tokens;
  const std::string cap = std::to_string(limits.max_tokens_cap);
  if (auto e = get_int(j, "max_tokens", 0, std::numeric_limits<int64_t>::max(), max_tokens)) return *e;
  if (auto e = get_int(j, "max_completion_tokens", 0, std::numeric_limits<int64_t>::max(), max_completion_tokens)) return *e;
  if (max_tokens && max_completion_tokens && *max_tokens != *max_completion_tokens)
    return bad("max_completion_tokens", "'max_tokens' and 'max_completion_tokens' disagree");
  if (!max_tokens) max_tokens = max_completion_tokens;
  if (max_tokens && *max_tokens > limits.max_tokens_cap)
    return bad(max_completion_tokens && !field(j, "max_tokens").is_number() ? "max_completion_tokens" : "max_tokens",
               "max_tokens " + std::to_string(*max_tokens) + " is larger than this server's cap of " + cap +
                   " (wobble serve --max-tokens-cap)");
  r.max_tokens = int32_t(max_tokens.value_or(limits.default_max_tokens));

  if (auto e = parse_stop(j, limits, r.stop)) return *e;
  if (auto e = get_bool(j, "stream", r.stream)) return *e;
  const auto& so = field(j, "stream_options");
  if (!so.is_null()) {
    if (!so.is_object()) return bad("stream_options", "'stream_options' must be an object");
    if (auto e = get_bool(so, "include_usage", r.include_usage)) {
      e->param = "stream_options.include_usage";
      return *e;
    }
  }

  if (endpoint == Endpoint::kChat) {
    if (auto e = get_bool(j, "logprobs", r.logprobs)) return *e;
    std::optional<int64_t> top;
    if (auto e = get_int(j, "top_logprobs", 0, limits.max_top_logprobs, top)) return *e;
    if (top && !r.logprobs && *top > 0) return bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    r.top_logprobs = int(top.value_or(0));
  } else {
    // The legacy completions API: `logprobs` is the number of alternatives per token.
    std::optional<int64_t> lp;
    if (auto e = get_int(j, "logprobs", 0, limits.max_top_logprobs, lp)) return *e;
    r.logprobs = lp.has_value();
    r.top_logprobs = int(lp.value_or(0));
  }

  if (auto e = get_bool(j, "ignore_eos", r.ignore_eos)) return *e;
  if (auto e = get_bool(j, "return_token_ids", r.return_token_ids)) return *e;
  if (auto e = get_bool(j, "return_routed_experts", r.return_routed_experts)) return *e;
  // Rows of the routing payload to leave out at the front: SGLang's and vLLM's names.
  std::optional<int64_t> start_sglang, start_vllm;
  if (auto e = get_int(j, "routed_experts_start_len", 0, std::numeric_limits<int64_t>::max(), start_sglang)) return *e;
  if (auto e = get_int(j, "routed_experts_prompt_start", 0, std::numeric_limits<int64_t>::max(), start_vllm)) return *e;
  r.routed_experts_start = uint64_t(start_sglang.value_or(start_vllm.value_or(0)));
  return r;
}

}  // namespace wobble::serve
