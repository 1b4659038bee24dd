// Routing payload codecs: base64, .npy int32 and SGLang's raw int32, against byte-exact inputs
// built here, including the hostile forms a server (or something posing as one) could send.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "provider/routing_payload.h"

using namespace wobble;

namespace {

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// A .npy file assembled by hand: magic, version, little-endian header length, header text, data.
std::vector<uint8_t> npy_file(uint8_t major, uint8_t minor, const std::string& header,
                              const std::vector<uint8_t>& data) {
  std::vector<uint8_t> f = {0x93, 'N', 'U', 'M', 'P', 'Y', major, minor};
  const uint32_t n = uint32_t(header.size());
  f.push_back(uint8_t(n));
  f.push_back(uint8_t(n >> 8));
  if (major >= 2) {
    f.push_back(uint8_t(n >> 16));
    f.push_back(uint8_t(n >> 24));
  }
  f.insert(f.end(), header.begin(), header.end());
  f.insert(f.end(), data.begin(), data.end());
  return f;
}

std::vector<uint8_t> le_i32(std::initializer_list<int32_t> v) {
  std::vector<uint8_t> out;
  for (int32_t x : v) {
    uint32_t u = uint32_t(x);
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(u >> (8 * i)));
  }
  return out;
}

}  // namespace

TEST(RoutingBase64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : vectors) {
    EXPECT_EQ(base64_encode(bytes_of(plain)), enc);
    std::vector<uint8_t> out;
    std::string err;
    ASSERT_TRUE(base64_decode(enc, 100, out, err)) << enc << ": " << err;
    EXPECT_EQ(out, bytes_of(plain));
  }
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = uint8_t(i);
  std::vector<uint8_t> back;
  std::string err;
  ASSERT_TRUE(base64_decode(base64_encode(all), 1000, back, err));
  EXPECT_EQ(back, all);
}

TEST(RoutingBase64, RefusesMalformedText) {
  for (const char* bad : {"Zm9", "Zm9vY", "Zm9v\n", " Zm9v", "Zm9-", "Zm_v", "Zg=a", "Z===", "====", "Zm=v",
                          "Zh==", "Zm9=", "Zm9vYg==Zm9v", "Zg==Zg=="}) {
    std::vector<uint8_t> out;
    std::string err;
    EXPECT_FALSE(base64_decode(bad, 100, out, err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
    EXPECT_TRUE(out.empty()) << bad;
  }
  std::vector<uint8_t> out;
  std::string err;
  EXPECT_FALSE(base64_decode("Zm9vYmFy", 7, out, err));
  EXPECT_NE(err.find("over the limit"), std::string::npos) << err;
}

TEST(RoutingNpy, WritesWhatNumpySaveWrites) {
  // numpy.save(np.arange(24, dtype='<i4').reshape(2, 3, 4)): version 1.0, header_len 118 so that
  // the data starts at byte 128, dict padded with spaces and ended by '\n'.
  std::vector<int32_t> data(24);
  for (int i = 0; i < 24; ++i) data[i] = i;
  const uint64_t shape[3] = {2, 3, 4};
  const auto f = npy_encode_i32(data, shape);
  std::string dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 4), }";
  std::string header = dict + std::string(118 - dict.size() - 1, ' ') + "\n";
  std::vector<uint8_t> data_bytes;
  for (int i = 0; i < 24; ++i) {
    auto b = le_i32({i});
    data_bytes.insert(data_bytes.end(), b.begin(), b.end());
  }
  EXPECT_EQ(f, npy_file(1, 0, header, data_bytes));
  ASSERT_EQ(f.size(), 128u + 96u);

  NpyI32 back;
  std::string err;
  ASSERT_TRUE(npy_decode_i32(f, back, err)) << err;
  EXPECT_EQ(back.shape, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(back.data, data);

  const uint64_t one[1] = {3};
  const int32_t three[3] = {-1, 0, 70000};
  ASSERT_TRUE(npy_decode_i32(npy_encode_i32(three, one), back, err)) << err;
  EXPECT_EQ(back.shape, std::vector<uint64_t>{3});
  EXPECT_EQ(back.data, (std::vector<int32_t>{-1, 0, 70000}));
}

TEST(RoutingNpy, ReadsVersions2And3AndKeyOrders) {
  const auto data = le_i32({5, 6});
  for (uint8_t major : {2, 3}) {
    NpyI32 a;
    std::string err;
    ASSERT_TRUE(npy_decode_i32(npy_file(major, 0, "{\"shape\": (1, 1, 2), \"fortran_order\": False, 'descr': '<i4'}\n", data), a, err))
        << err;
    EXPECT_EQ(a.shape, (std::vector<uint64_t>{1, 1, 2}));
    EXPECT_EQ(a.data, (std::vector<int32_t>{5, 6}));
  }
}

TEST(RoutingNpy, WidensTheNarrowIdTypesVllmUses) {
  NpyI32 a;
  std::string err;
  ASSERT_TRUE(npy_decode_i32(npy_file(1, 0, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 3), }\n",
                                      {7, 0, 255}),
                             a, err))
      << err;
  EXPECT_EQ(a.data, (std::vector<int32_t>{7, 0, 255}));
  ASSERT_TRUE(npy_decode_i32(npy_file(1, 0, "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 2, 1), }\n",
                                      {0x01, 0x01, 0xFF, 0xFF}),
                             a, err))
      << err;
  EXPECT_EQ(a.data, (std::vector<int32_t>{257, 65535}));
  // Three bytes are not a whole number of u2 values.
  EXPECT_FALSE(npy_decode_i32(npy_file(1, 0, "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 1, 2), }\n",
                                       {1, 2, 3}),
                              a, err));
}

