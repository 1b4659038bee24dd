#include "provider/openai_provider.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "moe/routing.h"
#include "provider/routing_payload.h"
#include "util/error.h"
#include "util/text_policy.h"
#include "util/url.h"

namespace wobble {
namespace {

static_assert(OpenAIProvider::kMaxRoutingBodyBytes >= OpenAIProvider::kMaxBodyBytes + 2 * kMaxRoutingBase64Bytes,
              "a body must be able to carry an oversized routing field for it to be refused as routing");

struct Body {
  std::string data;
  size_t limit = OpenAIProvider::kMaxBodyBytes;
  bool too_large = false;
};

size_t on_body(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* b = static_cast<Body*>(user);
  size_t n = size * nmemb;
  if (b->data.size() + n > b->limit) {
    b->too_large = true;
    return 0;  // aborts the transfer
  }
  b->data.append(ptr, n);
  return n;
}

// What the header callback saw: Retry-After, and enough to name an oversized header (curl reports
// a header line over its 100 KiB limit as "Out of memory").
struct Headers {
  std::string retry_after;
  size_t bytes = 0;       // header bytes received, all responses (1xx included)
  bool complete = false;  // the blank line ending the last response's headers was seen
  bool too_large = false;
};
constexpr size_t kMaxHeaderBytes = 256 * 1024;

size_t on_header(char* buf, size_t size, size_t nitems, void* user) {
  auto* h = static_cast<Headers*>(user);
  h->bytes += size * nitems;
  if (h->bytes > kMaxHeaderBytes) {
    h->too_large = true;
    return 0;  // aborts the transfer
  }
  auto* retry_after = &h->retry_after;
  std::string line(buf, size * nitems);
  h->complete = line == "\r\n" || line == "\n";
  static const std::string kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string head = line.substr(0, kName.size());
    for (auto& c : head) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (head == kName) {
      *retry_after = line.substr(kName.size());
      while (!retry_after->empty() && (retry_after->back() == '\r' || retry_after->back() == '\n'))
        retry_after->pop_back();
    }
  }
  return size * nitems;
}

std::once_flag g_curl_init;

}  // namespace

nlohmann::json build_openai_request(const ProviderSpec& spec, const CompletionRequest& req) {
  nlohmann::json j;
  j["model"] = spec.model;
  const Sampling& s = req.sampling;
  j["temperature"] = s.temperature;
  j["top_p"] = s.top_p;
  j["max_tokens"] = s.max_tokens;
  j["seed"] = s.seed;
  if (!s.stop.empty()) j["stop"] = s.stop;
  // Not part of the OpenAI API; vLLM, llama.cpp server and Ollama's OpenAI layer read them.
  if (s.top_k > 0) j["top_k"] = s.top_k;
  if (s.min_p > 0) j["min_p"] = s.min_p;
  if (spec.endpoint == "chat") {
    nlohmann::json msgs = nlohmann::json::array();
    if (req.prompt.prompt) {
      msgs.push_back({{"role", "user"}, {"content", *req.prompt.prompt}});
    } else {
      for (const auto& m : req.prompt.messages) msgs.push_back({{"role", m.role}, {"content", m.content}});
    }
    j["messages"] = msgs;
    if (spec.logprobs) j["logprobs"] = true;
    if (spec.logprobs && spec.top_logprobs > 0) j["top_logprobs"] = spec.top_logprobs;
  } else {
    j["prompt"] = req.prompt.as_text();
    // The legacy completions API takes the number of alternatives as `logprobs`.
    if (spec.logprobs) j["logprobs"] = std::max(1, spec.top_logprobs);
  }
  // Routing rows line up with token positions; the ids tell where two repeats' outputs part.
  // vLLM returns routed_experts whenever its server flag is on; SGLang also wants it per request.
  // Neither start offset (routed_experts_prompt_start, routed_experts_start_len) is sent: the
  // prompt's rows are the point of the comparison between repeats.
  if (spec.routing != "off") j["return_token_ids"] = true;
  if (spec.routing == "sglang") {
    j["return_routed_experts"] = true;
    j["return_prompt_token_ids"] = true;  // SGLang's chat API splits what vLLM's return_token_ids covers
  }
  return j;
}

