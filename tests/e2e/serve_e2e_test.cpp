// End to end: `wobble serve` on the demo model as a child process, driven over HTTP with libcurl and
// through Wobble's own openai provider. A suite run through the server must store exactly what a
// local run stores; hostile requests get OpenAI-style errors; a full queue answers 503; SIGTERM
// drains the request in flight and exits 0.
#include <curl/curl.h>
#include <strings.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "moe/model.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "moe/prompt.h"
#include "provider/routing_payload.h"
#include "store/store.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-moe.gguf";

#define REQUIRE_DEMO_MODEL() \
  if (!fs::exists(kModel)) GTEST_SKIP() << "demo model not found at " << kModel;

// A running `wobble serve --port 0`; the port is read from its start-up line.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> extra) {
    std::vector<std::string> argv = {WOBBLE_EXE, "serve", "-m", kModel, "--port", "0", "--threads", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<BackgroundProcess>(argv);
    static const std::regex kListening(R"(on http://127\.0\.0\.1:(\d+)/v1)");
    // Polls for the line (model load is milliseconds; the bound only guards a broken build).
    for (int i = 0; i < 3000 && port_ == 0; ++i) {
      std::smatch m;
      std::string err = proc_->err_so_far();
      if (std::regex_search(err, m, kListening)) port_ = std::stoi(m[1]);
      else std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  BackgroundProcess& process() { return *proc_; }

 private:
  std::unique_ptr<BackgroundProcess> proc_;
  int port_ = 0;
};

struct Reply {
  long status = 0;
  std::string body, retry_after;
  CURLcode code = CURLE_OK;
};

size_t append_body(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}

size_t read_retry_after(char* p, size_t size, size_t n, void* user) {
  std::string line(p, size * n);
  if (line.size() > 12 && strncasecmp(line.c_str(), "retry-after:", 12) == 0) {
    std::string v = line.substr(12);
    v.erase(0, v.find_first_not_of(' '));
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    *static_cast<std::string*>(user) = v;
  }
  return size * n;
}

// One request; POST when body is given.
Reply http(const std::string& url, const std::string* body = nullptr,
           const std::string& content_type = "application/json") {
  Reply r;
  CURL* c = curl_easy_init();
  struct curl_slist* h = curl_slist_append(nullptr, ("Content-Type: " + content_type).c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body->size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_retry_after);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.retry_after);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
  r.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return r;
}

Reply post(const std::string& url, const std::string& body) { return http(url, &body); }

// A streaming POST; on_data sees every received piece and returns false to hang up.
struct StreamState {
  std::string received;
  std::function<bool(const std::string&)> on_data;
};

size_t stream_body(char* p, size_t size, size_t n, void* user) {
  auto* s = static_cast<StreamState*>(user);
  s->received.append(p, size * n);
  if (s->on_data && !s->on_data(s->received)) return 0;
  return size * n;
}

std::string post_stream(const std::string& url, const std::string& body,
                        std::function<bool(const std::string&)> on_data = {}) {
  StreamState s{"", std::move(on_data)};
  CURL* c = curl_easy_init();
  struct curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
  curl_easy_perform(c);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return s.received;
}

// The JSON events of an SSE body; checks the framing ("data: ...\n\n", last "[DONE]").
std::vector<nlohmann::json> sse_events(const std::string& body, bool* done) {
  std::vector<nlohmann::json> out;
  *done = false;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find("\n\n", at);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << at;
    if (end == std::string::npos) break;
    std::string ev = body.substr(at, end - at);
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    std::string data = ev.substr(6);
    EXPECT_FALSE(*done) << "event after [DONE]";
    if (data == "[DONE]") *done = true;
    else out.push_back(nlohmann::json::parse(data));
    at = end + 2;
  }
  return out;
}

