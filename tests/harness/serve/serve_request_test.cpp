// `wobble serve` request parsing: every hostile or unsupported body gives a 400 naming the field,
// and valid bodies give exactly the sampling the engine will use.
#include <gtest/gtest.h>

#include <string>

#include "serve/serve_request.h"

using namespace wobble::serve;

namespace {

ServeRequest ok(const std::string& body, Endpoint e = Endpoint::kChat, const RequestLimits& l = {}) {
  auto r = parse_request(body, e, l);
  if (auto* err = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "refused: " << err->param << ": " << err->message;
    return {};
  }
  return std::get<ServeRequest>(r);
}

ApiError refused(const std::string& body, Endpoint e = Endpoint::kChat, const RequestLimits& l = {}) {
  auto r = parse_request(body, e, l);
  if (auto* err = std::get_if<ApiError>(&r)) return *err;
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

const std::string kMsgs = R"("messages":[{"role":"user","content":"hi"}])";

}  // namespace

TEST(ServeRequest, ChatDefaultsAreOpenAIs) {
  ServeRequest r = ok("{" + kMsgs + "}");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].content, "hi");
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_FALSE(r.seed_given);
  EXPECT_EQ(r.max_tokens, RequestLimits{}.default_max_tokens);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.logprobs);
}

TEST(ServeRequest, EveryFieldIsRead) {
  ServeRequest r = ok(R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
    "temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":18446744073709551615,"max_tokens":12,"stop":["x","y"],
    "stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":3,"ignore_eos":true,
    "return_token_ids":true,"return_routed_experts":true,"routed_experts_start_len":5,"n":1,"presence_penalty":0})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.sampling.seed, 18446744073709551615ull);
  EXPECT_EQ(r.max_tokens, 12);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(r.stream && r.include_usage && r.logprobs && r.ignore_eos && r.return_token_ids && r.return_routed_experts);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_EQ(r.routed_experts_start, 5u);
}

TEST(ServeRequest, CompletionsTakeAPromptAndIntegerLogprobs) {
  ServeRequest r = ok(R"({"prompt":"Once","logprobs":2,"stop":"."})", Endpoint::kCompletions);
  ASSERT_TRUE(r.prompt.has_value());
  EXPECT_EQ(*r.prompt, "Once");
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"."}));
  EXPECT_EQ(*ok(R"({"prompt":["One"]})", Endpoint::kCompletions).prompt, "One");
  EXPECT_EQ(refused(R"({"prompt":["a","b"]})", Endpoint::kCompletions).code, "unsupported_parameter");
  EXPECT_EQ(refused(R"({"prompt":[1,2,3]})", Endpoint::kCompletions).param, "prompt");
  EXPECT_EQ(refused(R"({})", Endpoint::kCompletions).param, "prompt");
  EXPECT_EQ(refused(R"({"prompt":"a","echo":true})", Endpoint::kCompletions).param, "echo");
}

TEST(ServeRequest, SeedMinusOneMeansDrawOne) {
  EXPECT_FALSE(ok("{" + kMsgs + R"(,"seed":-1})").seed_given);
  EXPECT_TRUE(ok("{" + kMsgs + R"(,"seed":0})").seed_given);
  EXPECT_EQ(refused("{" + kMsgs + R"(,"seed":-2})").param, "seed");
  EXPECT_EQ(refused("{" + kMsgs + R"(,"seed":1.5})").param, "seed");
}

TEST(ServeRequest, MalformedBodiesAreRefusedWithoutAParam) {
  for (const char* body : {"", "{", "not json", "[1,2]", "\"text\"", "{\"messages\":[}", "{\"a\":1}{}"}) {
    ApiError e = refused(body);
    EXPECT_EQ(e.status, 400) << body;
    EXPECT_EQ(e.type, "invalid_request_error") << body;
  }
  // Nesting deep enough to exhaust a recursive parser's stack is refused before parsing.
  ApiError deep = refused(std::string(200000, '['));
  EXPECT_NE(deep.message.find("deeper"), std::string::npos);
  // Brackets inside strings are text, not nesting.
  ok("{" + kMsgs + R"(,"stop":[")" + std::string(500, '[') + R"("]})", Endpoint::kChat,
     RequestLimits{4096, 4096, 16, 1024, 20});
}

