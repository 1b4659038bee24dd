// Generated text follows one policy (DecodeOptions::generated_text()): the continuation of the
// prompt as llama-server returns it. On tiny random models with project-owned SPM and BPE
// vocabularies: the first generated token's word-boundary space is kept, byte for byte; streamed
// text equals the returned text; stop strings match across the first token and across tokens.
//
// With WOBBLE_DUMP_VOCAB_MODELS=DIR, VocabModels.* also writes one tiny model per vocabulary in
// ../shared/fixtures/vocab to DIR (used by tests/dev/compare_llama_server.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <filesystem>

#include "engine/runtime/tiny_model.h"
#include "engine/runtime/tiny_vocab.h"
#include "moe/model.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "support/scratch.h"

using namespace moe;
using moe::testing::TinySpec;
namespace fs = std::filesystem;

namespace {

constexpr int kVocab = 64;

std::shared_ptr<const Model> tiny_with_vocab(bool spm, const std::string& tag, std::vector<std::string>* pieces) {
  TinySpec s;
  s.vocab = kVocab;
  s.d = 64;
  s.ff = 64;
  s.seed = 3;
  GgufWriter w = moe::testing::tiny_model(s);
  auto toks = spm ? moe::testing::add_tiny_spm_vocab(w, kVocab) : moe::testing::add_tiny_bpe_vocab(w, kVocab);
  if (pieces) *pieces = toks;
  std::string path = testsupport::scratch_path("gen-text-" + tag + ".gguf");
  EXPECT_TRUE(w.write(path).ok());
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? m.value() : nullptr;
}

// The text llama-server returns for generated ids, written out from the raw vocabulary: each
// normal token's piece with the marker ("▁" for SPM, "Ġ" for BPE) read as a space, no left strip.
std::string expected_text(const std::vector<std::string>& pieces, const std::vector<int32_t>& ids, bool spm) {
  const std::string marker = spm ? moe::testing::kSpmMarker : "\xC4\xA0";
  std::string out;
  for (int32_t id : ids) {
    if (id < 3) continue;  // control tokens are hidden
    std::string p = pieces[size_t(id)];
    if (p.rfind(marker, 0) == 0) p = " " + p.substr(marker.size());
    out += p;
  }
  return out;
}

struct GenRun {
  GenerateResult result;
  std::string streamed;
};

GenRun gen(const std::shared_ptr<const Model>& m, std::vector<int32_t> prompt, int max_tokens,
        std::vector<std::string> stop = {}) {
  auto s = Session::create(m, SessionOptions{});
  EXPECT_TRUE(s.ok());
  GenerateOptions go;
  go.max_tokens = max_tokens;
  go.stop = std::move(stop);
  GenRun r;
  auto res = generate(**s, prompt, go, [&](std::string_view t) { r.streamed += t; });
  EXPECT_TRUE(res.ok()) << res.status().ToString();
  if (res.ok()) r.result = *res;
  return r;
}

// Greedy prompts [BOS, k] whose first generated token is a normal token carrying the marker
// (odd id) and that generate at least 3 tokens; the tiny model's weights are fixed, so this list is.
std::vector<std::vector<int32_t>> prompts_starting_with_a_marker(const std::shared_ptr<const Model>& m, int32_t bos) {
  std::vector<std::vector<int32_t>> out;
  for (int32_t k = 3; k < kVocab; ++k) {
    std::vector<int32_t> p = {bos, k};
    GenRun r = gen(m, p, 6);
    if (r.result.tokens.size() >= 3 && r.result.tokens[0] >= 3 && r.result.tokens[0] % 2 == 1) out.push_back(p);
  }
  return out;
}

}  // namespace

