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

std::optional<JudgeRequestView> judge_request(const nlohmann::json& r) {
  if (!r.contains("messages") || !r["messages"].is_array() || r["messages"].size() != 2) return std::nullopt;
  const auto& sys = r["messages"][0];
  if (sys.value("role", "") != "system" || sys.value("content", "").rfind("You are a strict grader.", 0) != 0)
    return std::nullopt;
  std::string user = r["messages"][1].value("content", "");
  const std::string kTask = "Task:\n", kOut = "\n\nOutput:\n", kCrit = "\n\nCriterion:\n";
  size_t o = user.find(kOut), c = user.rfind(kCrit);
  if (user.rfind(kTask, 0) != 0 || o == std::string::npos || c == std::string::npos || c < o) return std::nullopt;
  JudgeRequestView v;
  v.task = user.substr(kTask.size(), o - kTask.size());
  v.output = user.substr(o + kOut.size(), c - o - kOut.size());
  v.criterion = user.substr(c + kCrit.size());
  v.five_point = sys.value("content", "").find("1 to 5") != std::string::npos;
  return v;
}

std::string judge_reply(const std::string& verdict, const std::vector<std::string>& evidence, const std::string& reason) {
  nlohmann::json v = verdict;
  if (!verdict.empty() && verdict.size() == 1 && verdict[0] >= '1' && verdict[0] <= '5') v = verdict[0] - '0';
  return nlohmann::json{{"verdict", v}, {"evidence", evidence}, {"reason", reason}}.dump();
}

int64_t FakeOpenAIServer::completion_requests_for(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_model_.find(model);
  return it == by_model_.end() ? 0 : it->second;
}

FakeOpenAIServer::FakeOpenAIServer(Responder respond, FaultPlan fault, double slow_seconds, int threads)
    : server_(std::make_unique<httplib::Server>()), respond_(std::move(respond)), fault_(std::move(fault)),
      slow_seconds_(slow_seconds) {
  server_->set_tcp_nodelay(true);  // otherwise Nagle + delayed ACK add ~40 ms per request
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  auto refuse = [this](httplib::Response& res) {
    int status = refuse_status_.load();
    if (status == 0) return false;
    res.status = status;
    res.set_content(R"({"error":{"message":"refused by the test server","type":"invalid_request_error"}})",
                    "application/json");
    return true;
  };
  server_->Get("/v1/models", [this, refuse](const httplib::Request& req, httplib::Response& res) {
    requests_.fetch_add(1);
    if (refuse(res)) return;
    nlohmann::json data = nlohmann::json::array();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& m : models_) data.push_back({{"id", m}, {"object", "model"}});
    }
    res.set_content(nlohmann::json{{"object", "list"}, {"data", data}}.dump(), "application/json");
  });
  auto handler = [this, refuse](const httplib::Request& req, httplib::Response& res) {
    requests_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_auth_ = req.get_header_value("Authorization");
    }
    if (refuse(res)) return;
    completions_.fetch_add(1);
    while (hang_.load() && !stopping_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (stopping_.load()) return;
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
      if (body.contains("model") && body["model"].is_string()) ++by_model_[body["model"].get<std::string>()];
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
    // Logprobs when asked: one token per space-separated piece (the space leads the piece), logprob
    // -0.1 * (index + 1), and for top_logprobs the token itself plus "alt<i>" at one less.
    const bool want_lp = chat ? body.value("logprobs", false) : body.contains("logprobs");
    if (want_lp) {
      int top = chat ? body.value("top_logprobs", 0) : body.value("logprobs", 0);
      nlohmann::json content = nlohmann::json::array();
      std::vector<std::string> pieces;
      for (size_t i = 0; i < text.size();) {
        size_t j = text.find(' ', i + 1);
        if (j == std::string::npos) j = text.size();
        pieces.push_back(text.substr(i, j - i));
        i = j;
      }
      for (size_t i = 0; i < pieces.size(); ++i) {
        double lp = -0.1 * double(i + 1);
        nlohmann::json alts = nlohmann::json::array();
        for (int k = 0; k < top; ++k)
          alts.push_back({{"token", k == 0 ? pieces[i] : "alt" + std::to_string(k)}, {"logprob", lp - k}});
        content.push_back({{"token", pieces[i]}, {"logprob", lp}, {"top_logprobs", alts}});
      }
      if (chat) {
        choice["logprobs"] = {{"content", content}};
      } else {
        nlohmann::json toks = nlohmann::json::array(), lps = nlohmann::json::array(), tops = nlohmann::json::array();
        for (const auto& c : content) {
          toks.push_back(c["token"]);
          lps.push_back(c["logprob"]);
          nlohmann::json o = nlohmann::json::object();
          for (const auto& a : c["top_logprobs"]) o[a["token"].get<std::string>()] = a["logprob"];
          tops.push_back(o);
        }
        choice["logprobs"] = {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}};
      }
    }
    std::string model = body.value("model", "fake");
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reported_model_) model = reported_model_(body);
    }
    nlohmann::json out = {{"id", "cmpl-test"}, {"object", chat ? "chat.completion" : "text_completion"},
                          {"model", model}, {"choices", {choice}},
                          {"usage", {{"prompt_tokens", 7}, {"completion_tokens", int(text.size() / 4 + 1)}}}};
    ResponseHook hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = response_hook_;
    }
    if (hook) hook(body, out);
    res.set_content(out.dump(), "application/json");
  };
  server_->Post("/v1/chat/completions", handler);
  server_->Post("/v1/completions", handler);
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

FakeOpenAIServer::~FakeOpenAIServer() {
  stopping_.store(true);
  server_->stop();
  thread_.join();
}

void FakeOpenAIServer::set_models(std::vector<std::string> ids) {
  std::lock_guard<std::mutex> lock(mu_);
  models_ = std::move(ids);
}

void FakeOpenAIServer::set_reported_model(std::function<std::string(const nlohmann::json&)> f) {
  std::lock_guard<std::mutex> lock(mu_);
  reported_model_ = std::move(f);
}

void FakeOpenAIServer::set_response_hook(ResponseHook f) {
  std::lock_guard<std::mutex> lock(mu_);
  response_hook_ = std::move(f);
}

std::string FakeOpenAIServer::last_authorization() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_auth_;
}

}  // namespace wobble::testing