namespace {

// A JSON array of int32 token ids; false (and `out` untouched) for anything else.
bool read_ids(const nlohmann::json& j, std::vector<int32_t>& out) {
  if (!j.is_array()) return false;
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (const auto& v : j) {
    if (!v.is_number_integer()) return false;
    const int64_t x = v.get<int64_t>();
    if (x < 0 || x > INT32_MAX) return false;
    ids.push_back(int32_t(x));
  }
  out = std::move(ids);
  return true;
}

// The routing payload string, where each engine puts it; nullptr with `why` when absent.
const nlohmann::json* find_routing(const nlohmann::json& j, const nlohmann::json& choice, const std::string& format,
                                   std::string& why) {
  auto string_at = [](const nlohmann::json& obj, const char* key) -> const nlohmann::json* {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  };
  const nlohmann::json* found = nullptr;
  std::string where;
  if (format == "vllm") {
    found = string_at(choice, "routed_experts");
    where = "choices[0].routed_experts";
  } else {
    // SGLang's protocol.py puts `sglext` on the response; the per-choice `sgl_ext` spelling is
    // accepted too, choice first.
    for (const auto* obj : {&choice, &j})
      for (const char* ext : {"sgl_ext", "sglext"})
        if (!found)
          if (const auto* e = string_at(*obj, ext)) {
            found = string_at(*e, "routed_experts");
            where = std::string(obj == &choice ? "choices[0]." : "") + ext + ".routed_experts";
          }
    if (where.empty()) where = "sglext.routed_experts";
  }
  if (!found) {
    why = "the response has no " + where +
          " (is the server started with --enable-return-routed-experts, and is the model MoE?)";
    return nullptr;
  }
  if (!found->is_string()) {
    why = where + " is not a string";
    return nullptr;
  }
  return found;
}

// Decodes the routing into a serialized ids-only trace, or says why not.
void parse_routing(const nlohmann::json& j, const nlohmann::json& choice, const ProviderSpec& spec, ParsedResponse& r) {
  std::string why;
  const nlohmann::json* payload = find_routing(j, choice, spec.routing, why);
  if (!payload) {
    r.routing_error = why;
    return;
  }
  const auto& text = payload->get_ref<const std::string&>();
  RoutingIds ids;
  const bool decoded = spec.routing == "vllm"
                           ? decode_vllm_routing(text, spec.routing_layers, spec.routing_top_k, ids, why)
                           : decode_sglang_routing(text, spec.routing_layers, spec.routing_top_k, ids, why);
  if (!decoded || !check_expert_ids(ids, spec.routing_n_experts, why)) {
    r.routing_error = spec.routing + " routing payload: " + why;
    return;
  }
  if (spec.routing_n_experts && ids.top_k > spec.routing_n_experts) {
    r.routing_error = spec.routing + " routing payload: top_k " + std::to_string(ids.top_k) +
                      " exceeds provider.routing_shape.n_experts " + std::to_string(spec.routing_n_experts);
    return;
  }
  if (ids.layers > 4096) {
    r.routing_error = spec.routing + " routing payload: " + std::to_string(ids.layers) + " layers (at most 4096)";
    return;
  }
  // Rows cover tokens [0, prompt + generated - 1): the last sampled token is never forwarded.
  if (r.prompt_tokens >= 0 && r.completion_tokens >= 0 &&
      ids.tokens > uint64_t(r.prompt_tokens) + uint64_t(r.completion_tokens)) {
    r.routing_error = spec.routing + " routing payload covers " + std::to_string(ids.tokens) +
                      " tokens but the response counts " + std::to_string(r.prompt_tokens) + " prompt + " +
                      std::to_string(r.completion_tokens) + " generated";
    return;
  }
  uint32_t n_expert = spec.routing_n_experts;
  if (n_expert == 0) {  // unknown: the largest id seen bounds it; analysis pads groups to one width
    for (int32_t v : ids.ids) n_expert = std::max(n_expert, uint32_t(v) + 1);
    n_expert = std::max(n_expert, ids.top_k);
  }
  auto trace = moe::RoutingTrace::ids_only(ids.layers, n_expert, ids.top_k, spec.routing_n_experts != 0);
  std::vector<uint16_t> rec(ids.top_k);
  for (uint64_t t = 0; t < ids.tokens; ++t)
    for (uint32_t l = 0; l < ids.layers; ++l) {
      const int32_t* src = ids.ids.data() + (t * ids.layers + l) * ids.top_k;
      for (uint32_t k = 0; k < ids.top_k; ++k) rec[k] = uint16_t(src[k]);
      trace.append_ids(l, rec.data());
    }
  r.routing_trace = trace.serialize();
}

}  // namespace