TEST(GeneratedText, SpmContinuationKeepsTheFirstWordBoundarySpaceByteForByte) {
  std::vector<std::string> pieces;
  auto m = tiny_with_vocab(true, "spm", &pieces);
  ASSERT_TRUE(m);
  auto prompts = prompts_starting_with_a_marker(m, m->tokenizer().bos());
  ASSERT_GE(prompts.size(), 3u) << "too few prompts whose first generated token carries the marker";
  for (const auto& p : prompts) {
    GenRun r = gen(m, p, 6);
    const auto& toks = r.result.tokens;
    const std::string want = expected_text(pieces, toks, true);
    ASSERT_EQ(want[0], ' ') << "first token " << toks[0] << " of " << toks.size() << " prompt " << p[1];
    EXPECT_EQ(r.result.text, want) << "prompt token " << p[1];
    EXPECT_EQ(r.streamed, r.result.text) << "prompt token " << p[1];
    // The same bytes from the tokenizer's own API, whole and streamed.
    EXPECT_EQ(m->tokenizer().decode(toks, DecodeOptions::generated_text()), want);
    Tokenizer::StreamDecoder sd(m->tokenizer(), DecodeOptions::generated_text());
    std::string acc;
    for (int32_t id : toks) acc += sd.push(id);
    EXPECT_EQ(acc + sd.finish(), want);
    // Decoded as the start of a text, the same ids lose exactly that space (the old behaviour).
    EXPECT_EQ(m->tokenizer().decode(toks), want.substr(1));
  }
  // One case pinned literally, so a change in both the decoder and expected_text() cannot hide
  // (the weights come from std::mt19937 + libstdc++'s normal_distribution, as in tiny_model.h).
  ASSERT_EQ(prompts[0], (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(gen(m, prompts[0], 6).result.text, " on1 ran2 so1 see x2sat1");
}

TEST(GeneratedText, StopStringsMatchAcrossTheWordBoundaryAndBetweenTokens) {
  std::vector<std::string> pieces;
  auto m = tiny_with_vocab(true, "spm-stop", &pieces);
  ASSERT_TRUE(m);
  auto prompts = prompts_starting_with_a_marker(m, m->tokenizer().bos());
  ASSERT_FALSE(prompts.empty());
  for (const auto& p : prompts) {
    GenRun full = gen(m, p, 6);
    const std::string text = full.result.text;
    const std::string first = expected_text(pieces, {full.result.tokens[0]}, true);
    // A stop string that begins with the first token's word-boundary space: nothing is returned.
    GenRun at_start = gen(m, p, 6, {text.substr(0, 2)});
    EXPECT_EQ(at_start.result.text, "");
    EXPECT_EQ(at_start.result.finish_reason, "stop");
    EXPECT_EQ(at_start.streamed, "");
    // A stop string made of the first token's last character and the second token's first.
    std::string across = text.substr(first.size() - 1, 2);
    GenRun between = gen(m, p, 6, {across});
    EXPECT_EQ(between.result.text, text.substr(0, text.find(across))) << "stop '" << across << "'";
    EXPECT_EQ(between.result.finish_reason, "stop");
    EXPECT_EQ(between.streamed, between.result.text);
    // A stop string that never occurs changes nothing; an empty one matches nothing.
    GenRun none = gen(m, p, 6, {"\x01never", ""});
    EXPECT_EQ(none.result.text, text);
    EXPECT_EQ(none.streamed, text);
  }
}

TEST(GeneratedText, BpeTextIsTheSameInBothContexts) {
  std::vector<std::string> pieces;
  auto m = tiny_with_vocab(false, "bpe", &pieces);
  ASSERT_TRUE(m);
  int checked = 0;
  for (int32_t k = 3; k + 1 < kVocab; k += 3) {
    GenRun r = gen(m, {k, k + 1}, 8);
    const auto& toks = r.result.tokens;
    const std::string want = expected_text(pieces, toks, false);
    EXPECT_EQ(r.result.text, want);
    EXPECT_EQ(r.streamed, want);
    // No prefix space in BPE: a text start and a continuation decode to the same bytes.
    EXPECT_EQ(m->tokenizer().decode(toks), want);
    EXPECT_EQ(m->tokenizer().decode(toks, DecodeOptions::generated_text()), want);
    checked += !toks.empty() && toks[0] >= 3 && toks[0] % 2 == 1;
  }
  EXPECT_GT(checked, 0) << "no BPE generation started with a 'Ġ' token";
}

// Tiny random models carrying each shared reference vocabulary: the engine loads them and its
// generated text equals the raw pieces decoded as llama.cpp's token_to_piece does.
TEST(VocabModels, EveryLoadableReferenceVocabularyGivesAModel) {
  const fs::path dir = fs::path(WOBBLE_SOURCE_DIR) / ".." / "shared" / "fixtures" / "vocab";
  if (!fs::exists(dir)) GTEST_SKIP() << "shared fixtures not found at " << dir;
  const char* dump = std::getenv("WOBBLE_DUMP_VOCAB_MODELS");
  int written = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".gguf") continue;
    auto vocab = GgufFile::open(e.path().string());
    ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
    auto tokens = (*vocab)->get_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok()) << e.path();
    TinySpec s;
    s.d = 64;
    s.ff = 64;
    s.vocab = uint32_t((*tokens)->items.size());
    s.seed = 5;
    GgufWriter w = moe::testing::tiny_model(s);
    moe::testing::copy_vocab(w, **vocab);
    std::string family = e.path().stem().string().substr(std::string("ggml-vocab-").size());
    std::string path = dump && *dump ? (fs::path(dump) / (family + ".gguf")).string()
                                     : testsupport::scratch_path("vocab-model.gguf");
    ASSERT_TRUE(w.write(path).ok()) << path;
    ++written;
    auto m = Model::load(path);
    if (!m.ok()) {
      std::printf("[ vocab model ] %s: the engine refuses it: %s\n", family.c_str(), m.status().ToString().c_str());
      continue;
    }
    const Tokenizer& tok = (*m)->tokenizer();
    auto prompt = tok.encode("Hello world", EncodeOptions{true, false});
    ASSERT_TRUE(prompt.ok()) << family;
    GenRun r = gen(*m, *prompt, 8);
    // Token by token, no left strip, control tokens hidden: the continuation policy.
    std::string want;
    for (int32_t id : r.result.tokens) want += tok.decode(std::vector<int32_t>{id}, DecodeOptions::generated_text());
    EXPECT_EQ(r.result.text.substr(0, want.size()), want.substr(0, r.result.text.size())) << family;
    EXPECT_EQ(r.streamed, r.result.text) << family;
    std::printf("[ vocab model ] %s (%s): %zu generated tokens, text starts with a space: %s\n", family.c_str(),
                tok.model_kind().c_str(), r.result.tokens.size(),
                !r.result.text.empty() && r.result.text[0] == ' ' ? "yes" : "no");
  }
  EXPECT_GT(written, 0);
}

