// The forward pass over a set of token rows. Internal to the engine.
//
// A row is one token of one sequence at one position, with that sequence's KV cache and routing
// trace. A prompt prefill is T rows of one sequence; a batched decode step is one row each of B
// sequences. Every layer is a function over the whole row set:
//   - dense projections (attention q/k/v/o, router, shared expert, output head) are one matmul over
//     all rows, so each weight block is read once per step;
//   - each routed expert runs once over exactly the rows routed to it, experts in id order;
//   - attention is per (row, head) over that row's own sequence (shared prefix + own tail).
// Batch invariance: the kernels give a row's result independently of the other rows (matmul.h), and
// everything else here is per row with a fixed order (a row's expert outputs are summed in expert-id
// order whatever the batch), so a row's logits, KV and routing do not depend on which rows share the
// call or on the thread count. ForwardFlags::batch_variant deliberately breaks this (see there).
//
// To add an architecture: give it a layer function with the signature of attention_rows() and/or
// ffn_rows() below (rows in, x updated in place, KV written through KvSeq, trace through Row) and
// call it from forward_rows()' layer loop; nothing else in the batched path needs to know.
// deepseek2 and gpt-oss run whole-layer functions (deepseek2_layer, gptoss_layer) from that loop;
// they read a row's cache as one segment (KvSeq with n_prefix 0, pos stride = cache row width).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "moe/routing.h"
#include "moe/status.h"
#include "runtime/model_impl.h"

namespace moe {

class ThreadPool;

// One sequence's KV cache as two segments: positions [0, n_prefix) in a read-only prefix (the
// shared, once-prefilled prompt of a group of repeats; empty for a plain session) and positions
// >= n_prefix in the sequence's own writable tail. Element (layer il, position j) of a segment
// starts at base + j * pos_stride + il * layer_stride and holds Hkv*hd floats.
struct KvSeq {
  const float* prefix_k = nullptr;
  const float* prefix_v = nullptr;
  uint64_t prefix_pos_stride = 0, prefix_layer_stride = 0;
  uint32_t n_prefix = 0;
  float* tail_k = nullptr;
  float* tail_v = nullptr;
  uint64_t tail_pos_stride = 0, tail_layer_stride = 0;

  const float* k_at(uint32_t il, uint32_t j) const {
    return j < n_prefix ? prefix_k + j * prefix_pos_stride + il * prefix_layer_stride
                        : tail_k + (j - n_prefix) * tail_pos_stride + il * tail_layer_stride;
  }
  const float* v_at(uint32_t il, uint32_t j) const {
    return j < n_prefix ? prefix_v + j * prefix_pos_stride + il * prefix_layer_stride
                        : tail_v + (j - n_prefix) * tail_pos_stride + il * tail_layer_stride;
  }
  // Writes go to the tail only (pos >= n_prefix; the caller guarantees it).
  float* k_write(uint32_t il, uint32_t pos) const { return tail_k + (pos - n_prefix) * tail_pos_stride + il * tail_layer_stride; }
  float* v_write(uint32_t il, uint32_t pos) const { return tail_v + (pos - n_prefix) * tail_pos_stride + il * tail_layer_stride; }
};

struct Row {
  int32_t token = 0;
  uint32_t pos = 0;                 // position in its sequence; attends to [0, pos]
  const KvSeq* kv = nullptr;        // rows of one sequence share one KvSeq
  RoutingTrace* trace = nullptr;    // null: not traced
  bool want_logits = false;         // logits of this row are written to the output
};

struct ForwardFlags {
  // Reproduces what batching servers do, for measuring how much instability they add. Applies
  // only when the rows belong to more than one sequence (a batched decode step), so a group of one
  // equals the invariant mode bit for bit:
  //   1. capacity-limited expert dispatch: an expert takes at most ceil(1.25 * rows * k / E) rows
  //      (GShard/Switch-style capacity factor 1.25), the first ones in row order; the rest lose
  //      that expert's contribution (the routing trace still records the router's choice);
  //   2. a batch-dependent summation order: a row's expert outputs are summed in order of the
  //      experts' load in this batch (most rows first) instead of expert-id order.
  bool batch_variant = false;
};

// Buffers reused across calls (grown, never shrunk), so a decode step allocates nothing once the
// largest row count has been seen. One per session; not thread-safe.
struct Workspace {
  void init(const Model::Impl& m);
  void reserve_rows(const Model::Impl& m, int64_t R);

  std::vector<uint32_t> moe_layer_index;          // layer -> index among MoE layers
  int64_t rows_cap = 0;
  std::vector<float> x, h, q, k, v, att, o;       // (R, d) / (R, H*hd) / (R, Hkv*hd)
  std::vector<float> ffn_g, ffn_u;                // (R, max ff)
  std::vector<float> router_logits;               // (R, E)
  std::vector<uint16_t> sel;                      // (R, k) selected experts, rank order
  std::vector<float> sel_w;                       // (R, k) their gate weights
  std::vector<double> probs;                      // (E,)
  std::vector<int64_t> order;                     // (E,)
  std::vector<int64_t> expert_count, expert_begin;  // (E,), (E + 1,)
  std::vector<int64_t> assign_row;                // (R*k,) rows grouped by expert, row order within
  std::vector<float> assign_w;                    // (R*k,)
  std::vector<int64_t> expert_order;              // (E,) order experts are applied in
  std::vector<float> xe, ye;                      // (R, d) rows of one expert
  // The fused expert path (small batches): every routed expert's input, gate, up and output rows
  // side by side, (Σ Te, d) (Σ Te, ff) (Σ Te, ff) (Σ Te, d), and the two dispatches' jobs.
  std::vector<float> fused;
  std::vector<MatmulJob> jobs_gate_up, jobs_down;
  std::vector<float> shexp;                       // (R, d)
  std::vector<float> rope_cs;                     // (n_rot,) cos, sin of one position's angles
  std::vector<float> last;                        // (R, d) final-norm rows that want logits
  // Counters for benchmarks (weights read per token, expert union): forward calls and routed
  // expert runs (one per expert, MoE layer and call that routed any row to it).
  uint64_t forward_calls = 0, expert_runs = 0;
  uint64_t rows_computed = 0;  // rows (tokens) run through the layers, over all calls
};

// Runs rows through the model. KV of every row is written before any row attends, so rows of one
// sequence may be processed together (causal prefill). Logits of the rows with want_logits go to
// logits_out, (n_want, n_vocab) in row order. The caller has validated token ids and positions.
void forward_rows(const Model::Impl& m, ThreadPool* pool, Workspace& ws, std::span<const Row> rows,
                  float* logits_out, const ForwardFlags& flags = {});

}  // namespace moe
