#include "provider/openai_provider.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "util/error.h"

namespace wobble {
namespace {

struct Body {
  std::string data;
  bool too_large = false;
};

size_t on_body(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* b = static_cast<Body*>(user);
  size_t n = size * nmemb;
  if (b->data.size() + n > OpenAIProvider::kMaxBodyBytes) {
    b->too_large = true;
    return 0;  // aborts the transfer
  }
  b->data.append(ptr, n);
  return n;
}

size_t on_header(char* buf, size_t size, size_t nitems, void* user) {
  auto* retry_after = static_cast<std::string*>(user);
  std::string line(buf, size * nitems);
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
  } else {
    j["prompt"] = req.prompt.as_text();
    if (spec.logprobs) j["logprobs"] = 1;
  }
  return j;
}

ParsedResponse parse_openai_response(const std::string& body, bool chat) {
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
    r.error = "server error: " + j["error"].dump().substr(0, 300);
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
      for (const auto& t : lp["content"])
        if (t.is_object() && t.contains("logprob") && t["logprob"].is_number())
          r.logprobs.push_back({t.value("token", std::string()), t["logprob"].get<double>(), {}});
    } else if (lp.contains("token_logprobs") && lp["token_logprobs"].is_array()) {
      for (const auto& t : lp["token_logprobs"])
        if (t.is_number()) r.logprobs.push_back({"", t.get<double>(), {}});
    }
  }
  return r;
}

OpenAIProvider::OpenAIProvider(const ProviderSpec& spec)
    : spec_(spec), limiter_(spec.requests_per_second, std::max(1.0, spec.requests_per_second)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  url_ = spec.base_url + (spec.endpoint == "chat" ? "/chat/completions" : "/completions");
  retry_.max_attempts = spec.max_attempts;
  if (!spec.api_key_env.empty()) {
    const char* key = std::getenv(spec.api_key_env.c_str());
    if (!key || !*key)
      throw RuntimeError("provider.api_key_env names '" + spec.api_key_env + "' but that environment variable is not set");
    auth_header_ = std::string("Authorization: Bearer ") + key;
  }
}

OpenAIProvider::~OpenAIProvider() {
  for (void* h : pool_) curl_easy_cleanup(static_cast<CURL*>(h));
}

std::string OpenAIProvider::model_id() const { return "openai:" + spec_.model + "@" + spec_.base_url; }

void* OpenAIProvider::acquire_handle() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      void* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void OpenAIProvider::release_handle(void* h) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(h);
}

Completion OpenAIProvider::complete(const CompletionRequest& req) {
  Completion out;
  std::string payload = build_openai_request(spec_, req).dump();
  bool chat = spec_.endpoint == "chat";
  uint64_t jitter_state = req.sampling.seed ^ (uint64_t(req.repeat) << 32) ^ uint64_t(std::hash<std::string>()(req.case_id));
  CURL* curl = static_cast<CURL*>(acquire_handle());
  if (!curl) {
    out.error = "cannot create an HTTP handle";
    return out;
  }
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  if (!auth_header_.empty()) headers = curl_slist_append(headers, auth_header_.c_str());

  for (int attempt = 1; attempt <= retry_.max_attempts; ++attempt) {
    limiter_.acquire();
    Body body;
    std::string retry_after_raw;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &retry_after_raw);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(spec_.timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(std::min(spec_.timeout_s, 30.0) * 1000));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    auto t0 = std::chrono::steady_clock::now();
    CURLcode rc = curl_easy_perform(curl);
    double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

    Attempt a;
    a.index = attempt;
    a.http_status = int(status);
    a.latency_s = latency;
    bool retry = false;
    std::optional<double> retry_after;
    if (rc != CURLE_OK) {
      a.outcome = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : (body.too_large ? "bad_response" : "network");
      a.error = body.too_large ? "response body larger than 16 MiB" : curl_easy_strerror(rc);
      retry = !body.too_large;
    } else if (status < 200 || status >= 300) {
      a.outcome = "http_error";
      a.error = "HTTP " + std::to_string(status) + ": " + body.data.substr(0, 200);
      retry = RetryPolicy::retryable_status(int(status));
      if (!retry_after_raw.empty()) retry_after = parse_retry_after(retry_after_raw);
    } else {
      ParsedResponse p = parse_openai_response(body.data, chat);
      if (!p.error.empty()) {
        a.outcome = "bad_response";
        a.error = p.error.substr(0, 300);
        retry = true;
      } else {
        a.outcome = "ok";
        out.ok = true;
        out.text = std::move(p.text);
        out.finish_reason = p.finish_reason;
        out.prompt_tokens = p.prompt_tokens;
        out.completion_tokens = p.completion_tokens;
        out.model_reported = p.model;
        out.logprobs = std::move(p.logprobs);
        out.latency_s = latency;
      }
    }
    if (!out.ok) out.error = a.error;
    bool last = attempt == retry_.max_attempts;
    if (!out.ok && retry && !last) {
      a.retry_after_s = retry_.backoff(attempt + 1, retry_after, jitter_state);
    }
    out.attempts.push_back(a);
    if (out.ok || !retry || last) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(a.retry_after_s));
  }
  curl_slist_free_all(headers);
  release_handle(curl);
  if (out.ok) out.error.clear();
  return out;
}

}  // namespace wobble