ParsedResponse parse_openai_response(const std::string& body, bool chat) {
  return parse_openai_response(body, chat, ProviderSpec{});
}

ParsedResponse parse_openai_response(const std::string& body, bool chat, const ProviderSpec& spec) {
  ParsedResponse r;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    r.error = std::string("malformed JSON: ") + e.what();
    return r;
  }
  if (!j.is_object()) {
    r.error = "response is not a JSON object";
    return r;
  }
  if (j.contains("error")) {
    r.error = "server error: " + clip_utf8(dump_json(j["error"]), 300);
    return r;
  }
  if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty() || !j["choices"][0].is_object()) {
    r.error = "response has no choices";
    return r;
  }
  const auto& c = j["choices"][0];
  if (chat) {
    if (!c.contains("message") || !c["message"].is_object()) {
      r.error = "choice has no message";
      return r;
    }
    const auto& content = c["message"].value("content", nlohmann::json());
    if (content.is_string()) r.text = content.get<std::string>();
    else if (!content.is_null()) {
      r.error = "message content is not a string";
      return r;
    }
    for (const char* key : {"reasoning_content", "reasoning"}) {
      const auto& f = c["message"].value(key, nlohmann::json());
      if (f.is_null()) continue;
      // A malformed thinking field makes the whole reply suspect (the content may be cut wrong).
      if (!f.is_string()) {
        r.error = std::string("message ") + key + " is not a string";
        return r;
      }
      if (r.reasoning.empty()) r.reasoning = f.get<std::string>();
    }
  } else {
    if (!c.contains("text") || !c["text"].is_string()) {
      r.error = "choice has no text";
      return r;
    }
    r.text = c["text"].get<std::string>();
  }
  if (c.contains("finish_reason") && c["finish_reason"].is_string()) r.finish_reason = c["finish_reason"];
  if (j.contains("model") && j["model"].is_string()) r.model = j["model"];
  if (j.contains("usage") && j["usage"].is_object()) {
    const auto& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) r.prompt_tokens = u["prompt_tokens"];
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      r.completion_tokens = u["completion_tokens"];
  }
  if (c.contains("logprobs") && c["logprobs"].is_object()) {
    const auto& lp = c["logprobs"];
    if (lp.contains("content") && lp["content"].is_array()) {
      for (const auto& t : lp["content"]) {
        if (!t.is_object() || !t.contains("logprob") || !t["logprob"].is_number()) continue;
        TokenLogprob tl{t.contains("token") && t["token"].is_string() ? t["token"].get<std::string>() : "",
                        t["logprob"].get<double>(), {}};
        if (t.contains("top_logprobs") && t["top_logprobs"].is_array())
          for (const auto& a : t["top_logprobs"])
            if (a.is_object() && a.contains("token") && a["token"].is_string() && a.contains("logprob") &&
                a["logprob"].is_number())
              tl.top.emplace_back(a["token"].get<std::string>(), a["logprob"].get<double>());
        r.logprobs.push_back(std::move(tl));
      }
    } else if (lp.contains("token_logprobs") && lp["token_logprobs"].is_array()) {
      // Completions form: parallel arrays tokens / token_logprobs / top_logprobs (objects token -> logprob).
      const auto& lps = lp["token_logprobs"];
      const nlohmann::json* toks = lp.contains("tokens") && lp["tokens"].is_array() ? &lp["tokens"] : nullptr;
      const nlohmann::json* tops = lp.contains("top_logprobs") && lp["top_logprobs"].is_array() ? &lp["top_logprobs"] : nullptr;
      for (size_t i = 0; i < lps.size(); ++i) {
        if (!lps[i].is_number()) continue;
        TokenLogprob tl{"", lps[i].get<double>(), {}};
        if (toks && i < toks->size() && (*toks)[i].is_string()) tl.token = (*toks)[i].get<std::string>();
        if (tops && i < tops->size() && (*tops)[i].is_object())
          for (const auto& [tok, v] : (*tops)[i].items())
            if (v.is_number()) tl.top.emplace_back(tok, v.get<double>());
        r.logprobs.push_back(std::move(tl));
      }
    }
  }
  if (spec.routing != "off") {
    // vLLM puts prompt_token_ids on the response (chat) or the choice (completions).
    if (!(c.contains("prompt_token_ids") && read_ids(c["prompt_token_ids"], r.prompt_token_ids)) &&
        j.contains("prompt_token_ids"))
      read_ids(j["prompt_token_ids"], r.prompt_token_ids);
    if (c.contains("token_ids")) read_ids(c["token_ids"], r.token_ids);
    parse_routing(j, c, spec, r);
  }
  return r;
}

