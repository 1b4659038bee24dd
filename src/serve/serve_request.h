// `wobble serve`: one OpenAI-compatible request body, parsed and checked as hostile input.
//
// parse_request() never throws: a body that is not JSON, a field of the wrong type, a value out of
// range or a feature the server does not have gives an ApiError (HTTP 400 unless said otherwise)
// whose `param` names the field, as OpenAI's API answers. Unknown fields are ignored (clients send
// many), but a known field that would change the output and that the engine cannot honour (n > 1,
// penalties, tools, echo) is refused rather than silently dropped: a variance tool must not report
// on settings it did not apply.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "moe/chat_template.h"
#include "moe/sampler.h"

namespace wobble::serve {

// An OpenAI-style error: the HTTP status and the fields of {"error": {...}}.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" is written as null
  std::string code;   // "" is written as null
};
// {"error": {"message", "type", "param", "code"}}
nlohmann::json error_body(const ApiError& e);

enum class Endpoint { kChat, kCompletions };

struct RequestLimits {
  int32_t max_tokens_cap = 4096;   // a larger max_tokens is refused (400, param max_tokens)
  int32_t default_max_tokens = 4096;  // when the request gives none (generation still ends at the context)
  size_t max_stop = 16;            // stop strings per request
  size_t max_stop_bytes = 1024;    // bytes per stop string
  int max_top_logprobs = 20;
};

struct ServeRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::string model;                       // as asked; "" when the request names none
  std::optional<std::string> prompt;       // completions
  std::vector<moe::ChatMessage> messages;  // chat
  moe::SamplerParams sampling;             // OpenAI's defaults: temperature 1, top_p 1
  bool seed_given = false;                 // false: the caller draws a seed
  int32_t max_tokens = 0;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;              // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;                    // alternatives per token (0 = only the chosen token)
  bool ignore_eos = false;                 // llama.cpp / vLLM extension
  bool return_token_ids = false;           // vLLM extension: prompt_token_ids and token_ids
  bool return_routed_experts = false;      // SGLang extension: sgl_ext.routed_experts
  uint64_t routed_experts_start = 0;       // rows to omit from the front of the routing payload
};

using ParsedRequest = std::variant<ServeRequest, ApiError>;
ParsedRequest parse_request(std::string_view body, Endpoint endpoint, const RequestLimits& limits);

}  // namespace wobble::serve
