// The ids-only form of RoutingTrace (routing a remote engine reported) and compatibility of the
// binary form with blobs written before that form existed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "moe/routing.h"

using moe::RoutingTrace;

namespace {

void put_u32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

TEST(RoutingTraceIdsOnly, RoundTripsWithoutGates) {
  auto t = RoutingTrace::ids_only(2, 300, 2);  // > 256 experts: 2-byte ids
  EXPECT_FALSE(t.has_gates());
  const uint16_t a[2] = {299, 0}, b[2] = {5, 6};
  for (int tok = 0; tok < 3; ++tok) {
    t.append_ids(0, a);
    t.append_ids(1, b);
  }
  EXPECT_EQ(t.n_tokens(), 3u);
  auto step = t.at(2, 0);
  EXPECT_EQ(step.experts[0], 299);
  EXPECT_TRUE(step.weights.empty());
  EXPECT_TRUE(std::isnan(step.entropy));
  EXPECT_TRUE(std::isnan(step.margin));
  auto bytes = t.serialize();
  EXPECT_EQ(bytes.size(), 28u + 3 * 2 * 2 * 2);  // ids alone
  EXPECT_EQ(bytes[7], 1);                        // the ids-only flag
  auto back = RoutingTrace::deserialize(bytes.data(), bytes.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->has_gates());
  EXPECT_EQ(back->n_tokens(), 3u);
  EXPECT_EQ(back->at(1, 1).experts[1], 6);
  EXPECT_EQ(back->serialize(), bytes);
  for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(RoutingTrace::deserialize(bytes.data(), n).ok()) << n;
  auto inferred = RoutingTrace::ids_only(1, 7, 1, false);
  const uint16_t six = 6;
  inferred.append_ids(0, &six);
  auto ib = inferred.serialize();
  EXPECT_EQ(ib[7], 3);
  auto ib_back = RoutingTrace::deserialize(ib.data(), ib.size());
  ASSERT_TRUE(ib_back.ok());
  EXPECT_FALSE(ib_back->n_expert_known());
  EXPECT_TRUE(back->n_expert_known());
  t.truncate(1);
  EXPECT_EQ(t.n_tokens(), 1u);
  EXPECT_EQ(RoutingTrace::deserialize(t.serialize().data(), t.serialize().size())->n_tokens(), 1u);
}

TEST(RoutingTraceIdsOnly, OldBlobsStillReadAndUnknownFlagsAreRefused) {
  // A blob as the first version wrote it, by hand: 1 token, 1 layer, 4 experts, k = 1.
  std::vector<uint8_t> old = {'M', 'O', 'E', 'R', 'T', '1', 1, 0};
  put_u32(old, 1);
  put_u32(old, 4);
  put_u32(old, 1);
  put_u32(old, 1);
  put_u32(old, 0);  // n_tokens is u64
  old.push_back(3);  // expert id
  for (uint8_t x : {0x00, 0x3C, 0x00, 0x3E, 0x00, 0x38}) old.push_back(x);  // fp16 1.0, 1.5, 0.5
  auto t = RoutingTrace::deserialize(old.data(), old.size());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->has_gates());
  EXPECT_EQ(t->at(0, 0).experts[0], 3);
  EXPECT_EQ(t->at(0, 0).weights[0], 1.0f);
  EXPECT_EQ(t->at(0, 0).entropy, 1.5f);
  EXPECT_EQ(t->at(0, 0).margin, 0.5f);
  EXPECT_EQ(t->serialize(), old);
  auto flagged = old;
  flagged[7] = 2;  // "experts inferred" without "ids only"
  EXPECT_FALSE(RoutingTrace::deserialize(flagged.data(), flagged.size()).ok());
  flagged[7] = 4;
  EXPECT_FALSE(RoutingTrace::deserialize(flagged.data(), flagged.size()).ok());
  // The same bytes marked ids-only are the wrong size for that form.
  flagged[7] = 1;
  EXPECT_FALSE(RoutingTrace::deserialize(flagged.data(), flagged.size()).ok());
}