OpenAIProvider::OpenAIProvider(const ProviderSpec& spec)
    : spec_(spec),
      body_limit_(spec.routing != "off" ? kMaxRoutingBodyBytes : kMaxBodyBytes),
      limiter_(spec.requests_per_second, std::max(1.0, spec.requests_per_second)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  spec_.base_url = url_without_userinfo(spec_.base_url);  // credentials never sent (util/url.h)
  url_ = spec_.base_url + (spec.endpoint == "chat" ? "/chat/completions" : "/completions");
  retry_.max_attempts = spec.max_attempts;
  if (!spec.api_key_env.empty()) {
    const char* key = std::getenv(spec.api_key_env.c_str());
    if (!key || !*key)
      throw RuntimeError("provider.api_key_env names '" + spec.api_key_env + "' but that environment variable is not set");
    auth_header_ = std::string("Authorization: Bearer ") + key;
  }
}

OpenAIProvider::~OpenAIProvider() {
  for (const auto& c : pool_) {
    curl_multi_cleanup(static_cast<CURLM*>(c.multi));
    curl_easy_cleanup(static_cast<CURL*>(c.easy));
  }
}

std::string OpenAIProvider::model_id() const { return "openai:" + spec_.model + "@" + spec_.base_url; }

OpenAIProvider::Connection OpenAIProvider::acquire_connection() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      Connection c = pool_.back();
      pool_.pop_back();
      return c;
    }
  }
  Connection c{curl_easy_init(), curl_multi_init()};
  if (!c.easy || !c.multi) {
    curl_easy_cleanup(static_cast<CURL*>(c.easy));
    curl_multi_cleanup(static_cast<CURLM*>(c.multi));
    return {};
  }
  return c;
}

void OpenAIProvider::release_connection(Connection c) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(c);
}

namespace {

// Runs one transfer on `easy` through its own multi handle, polling at most every 50 ms so that
// `cancel` stops a transfer that is waiting on a silent server within that time. Each pooled easy
// handle keeps its multi handle, whose connection cache gives connection reuse.
CURLcode perform_cancellable(CURL* easy, CURLM* multi, const std::atomic<bool>* cancel, bool& cancelled) {
  cancelled = false;
  if (curl_multi_add_handle(multi, easy) != CURLM_OK) return CURLE_FAILED_INIT;
  CURLcode result = CURLE_OK;
  bool finished = false;
  for (;;) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      result = CURLE_FAILED_INIT;
      break;
    }
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued))
      if (m->msg == CURLMSG_DONE && m->easy_handle == easy) {
        result = m->data.result;
        finished = true;
      }
    if (finished || running == 0) break;
    if (cancel && cancel->load()) {
      cancelled = true;
      result = CURLE_ABORTED_BY_CALLBACK;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, 50, nullptr);
  }
  curl_multi_remove_handle(multi, easy);
  return result;
}

// Sleeps for `seconds` unless cancelled first; returns false when cancelled.
bool sleep_cancellable(double seconds, const std::atomic<bool>* cancel) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (cancel && cancel->load()) return false;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(20)));
  }
  return !(cancel && cancel->load());
}

}  // namespace

