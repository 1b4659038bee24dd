// OpenAI-compatible HTTP provider (vLLM, llama.cpp server, Ollama, OpenAI) over libcurl.
//
// Thread-safe: complete() may run on many threads; each borrows a pooled CURL handle so
// connections are reused. Every attempt is recorded; retries follow RetryPolicy on 429, 5xx,
// timeouts, network errors and malformed 2xx bodies. The API key is read once from the named
// environment variable and only ever sent in the Authorization header.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "provider/provider.h"
#include "provider/rate_limiter.h"
#include "provider/retry_policy.h"

namespace wobble {

// Parsed pieces of a successful response body; `error` non-empty when the body is unusable.
struct ParsedResponse {
  std::string text, finish_reason, model, error;
  // The thinking part a server parsed out of the output itself (message.reasoning_content, or
  // message.reasoning as Ollama and OpenRouter name it); empty when it sent none.
  std::string reasoning;
  int64_t prompt_tokens = -1, completion_tokens = -1;
  std::vector<TokenLogprob> logprobs;
  // Only when routing capture is on (spec.routing != "off"): the server's token ids and the
  // routing as a serialized ids-only moe::RoutingTrace, or the reason it is absent. A bad routing
  // payload never sets `error`: the completion itself is still good.
  std::vector<int32_t> prompt_token_ids, token_ids;
  std::vector<uint8_t> routing_trace;
  std::string routing_error;
};
ParsedResponse parse_openai_response(const std::string& body, bool chat);
ParsedResponse parse_openai_response(const std::string& body, bool chat, const ProviderSpec& spec);
nlohmann::json build_openai_request(const ProviderSpec& spec, const CompletionRequest& req);

class OpenAIProvider : public Provider {
 public:
  explicit OpenAIProvider(const ProviderSpec& spec);
  ~OpenAIProvider() override;
  Completion complete(const CompletionRequest& req) override;
  std::string model_id() const override;
  // GET {base_url}/models, then (when that is missing or does not list the model) one 1-token
  // completion. 401/403 name the key variable, 404 the URL or model, a refused connection the URL;
  // 429/5xx only warn (the run retries them). Runs before the stop handlers are installed: Ctrl-C ends it at once.
  void preflight() override;

  static constexpr size_t kMaxBodyBytes = 16u << 20;
  // With routing capture on, a body may also carry the base64 routing field (at most
  // kMaxRoutingBase64Bytes); the margin lets an oversized field be refused as a routing problem
  // (the sample kept, its trace absent) rather than as a response too large to read.
  static constexpr size_t kMaxRoutingBodyBytes = (16u << 20) + 2 * (size_t(32) << 20);

 private:
  struct Connection {
    void* easy = nullptr;   // CURL*
    void* multi = nullptr;  // CURLM*: drives the transfer so it can be cancelled; owns the connection cache
  };
  struct HttpResult {
    int code = 0;           // CURLcode
    int status = 0;         // HTTP status, 0 when none
    bool too_large = false, cancelled = false;
    std::string body, retry_after_raw;
    std::string header_error;  // set when the response headers were too large (says which limit)
    double latency_s = 0;
  };
  Connection acquire_connection();
  void release_connection(Connection c);
  // One HTTP request (POST when payload is set, else GET) on a pooled connection.
  HttpResult send(Connection& conn, const std::string& url, const std::string* payload, double timeout_s,
                  const std::atomic<bool>* cancel);

  ProviderSpec spec_;
  size_t body_limit_ = kMaxBodyBytes;
  std::string url_;
  std::string auth_header_;  // "Authorization: Bearer ..." or empty; never logged
  RetryPolicy retry_;
  RateLimiter limiter_;
  std::mutex pool_mu_;
  std::vector<Connection> pool_;
};

}  // namespace wobble
