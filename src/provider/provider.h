// Provider: executes one completion request. Implementations: OpenAI-compatible HTTP
// (provider/openai_provider.*) and the bundled engine (provider/local_provider.*).
//
// Contract: complete() never throws for a provider failure; it returns a Completion with ok=false,
// the error text and every attempt made. Failures are data. complete() is thread-safe: the runner
// calls it from up to max_concurrency threads at once. Construction errors (bad URL, model file
// missing) throw RuntimeError/ConfigError.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provider/output_grammar.h"
#include "suite/suite.h"

namespace wobble {

struct Attempt;

// Told about retries as they happen, so progress can show a 429 storm instead of looking slow.
// Called from the provider's worker threads; implementations must be thread-safe.
class RetryObserver {
 public:
  virtual ~RetryObserver() = default;
  virtual void waiting(const Attempt& failed, double wait_s) = 0;  // before a backoff wait
  virtual void resumed() = 0;                                     // after it, before the next attempt
};

struct CompletionRequest {
  std::string case_id, variant_id;
  int repeat = 0;
  RenderedPrompt prompt;
  Sampling sampling;  // seed already derived for this (case, variant, repeat)
  // When set and true, the provider gives up promptly (in-flight HTTP transfers, backoff waits,
  // between decode steps) and returns a Completion with cancelled = true.
  const std::atomic<bool>* cancel = nullptr;
  RetryObserver* retry_observer = nullptr;  // optional
  // Constrained decoding: the bundled engine generates only what the grammar accepts (masking
  // tokens before sampling). OpenAI-compatible providers ignore it. Optional.
  std::shared_ptr<const OutputGrammar> grammar;
};

struct Attempt {
  int index = 0;            // 1-based
  int http_status = 0;      // 0 when no HTTP response (network error, timeout, local engine)
  std::string outcome;      // "ok" | "http_error" | "timeout" | "network" | "bad_response" | "engine_error"
  std::string error;        // message, never containing a secret
  double latency_s = 0;
  double retry_after_s = 0; // honoured wait before the next attempt, 0 if none
};

// One generated token's log-probability as the server reported it; `top` holds the most likely
// alternatives at that position (top_logprobs) when they were asked for.
struct TokenLogprob {
  std::string token;  // the token's text as the server sent it (may be a partial UTF-8 sequence)
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;
};

struct Completion {
  bool ok = false;
  std::string text;
  std::string reasoning;       // a server's separate thinking field (reasoning_content); "" when none
  std::string finish_reason;   // "stop" | "length" | ...
  int64_t prompt_tokens = -1, completion_tokens = -1;  // -1 when unknown
  double latency_s = 0;        // of the successful attempt
  std::string model_reported;  // model id the server answered with
  std::vector<int32_t> prompt_token_ids;  // local engine; a remote server's when routing is captured
  std::vector<int32_t> token_ids;         // generated ids, likewise
  std::vector<TokenLogprob> logprobs;     // per generated token, when offered
  std::vector<uint8_t> routing_trace;     // moe::RoutingTrace::serialize(); ids-only from a remote server
  // Why routing was asked for but routing_trace is empty (missing or malformed payload); the
  // sample itself stays ok.
  std::string routing_error;
  std::string error;           // last error when !ok
  bool cancelled = false;      // stopped by CompletionRequest::cancel: neither a result nor a failure
  bool retryable = true;       // false when the last failure cannot succeed by retrying (401, 404, ...)
  std::vector<Attempt> attempts;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual Completion complete(const CompletionRequest& req) = 0;
  // How many repeats of one (case, variant) the runner hands over at once (1 = one at a time).
  virtual int group_size() const { return 1; }
  // Requests for repeats of one (case, variant): the same prompt and sampling but the seed. One
  // Completion per request, in order, each exactly what complete() would give. Same thread-safety
  // and failure contract as complete(). The default calls complete() for each.
  virtual std::vector<Completion> complete_group(const std::vector<CompletionRequest>& reqs) {
    std::vector<Completion> out;
    for (const auto& r : reqs) out.push_back(complete(r));
    return out;
  }
  // Identifies the model for the run record (e.g. "openai:gpt-4o-mini@http://..." or the GGUF
  // file's name and sha256).
  virtual std::string model_id() const = 0;
  // A cheap check, before anything is stored, that requests can succeed at all (the endpoint
  // answers, accepts the key, knows the model). Throws RuntimeError with the cause; the default
  // does nothing.
  virtual void preflight() {}
};

// Builds the provider the spec names. suite_dir resolves relative model paths.
std::unique_ptr<Provider> make_provider(const ProviderSpec& spec, const std::string& suite_dir);

}  // namespace wobble