OpenAIProvider::HttpResult OpenAIProvider::send(Connection& conn, const std::string& url, const std::string* payload,
                                                double timeout_s, const std::atomic<bool>* cancel) {
  CURL* curl = static_cast<CURL*>(conn.easy);
  HttpResult res;
  Body body;
  body.limit = body_limit_;
  Headers hdr;
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!auth_header_.empty()) headers = curl_slist_append(headers, auth_header_.c_str());
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (payload) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(timeout_s * 1000));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(std::min(timeout_s, 30.0) * 1000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  auto t0 = std::chrono::steady_clock::now();
  res.code = perform_cancellable(curl, static_cast<CURLM*>(conn.multi), cancel, res.cancelled);
  res.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  res.status = int(status);
  res.too_large = body.too_large;
  res.retry_after_raw = std::move(hdr.retry_after);
  // A header line over curl's own limit ends the transfer as "Out of memory" (CURLE_TOO_LARGE, 100,
  // from curl 8.6) before the headers end.
  if (hdr.too_large)
    res.header_error = "response headers larger than " + std::to_string(kMaxHeaderBytes / 1024) + " KiB in all";
  else if ((res.code == CURLE_OUT_OF_MEMORY || res.code == 100) && !hdr.complete)
    res.header_error = "a response header line is longer than curl's limit of " +
                       std::to_string(CURL_MAX_HTTP_HEADER / 1024) + " KiB (curl: " +
                       curl_easy_strerror(CURLcode(res.code)) + "; " + std::to_string(hdr.bytes) +
                       " header bytes before it)";
  res.body = std::move(body.data);
  curl_slist_free_all(headers);
  return res;
}

Completion OpenAIProvider::complete(const CompletionRequest& req) {
  Completion out;
  std::string payload = dump_json(build_openai_request(spec_, req));
  bool chat = spec_.endpoint == "chat";
  uint64_t jitter_state = req.sampling.seed ^ (uint64_t(req.repeat) << 32) ^ uint64_t(std::hash<std::string>()(req.case_id));
  Connection conn = acquire_connection();
  if (!conn.easy) {
    out.error = "cannot create an HTTP handle";
    return out;
  }

  for (int attempt = 1; attempt <= retry_.max_attempts; ++attempt) {
    limiter_.acquire();
    if (req.cancel && req.cancel->load()) {
      out.cancelled = true;
      break;
    }
    HttpResult h = send(conn, url_, &payload, spec_.timeout_s, req.cancel);
    if (h.cancelled) {
      out.cancelled = true;
      break;
    }
    Attempt a;
    a.index = attempt;
    a.http_status = h.status;
    a.latency_s = h.latency_s;
    bool retry = false;
    std::optional<double> retry_after;
    if (h.code != CURLE_OK && !h.header_error.empty()) {
      a.outcome = "bad_response";
      a.error = h.header_error;
    } else if (h.code != CURLE_OK) {
      a.outcome = h.code == CURLE_OPERATION_TIMEDOUT ? "timeout" : (h.too_large ? "bad_response" : "network");
      a.error = h.too_large ? "response body larger than " + std::to_string(body_limit_ >> 20) + " MiB"
                            : std::string(curl_easy_strerror(CURLcode(h.code)));
      retry = !h.too_large;
    } else if (h.status < 200 || h.status >= 300) {
      a.outcome = "http_error";
      a.error = "HTTP " + std::to_string(h.status) + ": " + clip_utf8(h.body, 200);
      retry = RetryPolicy::retryable_status(h.status);
      if (!h.retry_after_raw.empty()) retry_after = parse_retry_after(h.retry_after_raw);
    } else {
      ParsedResponse p = parse_openai_response(h.body, chat, spec_);
      if (!p.error.empty()) {
        a.outcome = "bad_response";
        a.error = clip_utf8(p.error, 300);
        retry = true;
      } else {
        a.outcome = "ok";
        out.ok = true;
        out.text = std::move(p.text);
        out.reasoning = std::move(p.reasoning);
        out.finish_reason = p.finish_reason;
        out.prompt_tokens = p.prompt_tokens;
        out.completion_tokens = p.completion_tokens;
        out.model_reported = p.model;
        out.logprobs = std::move(p.logprobs);
        out.latency_s = h.latency_s;
        out.prompt_token_ids = std::move(p.prompt_token_ids);
        out.token_ids = std::move(p.token_ids);
        out.routing_trace = std::move(p.routing_trace);
        out.routing_error = std::move(p.routing_error);
      }
    }
    if (!out.ok) {
      out.error = a.error;
      out.retryable = retry;
    }
    bool last = attempt == retry_.max_attempts;
    if (!out.ok && retry && !last) a.retry_after_s = retry_.backoff(attempt + 1, retry_after, jitter_state);
    out.attempts.push_back(a);
    if (out.ok || !retry || last) break;
    if (req.retry_observer) req.retry_observer->waiting(a, a.retry_after_s);
    bool slept = sleep_cancellable(a.retry_after_s, req.cancel);
    if (req.retry_observer) req.retry_observer->resumed();
    if (!slept) {
      out.cancelled = true;
      break;
    }
  }
  release_connection(conn);
  if (out.ok) out.error.clear();
  return out;
}