std::string demo_suite(const std::string& dir, const std::string& name, const std::string& provider, bool chat) {
  std::string rubrics = std::string(WOBBLE_SOURCE_DIR) + "/rubrics/";
  std::string variants =
      chat ? "  - id: plain\n    messages: [{user: \"{{question}}\"}]\n  - id: role\n    messages: "
             "[{system: \"Role: math expert\"}, {user: \"{{question}}\"}]\n"
           : "  - id: plain\n    prompt: \"{{question}}\"\n  - id: answer\n    prompt: \"Question: {{question}} Answer:\"\n";
  std::string s = "name: " + name + "\nprovider: " + provider +
                  "\nsampling: {temperature: 0.9, top_p: 0.95, max_tokens: 32, seed: 11}\nrepeats: 3\nvariants:\n" +
                  variants + "cases:\n" +
                  "  - {id: add, vars: {question: \"What is 23 + 45?\", answer: \"68\"}, rubric: \"" + rubrics +
                  "demo-arithmetic.yaml\"}\n  - {id: sea, vars: {question: \"Write two sentences about the sea.\", "
                  "answer: \"sea\"}, rubric: \"" + rubrics + "demo-arithmetic.yaml\"}\n";
  std::string path = dir + "/" + name + ".yaml";
  write_text_file(path, s);
  return path;
}

std::vector<SampleRecord> run_suite(const std::string& suite, const std::string& db) {
  auto run = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--json", "--quiet"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  if (run.exit_code != 0) return {};
  int64_t id = nlohmann::json::parse(run.out)["run_id"];
  return Store::open(db).samples(id, /*with_trace=*/true);
}

// Expert ids of every token and MoE layer; the local trace's gate weights are not compared (a remote
// trace has none).
void expect_same_routing(const std::vector<uint8_t>& local, const std::vector<uint8_t>& remote) {
  ASSERT_FALSE(local.empty());
  ASSERT_FALSE(remote.empty());
  auto a = moe::RoutingTrace::deserialize(local.data(), local.size());
  auto b = moe::RoutingTrace::deserialize(remote.data(), remote.size());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->has_gates());
  EXPECT_FALSE(b->has_gates());
  ASSERT_EQ(b->n_tokens(), a->n_tokens());
  ASSERT_EQ(b->n_layers(), a->n_layers());
  ASSERT_EQ(b->k(), a->k());
  size_t differ = 0;
  for (uint64_t t = 0; t < a->n_tokens(); ++t)
    for (uint32_t l = 0; l < a->n_layers(); ++l) {
      auto x = a->at(t, l).experts, y = b->at(t, l).experts;
      differ += !std::equal(x.begin(), x.end(), y.begin(), y.end());
    }
  EXPECT_EQ(differ, 0u);
}

}  // namespace

