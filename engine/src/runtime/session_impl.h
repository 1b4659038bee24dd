// Session's state, shared with the batched repeats driver (runtime/repeats.cpp). Internal.
#pragma once

#include <memory>
#include <vector>

#include "moe/session.h"
#include "runtime/forward.h"
#include "runtime/model_impl.h"
#include "util/thread_pool.h"

namespace moe {

struct Session::Impl {
  std::shared_ptr<const Model> model;
  const Model::Impl* m = nullptr;
  uint32_t n_ctx = 0;
  uint32_t n_past = 0;
  // Lives as long as the session: every forward call (and every completion a caller runs on a
  // reused session) dispatches to the same workers.
  std::unique_ptr<ThreadPool> pool;
  bool trace_on = false;
  RoutingTrace trace;
  std::vector<float> k_cache, v_cache;  // (n_layer, n_ctx, Hkv*hd)
  KvSeq kv;                             // the whole cache as one writable segment
  std::vector<float> logits;            // (n_vocab,)
  Workspace ws;
  std::vector<Row> rows;                // reused per forward call

  // Checks the tokens against the vocabulary and the context, then runs them as one sequence.
  Status forward(std::span<const int32_t> tokens);
};

struct SessionAccess {
  static Session::Impl& of(Session& s) { return *s.impl_; }
};

// Token ids inside the vocabulary.
Status check_tokens(const HParams& hp, std::span<const int32_t> tokens);

}  // namespace moe
