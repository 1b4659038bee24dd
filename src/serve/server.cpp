#include "serve/server.h"

#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "moe/model.h"
#include "moe/tokenizer.h"
#include "moe/prompt.h"
#include "serve/completion.h"
#include "serve/routing_out.h"
#include "serve/slot_pool.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace wobble::serve {

struct Server::Impl {
  ServeOptions opt;
  std::shared_ptr<const moe::Model> model;
  moe::ChatFamily family = moe::ChatFamily::kRaw;
  std::string name;
  std::unique_ptr<SlotPool> pool;
  uint32_t n_ctx = 0;
  RequestLimits limits;
  httplib::Server http;
  std::atomic<bool> abort{false};
  std::atomic<uint64_t> next_id{0};
  uint64_t id_base = 0;
  std::mutex rng_mu;
  std::mt19937_64 rng;
  std::mutex log_mu;

  void install_routes();
  void handle_completion(const httplib::Request& req, httplib::Response& res, Endpoint endpoint);
  void send_error(httplib::Response& res, const ApiError& e);
  void log(const std::string& line);
  uint64_t draw_seed();
  ResponseMeta new_meta(Endpoint endpoint);
  nlohmann::json routing_extra(const ServeRequest& r, const moe::Session& session, bool stream) const;
};

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string sse(const nlohmann::json& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string default_name(const std::string& path) {
  std::filesystem::path p(path);
  return p.extension() == ".gguf" ? p.stem().string() : p.filename().string();
}

}  // namespace

void Server::Impl::log(const std::string& line) {
  if (!opt.log_requests) return;
  std::lock_guard<std::mutex> lock(log_mu);
  std::fprintf(stderr, "wobble serve: %s\n", term_line(line, 400).c_str());
}

void Server::Impl::send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump_json(error_body(e)), "application/json");
}

uint64_t Server::Impl::draw_seed() {
  std::lock_guard<std::mutex> lock(rng_mu);
  return rng();
}

