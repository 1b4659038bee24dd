// `wobble serve`: the bundled engine behind an OpenAI-compatible HTTP API (cpp-httplib).
//
// Endpoints: POST /v1/chat/completions, POST /v1/completions (streaming as server-sent events, or
// one JSON body), GET /v1/models, GET /health. Every error is an OpenAI-style JSON body
// {"error": {"message", "type", "param", "code"}}: 400 for a bad body or field, 404 for an unknown
// model or path, 413 for a body over the limit, 503 with Retry-After when the queue is full.
//
// Lifecycle: the constructor loads the model and creates the sessions (throws RuntimeError);
// bind() takes the port; run() serves until stop() and returns once every admitted request has
// been answered (drain). cancel_all() makes generations in flight end at their next token.
// Thread safety: stop() and cancel_all() may be called from any thread while run() runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace wobble::serve {

struct ServeOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0: any free port (bind() says which)
  std::string alias;                   // the model's name in the API; "" = the file name without .gguf
  std::string chat_template = "auto";  // "auto" or a name of moe::chat_family_list()
  int parallel = 1;                    // sessions generating at once
  int queue = 16;                      // admitted requests waiting for a session; more get 503
  int threads = 0;                     // per session; 0 = the machine's cores / parallel
  uint32_t ctx = 0;                    // per session; 0 = min(model's training context, 4096)
  size_t max_body_bytes = size_t(1) << 20;
  int32_t max_tokens_cap = 0;          // 0 = the context size
  bool vllm_routing = false;           // --enable-return-routed-experts: vLLM's routed_experts in every choice
  int retry_after_s = 1;               // Retry-After of a 503
  bool log_requests = true;            // one line per answered request on stderr
};

class Server {
 public:
  explicit Server(const ServeOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port; returns the port bound. Throws RuntimeError when the address cannot be used.
  int bind();
  // Serves until stop(); then waits for admitted requests to finish. Returns false when listening failed.
  bool run();
  void stop();
  void cancel_all();
  const std::string& model_name() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace wobble::serve
