// Session: one sequence's KV cache and routing trace; the forward pass itself is forward_rows()
// (runtime/forward.cpp), which a prompt runs as T rows of this one sequence.
#include "moe/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "arch/deepseek2.h"
#include "runtime/session_impl.h"

namespace moe {

Status check_tokens(const HParams& hp, std::span<const int32_t> tokens) {
  for (int32_t t : tokens)
    if (t < 0 || uint32_t(t) >= hp.n_vocab)
      return Status::InvalidArgument("token id " + std::to_string(t) + " is outside the vocabulary (" +
                                     std::to_string(hp.n_vocab) + ")");
  return Status::Ok();
}

Status Session::Impl::forward(std::span<const int32_t> tokens) {
  const HParams& hp = m->hp;
  const int64_t T = int64_t(tokens.size());
  if (T == 0) return Status::InvalidArgument("no tokens to process");
  if (uint64_t(n_past) + uint64_t(T) > n_ctx)
    return Status::OutOfRange("context full: " + std::to_string(n_past) + " + " + std::to_string(T) +
                              " tokens exceed n_ctx " + std::to_string(n_ctx));
  MOE_RETURN_IF_ERROR(check_tokens(hp, tokens));
  rows.resize(size_t(T));
  for (int64_t t = 0; t < T; ++t)
    rows[size_t(t)] = Row{tokens[size_t(t)], n_past + uint32_t(t), &kv, trace_on ? &trace : nullptr, t == T - 1};
  forward_rows(*m, pool.get(), ws, rows, logits.data());
  n_past += uint32_t(T);
  return Status::Ok();
}

Session::Session() : impl_(std::make_unique<Impl>()) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model, const SessionOptions& opts) {
  if (!model) return Status::InvalidArgument("no model");
  std::unique_ptr<Session> s(new Session());
  Impl& im = *s->impl_;
  im.model = model;
  im.m = &model->impl();
  const HParams& hp = im.m->hp;
  if (im.m->layers.empty()) return Status::InvalidArgument("model was loaded vocab-only");
  im.n_ctx = opts.n_ctx ? opts.n_ctx : std::min<uint32_t>(hp.n_ctx_train ? hp.n_ctx_train : 4096, 4096);
  if (im.n_ctx > (1u << 20)) return Status::InvalidArgument("n_ctx " + std::to_string(im.n_ctx) + " is too large");
  im.pool = std::make_unique<ThreadPool>(opts.n_threads);
  size_t kv = size_t(hp.n_layer) * im.n_ctx * hp.n_head_kv * hp.head_dim;
  if (im.m->ds2) {  // MLA: one latent row per token and layer in k_cache, no v_cache
    im.k_cache.assign(size_t(hp.n_layer) * im.n_ctx * im.m->ds2->p.cache_width(), 0.f);
  } else {
    im.k_cache.assign(kv, 0.f);
    im.v_cache.assign(kv, 0.f);
  }
  im.logits.assign(hp.n_vocab, 0.f);
  // One position's cache row: the latent row under MLA, K (and V) heads otherwise.
  const uint64_t nkv = im.m->ds2 ? uint64_t(im.m->ds2->p.cache_width()) : uint64_t(hp.n_head_kv) * hp.head_dim;
  im.kv = KvSeq{};
  im.kv.tail_k = im.k_cache.data();
  im.kv.tail_v = im.v_cache.empty() ? nullptr : im.v_cache.data();
  im.kv.tail_pos_stride = nkv;
  im.kv.tail_layer_stride = uint64_t(im.n_ctx) * nkv;
  im.ws.init(*im.m);
  im.trace_on = opts.trace_routing;
  uint32_t n_moe = 0;
  for (uint32_t i = 0; i < hp.n_layer; ++i) n_moe += im.m->layers[i].moe ? 1 : 0;
  if (n_moe == 0) im.trace_on = false;
  im.trace = RoutingTrace(n_moe, hp.n_expert, hp.n_expert_used);
  return s;
}

Status Session::prefill(std::span<const int32_t> tokens) { return impl_->forward(tokens); }
Status Session::step(int32_t token) { return impl_->forward(std::span<const int32_t>(&token, 1)); }
std::span<const float> Session::logits() const { return impl_->logits; }
uint32_t Session::n_past() const { return impl_->n_past; }
uint32_t Session::n_ctx() const { return impl_->n_ctx; }
const RoutingTrace& Session::trace() const { return impl_->trace; }
const Model& Session::model() const { return *impl_->model; }

void Session::reset() {
  impl_->n_past = 0;
  impl_->trace.clear();
}

}  // namespace moe