ResponseMeta Server::Impl::new_meta(Endpoint endpoint) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)(id_base + next_id.fetch_add(1)));
  return {std::string(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-") + hex, int64_t(std::time(nullptr)), name};
}

nlohmann::json Server::Impl::routing_extra(const ServeRequest& r, const moe::Session& session, bool stream) const {
  nlohmann::json extra = nlohmann::json::object();
  const moe::RoutingTrace& trace = session.trace();
  if (r.return_routed_experts) extra["sgl_ext"] = {{"routed_experts", sglang_routed_experts(trace, r.routed_experts_start)}};
  // vLLM returns the field without being asked once the server has the flag (non-streaming only).
  if (opt.vllm_routing && !stream) extra["routed_experts"] = vllm_routed_experts(trace, r.routed_experts_start);
  return extra;
}

void Server::Impl::handle_completion(const httplib::Request& hreq, httplib::Response& res, Endpoint endpoint) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string what = "POST " + hreq.path;
  auto refuse = [&](const ApiError& e) {
    send_error(res, e);
    log(what + " " + std::to_string(e.status) + " " + (e.param.empty() ? "" : e.param + ": ") + e.message);
  };
  ParsedRequest parsed = parse_request(hreq.body, endpoint, limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) return refuse(*e);
  ServeRequest r = std::move(std::get<ServeRequest>(parsed));
  if (!r.model.empty() && r.model != name) {
    ApiError e;
    e.status = 404;
    e.param = "model";
    e.code = "model_not_found";
    e.message = "The model '" + clip_utf8(r.model, 200) + "' does not exist; this server serves '" + name + "'";
    return refuse(e);
  }
  auto ids = moe::encode_prompt(model->tokenizer(), family, r.prompt, r.messages);
  if (!ids.ok()) return refuse(ApiError{400, "cannot tokenize the prompt: " + ids.status().message(), "invalid_request_error",
                                        endpoint == Endpoint::kChat ? "messages" : "prompt", ""});
  if (ids->empty())
    return refuse(ApiError{400, "the prompt is empty", "invalid_request_error", endpoint == Endpoint::kChat ? "messages" : "prompt", ""});
  if (ids->size() >= n_ctx)
    return refuse(ApiError{400,
                           "the prompt is " + std::to_string(ids->size()) + " tokens; this server's context is " +
                               std::to_string(n_ctx) + " tokens (wobble serve --ctx)",
                           "invalid_request_error", endpoint == Endpoint::kChat ? "messages" : "prompt",
                           "context_length_exceeded"});
  if (!r.seed_given) r.sampling.seed = draw_seed();

  auto lease = pool->acquire();
  if (!lease) {
    auto s = pool->stats();
    res.set_header("Retry-After", std::to_string(opt.retry_after_s));
    return refuse(ApiError{503,
                           "the server is busy: " + std::to_string(s.busy) + " requests generating and " +
                               std::to_string(s.waiting) + " waiting (wobble serve --parallel, --queue); retry after " +
                               std::to_string(opt.retry_after_s) + " s",
                           "server_error", "", "server_busy"});
  }
  ResponseMeta meta = new_meta(endpoint);

  if (!r.stream) {
    auto out = run_completion(lease->session(), *ids, r, &abort);
    if (!out.ok()) {
      bool cancelled = out.status().code() == moe::Status::Code::kCancelled;
      return refuse(ApiError{cancelled ? 503 : 500,
                             cancelled ? "the server is shutting down" : "generation failed: " + out.status().ToString(),
                             "server_error", "", ""});
    }
    nlohmann::json extra_top = nlohmann::json::object();
    nlohmann::json extra_choice = routing_extra(r, lease->session(), false);
    if (r.return_token_ids) {
      extra_top["prompt_token_ids"] = out->prompt_ids;
      extra_choice["token_ids"] = out->token_ids;
    }
    res.set_content(dump_json(completion_body(r, meta, *out, extra_choice, extra_top)), "application/json");
    log(what + " 200 prompt=" + std::to_string(out->prompt_ids.size()) + " completion=" +
        std::to_string(out->completion_tokens) + " " + std::to_string(seconds_since(t0)).substr(0, 6) + "s");
    return;
  }

  // Streaming: the generation runs inside the content provider, on this connection's thread, once
  // the 200 and its headers are on their way; the lease goes with it.
  struct Job {
    std::optional<SlotPool::Lease> lease;
    ServeRequest r;
    std::vector<int32_t> ids;
    ResponseMeta meta;
  };
  auto job = std::make_shared<Job>(Job{std::move(lease), std::move(r), std::move(*ids), std::move(meta)});
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [this, job, what, t0](size_t, httplib::DataSink& sink) {
        const ServeRequest& r = job->r;
        bool open = true;
        auto write = [&](const std::string& s) {
          if (open && !sink.write(s.data(), s.size())) open = false;
          return open;
        };
        if (r.endpoint == Endpoint::kChat) write(sse(role_chunk(job->meta)));
        auto out = run_completion(job->lease->session(), job->ids, r, &abort,
                                  [&](std::string_view text, std::vector<TokenLogprob> lps) {
                                    return write(sse(text_chunk(r, job->meta, text, lps)));
                                  });
        if (out.ok()) {
          write(sse(final_chunk(r, job->meta, out->finish_reason, out->unsent_logprobs,
                                routing_extra(r, job->lease->session(), true))));
          if (r.include_usage) write(sse(usage_chunk(r, job->meta, *out)));
        } else if (open) {
          bool cancelled = out.status().code() == moe::Status::Code::kCancelled;
          write(sse(error_body(ApiError{cancelled ? 503 : 500,
                                        cancelled ? "the server is shutting down"
                                                  : "generation failed: " + out.status().ToString(),
                                        "server_error", "", ""})));
        }
        write("data: [DONE]\n\n");
        job->lease.reset();
        log(what + " 200 stream " +
            (out.ok() ? "prompt=" + std::to_string(out->prompt_ids.size()) + " completion=" +
                            std::to_string(out->completion_tokens)
                      : out.status().ToString()) +
            (open ? "" : " (client went away)") + " " + std::to_string(seconds_since(t0)).substr(0, 6) + "s");
        sink.done();
        return true;
      });
}

