// `wobble serve`'s sessions and queue: admission is bounded by parallel + queue, a freed slot goes
// to a waiting request, and a reused session gives the same output as a fresh one.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "moe/model.h"
#include "moe/tokenizer.h"
#include "serve/completion.h"
#include "serve/slot_pool.h"

using namespace wobble::serve;

namespace {

const std::string kModel = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-moe.gguf";

std::shared_ptr<const moe::Model> demo() {
  auto m = moe::Model::load(kModel);
  if (!m.ok()) return nullptr;
  return m.value();
}

moe::SessionOptions one_thread() {
  moe::SessionOptions so;
  so.n_threads = 1;
  so.trace_routing = true;
  return so;
}

}  // namespace

TEST(SlotPool, AdmitsParallelPlusQueueThenRefuses) {
  auto model = demo();
  if (!model) GTEST_SKIP() << "demo model not found at " << kModel;
  auto pool = SlotPool::create(model, 1, 1, one_thread());
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  auto first = (*pool)->acquire();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*pool)->stats().busy, 1);

  // A second request waits (the queue holds one); a third is refused while it waits.
  std::atomic<bool> second_got{false};
  std::thread waiter([&] {
    auto l = (*pool)->acquire();
    second_got = l.has_value();
  });
  while ((*pool)->stats().waiting == 0) std::this_thread::yield();
  EXPECT_FALSE((*pool)->acquire().has_value());
  EXPECT_FALSE(second_got.load());
  first.reset();  // frees the slot for the waiter
  waiter.join();
  EXPECT_TRUE(second_got.load());
  auto s = (*pool)->stats();
  EXPECT_EQ(s.busy, 0);
  EXPECT_EQ(s.waiting, 0);
}

TEST(SlotPool, QueueZeroRefusesAtOnce) {
  auto model = demo();
  if (!model) GTEST_SKIP() << "demo model not found at " << kModel;
  auto pool = SlotPool::create(model, 2, 0, one_thread());
  ASSERT_TRUE(pool.ok());
  auto a = (*pool)->acquire(), b = (*pool)->acquire();
  ASSERT_TRUE(a && b);
  EXPECT_NE(&a->session(), &b->session());
  EXPECT_FALSE((*pool)->acquire().has_value());
}

TEST(SlotPool, ReusedSessionMatchesAFreshOne) {
  auto model = demo();
  if (!model) GTEST_SKIP() << "demo model not found at " << kModel;
  auto pool = SlotPool::create(model, 1, 0, one_thread());
  ASSERT_TRUE(pool.ok());
  ServeRequest req;
  req.max_tokens = 24;
  req.sampling.temperature = 0.8f;
  req.sampling.seed = 7;
  req.logprobs = true;
  req.top_logprobs = 2;
  auto ids = model->tokenizer().encode("Write two sentences about the sea.", moe::EncodeOptions{true, false});
  ASSERT_TRUE(ids.ok());
  std::vector<CompletionOutput> outs;
  std::vector<uint64_t> trace_tokens;
  for (int i = 0; i < 3; ++i) {
    auto lease = (*pool)->acquire();
    ASSERT_TRUE(lease);
    // A different request in between leaves state behind that reset() must clear.
    ServeRequest other = req;
    other.sampling.seed = 99 + uint64_t(i);
    if (i == 1) {
      ASSERT_TRUE(run_completion(lease->session(), *ids, other, nullptr).ok());
      lease->session().reset();
    }
    auto out = run_completion(lease->session(), *ids, req, nullptr);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    trace_tokens.push_back(lease->session().trace().n_tokens());
    outs.push_back(*out);
  }
  for (size_t i = 1; i < outs.size(); ++i) {
    EXPECT_EQ(outs[i].text, outs[0].text);
    EXPECT_EQ(outs[i].token_ids, outs[0].token_ids);
    EXPECT_EQ(outs[i].completion_tokens, outs[0].completion_tokens);
    ASSERT_EQ(outs[i].logprobs.size(), outs[0].logprobs.size());
    for (size_t t = 0; t < outs[i].logprobs.size(); ++t) EXPECT_EQ(outs[i].logprobs[t].logprob, outs[0].logprobs[t].logprob);
    EXPECT_EQ(trace_tokens[i], trace_tokens[0]);
  }
  // Routing rows: the prompt and every generated token fed back (seqlen - 1).
  EXPECT_EQ(trace_tokens[0], ids->size() + uint64_t(outs[0].completion_tokens) - 1);
  // Logprobs are of a distribution: every one <= 0, the chosen token among the alternatives or below them.
  for (const auto& t : outs[0].logprobs) {
    EXPECT_LE(t.logprob, 0.0);
    ASSERT_EQ(t.top.size(), 2u);
    EXPECT_GE(t.top[0].second, t.top[1].second);
    EXPECT_LE(t.logprob, t.top[0].second + 1e-12);
  }
}

TEST(SlotPool, AbortStopsAGenerationAndIgnoreEosRunsToMaxTokens) {
  auto model = demo();
  if (!model) GTEST_SKIP() << "demo model not found at " << kModel;
  auto pool = SlotPool::create(model, 1, 0, one_thread());
  ASSERT_TRUE(pool.ok());
  auto lease = (*pool)->acquire();
  auto ids = model->tokenizer().encode("What is 23 + 45?", moe::EncodeOptions{true, false});
  ServeRequest req;
  req.max_tokens = 200;
  req.sampling.temperature = 0;
  req.ignore_eos = true;
  auto full = run_completion(lease->session(), *ids, req, nullptr);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->completion_tokens, 200);
  EXPECT_EQ(full->finish_reason, "length");
  lease->session().reset();
  std::atomic<bool> abort{false};
  int pieces = 0;
  auto cut = run_completion(lease->session(), *ids, req, &abort, [&](std::string_view, std::vector<TokenLogprob>) {
    if (++pieces == 3) abort = true;
    return true;
  });
  EXPECT_EQ(cut.status().code(), moe::Status::Code::kCancelled);
  lease->session().reset();
  // A listener that goes away cancels too.
  auto gone = run_completion(lease->session(), *ids, req, nullptr,
                             [&](std::string_view, std::vector<TokenLogprob>) { return false; });
  EXPECT_EQ(gone.status().code(), moe::Status::Code::kCancelled);
}
