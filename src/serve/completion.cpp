#include "serve/completion.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "moe/tokenizer.h"

namespace wobble::serve {
namespace {

std::string token_text(const moe::Tokenizer& tok, int32_t id) {
  return tok.decode(std::span<const int32_t>(&id, 1), moe::DecodeOptions::generated_text());
}

// log softmax(logits)[id] for the chosen token and the `top` most likely ones (ties: lower id).
TokenLogprob logprob_of(const moe::Tokenizer& tok, int32_t id, std::span<const float> logits, int top) {
  double max_l = -INFINITY;
  for (float l : logits) max_l = std::max(max_l, double(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l) - max_l);
  const double log_z = max_l + std::log(sum);
  TokenLogprob t;
  t.token = token_text(tok, id);
  t.logprob = double(logits[size_t(id)]) - log_z;
  if (top > 0) {
    std::vector<int32_t> idx(logits.size());
    std::iota(idx.begin(), idx.end(), 0);
    size_t n = std::min(idx.size(), size_t(top));
    std::partial_sort(idx.begin(), idx.begin() + std::ptrdiff_t(n), idx.end(), [&](int32_t a, int32_t b) {
      return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
    });
    for (size_t i = 0; i < n; ++i) t.top.emplace_back(token_text(tok, idx[i]), double(logits[size_t(idx[i])]) - log_z);
  }
  return t;
}

// OpenAI has no "context" reason: a generation cut by the context window ends for length.
std::string api_finish_reason(const std::string& engine_reason) {
  return engine_reason == "context" ? "length" : engine_reason;
}

nlohmann::json bytes_of(const std::string& s) {
  nlohmann::json b = nlohmann::json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

// Chat form: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
nlohmann::json chat_logprobs(const std::vector<TokenLogprob>& lps) {
  nlohmann::json content = nlohmann::json::array();
  for (const auto& t : lps) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [s, lp] : t.top) top.push_back({{"token", s}, {"logprob", lp}, {"bytes", bytes_of(s)}});
    content.push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", bytes_of(t.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

// Legacy completions form: parallel arrays; text_offset counts bytes from the start of the output.
nlohmann::json completion_logprobs(const std::vector<TokenLogprob>& lps, size_t offset) {
  nlohmann::json tokens = nlohmann::json::array(), lp = nlohmann::json::array(), top = nlohmann::json::array(),
                 off = nlohmann::json::array();
  for (const auto& t : lps) {
    tokens.push_back(t.token);
    lp.push_back(t.logprob);
    nlohmann::json alt = nlohmann::json::object();
    for (const auto& [s, v] : t.top) alt[s] = v;
    top.push_back(alt);
    off.push_back(offset);
    offset += t.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lp}, {"top_logprobs", top}, {"text_offset", off}};
}

nlohmann::json logprobs_json(const ServeRequest& req, const std::vector<TokenLogprob>& lps) {
  if (!req.logprobs) return nullptr;
  return req.endpoint == Endpoint::kChat ? chat_logprobs(lps) : completion_logprobs(lps, 0);
}

nlohmann::json usage(const CompletionOutput& out) {
  return {{"prompt_tokens", int64_t(out.prompt_ids.size())},
          {"completion_tokens", out.completion_tokens},
          {"total_tokens", int64_t(out.prompt_ids.size()) + out.completion_tokens}};
}

nlohmann::json base(const ServeRequest& req, const ResponseMeta& meta, bool chunk) {
  const char* object = req.endpoint == Endpoint::kChat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                       : "text_completion";
  return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model},
          {"system_fingerprint", "wobble-serve"}};
}

}  // namespace