// The same suite through `kind: local` and through `kind: openai` at `wobble serve`: every sample's
// output, finish reason, token counts and seed are identical, and with provider.routing (both
// formats) so is every token's routing.
TEST(ServeE2E, SuiteThroughServeStoresWhatALocalRunStores) {
  REQUIRE_DEMO_MODEL();
  ServeProcess serve({"--parallel", "2", "--quiet", "--enable-return-routed-experts"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  std::string dir = make_temp_dir("serve-e2e");
  std::string base = serve.url("/v1");
  struct Config {
    bool chat;
    std::string routing;
  };
  std::map<bool, std::vector<SampleRecord>> local;
  for (const Config& c : {Config{true, "off"}, Config{false, "off"}, Config{true, "sglang"}, Config{true, "vllm"},
                          Config{false, "sglang"}}) {
    const std::string tag = std::string(c.chat ? "chat" : "text") + "-" + c.routing;
    SCOPED_TRACE(tag);
    if (!local.count(c.chat)) {
      std::string suite = demo_suite(dir, "local-" + tag,
                                     "{kind: local, model_path: \"" + kModel + "\", threads: 1, max_concurrency: 2}", c.chat);
      local[c.chat] = run_suite(suite, dir + "/local-" + tag + ".db");
    }
    const auto& a = local[c.chat];
    std::string remote = demo_suite(dir, "serve-" + tag,
                                    "{kind: openai, base_url: \"" + base + "\", model: wobble-demo-moe, endpoint: " +
                                        (c.chat ? "chat" : "completions") + ", max_concurrency: 2, routing: " + c.routing +
                                        (c.routing == "off" ? "" : ", routing_shape: {layers: 4, top_k: 2, n_experts: 8}") + "}",
                                    c.chat);
    auto b = run_suite(remote, dir + "/serve-" + tag + ".db");
    ASSERT_EQ(a.size(), 12u);
    ASSERT_EQ(b.size(), a.size());
    std::map<std::tuple<std::string, std::string, int>, const SampleRecord*> by;
    for (const auto& s : b) by[{s.case_id, s.variant_id, s.repeat}] = &s;
    std::set<std::string> distinct;
    for (const auto& s : a) {
      SCOPED_TRACE(s.case_id + "/" + s.variant_id + "/" + std::to_string(s.repeat));
      const SampleRecord* t = by.at({s.case_id, s.variant_id, s.repeat});
      ASSERT_TRUE(s.ok) << s.error;
      ASSERT_TRUE(t->ok) << t->error;
      EXPECT_EQ(t->seed, s.seed);
      EXPECT_EQ(t->output, s.output);
      EXPECT_EQ(t->finish_reason, s.finish_reason);
      EXPECT_EQ(t->prompt_tokens, s.prompt_tokens);
      EXPECT_EQ(t->completion_tokens, s.completion_tokens);
      EXPECT_EQ(t->model_reported, "wobble-demo-moe");
      if (c.routing != "off") {
        EXPECT_EQ(t->prompt_token_ids, s.prompt_token_ids);
        EXPECT_EQ(t->token_ids, s.token_ids);
        EXPECT_EQ(t->routing_error, "");
        expect_same_routing(s.routing_trace, t->routing_trace);
      } else {
        EXPECT_TRUE(t->routing_trace.empty());
        EXPECT_FALSE(s.routing_trace.empty());
      }
      distinct.insert(s.output);
    }
    // Temperature 0.9 over 12 samples: the comparison covers varied outputs, not one string.
    EXPECT_GT(distinct.size(), 2u);
  }
}

TEST(ServeE2E, StreamingSendsTheSameTextAsOneBody) {
  REQUIRE_DEMO_MODEL();
  ServeProcess serve({"--quiet"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  for (bool chat : {true, false}) {
    SCOPED_TRACE(chat ? "chat" : "completions");
    nlohmann::json req = {{"temperature", 0.9}, {"seed", 5}, {"max_tokens", 40}, {"logprobs", chat ? nlohmann::json(true) : nlohmann::json(2)}};
    if (chat) req["top_logprobs"] = 2;
    if (chat) req["messages"] = {{{"role", "user"}, {"content", "Write two sentences about the sea."}}};
    else req["prompt"] = "Write two";
    std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    Reply whole = post(serve.url(path), req.dump());
    ASSERT_EQ(whole.status, 200) << whole.body;
    auto w = nlohmann::json::parse(whole.body);
    EXPECT_EQ(w["object"], chat ? "chat.completion" : "text_completion");
    std::string text = chat ? w["choices"][0]["message"]["content"].get<std::string>() : w["choices"][0]["text"].get<std::string>();
    EXPECT_FALSE(text.empty());

    req["stream"] = true;
    req["stream_options"] = {{"include_usage", true}};
    bool done = false;
    auto events = sse_events(post_stream(serve.url(path), req.dump()), &done);
    EXPECT_TRUE(done);
    ASSERT_GE(events.size(), 3u);
    std::string joined, finish;
    size_t logprob_tokens = 0;
    for (size_t i = 0; i + 1 < events.size(); ++i) {
      const auto& e = events[i];
      EXPECT_EQ(e["object"], chat ? "chat.completion.chunk" : "text_completion");
      EXPECT_EQ(e["id"], events[0]["id"]);
      ASSERT_EQ(e["choices"].size(), 1u);
      const auto& c = e["choices"][0];
      joined += chat ? c["delta"].value("content", "") : c["text"].get<std::string>();
      if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
      if (!c["logprobs"].is_null())
        logprob_tokens += chat ? c["logprobs"]["content"].size() : c["logprobs"]["tokens"].size();
    }
    if (chat) {
      EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
    }
    EXPECT_EQ(joined, text);
    EXPECT_EQ(finish, w["choices"][0]["finish_reason"]);
    const auto& last = events.back();
    EXPECT_TRUE(last["choices"].empty());
    EXPECT_EQ(last["usage"], w["usage"]);
    size_t whole_logprobs = chat ? w["choices"][0]["logprobs"]["content"].size() : w["choices"][0]["logprobs"]["tokens"].size();
    EXPECT_EQ(logprob_tokens, whole_logprobs);
    EXPECT_GT(whole_logprobs, 0u);
  }
}

TEST(ServeE2E, HostileRequestsGetOpenAIStyleErrors) {
  REQUIRE_DEMO_MODEL();
  ServeProcess serve({"--quiet", "--max-tokens-cap", "64"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  const std::string chat = serve.url("/v1/chat/completions");
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  struct Case {
    std::string name, body;
    long status;
    std::string param, code;
  };
  std::vector<Case> cases = {
      {"oversize body", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + std::string(2u << 20, 'a') + "\"}]}", 413, "", "request_too_large"},
      {"bad json", "{\"messages\": [", 400, "", ""},
      {"not an object", "[1,2,3]", 400, "", ""},
      {"deep nesting", std::string(100000, '['), 400, "", ""},
      {"wrong type", "{" + msgs + ",\"temperature\":\"hot\"}", 400, "temperature", ""},
      {"wrong type messages", R"({"messages":"hi"})", 400, "messages", ""},
      {"max_tokens over cap", "{" + msgs + ",\"max_tokens\":65}", 400, "max_tokens", ""},
      {"negative max_tokens", "{" + msgs + ",\"max_tokens\":-3}", 400, "max_tokens", ""},
      {"n > 1", "{" + msgs + ",\"n\":3}", 400, "n", "unsupported_parameter"},
      {"unknown model", "{\"model\":\"gpt-4o\"," + msgs + "}", 404, "model", "model_not_found"},
      {"prompt over context", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + std::string(5000, 'x') + "\"}]}", 400,
       "messages", "context_length_exceeded"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reply r = post(chat, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
    const auto& e = j["error"];
    for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(e.contains(k)) << k;
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty());
    EXPECT_EQ(e["param"], c.param.empty() ? nlohmann::json() : nlohmann::json(c.param));
    if (!c.code.empty()) {
      EXPECT_EQ(e["code"], c.code);
    }
  }
  Reply missing = http(serve.url("/v1/nowhere"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["code"], "unknown_url");
  Reply wrong_model = http(serve.url("/v1/models/gpt-4o"));
  EXPECT_EQ(wrong_model.status, 404);
  // A form-encoded body (curl -d without a Content-Type) is capped at 8 KiB by the HTTP library:
  // the error says how to send it instead.
  std::string form = "{" + msgs + ",\"stop\":[\"" + std::string(9000, 's') + "\"]}";
  Reply f = http(chat, &form, "application/x-www-form-urlencoded");
  EXPECT_EQ(f.status, 413);
  EXPECT_NE(f.body.find("application/json"), std::string::npos) << f.body;

  // Still serving.
  Reply health = http(serve.url("/health"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["status"], "ok");
  Reply fine = post(chat, "{" + msgs + ",\"max_tokens\":4,\"temperature\":0}");
  EXPECT_EQ(fine.status, 200) << fine.body;
  auto models = nlohmann::json::parse(http(serve.url("/v1/models")).body);
  EXPECT_EQ(models["data"][0]["id"], "wobble-demo-moe");
}

TEST(ServeE2E, FullQueueAnswers503WithRetryAfter) {
  REQUIRE_DEMO_MODEL();
  // One session, no queue; the first request holds the session for 8000 tokens (ignore_eos).
  ServeProcess serve({"--quiet", "--parallel", "1", "--queue", "0", "--ctx", "8192", "--retry-after", "2"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  std::atomic<bool> streaming{false}, hang_up{false};
  std::thread holder([&] {
    post_stream(serve.url("/v1/completions"),
                R"({"prompt":"Write","max_tokens":8000,"ignore_eos":true,"stream":true,"temperature":0})",
                [&](const std::string& got) {
                  if (got.find("data: ") != std::string::npos) streaming = true;
                  return !hang_up.load();
                });
  });
  while (!streaming.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Reply busy = post(serve.url("/v1/completions"), R"({"prompt":"Hi","max_tokens":2})");
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(busy.retry_after, "2");
  auto e = nlohmann::json::parse(busy.body);
  EXPECT_EQ(e["error"]["type"], "server_error");
  EXPECT_EQ(e["error"]["code"], "server_busy");
  auto h = nlohmann::json::parse(http(serve.url("/health")).body);
  EXPECT_EQ(h["slots_busy"], 1);

  // Hanging up ends that generation; the session then serves the next request.
  hang_up = true;
  holder.join();
  long status = 0;
  for (int i = 0; i < 600 && status != 200; ++i) {
    status = post(serve.url("/v1/completions"), R"({"prompt":"Hi","max_tokens":2})").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200);
}

TEST(ServeE2E, SigtermDrainsTheRequestInFlightAndExitsZero) {
  REQUIRE_DEMO_MODEL();
  ServeProcess serve({"--ctx", "1024"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  std::atomic<bool> streaming{false};
  std::string body;
  std::thread client([&] {
    body = post_stream(serve.url("/v1/chat/completions"),
                       R"({"messages":[{"role":"user","content":"Hi"}],"max_tokens":600,"ignore_eos":true,"stream":true,
                           "stream_options":{"include_usage":true},"seed":3})",
                       [&](const std::string& got) {
                         if (got.find("\"content\"") != std::string::npos) streaming = true;
                         return true;
                       });
  });
  while (!streaming.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  serve.process().signal(SIGTERM);
  client.join();
  auto result = serve.process().wait();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("stopped"), std::string::npos) << result.err;
  bool done = false;
  auto events = sse_events(body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], 600);
  EXPECT_EQ(events[events.size() - 2]["choices"][0]["finish_reason"], "length");
}

TEST(ServeE2E, SecondSignalCutsTheGenerationShort) {
  REQUIRE_DEMO_MODEL();
  ServeProcess serve({"--ctx", "8192", "--quiet"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  std::atomic<bool> streaming{false};
  std::string body;
  std::thread client([&] {
    body = post_stream(serve.url("/v1/completions"),
                       R"({"prompt":"Write","max_tokens":8000,"ignore_eos":true,"stream":true,"temperature":0})",
                       [&](const std::string& got) {
                         if (got.find("data: ") != std::string::npos) streaming = true;
                         return true;
                       });
  });
  while (!streaming.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  serve.process().signal(SIGINT);
  // The first signal is being handled once the server reports it on stderr.
  for (int i = 0; i < 3000 && serve.process().err_so_far().find("SIGINT") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  serve.process().signal(SIGINT);
  client.join();
  auto result = serve.process().wait();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  bool done = false;
  auto events = sse_events(body, &done);
  EXPECT_TRUE(done);
  ASSERT_FALSE(events.empty());
  // The stream ends with an error event saying why, not with a finish reason of a full generation.
  EXPECT_TRUE(events.back().contains("error")) << events.back().dump();
}

TEST(ServeE2E, RoutingOutIsTheEnginesTraceInBothFormats) {
  REQUIRE_DEMO_MODEL();
  ServeProcess serve({"--quiet", "--enable-return-routed-experts"});
  ASSERT_GT(serve.port(), 0) << serve.process().err_so_far();
  nlohmann::json req = {{"messages", {{{"role", "user"}, {"content", "Write two sentences about the sea."}}}},
                        {"temperature", 0.9}, {"seed", 21}, {"max_tokens", 30}, {"return_routed_experts", true},
                        {"return_token_ids", true}};
  Reply r = post(serve.url("/v1/chat/completions"), req.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = nlohmann::json::parse(r.body);
  const auto& choice = j["choices"][0];
  std::vector<int32_t> prompt_ids = j["prompt_token_ids"], token_ids = choice["token_ids"];

  // The same request on the engine directly: same prompt ids, same tokens, same routing.
  auto model = moe::Model::load(kModel);
  ASSERT_TRUE(model.ok());
  moe::SessionOptions so;
  so.n_threads = 1;
  so.trace_routing = true;
  auto session = moe::Session::create(*model, so);
  ASSERT_TRUE(session.ok());
  auto fam = moe::resolve_chat_family((*model)->tokenizer(), "auto");
  std::vector<moe::ChatMessage> msgs = {{"user", "Write two sentences about the sea."}};
  auto ids = moe::encode_prompt((*model)->tokenizer(), *fam, std::nullopt, msgs);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(prompt_ids, *ids);
  moe::GenerateOptions go;
  go.max_tokens = 30;
  go.sampling.temperature = 0.9f;
  go.sampling.seed = 21;
  auto res = moe::generate(**session, *ids, go);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(token_ids, res->tokens);
  EXPECT_EQ(choice["message"]["content"], res->text);
  const moe::RoutingTrace& trace = (*session)->trace();
  ASSERT_GT(trace.n_tokens(), prompt_ids.size());

  RoutingIds sgl, vllm;
  std::string err;
  ASSERT_TRUE(decode_sglang_routing(choice["sgl_ext"]["routed_experts"].get<std::string>(), trace.n_layers(), trace.k(),
                                    sgl, err)) << err;
  ASSERT_TRUE(decode_vllm_routing(choice["routed_experts"].get<std::string>(), trace.n_layers(), trace.k(), vllm, err))
      << err;
  // Rows: the prompt and every generated token fed back, [0, seqlen - 1).
  EXPECT_EQ(sgl.tokens, prompt_ids.size() + uint64_t(j["usage"]["completion_tokens"].get<int64_t>()) - 1);
  EXPECT_EQ(sgl.tokens, trace.n_tokens());
  EXPECT_EQ(vllm.ids, sgl.ids);
  EXPECT_EQ(vllm.tokens, sgl.tokens);
  size_t mismatched = 0;
  for (uint64_t t = 0; t < trace.n_tokens(); ++t)
    for (uint32_t l = 0; l < trace.n_layers(); ++l) {
      auto step = trace.at(t, l);
      for (uint32_t k = 0; k < trace.k(); ++k)
        mismatched += sgl.ids[size_t((t * trace.n_layers() + l) * trace.k() + k)] != int32_t(step.experts[k]);
    }
  EXPECT_EQ(mismatched, 0u);

  // routed_experts_start_len leaves out the prompt rows.
  req["routed_experts_start_len"] = prompt_ids.size();
  auto tail = nlohmann::json::parse(post(serve.url("/v1/chat/completions"), req.dump()).body);
  RoutingIds cut;
  ASSERT_TRUE(decode_sglang_routing(tail["choices"][0]["sgl_ext"]["routed_experts"].get<std::string>(), trace.n_layers(),
                                    trace.k(), cut, err)) << err;
  EXPECT_EQ(cut.tokens, sgl.tokens - prompt_ids.size());
  EXPECT_TRUE(std::equal(cut.ids.begin(), cut.ids.end(), sgl.ids.end() - std::ptrdiff_t(cut.ids.size())));

  // sgl_ext only when asked; the vLLM field whenever the server has the flag, as vLLM does.
  req.erase("return_routed_experts");
  req.erase("routed_experts_start_len");
  auto plain = nlohmann::json::parse(post(serve.url("/v1/chat/completions"), req.dump()).body);
  EXPECT_FALSE(plain["choices"][0].contains("sgl_ext"));
  EXPECT_TRUE(plain["choices"][0].contains("routed_experts"));
}
