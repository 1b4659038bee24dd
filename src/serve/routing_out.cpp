#include "serve/routing_out.h"

#include <algorithm>

#include "provider/routing_payload.h"

namespace wobble::serve {
namespace {

RoutingIds ids_from(const moe::RoutingTrace& trace, uint64_t start) {
  RoutingIds out;
  const uint64_t n = trace.n_tokens();
  start = std::min(start, n);
  out.tokens = n - start;
  out.layers = trace.n_layers();
  out.top_k = trace.k();
  out.ids.reserve(size_t(out.tokens) * out.layers * out.top_k);
  for (uint64_t t = start; t < n; ++t)
    for (uint32_t l = 0; l < out.layers; ++l)
      for (uint16_t e : trace.at(t, l).experts) out.ids.push_back(int32_t(e));
  return out;
}

}  // namespace

std::string sglang_routed_experts(const moe::RoutingTrace& trace, uint64_t start) {
  return encode_sglang_routing(ids_from(trace, start));
}

std::string vllm_routed_experts(const moe::RoutingTrace& trace, uint64_t start) {
  return encode_vllm_routing(ids_from(trace, start));
}

}  // namespace wobble::serve
