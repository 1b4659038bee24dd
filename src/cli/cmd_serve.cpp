// wobble serve: the bundled engine behind an OpenAI-compatible HTTP API (src/serve/).
//
// Signals: SIGINT and SIGTERM are taken by one thread (sigwait), never by a handler. The first
// stops accepting connections and lets admitted requests finish (drain), then the command exits 0;
// a second one also cuts generations in flight short at their next token.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include <boost/program_options.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "moe/chat_template.h"
#include "serve/server.h"
#include "util/error.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

int serve_command(const std::vector<std::string>& args) {
  serve::ServeOptions o;
  int64_t max_body = int64_t(o.max_body_bytes);
  po::options_description opts("wobble serve -m MODEL.gguf [options]");
  opts.add_options()("help,h", "show this help")("model,m", po::value(&o.model_path), "GGUF model file")
      ("host", value_with_default(&o.host), "address to listen on; anything but loopback exposes the model, unauthenticated, to the network")
      ("port", value_with_default(&o.port), "TCP port (0 = any free port; the one chosen is printed)")
      ("parallel", value_with_default(&o.parallel), "requests generating at once, each on its own session over the one loaded model")
      ("queue", value_with_default(&o.queue), "admitted requests that may wait for a session; beyond that the answer is 503 with Retry-After")
      ("threads", value_with_default(&o.threads), "threads per session (0 = the machine's cores / --parallel)")
      ("ctx", value_with_default(&o.ctx), "context size per session in tokens (0 = min(model's training context, 4096))")
      ("alias", value_with_default(&o.alias), "the model's name in the API (default: the file name without .gguf)")
      ("chat-template", value_with_default(&o.chat_template), ("how chat messages are rendered: auto (the model's own) | " + moe::chat_family_list()).c_str())
      ("max-tokens-cap", value_with_default(&o.max_tokens_cap), "largest max_tokens a request may ask for, and the default when it asks none (0 = the context size)")
      ("max-body-bytes", value_with_default(&max_body), "largest request body; larger ones get 413")
      ("enable-return-routed-experts", po::bool_switch(&o.vllm_routing), "add vLLM's routed_experts (base64 .npy) to every non-streaming choice, as vLLM does with this flag; SGLang's sgl_ext.routed_experts is returned whenever a request asks (return_routed_experts: true)")
      ("retry-after", value_with_default(&o.retry_after_s), "seconds a 503 asks the client to wait (Retry-After)")
      ("quiet,q", "no line per request on stderr");
  po::variables_map vm;
  if (parse_or_help(opts, nullptr, args, vm)) return kExitOk;
  if (o.model_path.empty()) throw Error(kExitUsage, "-m MODEL.gguf is required");
  if (o.port < 0 || o.port > 65535) throw Error(kExitUsage, "--port must be between 0 and 65535");
  if (o.threads < 0 || o.threads > 1024) throw Error(kExitUsage, "--threads must be between 0 and 1024");
  if (o.ctx > (1u << 20)) throw Error(kExitUsage, "--ctx must be at most 1048576");
  if (o.max_tokens_cap < 0) throw Error(kExitUsage, "--max-tokens-cap must be at least 0");
  if (max_body < 1024 || max_body > (int64_t(1) << 30)) throw Error(kExitUsage, "--max-body-bytes must be between 1024 and 1073741824");
  if (o.retry_after_s < 1 || o.retry_after_s > 3600) throw Error(kExitUsage, "--retry-after must be between 1 and 3600");
  o.max_body_bytes = size_t(max_body);
  o.log_requests = !vm.count("quiet");

  // Blocked before any thread exists, so every thread inherits the mask and only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A client that hangs up mid-stream must end its generation, not the server.
  signal(SIGPIPE, SIG_IGN);

  serve::Server server(o);
  int port = server.bind();
  if (!is_loopback(o.host))
    std::fprintf(stderr, "wobble serve: warning: listening on %s: anyone who can reach this port can use the model (no authentication)\n",
                 o.host.c_str());
  std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  std::fprintf(stderr, "wobble serve: model '%s' on http://%s:%d/v1 (parallel %d, queue %d); Ctrl-C drains and stops\n",
               server.model_name().c_str(), host.c_str(), port, o.parallel, o.queue);

  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    int seen = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&stop_signals, &sig) != 0) continue;
      if (finished) return;
      if (++seen == 1) {
        std::fprintf(stderr, "wobble serve: %s: finishing the requests in flight (again to cut them short)\n",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        server.stop();
      } else {
        server.cancel_all();
      }
    }
  });
  bool listened = server.run();
  finished = true;
  pthread_kill(watcher.native_handle(), SIGTERM);  // wakes the watcher's sigwait so it can return
  watcher.join();
  if (!listened) throw RuntimeError("the server stopped listening unexpectedly");
  std::fprintf(stderr, "wobble serve: stopped\n");
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("serve", "serve a GGUF model on the bundled engine with an OpenAI-compatible HTTP API", serve_command);

}  // namespace wobble::cli
