#include "serve/routing_out.h"

namespace wobble::serve {

// Placeholder until the shared encoders (provider/routing_payload.h) land.
std::string sglang_routed_experts(const moe::RoutingTrace&, uint64_t) { return ""; }
std::string vllm_routed_experts(const moe::RoutingTrace&, uint64_t) { return ""; }

}  // namespace wobble::serve
