// GGUF reader and writer: round trips of every value type, and hostile files that must fail with
// a clear error instead of crashing.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "support/scratch.h"

using namespace moe;

namespace {

std::vector<uint8_t> sample_file() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.f);
  w.set_bool("flag", true);
  w.set_i32("neg", -5);
  w.set_u64("big", 1ull << 40);
  w.set_array_string("tokenizer.ggml.tokens", {"a", "b", "ccc"});
  w.set_array_f32("scores", {0.5f, -1.f});
  auto inner = std::make_shared<GgufArray>();
  inner->elem_type = GgufValueType::INT32;
  inner->items = {GgufValue{GgufValueType::INT32, int64_t(7)}};
  auto outer = std::make_shared<GgufArray>();
  outer->elem_type = GgufValueType::ARRAY;
  outer->items = {GgufValue{GgufValueType::ARRAY, inner}};
  w.set_value("nested", GgufValue{GgufValueType::ARRAY, outer});
  std::vector<float> data(64 * 3);
  for (size_t i = 0; i < data.size(); ++i) data[i] = float(i) * 0.25f - 10.f;
  EXPECT_TRUE(w.add_tensor_f32("t.f32", {64, 3}, GgmlType::F32, data).ok());
  EXPECT_TRUE(w.add_tensor_f32("t.q8", {64, 3}, GgmlType::Q8_0, data).ok());
  return w.to_bytes();
}

Status open_bytes(const std::vector<uint8_t>& b) { return GgufFile::from_memory(b.data(), b.size()).status(); }

}  // namespace

TEST(Gguf, RoundTripsEveryValueTypeAndTensor) {
  auto bytes = sample_file();
  auto f = GgufFile::from_memory(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(*g.get_string("general.architecture"), "llama");
  EXPECT_EQ(*g.get_uint("llama.block_count"), 2u);
  EXPECT_FLOAT_EQ(float(*g.get_float("llama.rope.freq_base")), 10000.f);
  EXPECT_TRUE(*g.get_bool("flag"));
  EXPECT_EQ(*g.get_int("neg"), -5);
  EXPECT_EQ(*g.get_uint("big"), 1ull << 40);
  EXPECT_EQ((*g.get_array("tokenizer.ggml.tokens"))->items.size(), 3u);
  auto nested = *g.get_array("nested");
  EXPECT_EQ(std::get<int64_t>(std::get<std::shared_ptr<GgufArray>>(nested->items[0].v)->items[0].v), 7);
  EXPECT_EQ(g.get_uint("neg").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(g.get_uint("absent").status().code(), Status::Code::kNotFound);
  const GgufTensorInfo* t = g.find_tensor("t.q8");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<uint64_t>{64, 3}));
  EXPECT_EQ(t->nbytes, 3u * 2 * 34);
  EXPECT_EQ(uintptr_t(t->data - bytes.data()) % 32, 0u);
  float row[64];
  dequantize_row(GgmlType::F32, g.find_tensor("t.f32")->data + 64 * 4, row, 64);
  EXPECT_FLOAT_EQ(row[1], 65 * 0.25f - 10.f);
}

// The private copy in huge pages holds the file's bytes exactly, tensor for tensor, and goes
// through the same validation (a truncated file is refused the same way in both modes).
TEST(Gguf, HugePageCopyHoldsTheFileAndIsValidatedTheSame) {
  auto bytes = sample_file();
  const std::string path = testsupport::scratch_path("gguf-copy.gguf");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  auto mapped = GgufFile::open(path, {}, GgufMemory::kMapped);
  auto copied = GgufFile::open(path, {}, GgufMemory::kHugePageCopy);
  ASSERT_TRUE(mapped.ok() && copied.ok()) << copied.status().ToString();
  EXPECT_EQ((*mapped)->memory(), GgufMemory::kMapped);
  EXPECT_EQ((*copied)->memory(), GgufMemory::kHugePageCopy);
  EXPECT_EQ((*copied)->size_bytes(), bytes.size());
  ASSERT_EQ((*copied)->tensors().size(), (*mapped)->tensors().size());
  for (size_t i = 0; i < (*mapped)->tensors().size(); ++i) {
    const GgufTensorInfo& a = (*mapped)->tensors()[i];
    const GgufTensorInfo& b = (*copied)->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    ASSERT_EQ(a.nbytes, b.nbytes);
    EXPECT_NE(a.data, b.data);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << a.name;
  }
  EXPECT_EQ(*(*copied)->get_string("general.architecture"), "llama");
  // A file over max_bytes is mapped, not copied; at the limit it is copied.
  auto over = GgufFile::open(path, {}, GgufMemory::kHugePageCopy, {.max_bytes = bytes.size() - 1});
  auto at = GgufFile::open(path, {}, GgufMemory::kHugePageCopy, {.max_bytes = bytes.size()});
  ASSERT_TRUE(over.ok() && at.ok());
  EXPECT_EQ((*over)->memory(), GgufMemory::kMapped);
  EXPECT_EQ((*at)->memory(), GgufMemory::kHugePageCopy);
  // A copy that turns out slow maps the rest of the file in place: here after the first page
  // (every rate is below 1e30 bytes/s), and from the start; the bytes are the same either way.
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  std::vector<float> big(64 * 400);
  for (size_t i = 0; i < big.size(); ++i) big[i] = float(i % 977) * 0.5f;
  ASSERT_TRUE(w.add_tensor_f32("big.f32", {64, 400}, GgmlType::F32, big).ok());
  ASSERT_TRUE(w.add_tensor_f32("big.q8", {64, 400}, GgmlType::Q8_0, big).ok());
  const std::vector<uint8_t> big_bytes = w.to_bytes();
  const std::string big_path = testsupport::scratch_path("gguf-copy-big.gguf");
  std::ofstream(big_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(big_bytes.data()), std::streamsize(big_bytes.size()));
  auto big_mapped = GgufFile::open(big_path, {}, GgufMemory::kMapped);
  ASSERT_TRUE(big_mapped.ok());
  for (size_t probe : {size_t(4096), size_t(0)}) {
    auto part = GgufFile::open(big_path, {}, GgufMemory::kHugePageCopy,
                               {.chunk = 4096, .probe = probe, .slow_bytes_per_second = 1e30});
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    ASSERT_GT(big_bytes.size(), 8 * 4096u);
    for (size_t i = 0; i < (*big_mapped)->tensors().size(); ++i) {
      const GgufTensorInfo& a = (*big_mapped)->tensors()[i];
      EXPECT_EQ(std::memcmp(a.data, (*part)->tensors()[i].data, a.nbytes), 0) << a.name << " probe " << probe;
    }
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(bytes.data()), 100);
  auto cut_mapped = GgufFile::open(path, {}, GgufMemory::kMapped);
  auto cut_copied = GgufFile::open(path, {}, GgufMemory::kHugePageCopy);
  ASSERT_FALSE(cut_mapped.ok());
  ASSERT_FALSE(cut_copied.ok());
  EXPECT_EQ(cut_copied.status().code(), cut_mapped.status().code());
  EXPECT_EQ(cut_copied.status().message(), cut_mapped.status().message());
  EXPECT_FALSE(GgufFile::open("/nonexistent/model.gguf", {}, GgufMemory::kHugePageCopy).ok());
}