// Constrained decoding (GenerateOptions::constrain): the sampler draws only from what the hook left
// finite, on_token still sees the unmasked logits, and token_bytes() spells each generated token
// exactly as the generated text does.
TEST(ConstrainedDecoding, TheSamplerDrawsOnlyFromWhatTheHookAllows) {
  for (bool spm : {false, true}) {
    std::vector<std::string> pieces;
    auto m = tiny_with_vocab(spm, spm ? "constrain-spm" : "constrain-bpe", &pieces);
    ASSERT_TRUE(m);
    auto s = Session::create(m, {.n_ctx = 64, .n_threads = 1});
    ASSERT_TRUE(s.ok());
    std::vector<int32_t> prompt = {5, 9, 12};
    for (float temp : {0.f, 1.5f}) {
      GenerateOptions go;
      go.max_tokens = 12;
      go.ignore_eos = true;
      go.sampling = {.temperature = temp, .seed = 7};
      // Only tokens with an odd id, and never the one the unconstrained model would pick first.
      int32_t free_first = -1;
      {
        GenerateOptions plain = go;
        (*s)->reset();
        auto r = generate(**s, prompt, plain);
        ASSERT_TRUE(r.ok());
        free_first = r->tokens.at(0);
      }
      int steps = 0;
      bool unmasked_seen = true;
      go.constrain = [&](std::span<float> logits) {
        for (size_t id = 0; id < logits.size(); ++id)
          if (id % 2 == 0 || int32_t(id) == free_first) logits[id] = -std::numeric_limits<float>::infinity();
        ++steps;
      };
      go.on_token = [&](int32_t, std::span<const float> logits) {
        unmasked_seen = unmasked_seen && std::isfinite(logits[0]);
      };
      (*s)->reset();
      auto r = generate(**s, prompt, go);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->tokens.size(), 12u);
      EXPECT_EQ(steps, 12);
      EXPECT_TRUE(unmasked_seen) << "on_token must receive the logits before masking";
      std::string spelled;
      for (int32_t id : r->tokens) {
        EXPECT_EQ(id % 2, 1) << "token " << id << " was masked out";
        EXPECT_NE(id, free_first);
        spelled += m->tokenizer().token_bytes(id);
      }
      EXPECT_EQ(spelled, r->text);
    }
    EXPECT_EQ(m->tokenizer().token_bytes(0), "");   // a control token adds nothing
    EXPECT_EQ(m->tokenizer().token_bytes(-1), "");  // out of range: nothing, no crash
    EXPECT_EQ(m->tokenizer().token_bytes(kVocab), "");
  }
}