TEST(RoutingNpy, RefusesHostileFiles) {
  const auto two = le_i32({1, 2});
  const std::string good = "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 2), }\n";
  struct Case {
    std::vector<uint8_t> file;
    const char* expect;  // a fragment of the error
  };
  std::vector<Case> cases = {
      {bytes_of("\x93NUMPZ\x01\x00"), "magic"},
      {{}, "magic"},
      {npy_file(4, 0, good, two), "version"},
      {npy_file(1, 1, good, two), "version"},
      {npy_file(1, 0, "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1, 1), }\n", two), "'<i8'"},
      {npy_file(1, 0, "{'descr': '>i4', 'fortran_order': False, 'shape': (1, 1, 2), }\n", two), "'>i4'"},
      {npy_file(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 2), }\n", two), "'<f4'"},
      {npy_file(1, 0, "{'descr': '<u4', 'fortran_order': False, 'shape': (1, 1, 2), }\n", two), "'<u4'"},
      {npy_file(1, 0, "{'descr': '>u2', 'fortran_order': False, 'shape': (1, 1, 4), }\n", two), "'>u2'"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': True, 'shape': (1, 1, 2), }\n", two), "Fortran"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 3), }\n", two), "data has 8 bytes"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 1), }\n", two), "data has 8 bytes"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }\n", two),
       "overflows"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (99999999999999999999, 1, 2), }\n", two),
       "shape"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (-1, 1, 2), }\n", two), "shape"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (2), }\n", two), "shape"},
      {npy_file(1, 0, "{'descr': '<i4', 'shape': (1, 1, 2), }\n", two), "lacks"},
      {npy_file(1, 0, "{'descr': '<i4', 'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 2)}\n", two),
       "repeated"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 2), 'x': 1}\n", two),
       "unexpected key"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 2)} junk\n", two), "after the dict"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1, 2)}", two), "newline"},
      {npy_file(1, 0, "{'descr': '<i4', 'fortran_order': Falsey, 'shape': (1, 1, 2)}\n", two), "fortran_order"},
      {npy_file(1, 0, "{'descr': '<i\\x34', 'fortran_order': False, 'shape': (1, 1, 2)}\n", two), "descr"},
  };
  // A header length that points past the end of the file.
  auto past = npy_file(1, 0, good, two);
  past[8] = 0xFF;
  past[9] = 0xFF;
  cases.push_back({past, "header length"});
  auto huge = npy_file(2, 0, good, two);
  huge[11] = 0x7F;
  cases.push_back({huge, "header length"});
  for (size_t i = 0; i < cases.size(); ++i) {
    NpyI32 a;
    std::string err;
    EXPECT_FALSE(npy_decode_i32(cases[i].file, a, err)) << "case " << i;
    EXPECT_NE(err.find(cases[i].expect), std::string::npos) << "case " << i << ": " << err;
    EXPECT_TRUE(a.data.empty());
  }
}

