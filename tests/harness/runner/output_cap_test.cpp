// The per-sample output cap (provider.max_output_bytes): cut on a UTF-8 boundary, recorded as
// finish_reason truncated_by_wobble with the original length, scored on the stored text.
#include <gtest/gtest.h>

#include "provider/openai_provider.h"
#include "runner/output_cap.h"
#include "runner/runner.h"
#include "store/store.h"
#include "support/fake_openai_server.h"
#include "support/scratch.h"
#include "util/utf8.h"

using namespace wobble;

TEST(OutputCap, CutsOnACharacterBoundaryAndReturnsTheOriginalLength) {
  std::string finish = "stop";
  std::string short_text = "héllo";
  EXPECT_EQ(cap_output(short_text, 6, finish), -1);  // exactly at the cap: untouched
  EXPECT_EQ(short_text, "héllo");
  EXPECT_EQ(finish, "stop");

  std::string text = "ab\xC3\xA9" "cd";  // "abécd": é is bytes 2..3
  EXPECT_EQ(cap_output(text, 3, finish), 6);  // a cut after byte 3 would split é
  EXPECT_EQ(text, "ab");
  EXPECT_EQ(finish, kFinishTruncatedByWobble);

  std::string emoji = "x\xF0\x9F\x98\x80y";  // x, U+1F600 (4 bytes), y
  for (size_t cap = 1; cap <= 4; ++cap) {
    std::string t = emoji;
    EXPECT_EQ(cap_output(t, cap, finish), 6);
    EXPECT_EQ(t, "x") << cap;
  }
  std::string t = emoji;
  EXPECT_EQ(cap_output(t, 5, finish), 6);
  EXPECT_EQ(t, "x\xF0\x9F\x98\x80");
}

TEST(OutputCap, TwoMebibyteOutputFromAServerIsStoredCutToOneMebibyte) {
  // 2 MiB of 3-byte characters after one ASCII byte: 1 MiB (1,048,576) falls inside a character.
  std::string big = "a";
  while (big.size() < (2u << 20)) big += "\xE2\x82\xAC";  // €
  wobble::testing::FakeOpenAIServer server([&](const nlohmann::json&) { return big; });
  Suite suite;
  suite.name = "cap";
  suite.provider.kind = "openai";
  suite.provider.base_url = server.base_url();
  suite.provider.model = "m";
  suite.provider.timeout_s = 30;
  suite.provider.max_concurrency = 1;
  suite.repeats = 1;
  Variant v;
  v.id = "v";
  v.prompt = "p";
  suite.variants.push_back(v);
  Case c;
  c.id = "c";
  c.rubric.answer_extractor = ExtractorSpec{"first-line", nlohmann::json::object()};
  suite.cases.push_back(c);
  OpenAIProvider provider(suite.provider);
  RunOptions opts;
  opts.db_path = testsupport::scratch_path("cap.db");
  opts.quiet = true;
  RunPlan plan;
  plan.suite = suite;
  RunOutcome out = run_plan(plan, provider, opts);
  ASSERT_EQ(out.executed, 1);
  ASSERT_EQ(out.failed, 0);

  Store store = Store::open(opts.db_path);
  auto samples = store.samples(out.run_id);
  ASSERT_EQ(samples.size(), 1u);
  const SampleRecord& s = samples[0];
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.finish_reason, kFinishTruncatedByWobble);
  EXPECT_EQ(s.output_original_bytes, int64_t(big.size()));
  EXPECT_LE(s.output.size(), size_t(1) << 20);
  EXPECT_GT(s.output.size(), (size_t(1) << 20) - 3);
  EXPECT_EQ(s.output.size() % 3, 1u);  // whole characters only
  EXPECT_EQ(valid_utf8(s.output), s.output);
  EXPECT_EQ(s.output, big.substr(0, s.output.size()));
  // The stored answer is a short span, not the (one-line) output again.
  ASSERT_TRUE(s.extracted_answer);
  EXPECT_LT(s.extracted_answer->size(), 400u);
}