TEST(ServeRequest, WrongTypesNameTheirField) {
  struct Case {
    const char* extra;
    const char* param;
  } cases[] = {
      {R"("temperature":"hot")", "temperature"},   {R"("temperature":-0.1)", "temperature"},
      {R"("top_p":0)", "top_p"},                   {R"("top_p":1.5)", "top_p"},
      {R"("top_k":"5")", "top_k"},                 {R"("top_k":2.5)", "top_k"},
      {R"("min_p":2)", "min_p"},                   {R"("max_tokens":"10")", "max_tokens"},
      {R"("max_tokens":-1)", "max_tokens"},        {R"("stop":5)", "stop"},
      {R"("stop":["a",1])", "stop"},               {R"("stream":"yes")", "stream"},
      {R"("stream_options":{"include_usage":1})", "stream_options.include_usage"},
      {R"("logprobs":1)", "logprobs"},             {R"("top_logprobs":3)", "top_logprobs"},
      {R"("logprobs":true,"top_logprobs":21)", "top_logprobs"},
      {R"("model":7)", "model"},                   {R"("n":2)", "n"},
      {R"("presence_penalty":0.5)", "presence_penalty"}, {R"("logit_bias":{"1":5})", "logit_bias"},
      {R"("tools":[{"type":"function"}])", "tools"}, {R"("response_format":{"type":"json_object"})", "response_format"},
      {R"("return_routed_experts":"true")", "return_routed_experts"},
  };
  for (const auto& c : cases) {
    ApiError e = refused("{" + kMsgs + "," + c.extra + "}");
    EXPECT_EQ(e.status, 400) << c.extra;
    EXPECT_EQ(e.param, c.param) << c.extra;
    EXPECT_FALSE(e.message.empty()) << c.extra;
  }
}

TEST(ServeRequest, MessagesAreChecked) {
  EXPECT_EQ(refused("{}").param, "messages");
  EXPECT_EQ(refused(R"({"messages":[]})").param, "messages");
  EXPECT_EQ(refused(R"({"messages":["hi"]})").param, "messages[0]");
  EXPECT_EQ(refused(R"({"messages":[{"content":"hi"}]})").param, "messages[0].role");
  EXPECT_EQ(refused(R"({"messages":[{"role":"tool","content":"x"}]})").param, "messages[0].role");
  EXPECT_EQ(refused(R"({"messages":[{"role":"user","content":5}]})").param, "messages[0].content");
  EXPECT_EQ(refused(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})").param,
            "messages[0].content[0].type");
  // OpenAI's "developer" is the system turn; an assistant turn may have null content.
  ServeRequest r = ok(R"({"messages":[{"role":"developer","content":"d"},{"role":"assistant","content":null},{"role":"user","content":"u"}]})");
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "");
}

TEST(ServeRequest, MaxTokensAboveTheCapIsRefused) {
  RequestLimits l;
  l.max_tokens_cap = 100;
  l.default_max_tokens = 100;
  EXPECT_EQ(ok("{" + kMsgs + R"(,"max_tokens":100})", Endpoint::kChat, l).max_tokens, 100);
  ApiError e = refused("{" + kMsgs + R"(,"max_tokens":101})", Endpoint::kChat, l);
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_NE(e.message.find("100"), std::string::npos);
  EXPECT_EQ(refused("{" + kMsgs + R"(,"max_completion_tokens":1000})", Endpoint::kChat, l).param, "max_completion_tokens");
  EXPECT_EQ(refused("{" + kMsgs + R"(,"max_tokens":18446744073709551615})", Endpoint::kChat, l).param, "max_tokens");
  EXPECT_EQ(ok("{" + kMsgs + R"(,"max_completion_tokens":7})", Endpoint::kChat, l).max_tokens, 7);
  EXPECT_EQ(refused("{" + kMsgs + R"(,"max_tokens":7,"max_completion_tokens":8})", Endpoint::kChat, l).param,
            "max_completion_tokens");
}

TEST(ServeRequest, TooManyOrTooLongStopStrings) {
  RequestLimits l;
  l.max_stop = 2;
  l.max_stop_bytes = 4;
  EXPECT_EQ(refused("{" + kMsgs + R"(,"stop":["a","b","c"]})", Endpoint::kChat, l).param, "stop");
  EXPECT_EQ(refused("{" + kMsgs + R"(,"stop":"abcde"})", Endpoint::kChat, l).param, "stop");
}

TEST(ServeRequest, ErrorBodyHasOpenAIsFourFields) {
  auto j = error_body(ApiError{404, "no such model", "invalid_request_error", "model", "model_not_found"});
  ASSERT_TRUE(j.contains("error"));
  EXPECT_EQ(j["error"]["message"], "no such model");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "model");
  EXPECT_EQ(j["error"]["code"], "model_not_found");
  auto n = error_body(ApiError{400, "bad", "invalid_request_error", "", ""});
  EXPECT_TRUE(n["error"]["param"].is_null());
  EXPECT_TRUE(n["error"]["code"].is_null());
}
