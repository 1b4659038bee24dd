// OpenAI-compatible provider pieces: request building, hostile responses, Retry-After, backoff,
// seeds and shards.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "provider/openai_provider.h"
#include "provider/retry_policy.h"
#include "runner/runner.h"
#include "runner/seeds.h"
#include "support/fake_openai_server.h"

using namespace wobble;

TEST(OpenAIRequest, ChatAndCompletionsBodies) {
  ProviderSpec spec;
  spec.kind = "openai";
  spec.model = "m";
  spec.endpoint = "chat";
  CompletionRequest req;
  req.prompt.messages = {{"system", "be brief"}, {"user", "hi"}};
  req.sampling.temperature = 0.3;
  req.sampling.seed = 99;
  req.sampling.stop = {"\n"};
  auto j = build_openai_request(spec, req);
  EXPECT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["seed"], 99);
  EXPECT_EQ(j["stop"][0], "\n");
  EXPECT_FALSE(j.contains("top_k"));
  req.sampling.top_k = 5;
  EXPECT_EQ(build_openai_request(spec, req)["top_k"], 5);
  spec.endpoint = "completions";
  req.prompt = RenderedPrompt{std::string("plain"), {}};
  j = build_openai_request(spec, req);
  EXPECT_EQ(j["prompt"], "plain");
  EXPECT_FALSE(j.contains("messages"));
}

TEST(OpenAIResponse, ParsesUsageLogprobsAndRejectsHostileBodies) {
  auto ok = parse_openai_response(
      R"({"model":"x","choices":[{"message":{"content":"hey"},"finish_reason":"length",
          "logprobs":{"content":[{"token":"h","logprob":-0.5}]}}],"usage":{"prompt_tokens":3,"completion_tokens":1}})",
      true);
  EXPECT_TRUE(ok.error.empty());
  EXPECT_EQ(ok.text, "hey");
  EXPECT_EQ(ok.finish_reason, "length");
  EXPECT_EQ(ok.prompt_tokens, 3);
  ASSERT_EQ(ok.logprobs.size(), 1u);
  EXPECT_DOUBLE_EQ(ok.logprobs[0].logprob, -0.5);
  EXPECT_EQ(ok.logprobs[0].token, "h");
  auto comp = parse_openai_response(R"({"choices":[{"text":"t"}]})", false);
  EXPECT_EQ(comp.text, "t");
  for (const char* bad : {"", "{", "[]", "null", R"({"choices":[]})", R"({"choices":{}})", R"({"choices":[1]})",
                          R"({"choices":[{"message":{"content":7}}]})", R"({"choices":[{"message":"x"}]})",
                          R"({"error":{"message":"nope"}})"}) {
    EXPECT_FALSE(parse_openai_response(bad, true).error.empty()) << bad;
  }
  // null content (e.g. a tool call) is an empty output, not an error.
  EXPECT_TRUE(parse_openai_response(R"({"choices":[{"message":{"content":null}}]})", true).error.empty());
}

TEST(RetryPolicy, RetryAfterAndBackoff) {
  EXPECT_EQ(parse_retry_after("3"), 3.0);
  EXPECT_EQ(parse_retry_after(" 0.5 "), 0.5);
  EXPECT_FALSE(parse_retry_after("soon"));
  EXPECT_FALSE(parse_retry_after(""));
  auto past = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT");
  ASSERT_TRUE(past);
  EXPECT_EQ(*past, 0.0);
  RetryPolicy p;
  uint64_t rng = 1;
  EXPECT_EQ(p.backoff(2, 500.0, rng), p.retry_after_cap_s);  // capped
  for (int attempt = 2; attempt < 12; ++attempt) {
    double w = p.backoff(attempt, std::nullopt, rng);
    EXPECT_GE(w, 0.0);
    EXPECT_LE(w, std::min(p.cap_s, p.base_s * std::pow(2.0, attempt - 2)));
  }
  EXPECT_TRUE(RetryPolicy::retryable_status(429));
  EXPECT_TRUE(RetryPolicy::retryable_status(503));
  EXPECT_FALSE(RetryPolicy::retryable_status(400));
}

TEST(Seeds, DeterministicDistinctAndShardsPartitionTheWork) {
  EXPECT_EQ(derive_seed(1, "c", "v", 0), derive_seed(1, "c", "v", 0));
  std::set<uint64_t> seen;
  for (int r = 0; r < 100; ++r) seen.insert(derive_seed(1, "c", "v", r));
  seen.insert(derive_seed(1, "c", "w", 0));
  seen.insert(derive_seed(2, "c", "v", 0));
  EXPECT_EQ(seen.size(), 102u);
  Suite s;
  s.repeats = 7;
  for (const char* c : {"a", "b", "c"}) {
    Case cs;
    cs.id = c;
    s.cases.push_back(cs);
  }
  for (const char* v : {"x", "y"}) {
    Variant var;
    var.id = v;
    s.variants.push_back(var);
  }
  RunPlan plan;
  plan.suite = s;
  auto shard = [&](int i, int n) {
    RunPlan p = plan;
    p.shard_index = i;
    p.shard_count = n;
    return plan_triples(p);
  };
  auto all = shard(0, 1);
  EXPECT_EQ(all.size(), 42u);
  std::set<Triple> merged;
  size_t total = 0;
  for (int i = 0; i < 4; ++i) {
    auto part = shard(i, 4);
    total += part.size();
    merged.insert(part.begin(), part.end());
    EXPECT_EQ(part, shard(i, 4));  // deterministic
  }
  EXPECT_EQ(total, 42u);  // disjoint
  EXPECT_EQ(merged.size(), 42u);  // complete
}

TEST(OpenAIProviderLive, OversizedBodyIsABadResponseNotACrash) {
  wobble::testing::FakeOpenAIServer server([](const nlohmann::json&) { return std::string(17 << 20, 'x'); });
  ProviderSpec spec;
  spec.kind = "openai";
  spec.base_url = server.base_url();
  spec.model = "m";
  spec.max_attempts = 2;
  spec.timeout_s = 20;
  OpenAIProvider p(spec);
  CompletionRequest req;
  req.prompt.messages = {{"user", "hi"}};
  Completion c = p.complete(req);
  EXPECT_FALSE(c.ok);
  ASSERT_EQ(c.attempts.size(), 1u);  // not retried: the server will send the same body again
  EXPECT_EQ(c.attempts[0].outcome, "bad_response");
  EXPECT_NE(c.error.find("16 MiB"), std::string::npos) << c.error;
}

TEST(OpenAIProviderLive, UnreachableServerIsRecordedAsNetworkFailures) {
  ProviderSpec spec;
  spec.kind = "openai";
  spec.base_url = "http://127.0.0.1:1/v1";  // nothing listens on port 1
  spec.model = "m";
  spec.max_attempts = 3;
  spec.timeout_s = 2;
  OpenAIProvider p(spec);
  CompletionRequest req;
  req.prompt.messages = {{"user", "hi"}};
  Completion c = p.complete(req);
  EXPECT_FALSE(c.ok);
  ASSERT_EQ(c.attempts.size(), 3u);
  for (const auto& a : c.attempts) EXPECT_EQ(a.outcome, "network");
}