namespace {

std::string key_problem(const ProviderSpec& spec, int status) {
  if (spec.api_key_env.empty())
    return "the endpoint " + spec.base_url + " requires an API key (HTTP " + std::to_string(status) +
           "): set provider.api_key_env to the name of the environment variable that holds it";
  return "the endpoint " + spec.base_url + " refused the API key from $" + spec.api_key_env + " (HTTP " +
         std::to_string(status) + ")";
}

std::string v1_hint(const std::string& base_url) {
  if (base_url.size() >= 3 && base_url.compare(base_url.size() - 3, 3, "/v1") == 0) return "";
  return " (did you mean base_url " + base_url + "/v1?)";
}

}  // namespace

void OpenAIProvider::preflight() {
  Connection conn = acquire_connection();
  if (!conn.easy) throw RuntimeError("cannot create an HTTP handle");
  struct Release {
    OpenAIProvider* self;
    Connection c;
    ~Release() { self->release_connection(c); }
  } release{this, conn};
  const double timeout = std::min(spec_.timeout_s, 15.0);
  const auto unreachable = [&](const HttpResult& h) {
    return RuntimeError("cannot reach the endpoint " + spec_.base_url + ": " +
                        (h.header_error.empty() ? curl_easy_strerror(CURLcode(h.code)) : h.header_error) +
                        " (is the server running and the URL right?)");
  };
  const auto transient = [&](const HttpResult& h, const char* what) {
    std::cerr << "warning: preflight " << what << " got HTTP " << h.status
              << " (a passing fault is retried during the run)\n";
  };

  HttpResult models = send(conn, spec_.base_url + "/models", nullptr, timeout, nullptr);
  if (models.code != CURLE_OK && !models.too_large) throw unreachable(models);
  if (models.status == 401 || models.status == 403) throw RuntimeError(key_problem(spec_, models.status));
  std::vector<std::string> served;
  if (models.status >= 200 && models.status < 300) {
    try {
      auto j = nlohmann::json::parse(models.body);
      if (j.is_object() && j.contains("data") && j["data"].is_array())
        for (const auto& m : j["data"])
          if (m.is_object() && m.contains("id") && m["id"].is_string()) served.push_back(m["id"]);
    } catch (const nlohmann::json::exception&) {
    }
    if (served.empty() || std::find(served.begin(), served.end(), spec_.model) != served.end()) return;
  } else if (models.status == 429 || models.status >= 500) {
    transient(models, "GET /models");
    return;
  }

  // /models is missing or does not list the model: one 1-token completion decides.
  CompletionRequest probe;
  probe.prompt.messages = {{"user", "ping"}};
  if (spec_.endpoint != "chat") probe.prompt.prompt = "ping";
  probe.sampling.max_tokens = 1;
  ProviderSpec quiet = spec_;
  quiet.logprobs = false;
  quiet.routing = "off";
  std::string payload = dump_json(build_openai_request(quiet, probe));
  HttpResult h = send(conn, url_, &payload, timeout, nullptr);
  if (h.code != CURLE_OK && !h.too_large) throw unreachable(h);
  if (h.status >= 200 && h.status < 300) return;
  if (h.status == 401 || h.status == 403) throw RuntimeError(key_problem(spec_, h.status));
  if (h.status == 404) {
    std::string listed;
    for (size_t i = 0; i < served.size() && i < 8; ++i) listed += (i ? ", " : "") + served[i];
    if (!served.empty())
      throw RuntimeError("the endpoint " + spec_.base_url + " does not serve model '" + spec_.model +
                         "' (it lists: " + listed + ")");
    throw RuntimeError("no such endpoint or model: POST " + url_ + " answered 404" + v1_hint(spec_.base_url) +
                       "; the server said: " + clip_utf8(h.body, 200));
  }
  if (h.status == 429 || h.status >= 500) {
    transient(h, "1-token completion");
    return;
  }
  throw RuntimeError("the endpoint refused a 1-token request to model '" + spec_.model + "' (HTTP " +
                     std::to_string(h.status) + "): " + clip_utf8(h.body, 200));
}

}  // namespace wobble
