// `wobble serve`: a session's routing trace in the wire formats remote engines use, so Wobble's own
// remote capture (provider.routing) reads the bundled engine's routing exactly as it reads vLLM's
// and SGLang's. Both carry expert ids only, shape (tokens, MoE layers, top_k), rows in token order:
// the prompt, then every generated token that was fed back (the last sampled token never is), i.e.
// [0, seqlen - 1) as SGLang defines it. `start` leaves out that many rows at the front.
// Thread safety: pure functions over a const trace.
#pragma once

#include <cstdint>
#include <string>

#include "moe/routing.h"

namespace wobble::serve {

// SGLang: base64 of raw little-endian int32 (sgl_ext.routed_experts).
std::string sglang_routed_experts(const moe::RoutingTrace& trace, uint64_t start);
// vLLM: base64 of a NumPy .npy file holding '<i4' (routed_experts).
std::string vllm_routed_experts(const moe::RoutingTrace& trace, uint64_t start);

}  // namespace wobble::serve
