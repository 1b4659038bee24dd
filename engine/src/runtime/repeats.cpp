// generate_repeats: prefill once, then batched decode steps over the active repeats (see
// moe/repeats.h). Each repeat is a Decoder (the same sampling loop generate() runs) plus a KvSeq
// whose prefix is the session's cache and whose tail is its own.
#include "moe/repeats.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "arch/deepseek2.h"
#include "runtime/decoder.h"
#include "runtime/session_impl.h"

namespace moe {
namespace {

struct Seq {
  size_t index = 0;                   // into the results
  std::unique_ptr<Decoder> dec;
  // Shared prefix: (cap, n_layer, Hkv*hd), position-major so it can grow. Private cache
  // (deepseek2, gpt-oss): (n_layer, cap, width) holding the prompt's positions too.
  std::vector<float> tail_k, tail_v;
  uint32_t cap = 0;                   // positions the tail holds
  uint32_t len = 0;                   // positions written to the tail
  int32_t next = 0;                   // the token to feed at the next step
  // Repeats with equal history ids have fed the same tokens (the prompt, then the same sampled
  // ones), so their hidden states, caches and routing are the same bits; 0 is the prompt alone.
  uint64_t history = 0;
  KvSeq kv;
};

// History ids after one round of sampling: equal (previous id, sampled token) give equal ids, so
// that repeats stay merged exactly while their tokens agree. A round holds at most max_batch keys.
class HistoryIds {
 public:
  void new_round() { keys_.clear(); }
  uint64_t next(uint64_t previous, int32_t token) {
    for (const Key& k : keys_)
      if (k.previous == previous && k.token == token) return k.id;
    keys_.push_back({previous, token, ++last_});
    return last_;
  }

