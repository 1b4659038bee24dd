// A scripted OpenAI-compatible server on 127.0.0.1 for tests and benchmarks (cpp-httplib).
//
// The reply to each request comes from `respond(request_json)`, so a test decides outputs from the
// prompt and the per-repeat seed and knows the exact variance it scripted. Faults are injected per
// request by `fault(request_json, attempt)` where attempt counts requests with the same seed and
// prompt (1 = first try): 429 with Retry-After, 500, a response slower than the client's timeout,
// a dropped connection, or malformed JSON.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
}

namespace wobble::testing {

enum class Fault { kNone, k429, k500, kSlow, kDrop, kMalformed };

class FakeOpenAIServer {
 public:
  using Responder = std::function<std::string(const nlohmann::json& request)>;
  using FaultPlan = std::function<Fault(const nlohmann::json& request, int attempt)>;

  FakeOpenAIServer(Responder respond, FaultPlan fault = {}, double slow_seconds = 1.0, int threads = 48);
  ~FakeOpenAIServer();

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int64_t requests() const { return requests_.load(); }
  std::string last_authorization() const;

  // Answers every request (GET /v1/models included) with this HTTP status and an OpenAI-style
  // error body; 0 turns it off.
  void refuse_with(int status) { refuse_status_.store(status); }
  // Completion requests are accepted and never answered (until the server is destroyed).
  void hang(bool on) { hang_.store(on); }
  // Model ids listed by GET /v1/models (default: an empty list).
  void set_models(std::vector<std::string> ids);
  // The `model` a response reports (default: the request's).
  void set_reported_model(std::function<std::string(const nlohmann::json& request)> f);
  int64_t completion_requests() const { return completions_.load(); }
  // Edits each completion response before it is sent (e.g. attaches a routing payload, token ids
  // or usage); called from the server's threads.
  using ResponseHook = std::function<void(const nlohmann::json& request, nlohmann::json& response)>;
  void set_response_hook(ResponseHook f);
  // Completion requests whose body named this `model` (e.g. to tell model calls from judge calls).
  int64_t completion_requests_for(const std::string& model) const;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  Responder respond_;
  FaultPlan fault_;
  double slow_seconds_;
  std::atomic<int64_t> requests_{0}, completions_{0};
  std::atomic<int> refuse_status_{0};
  std::atomic<bool> hang_{false}, stopping_{false};
  std::vector<std::string> models_;
  std::function<std::string(const nlohmann::json&)> reported_model_;
  ResponseHook response_hook_;
  mutable std::mutex mu_;
  std::map<std::string, int> attempts_;
  std::map<std::string, int64_t> by_model_;
  std::string last_auth_;
};

// The prompt text of a request: the last user message's content, or `prompt`.
std::string request_prompt(const nlohmann::json& request);

// Scripted judges: a request laid out as judge prompt v1 (scorer/judge.h), split into its parts;
// nullopt for any other request.
struct JudgeRequestView {
  std::string task, output, criterion;
  bool five_point = false;
};
std::optional<JudgeRequestView> judge_request(const nlohmann::json& request);
// A judge reply in the v1 JSON shape.
std::string judge_reply(const std::string& verdict, const std::vector<std::string>& evidence,
                        const std::string& reason = "scripted");

}  // namespace wobble::testing
