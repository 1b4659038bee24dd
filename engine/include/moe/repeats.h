// Repeats: one prompt, N sampled continuations, prefilled once and decoded as one batch.
//
// Contract
// - Bit-identical to running each repeat alone: every repeat's tokens, text, finish reason, the
//   logits it was sampled from (GenerateOptions::on_token) and its routing trace equal what
//   generate() gives on a fresh session with the same model, thread count and GenerateOptions,
//   whatever the number of repeats, max_batch, the mix of lengths and the thread count (tested for
//   every architecture and weight type). Unless RepeatsOptions::batch_variant is set.
// - KV cache: the prompt is prefilled once into the session's own cache, which every repeat then
//   reads as a shared read-only prefix; each repeat writes its generated positions to a private
//   tail (grown as it goes, so memory is the prompt once plus each repeat's own tokens).
// - Batched step: up to max_batch active repeats advance together; every dense projection reads
//   each weight block once for all of them and each routed expert runs once over the repeats
//   routed to it. Repeats whose tokens so far are identical share one row of the step
//   (RepeatsOptions::merge_identical). A repeat that finishes leaves the batch and a waiting one
//   takes its place.
// - Ownership and threads: uses the session (its thread pool and cache) for the call; afterwards
//   the session holds the prompt (n_past = its previous n_past + prompt size) and its trace the
//   prompt's records. Not thread-safe with other calls on the same session.
// - Errors: InvalidArgument (empty prompt, negative max_tokens, no repeats, max_batch 0, a token
//   id outside the vocabulary), OutOfRange (prompt longer than the context), Cancelled when any
//   repeat's GenerateOptions::cancel becomes true (then no results are returned). Nothing throws.
// - Not supported per repeat: streaming text (GenerateOptions has no text callback here; the text
//   is in each result).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "moe/routing.h"
#include "moe/session.h"
#include "moe/status.h"

namespace moe {

struct RepeatsOptions {
  uint32_t max_batch = 8;  // repeats decoded in one step at most
  // Reproduces what batching servers do (capacity-limited expert dispatch with factor 1.25, and a
  // batch-dependent summation order of a token's expert outputs), so the instability they add can
  // be measured. Only steps with more than one active repeat are affected. Off by default.
  bool batch_variant = false;
  // Repeats that have sampled the same tokens so far are computed once per step: their rows would
  // be the same bits, so the result is unchanged, and the shared rows' K/V and routing records are
  // copied to each merged repeat. At temperature 0, or while sampling agrees, N repeats then cost
  // about one. Off here only to measure the batched step itself; ignored in batch_variant mode.
  bool merge_identical = true;
};

struct RepeatResult {
  GenerateResult result;  // prefill_seconds: the shared prefill; decode_seconds: until it finished
  RoutingTrace trace;     // the prompt's records then this repeat's; empty when tracing is off
};

// One result per element of `repeats`, in order.
Result<std::vector<RepeatResult>> generate_repeats(Session& session, std::span<const int32_t> prompt,
                                                   std::span<const GenerateOptions> repeats,
                                                   const RepeatsOptions& options = {});

}  // namespace moe
