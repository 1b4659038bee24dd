// Walks the tokens of one weight row in tiles of four (the weight block is loaded once per tile)
// and then one at a time for the tail, storing each tile's results into y (n_tok, n_out) at
// column r. The tile kernel is called as tile(t0, std::integral_constant<int, C>, out[C]) so that
// it can be instantiated per tile width. Internal to the kernels.
#pragma once

#include <cstdint>
#include <type_traits>

namespace moe {

template <class TileFn>
inline void for_token_tiles(int64_t n_tok, float* y, int64_t n_out, int64_t r, TileFn&& tile) {
  float out[4];
  int64_t t = 0;
  for (; t + 4 <= n_tok; t += 4) {
    tile(t, std::integral_constant<int, 4>{}, out);
    for (int c = 0; c < 4; ++c) y[(t + c) * n_out + r] = out[c];
  }
  for (; t < n_tok; ++t) {
    tile(t, std::integral_constant<int, 1>{}, out);
    y[t * n_out + r] = out[0];
  }
}

}  // namespace moe