void Server::Impl::install_routes() {
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    auto s = pool->stats();
    res.set_content(dump_json({{"status", "ok"},
                               {"slots_total", s.parallel},
                               {"slots_busy", s.busy},
                               {"queue_waiting", s.waiting},
                               {"queue_limit", s.max_waiting}}),
                    "application/json");
  });
  auto model_object = [this] {
    const auto& i = model->info();
    return nlohmann::json{{"id", name},
                          {"object", "model"},
                          {"created", 0},
                          {"owned_by", "wobble"},
                          {"meta",
                           {{"architecture", i.architecture},
                            {"n_ctx", n_ctx},
                            {"n_vocab", i.n_vocab},
                            {"n_moe_layers", i.n_moe_layers},
                            {"n_expert", i.n_expert},
                            {"n_expert_used", i.n_expert_used},
                            {"chat_template", moe::chat_family_name(family)}}}};
  };
  http.Get("/v1/models", [model_object](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump_json({{"object", "list"}, {"data", nlohmann::json::array({model_object()})}}), "application/json");
  });
  http.Get(R"(/v1/models/(.+))", [this, model_object](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] == name) return res.set_content(dump_json(model_object()), "application/json");
    send_error(res, ApiError{404, "The model '" + clip_utf8(req.matches[1].str(), 200) + "' does not exist",
                             "invalid_request_error", "model", "model_not_found"});
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_completion(req, res, Endpoint::kChat);
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_completion(req, res, Endpoint::kCompletions);
  });
  // Statuses the library sets itself (unknown path, body over the limit, bad request line) get the
  // same error body as ours; a body already set is left alone.
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    ApiError e{res.status, "", "invalid_request_error", "", ""};
    if (res.status == 404) {
      e.message = "unknown request URL: " + req.method + " " + clip_utf8(req.path, 200);
      e.code = "unknown_url";
    } else if (res.status == 413) {
      e.message = "the request body is larger than this server's limit of " + std::to_string(opt.max_body_bytes) +
                  " bytes (wobble serve --max-body-bytes)";
      // cpp-httplib caps form bodies at 8 KiB whatever the limit: curl -d sends that type by default.
      if (req.get_header_value("Content-Type").find("x-www-form-urlencoded") != std::string::npos)
        e.message = "a body sent as application/x-www-form-urlencoded is limited to 8192 bytes; send it with "
                    "Content-Type: application/json (curl -H 'Content-Type: application/json')";
      e.code = "request_too_large";
    } else {
      e.message = "HTTP " + std::to_string(res.status);
    }
    res.set_content(dump_json(error_body(e)), "application/json");
    log(req.method + " " + req.path + " " + std::to_string(res.status) + " " + e.message);
  });
  http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      msg += std::string(": ") + ex.what();
    } catch (...) {
    }
    send_error(res, ApiError{500, msg, "server_error", "", ""});
    log(req.method + " " + req.path + " 500 " + msg);
  });
}

Server::Server(const ServeOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.opt = options;
  if (options.parallel < 1 || options.parallel > 256) throw Error(kExitUsage, "--parallel must be between 1 and 256");
  if (options.queue < 0 || options.queue > 4096) throw Error(kExitUsage, "--queue must be between 0 and 4096");
  auto m = moe::Model::load(options.model_path);
  if (!m.ok()) throw RuntimeError(m.status().ToString());
  im.model = m.value();
  if (!im.model->has_tokenizer()) throw RuntimeError(options.model_path + " has no tokenizer metadata; serve needs one");
  auto fam = moe::resolve_chat_family(im.model->tokenizer(), options.chat_template);
  if (!fam.ok()) throw Error(kExitUsage, "--chat-template: " + fam.status().message());
  im.family = *fam;
  im.name = options.alias.empty() ? default_name(options.model_path) : options.alias;
  moe::SessionOptions so;
  so.n_ctx = options.ctx;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  so.n_threads = options.threads > 0 ? options.threads : int(std::max(1u, cores / unsigned(options.parallel)));
  // Every session records routing: a request may ask for it, and recording does not change the logits.
  so.trace_routing = true;
  auto pool = SlotPool::create(im.model, options.parallel, options.queue, so);
  if (!pool.ok()) throw RuntimeError("cannot create the sessions: " + pool.status().ToString());
  im.pool = std::move(pool.value());
  im.n_ctx = im.pool->n_ctx();
  int32_t cap = options.max_tokens_cap > 0 ? options.max_tokens_cap : int32_t(im.n_ctx);
  im.limits.max_tokens_cap = cap;
  im.limits.default_max_tokens = cap;
  std::random_device rd;
  im.rng.seed((uint64_t(rd()) << 32) ^ rd());
  im.id_base = im.rng();

  im.http.set_payload_max_length(options.max_body_bytes);
  im.http.set_tcp_nodelay(true);  // one small SSE chunk per token must not wait for Nagle
  // Enough connection threads that every admitted request (generating or queued) has one, plus a few
  // for /health, /v1/models and answering 503s.
  const size_t threads = size_t(options.parallel) + size_t(options.queue) + 4;
  im.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  im.install_routes();
}

Server::~Server() = default;

int Server::bind() {
  Impl& im = *impl_;
  int port = im.opt.port;
  if (port == 0) port = im.http.bind_to_any_port(im.opt.host);
  else if (!im.http.bind_to_port(im.opt.host, port)) port = -1;
  if (port <= 0)
    throw RuntimeError("cannot listen on " + im.opt.host + ":" + std::to_string(im.opt.port) +
                       " (address in use, or not an address of this machine)");
  return port;
}

bool Server::run() { return impl_->http.listen_after_bind(); }

void Server::stop() { impl_->http.stop(); }

void Server::cancel_all() { impl_->abort = true; }

const std::string& Server::model_name() const { return impl_->name; }

}  // namespace wobble::serve
