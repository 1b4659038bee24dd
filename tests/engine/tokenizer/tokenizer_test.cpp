// Tokenizers: conformance against the reference vocabularies in ../shared/fixtures/vocab (skipped
// when absent), project-owned vocabularies generated here, round trips, streaming, chat templates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "gguf/gguf_writer.h"
#include "moe/chat_template.h"
#include "moe/tokenizer.h"
#include "support/scratch.h"
#include "tokenizer/unicode.h"

using namespace moe;
namespace fs = std::filesystem;

namespace {

const fs::path kVocabDir = fs::path(WOBBLE_SOURCE_DIR) / ".." / "shared" / "fixtures" / "vocab";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Conformance {
  int total = 0, passed = 0;
  std::string first_failure;
};

// suffix "" reads NAME.gguf.inp/.out (encoded without special parsing); ".special" reads
// NAME.gguf.special.inp/.out, whose references were made with special-token parsing on.
Conformance run_vocab(const std::string& name, const std::string& suffix = "") {
  Conformance c;
  fs::path gguf = kVocabDir / ("ggml-vocab-" + name + ".gguf");
  auto tok = Tokenizer::load(gguf.string());
  if (!tok.ok()) {
    c.first_failure = tok.status().ToString();
    return c;
  }
  const bool parse_special = suffix == ".special";
  std::string inp = slurp(gguf.string() + suffix + ".inp"), out = slurp(gguf.string() + suffix + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (true) {
    size_t at = inp.find(sep, pos);
    if (at == std::string::npos) break;
    inputs.push_back(inp.substr(pos, at - pos));
    pos = at + sep.size();
  }
  std::vector<std::string> lines;
  std::stringstream ls(out);
  for (std::string l; std::getline(ls, l);) lines.push_back(l);
  for (size_t i = 0; i < inputs.size() && i < lines.size(); ++i) {
    std::vector<int32_t> want;
    std::stringstream ws(lines[i]);
    for (int32_t v; ws >> v;) want.push_back(v);
    auto got = (*tok)->encode(inputs[i], EncodeOptions{false, parse_special});
    ++c.total;
    if (got.ok() && *got == want) {
      ++c.passed;
    } else if (c.first_failure.empty()) {
      std::string g;
      if (got.ok()) for (auto v : *got) g += std::to_string(v) + " ";
      c.first_failure = "input #" + std::to_string(i) + " [" + inputs[i].substr(0, 40) + "]: got " + g + "want " + lines[i];
    }
  }
  return c;
}

// A small byte-level BPE vocabulary made here: 256 byte tokens, a few merges, two control tokens.
std::string tiny_bpe(const std::string& tag) {
  GgufWriter w;
  std::vector<std::string> toks;
  // GPT-2 byte mapping: printable bytes map to themselves, others above 255.
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
    std::string s;
    if (cp < 0x80) s += char(cp);
    else { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
    toks.push_back(s);
  }
  std::vector<std::string> merges = {"h e", "l l", "he ll", "\xC4\xA0 w", "o r"};
  for (const auto& m : merges) toks.push_back(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
  toks.push_back("<|im_start|>");
  toks.push_back("<|im_end|>");
  std::vector<int32_t> types(toks.size(), 1);
  types[types.size() - 1] = types[types.size() - 2] = 3;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt2");
  w.set_array_string("tokenizer.ggml.tokens", toks);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_string("tokenizer.ggml.merges", merges);
  w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(toks.size() - 1));
  std::string path = testsupport::scratch_path("tok-" + tag + ".gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

// A harmony-style vocabulary (gpt-oss) whose GGUF marks <|end|> as end-of-turn, as some do.
std::string tiny_harmony(const std::string& tag, bool with_return) {
  GgufWriter w;
  std::vector<std::string> toks;
  for (char c = 'a'; c <= 'z'; ++c) toks.push_back(std::string(1, c));
  std::vector<std::string> specials = {"<|start|>", "<|channel|>", "<|message|>", "<|end|>", "<|call|>", "<|endoftext|>"};
  if (with_return) specials.push_back("<|return|>");
  size_t first_special = toks.size();
  toks.insert(toks.end(), specials.begin(), specials.end());
  std::vector<int32_t> types(toks.size(), 1);
  for (size_t i = first_special; i < toks.size(); ++i) types[i] = 3;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt2");
  w.set_array_string("tokenizer.ggml.tokens", toks);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_string("tokenizer.ggml.merges", {});
  w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(first_special + 5));  // <|endoftext|>
  w.set_u32("tokenizer.ggml.eot_token_id", uint32_t(first_special + 3));  // <|end|>
  std::string path = testsupport::scratch_path("tok-harmony-" + tag + ".gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

}  // namespace

TEST(Tokenizer, HarmonyEndClosesAMessageNotTheGeneration) {
  auto tok = Tokenizer::load(tiny_harmony("a", true));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto id = [&](const char* s) {
    auto ids = (*tok)->encode(s, EncodeOptions{false, true});
    EXPECT_TRUE(ids.ok() && ids->size() == 1u) << s;
    return ids.ok() && !ids->empty() ? ids->front() : -1;
  };
  // After the analysis channel's <|end|> the model goes on to the final channel: not an end.
  EXPECT_FALSE((*tok)->is_eog(id("<|end|>")));
  EXPECT_TRUE((*tok)->is_eog(id("<|return|>")));
  EXPECT_TRUE((*tok)->is_eog(id("<|call|>")));
  EXPECT_TRUE((*tok)->is_eog(id("<|endoftext|>")));
  EXPECT_FALSE((*tok)->is_eog(id("<|channel|>")));
  // Without the harmony tokens the GGUF's own end-of-turn id stands.
  auto plain = Tokenizer::load(tiny_harmony("b", false));
  ASSERT_TRUE(plain.ok());
  auto end = (*plain)->encode("<|end|>", EncodeOptions{false, true});
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE((*plain)->is_eog(end->front()));
}

class VocabConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabConformance, MatchesReferenceTokenIds) {
  if (!fs::exists(kVocabDir)) GTEST_SKIP() << "shared fixtures not found at " << kVocabDir << "; skipping conformance";
  Conformance c = run_vocab(GetParam());
  RecordProperty("passed", c.passed);
  RecordProperty("total", c.total);
  std::printf("[ conformance ] %s: %d/%d\n", GetParam().c_str(), c.passed, c.total);
  ASSERT_GT(c.total, 0) << c.first_failure;
  EXPECT_EQ(c.passed, c.total) << c.first_failure;
}

// Every shared vocabulary with reference ids.
INSTANTIATE_TEST_SUITE_P(Fixtures, VocabConformance,
                         ::testing::Values("gpt-2", "llama-spm", "starcoder", "refact", "falcon", "phi-3",
                                           "deepseek-llm", "deepseek-coder", "llama3", "qwen2", "deepseek-v3",
                                           "gpt-oss"));

// The modern families' strings with special-token text, encoded with special parsing.
class SpecialVocabConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(SpecialVocabConformance, MatchesReferenceTokenIdsWithSpecialParsing) {
  if (!fs::exists(kVocabDir)) GTEST_SKIP() << "shared fixtures not found at " << kVocabDir << "; skipping conformance";
  Conformance c = run_vocab(GetParam(), ".special");
  std::printf("[ conformance ] %s (special): %d/%d\n", GetParam().c_str(), c.passed, c.total);
  ASSERT_GT(c.total, 0) << c.first_failure;
  EXPECT_EQ(c.passed, c.total) << c.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SpecialVocabConformance,
                         ::testing::Values("llama3", "qwen2", "deepseek-v3", "gpt-oss"));

TEST(Tokenizer, ProjectVocabularyMergesAndSpecials) {
  auto tok = Tokenizer::load(tiny_bpe("a"));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (*tok)->encode("hello world", EncodeOptions{false, false});
  ASSERT_TRUE(ids.ok());
  // "hello" -> "hell" + "o"; " world" -> "Ġw" + "or" + "l" + "d".
  ASSERT_EQ(ids->size(), 6u);
  EXPECT_EQ((*tok)->piece((*ids)[0]), "hell");
  EXPECT_EQ((*tok)->piece((*ids)[2]), "\xC4\xA0w");
  auto with_special = (*tok)->encode("<|im_start|>hi<|im_end|>", EncodeOptions{false, true});
  ASSERT_TRUE(with_special.ok());
  EXPECT_EQ(with_special->front(), (*tok)->n_vocab() - 2);
  EXPECT_EQ(with_special->back(), (*tok)->n_vocab() - 1);
  auto literal = (*tok)->encode("<|im_end|>", EncodeOptions{false, false});
  EXPECT_GT(literal->size(), 1u);  // parse_special off: control text is ordinary text
  EXPECT_TRUE((*tok)->is_eog((*tok)->n_vocab() - 1));
  EXPECT_EQ((*tok)->decode(*with_special), "hi");
  EXPECT_EQ((*tok)->decode(*with_special, DecodeOptions{true}), "<|im_start|>hi<|im_end|>");
}

TEST(Tokenizer, RoundTripsRandomUnicodeAndRejectsInvalidUtf8) {
  auto tok = Tokenizer::load(tiny_bpe("b"));
  ASSERT_TRUE(tok.ok());
  const std::vector<std::string> alphabet = {"a", "Z", " ", "  ", "\n", "\t", "7", "é", "e\xCC\x81", "ß", "日本",
                                             "中文", "😀", "👍🏽", "مرحبا", "שלום", "\x01", "\x7F", "'s", "...", "∑"};
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::string s;
    int len = int(rng() % 12);
    for (int j = 0; j < len; ++j) s += alphabet[rng() % alphabet.size()];
    auto ids = (*tok)->encode(s, EncodeOptions{false, false});
    ASSERT_TRUE(ids.ok()) << s;
    EXPECT_EQ((*tok)->decode(*ids), s);
  }
  auto bad = (*tok)->encode("ok\xFF\xFE", EncodeOptions{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("byte 2"), std::string::npos) << bad.status().ToString();
}

TEST(Tokenizer, StreamingNeverSplitsACharacter) {
  auto tok = Tokenizer::load(tiny_bpe("c"));
  ASSERT_TRUE(tok.ok());
  std::string text = "é😀日本 ok";
  auto ids = (*tok)->encode(text, EncodeOptions{false, false});
  ASSERT_TRUE(ids.ok());
  Tokenizer::StreamDecoder sd(**tok);
  std::string acc;
  for (int32_t id : *ids) {
    std::string part = sd.push(id);
    // Every emitted chunk is complete UTF-8 on its own.
    for (size_t i = 0; i < part.size();) {
      unsigned char c = part[i];
      size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      ASSERT_LE(i + n, part.size());
      i += n;
    }
    acc += part;
  }
  acc += sd.finish();
  EXPECT_EQ(acc, text);
}

TEST(Tokenizer, BadVocabularyIsAClearError) {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_array_string("tokenizer.ggml.tokens", {"a", "b"});
  w.set_array_string("tokenizer.ggml.merges", {"ab"});
  std::string path = testsupport::scratch_path("tok-bad.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto t = Tokenizer::load(path);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("tokenizer.ggml.merges[0]"), std::string::npos) << t.status().ToString();
  w.set_array_string("tokenizer.ggml.merges", {"a b"});
  w.set_u32("tokenizer.ggml.eos_token_id", 9);
  ASSERT_TRUE(w.write(path).ok());
  t = Tokenizer::load(path);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("eos_token_id = 9 is outside the vocabulary"), std::string::npos);
  w.set_string("tokenizer.ggml.model", "wordpiece");
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(Tokenizer::load(path).status().code(), Status::Code::kNotSupported);
}

TEST(ChatTemplates, RenderTheFamiliesExactly) {
  std::vector<ChatMessage> m = {{"system", "Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(render_chat(ChatFamily::kChatML, m),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chat(ChatFamily::kMistral, m, true, "<s>"), "<s>[INST] Be brief.\n\nHi [/INST]");
  EXPECT_EQ(render_chat(ChatFamily::kGranite, m),
            "<|start_of_role|>system<|end_of_role|>Be brief.<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hi"
            "<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>");
  EXPECT_EQ(render_chat(ChatFamily::kTulu, m, true, "<|endoftext|>"),
            "<|endoftext|><|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n");
  EXPECT_EQ(render_chat(ChatFamily::kLlama3, m, true, "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
            "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_chat(ChatFamily::kDeepSeek, m, true, "<｜begin▁of▁sentence｜>"),
            "<｜begin▁of▁sentence｜>Be brief.\n\nUser: Hi\n\nAssistant:");
  EXPECT_EQ(detect_chat_family("{% for m in messages %}<|im_start|>{{ m.role }}"), ChatFamily::kChatML);
  EXPECT_EQ(detect_chat_family("{{ bos_token }}[INST] {{ m }} [/INST]"), ChatFamily::kMistral);
  EXPECT_EQ(detect_chat_family("<|start_header_id|>"), ChatFamily::kLlama3);
  EXPECT_EQ(detect_chat_family("<|start_of_role|>"), ChatFamily::kGranite);
  EXPECT_EQ(detect_chat_family("<|user|>\n ... <|assistant|>"), ChatFamily::kTulu);
  EXPECT_EQ(detect_chat_family(""), ChatFamily::kRaw);
  EXPECT_EQ(*chat_family_from_name("granite"), ChatFamily::kGranite);
  EXPECT_FALSE(chat_family_from_name("vicuna").ok());
}

namespace {

// A small SPM vocabulary made here: control tokens, 256 byte-fallback tokens and a few pieces.
std::string tiny_spm() {
  GgufWriter w;
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  std::vector<float> scores = {0, 0, 0};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    toks.push_back(buf);
    types.push_back(6);
    scores.push_back(0);
  }
  const std::vector<std::pair<std::string, float>> pieces = {
      {"\xE2\x96\x81", -1}, {"h", -2}, {"e", -2}, {"l", -2}, {"o", -2}, {"w", -2}, {"r", -2}, {"d", -2},
      {"\xE2\x96\x81h", -3}, {"\xE2\x96\x81he", -4}, {"ll", -3}, {"llo", -5}, {"\xE2\x96\x81w", -3}, {"or", -3}};
  for (const auto& [p, sc] : pieces) {
    toks.push_back(p);
    types.push_back(1);
    scores.push_back(sc);
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", toks);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_f32("tokenizer.ggml.scores", scores);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  std::string path = testsupport::scratch_path("tok-spm.gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

}  // namespace

TEST(Tokenizer, ProjectSpmVocabularyMergesByScoreWithByteFallback) {
  auto tok = Tokenizer::load(tiny_spm());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (*tok)->encode("hello world", EncodeOptions{true, false});
  ASSERT_TRUE(ids.ok());
  std::vector<std::string> pieces;
  for (int32_t id : *ids) pieces.push_back((*tok)->piece(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"<s>", "\xE2\x96\x81he", "llo", "\xE2\x96\x81w", "or", "l", "d"}));
  EXPECT_EQ((*tok)->decode(*ids), "hello world");
  // Characters outside the vocabulary fall back to their UTF-8 bytes.
  auto cjk = (*tok)->encode("日", EncodeOptions{false, false});
  ASSERT_TRUE(cjk.ok());
  EXPECT_EQ(cjk->size(), 4u);  // "▁" + 3 byte tokens
  EXPECT_EQ((*tok)->piece((*cjk)[1]), "<0xE6>");
  std::mt19937 rng(9);
  const std::vector<std::string> alphabet = {"h", "e", "llo", " ", "w", "日本", "😀", "é", "\n", "Ω"};
  for (int i = 0; i < 200; ++i) {
    std::string s;
    for (int j = 0, n = int(rng() % 8); j < n; ++j) s += alphabet[rng() % alphabet.size()];
    auto e = (*tok)->encode(s, EncodeOptions{false, false});
    ASSERT_TRUE(e.ok());
    EXPECT_EQ((*tok)->decode(*e), s) << s;
  }
}

TEST(Tokenizer, SpmStreamingKeepsInnerSpacesAndMatchesDecode) {
  auto tok = Tokenizer::load(tiny_spm());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::string text = "hello world \xE6\x97\xA5 ok";
  auto ids = (*tok)->encode(text, EncodeOptions{true, false});
  ASSERT_TRUE(ids.ok());
  Tokenizer::StreamDecoder sd(**tok);
  std::string acc;
  for (int32_t id : *ids) acc += sd.push(id);
  acc += sd.finish();
  // Only the prefix space that encoding added is dropped, once; byte-fallback bytes join up.
  EXPECT_EQ(acc, text);
  EXPECT_EQ((*tok)->decode(*ids), text);
  // Control tokens are hidden unless asked for.
  DecodeOptions show;
  show.show_special = true;
  EXPECT_EQ((*tok)->decode(*ids, show).rfind("<s>", 0), 0u);
}

TEST(Tokenizer, InvalidUtf8IsRejectedAtItsByteOffset) {
  auto tok = Tokenizer::load(tiny_bpe("u"));
  ASSERT_TRUE(tok.ok());
  const std::vector<std::pair<std::string, size_t>> cases = {
      {"\xFF", 0},                 // never valid
      {"ab\x80", 2},               // lone continuation byte
      {"a\xC3", 1},                // truncated 2-byte sequence
      {"\xC0\xAF", 0},             // overlong '/'
      {"x\xE0\x80\xAF", 1},        // overlong 3-byte form
      {"xy\xED\xA0\x80", 2},       // UTF-16 surrogate D800
      {"\xF4\x90\x80\x80", 0},     // above U+10FFFF
      {"ok \xE6\x97\xA5\xE6\x97", 6},  // valid CJK then a cut-off one
  };
  for (const auto& [text, at] : cases) {
    auto r = (*tok)->encode(text, EncodeOptions{});
    ASSERT_FALSE(r.ok()) << at;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("at byte " + std::to_string(at)), std::string::npos) << r.status().ToString();
  }
  // The largest code points and the edges around the surrogates are valid.
  for (std::string ok : {"\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80", "\xF0\x90\x80\x80"}) {
    auto r = (*tok)->encode(ok, EncodeOptions{false, false});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ((*tok)->decode(*r), ok);
  }
}

TEST(ChatTemplates, MultiTurnConversationsCloseAssistantTurnsWithEos) {
  std::vector<ChatMessage> m = {{"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};
  // Mixtral-8x7B-Instruct: bos, then '[INST] ' + user + ' [/INST]', assistant + eos_token.
  EXPECT_EQ(render_chat(ChatFamily::kMistral, m, true, "<s>"), "<s>[INST] Hi [/INST]Hello.</s>[INST] Bye [/INST]");
  // OLMoE-Instruct (Tulu): assistant + eos_token + '\n' unless last; generation prompt '<|assistant|>\n'.
  EXPECT_EQ(render_chat(ChatFamily::kTulu, m, true, "<|endoftext|>"),
            "<|endoftext|><|user|>\nHi\n<|assistant|>\nHello.<|endoftext|>\n<|user|>\nBye\n<|assistant|>\n");
  std::vector<ChatMessage> ends = {{"user", "Hi"}, {"assistant", "Hello."}};
  EXPECT_EQ(render_chat(ChatFamily::kTulu, ends, false, "", "<eos>"), "<|user|>\nHi\n<|assistant|>\nHello.<eos>");
  EXPECT_EQ(render_chat(ChatFamily::kChatML, m, false),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n");
  EXPECT_EQ(render_chat(ChatFamily::kDeepSeek, m, true, "<｜begin▁of▁sentence｜>"),
            "<｜begin▁of▁sentence｜>User: Hi\n\nAssistant: Hello.<｜end▁of▁sentence｜>User: Bye\n\nAssistant:");
  EXPECT_EQ(render_chat(ChatFamily::kLlama3, m, false),
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
            "\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>");
  EXPECT_EQ(render_chat(ChatFamily::kRaw, m, true), "HiHello.Bye");
}

TEST(Tokenizer, InconsistentVocabularyArraysNameTheKey) {
  const std::string path = testsupport::scratch_path("tok-arr.gguf");
  auto load_error = [&](GgufWriter& w) {
    EXPECT_TRUE(w.write(path).ok());
    auto t = Tokenizer::load(path);
    EXPECT_FALSE(t.ok());
    return t.ok() ? std::string() : t.status().message();
  };
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "a", "b"});
  w.set_array_f32("tokenizer.ggml.scores", {0.f, -1.f});  // one short
  EXPECT_NE(load_error(w).find("tokenizer.ggml.scores"), std::string::npos);
  w.set_array_f32("tokenizer.ggml.scores", {0.f, -1.f, -2.f});
  w.set_array_i32("tokenizer.ggml.token_type", {2, 1, 1, 1});  // one too many
  EXPECT_NE(load_error(w).find("tokenizer.ggml.token_type"), std::string::npos);
  w.set_array_i32("tokenizer.ggml.token_type", {2, 1, 1});
  w.set_u32("tokenizer.ggml.padding_token_id", 3);
  EXPECT_NE(load_error(w).find("tokenizer.ggml.padding_token_id = 3 is outside the vocabulary"), std::string::npos);
  w.set_u32("tokenizer.ggml.padding_token_id", 0);
  w.set_array_f32("tokenizer.ggml.tokens", {1.f, 2.f, 3.f});  // tokens must be strings
  EXPECT_NE(load_error(w).find("tokenizer.ggml.tokens"), std::string::npos);
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "a", "b"});
  ASSERT_TRUE(w.write(path).ok());
  auto ok = Tokenizer::load(path);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->n_vocab(), 3);
}

// Generated text is decoded as the continuation of the prompt (DecodeOptions::generated_text()): the
// word-boundary marker of its first token is a real space, as llama-server returns it.
TEST(Tokenizer, SpmContinuationKeepsTheFirstWordBoundarySpace) {
  auto tok = Tokenizer::load(tiny_spm());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const DecodeOptions cont = DecodeOptions::generated_text();
  EXPECT_EQ(cont.context, DecodeContext::kContinuation);
  EXPECT_FALSE(cont.show_special);
  auto ids = (*tok)->encode("hello world", EncodeOptions{false, false});
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ((*tok)->piece((*ids)[2]), "\xE2\x96\x81w");
  // "hello" was the prompt; " world" is what came after it.
  const std::vector<int32_t> after(ids->begin() + 2, ids->end());
  EXPECT_EQ((*tok)->decode(after, cont), " world");
  EXPECT_EQ((*tok)->decode(after), "world");  // the start of a text: the encoder's prefix space goes
  EXPECT_EQ((*tok)->decode(*ids, cont), " hello world");
  // A hidden control token in front does not move the space; a lone marker token is a space.
  EXPECT_EQ((*tok)->decode(std::vector<int32_t>{1, after[0], after[1]}, cont), " wor");
  auto cjk = (*tok)->encode("\xE6\x97\xA5", EncodeOptions{false, false});  // "▁" + 3 byte tokens
  ASSERT_TRUE(cjk.ok());
  EXPECT_EQ((*tok)->decode(*cjk, cont), " \xE6\x97\xA5");
  EXPECT_EQ((*tok)->decode(std::vector<int32_t>(cjk->begin() + 1, cjk->end()), cont), "\xE6\x97\xA5");
  // Streaming gives the same bytes, chunk by chunk: the space first, the character once complete.
  Tokenizer::StreamDecoder sd(**tok, cont);
  std::vector<std::string> chunks;
  for (int32_t id : *cjk) chunks.push_back(sd.push(id));
  EXPECT_EQ(chunks, (std::vector<std::string>{" ", "", "", "\xE6\x97\xA5"}));
  EXPECT_EQ(sd.finish(), "");
  Tokenizer::StreamDecoder sd2(**tok, cont);
  std::string acc;
  for (int32_t id : after) acc += sd2.push(id);
  EXPECT_EQ(acc + sd2.finish(), " world");
}

TEST(Tokenizer, BpeDecodesTheSameAtTheStartAndInAContinuation) {
  auto tok = Tokenizer::load(tiny_bpe("ctx"));
  ASSERT_TRUE(tok.ok());
  std::mt19937 rng(17);
  for (int i = 0; i < 200; ++i) {
    std::vector<int32_t> ids;
    for (int j = 0, n = 1 + int(rng() % 6); j < n; ++j) ids.push_back(int32_t(rng() % uint32_t((*tok)->n_vocab())));
    std::string start = (*tok)->decode(ids);
    EXPECT_EQ((*tok)->decode(ids, DecodeOptions::generated_text()), start);
    Tokenizer::StreamDecoder sd(**tok, DecodeOptions::generated_text());
    std::string acc;
    for (int32_t id : ids) acc += sd.push(id);
    acc += sd.finish();
    if (unicode::invalid_utf8_at(start) == std::string_view::npos) {
      EXPECT_EQ(acc, start);
    }
  }
  auto ids = (*tok)->encode(" world", EncodeOptions{false, false});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ((*tok)->decode(*ids, DecodeOptions::generated_text()), " world");
  EXPECT_EQ((*tok)->decode(*ids), " world");
}

// Unused and undefined tokens have no text, as in llama.cpp's token_to_piece.
TEST(Tokenizer, UnusedTokensDecodeToNothing) {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "[unused0]", "b?"});
  w.set_array_i32("tokenizer.ggml.token_type", {2, 3, 3, 1, 5, 0});
  w.set_array_f32("tokenizer.ggml.scores", {0.f, 0.f, 0.f, -1.f, -2.f, -3.f});
  const std::string path = testsupport::scratch_path("tok-unused.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto tok = Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->decode(std::vector<int32_t>{3, 4, 5, 3}, DecodeOptions::generated_text()), " a a");
  EXPECT_EQ((*tok)->decode(std::vector<int32_t>{4, 3}), "a");
}

// The shared LLaMA SentencePiece vocabulary (skipped when absent): "Hello world" continues as
// " world", not "world".
TEST(Tokenizer, ReferenceSpmVocabularyContinuation) {
  const fs::path gguf = kVocabDir / "ggml-vocab-llama-spm.gguf";
  if (!fs::exists(gguf)) GTEST_SKIP() << "shared fixtures not found at " << gguf;
  auto tok = Tokenizer::load(gguf.string());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (*tok)->encode("Hello world", EncodeOptions{false, false});
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_EQ((*tok)->piece((*ids)[1]), "\xE2\x96\x81world");
  const std::vector<int32_t> after = {(*ids)[1]};
  EXPECT_EQ((*tok)->decode(after, DecodeOptions::generated_text()), " world");
  EXPECT_EQ((*tok)->decode(*ids, DecodeOptions::generated_text()), " Hello world");
  EXPECT_EQ((*tok)->decode(*ids), "Hello world");
}

// Byte tokens that do not form characters: each maximal ill-formed subpart becomes one U+FFFD, in
// decode() and in the stream alike (what llama-server's JSON and Python's errors="replace" give).
TEST(Tokenizer, IllFormedBytesBecomeOneReplacementPerMaximalSubpart) {
  auto tok = Tokenizer::load(tiny_spm());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto byte_id = [&](int b) { return int32_t(3 + b); };  // tiny_spm: <0x00> is id 3
  auto word = (*tok)->encode("hello", EncodeOptions{false, false});
  ASSERT_TRUE(word.ok());
  const std::string fffd = "\xEF\xBF\xBD";
  struct Case {
    std::vector<int> bytes;
    std::string want;  // after the leading " hello"
  };
  const std::vector<Case> cases = {
      {{0xE2, 0x98, 'h' + 0}, fffd + "h"},          // cut-off 3-byte sequence, then ASCII: one U+FFFD
      {{0xBD, 0x94}, fffd + fffd},                   // two stray continuation bytes: two
      {{0xC0, 0xAF}, fffd + fffd},                   // overlong lead byte, then a continuation byte
      {{0xE0, 0x80, 0x80}, fffd + fffd + fffd},      // E0 80: the second byte breaks it at once
      {{0xED, 0xA0, 0x80}, fffd + fffd + fffd},      // surrogate
      {{0xF0, 0x9F, 0x98, 0x80}, "\xF0\x9F\x98\x80"},  // well-formed: kept
      {{0xF0, 0x9F, 0x98}, fffd},                    // unfinished at the end: one
      {{0xE6, 0x97, 0xA5, 0xFF}, "\xE6\x97\xA5" + fffd},
  };
  for (const auto& c : cases) {
    std::vector<int32_t> ids = *word;
    for (int b : c.bytes) ids.push_back(b == 'h' ? (*word)[0] : byte_id(b));
    std::string want = " hello" + c.want;
    if (c.bytes.back() == 'h') want = " hello" + c.want.substr(0, c.want.size() - 1) + " he";
    const std::string got = (*tok)->decode(ids, DecodeOptions::generated_text());
    EXPECT_EQ(got, want) << c.want;
    EXPECT_EQ(unicode::invalid_utf8_at(got), std::string_view::npos);
    Tokenizer::StreamDecoder sd(**tok, DecodeOptions::generated_text());
    std::string acc;
    for (int32_t id : ids) acc += sd.push(id);
    EXPECT_EQ(acc + sd.finish(), want) << c.want;
  }
}
