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
  int64_t prompt_tokens = -1, completion_tokens = -1;
  std::vector<TokenLogprob> logprobs;
};
ParsedResponse parse_openai_response(const std::string& body, bool chat);
nlohmann::json build_openai_request(const ProviderSpec& spec, const CompletionRequest& req);

class OpenAIProvider : public Provider {
 public:
  explicit OpenAIProvider(const ProviderSpec& spec);
  ~OpenAIProvider() override;
  Completion complete(const CompletionRequest& req) override;
  std::string model_id() const override;

  static constexpr size_t kMaxBodyBytes = 16u << 20;

 private:
  void* acquire_handle();
  void release_handle(void* h);

  ProviderSpec spec_;
  std::string url_;
  std::string auth_header_;  // "Authorization: Bearer ..." or empty; never logged
  RetryPolicy retry_;
  RateLimiter limiter_;
  std::mutex pool_mu_;
  std::vector<void*> pool_;
};

}  // namespace wobble