 private:
  struct Key {
    uint64_t previous;
    int32_t token;
    uint64_t id;
  };
  std::vector<Key> keys_;
  uint64_t last_ = 0;
};

// Appends to `to` the records of the last token of `from` (one per MoE layer).
void copy_last_token(const RoutingTrace& from, RoutingTrace& to) {
  const uint64_t t = from.n_tokens() - 1;
  for (uint32_t l = 0; l < from.n_layers(); ++l) {
    const RoutingStep st = from.at(t, l);
    if (from.has_gates()) to.append(l, st.experts.data(), st.weights.data(), st.entropy, st.margin);
    else to.append_ids(l, st.experts.data());
  }
}

}  // namespace

Result<std::vector<RepeatResult>> generate_repeats(Session& session, std::span<const int32_t> prompt,
                                                   std::span<const GenerateOptions> repeats,
                                                   const RepeatsOptions& options) {
  if (prompt.empty()) return Status::InvalidArgument("empty prompt");
  if (repeats.empty()) return Status::InvalidArgument("no repeats");
  if (options.max_batch == 0) return Status::InvalidArgument("max_batch must be >= 1");
  for (const auto& o : repeats)
    if (o.max_tokens < 0) return Status::InvalidArgument("max_tokens must be >= 0");
  Session::Impl& im = SessionAccess::of(session);
  const HParams& hp = im.m->hp;
  const uint64_t nkv = uint64_t(hp.n_head_kv) * hp.head_dim;
  const uint64_t pos_floats = uint64_t(hp.n_layer) * nkv;  // one tail position, all layers
  // deepseek2 and gpt-oss layers read one contiguous cache per layer (see forward.cpp), so their
  // repeats fork by copy: each gets its own cache with the prompt's positions copied in, the same
  // bytes a shared prefix would hold. Width: MLA's latent row, or K/V heads.
  const bool private_cache = im.m->ds2 || im.m->gptoss;
  const uint64_t width = im.m->ds2 ? uint64_t(im.m->ds2->p.cache_width()) : nkv;
  const bool has_v = !im.v_cache.empty();

  std::vector<RepeatResult> out(repeats.size());
  std::vector<std::unique_ptr<Seq>> seqs(repeats.size());
  for (size_t i = 0; i < repeats.size(); ++i) {
    out[i].result.prompt_tokens.assign(prompt.begin(), prompt.end());
    seqs[i] = std::make_unique<Seq>();
    seqs[i]->index = i;
    seqs[i]->dec = std::make_unique<Decoder>(session.model(), repeats[i], out[i].result);
  }
  auto cancelled = [&] {
    for (const auto& o : repeats)
      if (o.cancel && o.cancel->load(std::memory_order_relaxed)) return true;
    return false;
  };

  // 1. The shared prefix: the prompt, once, into the session's cache.
  auto t0 = std::chrono::steady_clock::now();
  MOE_RETURN_IF_ERROR(session.prefill(prompt));
  auto t1 = std::chrono::steady_clock::now();
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const uint32_t P = im.n_past;
  const std::vector<float> prefix_logits = im.logits;

  // A repeat joins: it samples its first token from the prompt's logits, like generate() does.
  std::vector<Seq*> active;
  size_t next_waiting = 0;
  auto finish = [&](Seq& s) {
    s.dec->finish();
    GenerateResult& r = out[s.index].result;
    r.prefill_seconds = prefill_s;
    r.decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    s.tail_k = {};
    s.tail_v = {};
  };
  // Merging identical repeats changes the rows of a step, which the batch-variant mode's
  // capacity and summation order depend on, so that mode computes every row.
  const bool merge = options.merge_identical && !options.batch_variant;
  HistoryIds histories;
  auto admit = [&]() -> Status {
    while (active.size() < options.max_batch && next_waiting < seqs.size()) {
      Seq& s = *seqs[next_waiting++];
      if (im.trace_on) out[s.index].trace = im.trace;
      if (s.dec->wants_token() && cancelled()) return Status::Cancelled("generation cancelled");
      if (s.dec->advance(prefix_logits, P, im.n_ctx, &s.next)) {
        s.history = histories.next(0, s.next);
        active.push_back(&s);
      } else {
        finish(s);
      }
    }
    return Status::Ok();
  };
  histories.new_round();
  MOE_RETURN_IF_ERROR(admit());

  // 2. Batched decode steps: one row per active repeat.
  std::vector<Row> rows;
  std::vector<float> logits;     // (rows, n_vocab)
  std::vector<size_t> row_of;    // active repeat -> the row computing it
  std::vector<size_t> first_of;  // active repeat -> the first active repeat with its history
  // One K or V row of one position and layer, in floats.
  const uint64_t kv_row = private_cache ? width : nkv;
  while (!active.empty()) {
    if (cancelled()) return Status::Cancelled("generation cancelled");
    rows.clear();
    row_of.assign(active.size(), 0);
    first_of.assign(active.size(), 0);
    for (size_t b = 0; b < active.size(); ++b) {
      Seq* s = active[b];
      if (private_cache) {
        if (s->cap == 0 || P + s->len == s->cap) {  // first step or full: grow, keeping what is written
          const uint32_t cap = std::min<uint32_t>(std::max<uint32_t>(P + 64, s->cap * 2), im.n_ctx);
          const uint32_t used = P + s->len;
          auto regrow = [&](std::vector<float>& buf, const std::vector<float>& session_cache) {
            std::vector<float> grown(size_t(hp.n_layer) * cap * width, 0.f);
            for (uint32_t il = 0; il < hp.n_layer; ++il) {
              const float* src = s->cap ? &buf[size_t(il) * s->cap * width] : &session_cache[size_t(il) * im.n_ctx * width];
              std::copy(src, src + size_t(used) * width, &grown[size_t(il) * cap * width]);
            }
            buf.swap(grown);
          };
          regrow(s->tail_k, im.k_cache);
          if (has_v) regrow(s->tail_v, im.v_cache);
          s->cap = cap;
        }
        s->kv = KvSeq{};
        s->kv.tail_k = s->tail_k.data();
        s->kv.tail_v = has_v ? s->tail_v.data() : nullptr;
        s->kv.tail_pos_stride = width;
        s->kv.tail_layer_stride = uint64_t(s->cap) * width;
      } else {
        if (s->len == s->cap) {  // grow the tail geometrically, within the context
          uint32_t cap = std::min<uint32_t>(std::max<uint32_t>(64, s->cap * 2), im.n_ctx - P);
          s->tail_k.resize(size_t(cap * pos_floats));
          s->tail_v.resize(size_t(cap * pos_floats));
          s->cap = cap;
        }
        s->kv = KvSeq{im.k_cache.data(), im.v_cache.data(), nkv, uint64_t(im.n_ctx) * nkv, P,
                      s->tail_k.data(), s->tail_v.data(), pos_floats, nkv};
      }
      first_of[b] = b;
      if (merge)
        for (size_t a = 0; a < b; ++a)
          if (active[a]->history == s->history) {
            first_of[b] = a;
            break;
          }
      if (first_of[b] != b) {
        row_of[b] = row_of[first_of[b]];
        continue;
      }
      RoutingTrace* tr = im.trace_on ? &out[s->index].trace : nullptr;
      row_of[b] = rows.size();
      rows.push_back(Row{s->next, P + s->len, &s->kv, tr, true});
    }
    logits.resize(rows.size() * hp.n_vocab);
    ForwardFlags flags;
    flags.batch_variant = options.batch_variant;
    forward_rows(*im.m, im.pool.get(), im.ws, rows, logits.data(), flags);
    // A merged repeat takes what its row wrote: the position's K/V in every layer and the token's
    // routing records. Its earlier positions are already equal, so its next step can compute.
    for (size_t b = 0; b < active.size(); ++b) {
      if (first_of[b] == b) continue;
      const Seq& from = *active[first_of[b]];
      Seq& to = *active[b];
      const uint32_t pos = P + to.len;
      for (uint32_t il = 0; il < hp.n_layer; ++il) {
        std::copy_n(from.kv.k_write(il, pos), kv_row, to.kv.k_write(il, pos));
        if (has_v) std::copy_n(from.kv.v_write(il, pos), kv_row, to.kv.v_write(il, pos));
      }
      if (im.trace_on) copy_last_token(out[from.index].trace, out[to.index].trace);
    }
    std::vector<Seq*> still;
    still.reserve(active.size());
    histories.new_round();
    for (size_t b = 0; b < active.size(); ++b) {
      Seq& s = *active[b];
      ++s.len;
      std::span<const float> l(&logits[row_of[b] * hp.n_vocab], hp.n_vocab);
      if (s.dec->advance(l, P + s.len, im.n_ctx, &s.next)) {
        s.history = histories.next(s.history, s.next);
        still.push_back(&s);
      } else {
        finish(s);
      }
    }
    active.swap(still);
    MOE_RETURN_IF_ERROR(admit());
  }
  return out;
}

}  // namespace moe
