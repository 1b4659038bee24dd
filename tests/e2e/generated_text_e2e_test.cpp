// The generated-text policy end to end, on a tiny random model with a project-owned SentencePiece
// vocabulary: `wobble run` with `kind: local` stores, and `wobble generate` prints, the continuation
// of the prompt with the first generated token's word-boundary space, byte for byte as the
// vocabulary's pieces spell it (what llama-server returns for the same tokens); a stop string that
// begins with that space still stops the sample.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/runtime/tiny_model.h"
#include "engine/runtime/tiny_vocab.h"
#include "moe/model.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "store/store.h"
#include "support/process.h"

using namespace wobble;
using namespace wobble::testing;

namespace {

constexpr int kVocab = 64;
constexpr int kMaxTokens = 6;

struct TinySpmModel {
  std::string path;
  std::vector<std::string> pieces;
};

TinySpmModel write_model(const std::string& dir) {
  moe::testing::TinySpec s;
  s.vocab = kVocab;
  s.seed = 3;
  moe::GgufWriter w = moe::testing::tiny_model(s);
  TinySpmModel m;
  m.pieces = moe::testing::add_tiny_spm_vocab(w, kVocab);
  m.path = dir + "/tiny-spm.gguf";
  EXPECT_TRUE(w.write(m.path).ok());
  return m;
}

// A prompt text whose greedy continuation starts with a piece that carries "▁" (odd ids in the
// tiny vocabulary) and has at least two tokens, found with the library; empty when none is.
std::string prompt_starting_with_a_marker(const std::string& model_path, std::vector<int32_t>* tokens) {
  auto m = moe::Model::load(model_path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return "";
  for (int n = 1; n <= 24; ++n) {
    std::string prompt = "q" + std::string(size_t(n), '?');
    auto ids = (*m)->tokenizer().encode(prompt, moe::EncodeOptions{true, false});
    EXPECT_TRUE(ids.ok());
    auto s = moe::Session::create(*m, moe::SessionOptions{});
    EXPECT_TRUE(s.ok());
    moe::GenerateOptions go;
    go.max_tokens = kMaxTokens;
    auto r = moe::generate(**s, *ids, go);
    EXPECT_TRUE(r.ok());
    if (r.ok() && r->tokens.size() >= 2 && r->tokens[0] % 2 == 1) {
      *tokens = r->tokens;
      return prompt;
    }
  }
  return "";
}

std::string expected_text(const TinySpmModel& m, const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) {
    std::string p = m.pieces[size_t(id)];
    if (p.rfind(moe::testing::kSpmMarker, 0) == 0) p = " " + p.substr(moe::testing::kSpmMarker.size());
    out += p;
  }
  return out;
}

}  // namespace

TEST(GeneratedTextE2E, LocalRunAndGenerateKeepTheFirstWordBoundarySpace) {
  std::string dir = make_temp_dir("gen-text");
  TinySpmModel model = write_model(dir);
  std::vector<int32_t> tokens;
  std::string prompt = prompt_starting_with_a_marker(model.path, &tokens);
  ASSERT_FALSE(prompt.empty()) << "no prompt whose first generated token carries the marker";
  const std::string want = expected_text(model, tokens);
  ASSERT_EQ(want[0], ' ');

  // wobble run, kind: local, a plain prompt: the stored output is the continuation.
  std::string suite = dir + "/suite.yaml";
  write_text_file(suite, "name: gen-text\nprovider: {kind: local, model_path: \"" + model.path +
                             "\", threads: 1}\nsampling: {temperature: 0, max_tokens: " + std::to_string(kMaxTokens) +
                             ", seed: 1}\nrepeats: 1\nvariants:\n  - {id: plain, prompt: \"{{p}}\"}\n"
                             "rubric: {criteria: [{id: any, scorer: contains, args: {value: \" \"}}]}\ncases:\n"
                             "  - {id: free, vars: {p: \"" + prompt + "\"}}\n"
                             "  - {id: stopped, vars: {p: \"" + prompt + "\"}, sampling: {stop: [\"" +
                             want.substr(0, 2) + "\"]}}\n");
  std::string db = dir + "/w.db";
  auto r = run_process({WOBBLE_EXE, "run", suite, "--db", db, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Store st = Store::open(db);
  auto samples = st.samples(std::stoll(r.out), true);
  ASSERT_EQ(samples.size(), 2u);
  for (const auto& s : samples) {
    ASSERT_TRUE(s.ok) << s.error;
    if (s.case_id == "free") {
      EXPECT_EQ(s.output, want);
      EXPECT_EQ(s.token_ids, tokens);
    } else {
      // The stop string " x" begins with the first token's space: nothing before it is returned.
      EXPECT_EQ(s.output, "");
      EXPECT_EQ(s.finish_reason, "stop");
    }
  }

  // wobble generate -p, raw: the prompt, then the continuation exactly as the provider stores it.
  auto g = run_process({WOBBLE_EXE, "generate", "-m", model.path, "-p", prompt, "--chat-template", "raw", "-n",
                        std::to_string(kMaxTokens), "--threads", "1"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(g.out, prompt + want + "\n");
}
