// `wobble run` with a local provider decodes a (case, variant)'s repeats as one batch
// (provider.batch). What it stores must not depend on it: batch 1 (one at a time), 3 (groups and a
// remainder) and the default 8 give byte-identical samples (outputs, finish reasons, token ids,
// routing traces, seeds), and so must provider.weights. --batch-variant, which imitates a batching server, must change something.
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "store/store.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

const std::string kModel = std::string(WOBBLE_SOURCE_DIR) + "/engine/models/wobble-demo-moe.gguf";

// "64 + 65" is a held-out sum the retrained demo model is unsure of (it answers "23 + 45" the same
// way in every repeat), so the repeats differ and batching has something to keep apart.
std::string suite_text(const std::string& batch_line, double temperature) {
  return "name: batched\nprovider: {kind: local, model_path: \"" + kModel + "\", threads: 2" + batch_line +
         "}\nsampling: {temperature: " + std::to_string(temperature) + ", top_k: 40, max_tokens: 20, seed: 7}\n"
         "repeats: 7\nvariants:\n  - id: plain\n    messages:\n      - user: \"{{p}}\"\n"
         "rubric: {criteria: [{id: any, scorer: contains, args: {value: \"e\"}}]}\ncases:\n"
         "  - {id: sky, vars: {p: \"What is 64 + 65?\"}}\n"
         "  - {id: stop, vars: {p: \"Write a short poem about the sea.\"}, sampling: {stop: [\"e\"]}}\n";
}

using Row = std::tuple<std::string, int, bool, std::string, std::string, std::vector<int32_t>, std::vector<uint8_t>,
                       int64_t, uint64_t>;

std::vector<Row> run(const std::string& dir, const std::string& tag, const std::string& batch_line,
                     double temperature, const std::vector<std::string>& extra = {}) {
  std::string suite = dir + "/" + tag + ".yaml";
  write_text_file(suite, suite_text(batch_line, temperature));
  std::string db = dir + "/" + tag + ".db";
  std::vector<std::string> args = {WOBBLE_EXE, "run", suite, "--db", db, "--quiet"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_process(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return {};
  Store st = Store::open(db);
  std::vector<Row> out;
  for (const auto& s : st.samples(std::stoll(r.out), true))
    out.emplace_back(s.case_id, s.repeat, s.ok, s.output, s.finish_reason, s.token_ids, s.routing_trace,
                     s.completion_tokens, s.seed);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(BatchedRun, StoredSamplesDoNotDependOnTheBatchSize) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "demo model not found at " << kModel;
  std::string dir = make_temp_dir("batched-run");
  auto one = run(dir, "b1", ", batch: 1", 0.8);
  ASSERT_EQ(one.size(), 14u);
  std::set<std::string> outputs;
  for (const auto& r : one) {
    EXPECT_TRUE(std::get<2>(r));
    EXPECT_FALSE(std::get<6>(r).empty()) << "no routing trace";
    outputs.insert(std::get<3>(r));
  }
  EXPECT_GT(outputs.size(), 2u) << "repeats should differ at temperature 0.8";
  EXPECT_EQ(run(dir, "b3", ", batch: 3", 0.8), one);
  EXPECT_EQ(run(dir, "b8", "", 0.8), one);
  // Nor on where the weights live (a private copy in huge pages, or the mapped file).
  EXPECT_EQ(run(dir, "b8-mapped", ", weights: mapped", 0.8), one);
  EXPECT_EQ(run(dir, "b8-copy", ", weights: copy", 0.8), one);
}

TEST(BatchedRun, BatchVariantChangesWhatABatchGives) {
  if (!std::filesystem::exists(kModel)) GTEST_SKIP() << "demo model not found at " << kModel;
  std::string dir = make_temp_dir("batched-variant");
  // Greedy: the 7 repeats feed the same tokens, so each step's rows all want the same experts and
  // the capacity limit drops most of them.
  auto invariant = run(dir, "inv", "", 0.0);
  auto variant = run(dir, "var", "", 0.0, {"--batch-variant"});
  ASSERT_EQ(invariant.size(), 14u);
  ASSERT_EQ(variant.size(), 14u);
  EXPECT_NE(variant, invariant);
  // A batch of one is not a batch: the same run with batch 1 equals the invariant one.
  EXPECT_EQ(run(dir, "var1", ", batch: 1", 0.0, {"--batch-variant"}), invariant);
}
