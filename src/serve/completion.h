// `wobble serve`: one request run on one session, and the OpenAI-shaped JSON that reports it.
//
// run_completion() is moe::generate() plus what the API adds: log-probabilities of the unmasked
// distribution the token was drawn from (temperature 1, before top-k/top-p/min-p, as OpenAI and
// vLLM report them), the token and routing records, and cancellation. The text is exactly
// GenerateResult::text, so a suite run through `wobble serve` stores the bytes a local run stores.
// Thread safety: one call per session at a time; the JSON builders are pure.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "moe/session.h"
#include "moe/status.h"
#include "serve/serve_request.h"

namespace wobble::serve {

struct TokenLogprob {
  std::string token;  // the token's text as it appears in the output
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;  // most likely first
};

struct CompletionOutput {
  std::string text;
  std::string finish_reason;  // "stop" | "length"
  std::vector<int32_t> prompt_ids, token_ids;  // token_ids: generated, the end-of-generation token excluded
  int64_t completion_tokens = 0;  // every sampled token, the end-of-generation one included
  std::vector<TokenLogprob> logprobs;
  std::vector<TokenLogprob> unsent_logprobs;  // streaming: not yet passed to on_piece (for the last chunk)
};

// Receives the text as it is produced and the log-probabilities of the tokens since the last call;
// returns false when nobody is listening any more (the client went away), which ends the generation.
using PieceFn = std::function<bool(std::string_view text, std::vector<TokenLogprob> logprobs)>;

// Generates for `prompt_ids` on `session` (fresh: reset by the caller). Once `abort` (may be null)
// is true, or on_piece returns false, generation stops within one token with Status::Cancelled.
moe::Result<CompletionOutput> run_completion(moe::Session& session, const std::vector<int32_t>& prompt_ids,
                                             const ServeRequest& req, const std::atomic<bool>* abort,
                                             const PieceFn& on_piece = {});

// Identity of one response: id ("chatcmpl-..." / "cmpl-..."), creation time, model name.
struct ResponseMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
};

// The whole non-streaming body. `extra_choice` fields (routing payloads) are merged into the choice,
// `extra_top` into the body.
nlohmann::json completion_body(const ServeRequest& req, const ResponseMeta& meta, const CompletionOutput& out,
                               const nlohmann::json& extra_choice, const nlohmann::json& extra_top);

// Streaming chunks. The first chat chunk carries the role; text chunks carry a piece; the last carries
// the finish reason (and extra_choice); the usage chunk (stream_options.include_usage) has no choices.
nlohmann::json role_chunk(const ResponseMeta& meta);
nlohmann::json text_chunk(const ServeRequest& req, const ResponseMeta& meta, std::string_view text,
                          const std::vector<TokenLogprob>& logprobs);
nlohmann::json final_chunk(const ServeRequest& req, const ResponseMeta& meta, const std::string& finish_reason,
                           const std::vector<TokenLogprob>& logprobs, const nlohmann::json& extra_choice);
nlohmann::json usage_chunk(const ServeRequest& req, const ResponseMeta& meta, const CompletionOutput& out);

}  // namespace wobble::serve
