// The shared element-wise functions: silu's shortcuts around libm's overflow and underflow paths
// must give the formula's bits for every input, the edges included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/elementwise.h"

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float silu_formula(float x) { return x / (1.f + std::exp(-x)); }

}  // namespace

TEST(Elementwise, SiluShortcutsGiveTheFormulasBits) {
  int checked = 0;
  // [-120, 120] at a step of 2^-9, and the 128 floats around each threshold and libm's limits.
  for (float x = -120.f; x <= 120.f; x += 0.001953125f, ++checked)
    ASSERT_EQ(bits(moe::silu(x)), bits(silu_formula(x))) << x;
  for (float edge : {-89.f, 20.f, 16.6f, 88.7f, 104.f}) {
    float x = edge;
    for (int i = 0; i < 64; ++i) x = std::nextafter(x, -1000.f);
    for (int i = 0; i < 128; ++i, ++checked, x = std::nextafter(x, 1000.f))
      ASSERT_EQ(bits(moe::silu(x)), bits(silu_formula(x))) << x;
  }
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(bits(moe::silu(-inf)), bits(-0.f));
  EXPECT_EQ(moe::silu(inf), inf);
  EXPECT_TRUE(std::isnan(moe::silu(std::nanf(""))));
  EXPECT_GT(checked, 120000);
}