TEST(Gguf, TruncationAtEveryLengthIsACleanError) {
  auto bytes = sample_file();
  for (size_t n = 0; n < bytes.size(); n += (n < 400 ? 1 : 97)) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    Status s = open_bytes(cut);
    EXPECT_FALSE(s.ok()) << "accepted a file truncated to " << n << " bytes";
  }
}

TEST(Gguf, HostileHeaders) {
  auto bytes = sample_file();
  auto with = [&](size_t off, const void* v, size_t n) {
    auto b = bytes;
    std::memcpy(b.data() + off, v, n);
    return open_bytes(b);
  };
  uint32_t bad_magic = 0x12345678, v1 = 1, v9 = 9;
  EXPECT_NE(with(0, &bad_magic, 4).message().find("bad magic"), std::string::npos);
  EXPECT_EQ(with(4, &v1, 4).code(), Status::Code::kNotSupported);
  EXPECT_EQ(with(4, &v9, 4).code(), Status::Code::kNotSupported);
  uint64_t huge = ~0ull;
  EXPECT_NE(with(8, &huge, 8).message().find("tensor count"), std::string::npos);
  EXPECT_NE(with(16, &huge, 8).message().find("metadata count"), std::string::npos);
  // First key's length field: absurd length.
  EXPECT_FALSE(with(24, &huge, 8).ok());
}

TEST(Gguf, TensorProblemsNameTheTensor) {
  auto make = [](std::vector<uint64_t> dims, GgmlType type, uint64_t nbytes) {
    GgufWriter w;
    w.add_tensor_raw("blk.0.x", dims, type, std::vector<uint8_t>(nbytes));
    return w.to_bytes();
  };
  // Row length not a multiple of the block size.
  Status s = open_bytes(make({33, 2}, GgmlType::Q8_0, 128));
  EXPECT_NE(s.message().find("'blk.0.x'"), std::string::npos) << s.ToString();
  // Dimensions whose product overflows.
  s = open_bytes(make({1ull << 40, 1ull << 40}, GgmlType::F32, 64));
  EXPECT_NE(s.message().find("absurd dimensions"), std::string::npos) << s.ToString();
  // Data that runs past the end of the file.
  s = open_bytes(make({64, 64}, GgmlType::F32, 64));
  EXPECT_NE(s.message().find("past end of file"), std::string::npos) << s.ToString();
  // Unknown type id.
  s = open_bytes(make({4}, GgmlType(99), 16));
  EXPECT_NE(s.message().find("unknown type id 99"), std::string::npos) << s.ToString();
  // Duplicate tensor names.
  GgufWriter w;
  w.add_tensor_raw("a", {8}, GgmlType::F32, std::vector<uint8_t>(32));
  w.add_tensor_raw("a", {8}, GgmlType::F32, std::vector<uint8_t>(32));
  auto dup = w.to_bytes();
  EXPECT_NE(open_bytes(dup).message().find("duplicate tensor 'a'"), std::string::npos);
}

TEST(Gguf, BadAlignmentAndMissingFile) {
  GgufWriter w(48);  // not a power of two
  w.add_tensor_raw("a", {8}, GgmlType::F32, std::vector<uint8_t>(32));
  auto b = w.to_bytes();
  EXPECT_NE(open_bytes(b).message().find("general.alignment"), std::string::npos);
  auto f = GgufFile::open("/nonexistent/model.gguf");
  EXPECT_EQ(f.status().code(), Status::Code::kIOError);
}

// Fuzzer finding: a 27-byte header claiming 851,968 tensors allocated and looped before failing.
TEST(Gguf, CountsTheFileCannotHoldAreRejectedUpFront) {
  std::vector<uint8_t> b = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
  auto put64 = [&](uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i))); };
  put64(851968);  // tensors
  put64(0);       // metadata pairs
  b.insert(b.end(), {0, 0x1b, 0x3c});
  Status s = open_bytes(b);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tensor count 851968 does not fit"), std::string::npos) << s.message();
  b.resize(8);
  put64(0);
  put64(1000);  // metadata pairs, with 3 bytes left
  b.insert(b.end(), {0, 0x1b, 0x3c});
  s = open_bytes(b);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("metadata count 1000 does not fit"), std::string::npos) << s.message();
}
