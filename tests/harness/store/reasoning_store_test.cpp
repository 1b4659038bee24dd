// The reasoning migration: thinking and answer parts and a score's scope survive a round trip, and
// samples without a thinking part store nothing extra.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/store.h"
#include "support/scratch.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

std::string temp_db(const std::string& tag) {
  fs::path p = testsupport::scratch_path("wobble-reasoning-" + tag + ".db");
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p.string() + ext);
  return p.string();
}

RunRecord run_record() {
  RunRecord r;
  r.suite_name = "s";
  r.suite_path = "s.yaml";
  r.suite_hash = "h";
  r.plan.suite = suite_from_json({{"name", "s"}});
  r.provider = {{"kind", "openai"}};
  r.model_id = "m";
  r.repeats = 3;
  r.tool_version = "t";
  r.started_at = "2026-01-01T00:00:00Z";
  r.status = "running";
  r.expected_samples = 3;
  return r;
}

SampleRecord sample(int64_t run, int repeat, const std::string& output, OutputParts parts) {
  SampleRecord s;
  s.run_id = run;
  s.case_id = "c";
  s.variant_id = "v";
  s.repeat = repeat;
  s.prompt = "p";
  s.ok = true;
  s.output = output;
  s.finish_reason = "stop";
  s.set_parts(std::move(parts));
  CriterionResult cr;
  cr.criterion_id = "k";
  cr.outcome = Outcome::kPass;
  cr.score = 1;
  cr.scope = Scope::kReasoning;
  cr.evidence = {2, 4, "ab"};
  s.scores.push_back(cr);
  return s;
}

TEST(ReasoningStore, PartsAndScopeRoundTrip) {
  std::string path = temp_db("roundtrip");
  auto st = Store::open(path);
  int64_t run = st.create_run(run_record());
  const std::string think = "<think>xxab</think>\n\n4";
  st.insert_samples({sample(run, 0, think, split_output(think)),
                     sample(run, 1, "plain", split_output("plain")),
                     sample(run, 2, "", split_output("", "thinking...", "length"))});
  auto got = st.samples(run);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].reasoning_form, ReasoningForm::kThinkTags);
  EXPECT_EQ(got[0].reasoning, "xxab");
  EXPECT_EQ(got[0].answer_text(), "4");
  EXPECT_TRUE(got[0].reasoning_closed);
  EXPECT_EQ(got[0].scores.at(0).scope, Scope::kReasoning);
  EXPECT_EQ(got[1].reasoning_form, ReasoningForm::kNone);
  EXPECT_EQ(got[1].answer_text(), "plain");
  EXPECT_EQ(got[2].reasoning_form, ReasoningForm::kField);
  EXPECT_EQ(got[2].reasoning, "thinking...");
  EXPECT_FALSE(got[2].reasoning_closed);
  EXPECT_EQ(got[2].answer_text(), "");

  // No copy of the output for a sample without a thinking part.
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(st.handle(), "SELECT count(*) FROM samples WHERE answer IS NULL AND reasoning IS NULL",
                               -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(q, 0), 1);
  sqlite3_finalize(q);
}

TEST(ReasoningStore, StreamedGroupsCarryTheParts) {
  std::string path = temp_db("stream");
  auto st = Store::open(path);
  RunRecord rr = run_record();
  int64_t run = st.create_run(rr);
  const std::string think = "<think>r</think>a";
  st.insert_samples({sample(run, 0, think, split_output(think))});
  int groups = 0;
  st.for_each_group(run, {{"c", "v"}}, SampleColumns{}, [&](std::vector<SampleRecord>& g) {
    ++groups;
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0].reasoning, "r");
    EXPECT_EQ(g[0].answer_text(), "a");
  });
  EXPECT_EQ(groups, 1);
}

}  // namespace