TEST(RoutingSglang, RawLittleEndianBytes) {
  RoutingIds ids;
  ids.tokens = 1;
  ids.layers = 1;
  ids.top_k = 2;
  ids.ids = {1, 258};
  // 1 -> 01 00 00 00, 258 -> 02 01 00 00; base64 of those eight bytes.
  EXPECT_EQ(encode_sglang_routing(ids), base64_encode(le_i32({1, 258})));
  EXPECT_EQ(encode_sglang_routing(ids), "AQAAAAIBAAA=");
  RoutingIds back;
  std::string err;
  ASSERT_TRUE(decode_sglang_routing("AQAAAAIBAAA=", 1, 2, back, err)) << err;
  EXPECT_EQ(back.tokens, 1u);
  EXPECT_EQ(back.ids, ids.ids);
  ASSERT_TRUE(decode_sglang_routing("AQAAAAIBAAA=", 2, 1, back, err)) << err;  // same bytes, other shape
  EXPECT_EQ(back.tokens, 1u);
  ASSERT_TRUE(decode_sglang_routing("AQAAAAIBAAA=", 1, 1, back, err)) << err;
  EXPECT_EQ(back.tokens, 2u);
  EXPECT_FALSE(decode_sglang_routing("AQAAAAIBAAA=", 3, 1, back, err));
  EXPECT_NE(err.find("whole number"), std::string::npos) << err;
  EXPECT_FALSE(decode_sglang_routing("AQAAAAIBAAA=", 0, 2, back, err));
  EXPECT_NE(err.find("routing_shape"), std::string::npos) << err;
  EXPECT_FALSE(decode_sglang_routing("AQAAAAIBAA", 1, 2, back, err));  // truncated base64
  ASSERT_TRUE(decode_sglang_routing("", 4, 2, back, err)) << err;       // no tokens: an empty trace
  EXPECT_EQ(back.tokens, 0u);
}

TEST(RoutingVllm, RoundTripAndShapeChecks) {
  RoutingIds ids;
  ids.tokens = 3;
  ids.layers = 2;
  ids.top_k = 2;
  ids.ids = {0, 1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4};
  const std::string b64 = encode_vllm_routing(ids);
  RoutingIds back;
  std::string err;
  ASSERT_TRUE(decode_vllm_routing(b64, 0, 0, back, err)) << err;
  EXPECT_EQ(back.tokens, 3u);
  EXPECT_EQ(back.layers, 2u);
  EXPECT_EQ(back.top_k, 2u);
  EXPECT_EQ(back.ids, ids.ids);
  ASSERT_TRUE(decode_vllm_routing(b64, 2, 2, back, err)) << err;
  EXPECT_FALSE(decode_vllm_routing(b64, 3, 2, back, err));
  EXPECT_NE(err.find("routing_shape"), std::string::npos) << err;
  const uint64_t flat[1] = {12};
  EXPECT_FALSE(decode_vllm_routing(base64_encode(npy_encode_i32(ids.ids, flat)), 0, 0, back, err));
  EXPECT_NE(err.find("3 (tokens"), std::string::npos) << err;
  // The raw SGLang bytes are not a .npy file.
  EXPECT_FALSE(decode_vllm_routing(encode_sglang_routing(ids), 0, 0, back, err));
  EXPECT_NE(err.find("magic"), std::string::npos) << err;
  EXPECT_FALSE(decode_vllm_routing(b64.substr(0, b64.size() - 3), 0, 0, back, err));
}

TEST(RoutingIds, RangeCheckNamesTheFirstBadId) {
  RoutingIds ids;
  ids.tokens = 2;
  ids.layers = 2;
  ids.top_k = 2;
  ids.ids = {0, 1, 2, 3, 4, 5, 6, 8};
  std::string err;
  EXPECT_TRUE(check_expert_ids(ids, 9, err));
  EXPECT_FALSE(check_expert_ids(ids, 8, err));
  EXPECT_NE(err.find("expert id 8 at token 1, layer 1"), std::string::npos) << err;
  ids.ids[2] = -3;
  EXPECT_FALSE(check_expert_ids(ids, 0, err));
  EXPECT_NE(err.find("expert id -3 at token 0, layer 1"), std::string::npos) << err;
  ids.ids[2] = 70000;
  EXPECT_FALSE(check_expert_ids(ids, 0, err));
}

TEST(RoutingIds, FiftyMegabytePayloadIsRefusedBeforeDecoding) {
  const std::string big(50u << 20, 'A');
  RoutingIds back;
  std::string err;
  EXPECT_FALSE(decode_sglang_routing(big, 8, 2, back, err));
  EXPECT_NE(err.find("over the limit"), std::string::npos) << err;
  EXPECT_FALSE(decode_vllm_routing(big, 0, 0, back, err));
  EXPECT_TRUE(back.ids.empty());
}