moe::Result<CompletionOutput> run_completion(moe::Session& session, const std::vector<int32_t>& prompt_ids,
                                             const ServeRequest& req, const std::atomic<bool>* abort,
                                             const PieceFn& on_piece) {
  const moe::Tokenizer& tok = session.model().tokenizer();
  CompletionOutput out;
  std::vector<TokenLogprob> pending;  // logprobs not yet handed to on_piece
  moe::GenerateOptions go;
  go.max_tokens = req.max_tokens;
  go.sampling = req.sampling;
  go.stop = req.stop;
  std::atomic<bool> cancel{abort && abort->load()};
  go.cancel = &cancel;
  go.ignore_eos = req.ignore_eos;
  go.on_token = [&](int32_t id, std::span<const float> logits) {
    if (abort && abort->load()) cancel = true;
    if (!req.logprobs) return;
    TokenLogprob t = logprob_of(tok, id, logits, req.top_logprobs);
    out.logprobs.push_back(t);
    if (on_piece) pending.push_back(std::move(t));
  };
  std::function<void(std::string_view)> on_text;
  if (on_piece)
    on_text = [&](std::string_view s) {
      if (!on_piece(s, std::exchange(pending, {}))) cancel = true;
    };
  auto res = moe::generate(session, prompt_ids, go, on_text);
  if (!res.ok()) return res.status();
  if (cancel) return moe::Status::Cancelled("generation cancelled");
  out.text = std::move(res->text);
  out.finish_reason = api_finish_reason(res->finish_reason);
  out.prompt_ids = prompt_ids;
  out.token_ids = std::move(res->tokens);
  // Counted like llama.cpp and vLLM (and the local provider): the end-of-turn token is a completion token.
  out.completion_tokens = int64_t(out.token_ids.size()) + (res->eog_token >= 0 ? 1 : 0);
  // Tokens whose text never came (a stop string cut it) still get their log-probabilities.
  out.unsent_logprobs = std::move(pending);
  return out;
}

nlohmann::json completion_body(const ServeRequest& req, const ResponseMeta& meta, const CompletionOutput& out,
                               const nlohmann::json& extra_choice, const nlohmann::json& extra_top) {
  nlohmann::json j = base(req, meta, false);
  nlohmann::json choice = {{"index", 0}};
  if (req.endpoint == Endpoint::kChat) choice["message"] = {{"role", "assistant"}, {"content", out.text}};
  else choice["text"] = out.text;
  choice["logprobs"] = logprobs_json(req, out.logprobs);
  choice["finish_reason"] = out.finish_reason;
  if (extra_choice.is_object()) choice.update(extra_choice);
  j["choices"] = nlohmann::json::array({choice});
  j["usage"] = usage(out);
  if (extra_top.is_object()) j.update(extra_top);
  return j;
}

nlohmann::json role_chunk(const ResponseMeta& meta) {
  ServeRequest chat;
  nlohmann::json j = base(chat, meta, true);
  j["choices"] = nlohmann::json::array(
      {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  return j;
}

nlohmann::json text_chunk(const ServeRequest& req, const ResponseMeta& meta, std::string_view text,
                          const std::vector<TokenLogprob>& logprobs) {
  nlohmann::json j = base(req, meta, true);
  nlohmann::json choice = {{"index", 0}};
  if (req.endpoint == Endpoint::kChat) choice["delta"] = {{"content", std::string(text)}};
  else choice["text"] = std::string(text);
  choice["logprobs"] = logprobs_json(req, logprobs);
  choice["finish_reason"] = nullptr;
  j["choices"] = nlohmann::json::array({choice});
  return j;
}

nlohmann::json final_chunk(const ServeRequest& req, const ResponseMeta& meta, const std::string& finish_reason,
                           const std::vector<TokenLogprob>& logprobs, const nlohmann::json& extra_choice) {
  nlohmann::json j = base(req, meta, true);
  nlohmann::json choice = {{"index", 0}};
  if (req.endpoint == Endpoint::kChat) choice["delta"] = nlohmann::json::object();
  else choice["text"] = "";
  choice["logprobs"] = logprobs.empty() ? nlohmann::json() : logprobs_json(req, logprobs);
  choice["finish_reason"] = finish_reason;
  if (extra_choice.is_object()) choice.update(extra_choice);
  j["choices"] = nlohmann::json::array({choice});
  return j;
}

nlohmann::json usage_chunk(const ServeRequest& req, const ResponseMeta& meta, const CompletionOutput& out) {
  nlohmann::json j = base(req, meta, true);
  j["choices"] = nlohmann::json::array();
  j["usage"] = usage(out);
  return j;
}

}  // namespace wobble::serve
