#include "support/fake_openai_server.h"

#include <httplib.h>

#include <chrono>

namespace wobble::testing {

std::string request_prompt(const nlohmann::json& r) {
  if (r.contains("messages") && r["messages"].is_array() && !r["messages"].empty()) {
    for (auto it = r["messages"].rbegin(); it != r["messages"].rend(); ++it)
      if ((*it).value("role", "") == "user") return (*it).value("content", "");
  }
  return r.value("prompt", "");
}

FakeOpenAIServer::FakeOpenAIServer(Responder respond, FaultPlan fault, double slow_seconds, int threads)
    : server_(std::make_unique<httplib::Server>()), respond_(std::move(respond)), fault_(std::move(fault)),
      slow_seconds_(slow_seconds) {
  server_->set_tcp_nodelay(true);  // otherwise Nagle + delayed ACK add ~40 ms per request
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    requests_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_auth_ = req.get_header_value("Authorization");
    }
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (...) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"bad json"}})", "application/json");
      return;
    }
    int attempt;
    {
      std::lock_guard<std::mutex> lock(mu_);
      attempt = ++attempts_[body.value("seed", nlohmann::json(0)).dump() + "\n" + request_prompt(body)];
    }
    Fault f = fault_ ? fault_(body, attempt) : Fault::kNone;
    switch (f) {
      case Fault::k429:
        res.status = 429;
        res.set_header("Retry-After", "0");
        res.set_content(R"({"error":{"message":"rate limited"}})", "application/json");
        return;
      case Fault::k500:
        res.status = 500;
        res.set_content(R"({"error":{"message":"internal"}})", "application/json");
        return;
      case Fault::kSlow:
        std::this_thread::sleep_for(std::chrono::duration<double>(slow_seconds_));
        break;
      case Fault::kDrop:
        res.set_content_provider(1000, "application/json",
                                 [](size_t, size_t, httplib::DataSink&) { return false; });
        return;
      case Fault::kMalformed:
        res.set_content("{\"choices\": [ {\"message\": ", "application/json");
        return;
      case Fault::kNone:
        break;
    }
    std::string text = respond_(body);
    bool chat = req.path.find("chat") != std::string::npos;
    nlohmann::json choice = {{"index", 0}, {"finish_reason", "stop"}};
    if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
    else choice["text"] = text;
    nlohmann::json out = {{"id", "cmpl-test"}, {"object", chat ? "chat.completion" : "text_completion"},
                          {"model", body.value("model", "fake")}, {"choices", {choice}},
                          {"usage", {{"prompt_tokens", 7}, {"completion_tokens", int(text.size() / 4 + 1)}}}};
    res.set_content(out.dump(), "application/json");
  };
  server_->Post("/v1/chat/completions", handler);
  server_->Post("/v1/completions", handler);
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

FakeOpenAIServer::~FakeOpenAIServer() {
  server_->stop();
  thread_.join();
}

std::string FakeOpenAIServer::last_authorization() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_auth_;
}

}  // namespace wobble::testing
