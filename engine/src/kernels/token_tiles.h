// Walks the tokens of one weight row in tiles of four (the weight block is loaded and unpacked once
// per tile), then one tile of the 1 to 3 tokens left, storing each tile's results into y
// (n_tok, n_out) at column r. The tile kernel is called as
// tile(t0, std::integral_constant<int, C>, out[C]) so that it can be instantiated per tile width; a
// token's result must not depend on C. The tail tile matters for batched decoding, where an expert
// usually gets two or three of the batch's rows. Internal to the kernels.
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
  auto tail = [&](auto width) {
    constexpr int C = decltype(width)::value;
    tile(t, width, out);
    for (int c = 0; c < C; ++c) y[(t + c) * n_out + r] = out[c];
  };
  switch (n_tok - t) {
    case 3: tail(std::integral_constant<int, 3>{}); break;
    case 2: tail(std::integral_constant<int, 2>{}); break;
    case 1: tail(std::integral_constant<int, 1>{}); break;
    default: break;
  }
}

}  // namespace moe
