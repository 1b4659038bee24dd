// What the modern BPE families do beyond their split regexes, checked without the shared
// vocabularies: ignore_merges (Llama 3, o200k), the NFC normalizer (Qwen) and the NFC
// implementation itself. Expected NFC strings were produced by Python 3.11's
// unicodedata.normalize("NFC", ...) (Unicode 14.0.0) and are baked in here.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "moe/tokenizer.h"
#include "support/scratch.h"
#include "tokenizer/normalize.h"
#include "tokenizer/unicode.h"

using namespace moe;

namespace {

// A byte-level BPE vocabulary: the 256 GPT-2 byte tokens, one token per merge result, then `extra`
// normal tokens that no merge reaches, then two control tokens. Texts are written as raw UTF-8 and
// mapped to GPT-2's byte alphabet here.
std::string write_bpe(const std::string& tag, const std::string& pre, const std::vector<std::pair<std::string, std::string>>& merges,
                      const std::vector<std::string>& extra = {}) {
  auto mapped = [](const std::string& raw) {
    std::string m;
    for (unsigned char c : raw) m += unicode::byte_map().byte_to_utf8[c];
    return m;
  };
  std::vector<std::string> toks;
  for (int b = 0; b < 256; ++b) toks.push_back(unicode::byte_map().byte_to_utf8[b]);
  std::vector<std::string> merge_lines;
  for (const auto& [a, b] : merges) {
    merge_lines.push_back(mapped(a) + " " + mapped(b));
    toks.push_back(mapped(a + b));
  }
  for (const auto& e : extra) toks.push_back(mapped(e));
  toks.push_back("<|im_start|>");
  toks.push_back("<|im_end|>");
  std::vector<int32_t> types(toks.size(), 1);
  types[toks.size() - 1] = types[toks.size() - 2] = 3;
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_array_string("tokenizer.ggml.tokens", toks);
  w.set_array_i32("tokenizer.ggml.token_type", types);
  w.set_array_string("tokenizer.ggml.merges", merge_lines);
  const std::string path = testsupport::scratch_path("hf-" + tag + ".gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

// The raw bytes of each token of an encoding (GPT-2 byte alphabet undone, control tokens as their
// text), so a lone byte token shows as that byte.
std::vector<std::string> pieces(const Tokenizer& tok, std::string_view text, EncodeOptions opts = {false, false}) {
  auto ids = tok.encode(text, opts);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  std::vector<std::string> out;
  if (!ids.ok()) return out;
  for (int32_t id : *ids) {
    const std::string p = tok.piece(id);
    std::string raw;
    for (size_t i = 0; i < p.size();) {
      const size_t n = unicode::utf8_len(static_cast<unsigned char>(p[i]));
      char32_t cp = n == 1 ? static_cast<unsigned char>(p[i]) : (static_cast<unsigned char>(p[i]) & (0xFF >> (n + 1)));
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(p[i + k]) & 0x3F);
      raw += char(unicode::byte_map().cp_to_byte.at(cp));
      i += n;
    }
    out.push_back(raw);
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

// "abc" is a vocabulary entry but the only merge is "b c", so merges alone give "a" "bc". A family
// with ignore_merges emits the whole pre-token; dbrx and smaug-bpe share Llama 3's regex but not
// the flag, which isolates it.
TEST(BpeFamilies, IgnoreMergesEmitsAWholeVocabularyEntry) {
  const std::vector<std::pair<std::string, std::string>> merges = {{"b", "c"}, {"x", "y"}};
  for (const char* pre : {"llama-bpe", "llama3", "gpt-4o"}) {
    auto tok = Tokenizer::load(write_bpe(pre, pre, merges, {"abc", " abc"}));
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_TRUE((*tok)->ignores_merges()) << pre;
    EXPECT_EQ(pieces(**tok, "abc abc"), (V{"abc", " abc"})) << pre;
    // A pre-token that is not an entry still merges as usual.
    EXPECT_EQ(pieces(**tok, "abcxy"), (V{"a", "bc", "xy"})) << pre;
  }
  for (const char* pre : {"dbrx", "smaug-bpe", "qwen2", "gpt2"}) {
    auto tok = Tokenizer::load(write_bpe(pre, pre, merges, {"abc", " abc"}));
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_FALSE((*tok)->ignores_merges()) << pre;
    EXPECT_EQ(pieces(**tok, "abc abc"), (V{"a", "bc", " ", "a", "bc"})) << pre;
  }
}

// o200k through a vocabulary: the case change splits "HelloWorld", and ignore_merges keeps the
// whole words that are entries.
TEST(BpeFamilies, Gpt4oSplitsAtCaseChangesThroughTheTokenizer) {
  auto tok = Tokenizer::load(write_bpe("o200k", "gpt-4o", {{"l", "o"}}, {"Hello", "World", " don't"}));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->pre_kind(), "gpt-4o");
  EXPECT_EQ(pieces(**tok, "HelloWorld don't"), (V{"Hello", "World", " don't"}));
  EXPECT_EQ(pieces(**tok, "Hellox"), (V{"H", "e", "l", "lo", "x"}));
}

TEST(Nfc, MatchesPythonUnicodedata) {
  struct Case {
    std::string in, want;
    const char* why;
  };
  // clang-format off
  const std::vector<Case> cases = {
      {"e" "\xCC\x81", "\xC3\xA9", "decomposed acute"},
      {"E" "\xCC\x81" "cole e" "\xCC\x80" " la" "\xCC\x80", "\xC3\x89" "cole " "\xC3\xA8" " l" "\xC3\xA0", "several in a text"},
      {"\xE1\x84\x92" "\xE1\x85\xA1" "\xE1\x86\xAB" "\xE1\x84\x80" "\xE1\x85\xAE" "\xE1\x86\xA8" "\xE1\x84\x8B" "\xE1\x85\xA5", "\xED\x95\x9C" "\xEA\xB5\xAD" "\xEC\x96\xB4", "Hangul jamo L V T -> syllables"},
      {"\xE1\x84\x80" "\xE1\x85\xA1", "\xEA\xB0\x80", "L V -> LV"},
      {"\xEA\xB0\x80" "\xE1\x86\xA8", "\xEA\xB0\x81", "LV + T -> LVT"},
      {"\xEA\xB0\x81" "\xE1\x86\xA8", "\xEA\xB0\x81" "\xE1\x86\xA8", "LVT + T: no composition"},
      {"\xE1\x84\x80" "\xE1\x84\x80" "\xE1\x85\xA1", "\xE1\x84\x80" "\xEA\xB0\x80", "L L V: only the last L composes"},
      {"Hello, " "\xE4\xB8\x96" "\xE7\x95\x8C" " " "\xC3\xA9" " " "\xC3\xBC" " " "\xED\x95\x9C" "\xEA\xB5\xAD" "\xEC\x96\xB4" " " "\xF0\x9F\x98\x80", "Hello, " "\xE4\xB8\x96" "\xE7\x95\x8C" " " "\xC3\xA9" " " "\xC3\xBC" " " "\xED\x95\x9C" "\xEA\xB5\xAD" "\xEC\x96\xB4" " " "\xF0\x9F\x98\x80", "already NFC"},
      {"o" "\xCC\x82" "\xCC\xA3", "\xE1\xBB\x99", "marks reordered by class (220 before 230), then composed"},
      {"q" "\xCC\x87" "\xCC\xA3", "q" "\xCC\xA3" "\xCC\x87", "reordered, nothing to compose"},
      {"a" "\xCC\x85" "\xCC\x81", "a" "\xCC\x85" "\xCC\x81", "equal classes block: U+0301 stays apart"},
      {"a" "\xCC\x81" "\xCC\x85", "\xC3\xA1" "\xCC\x85", "first mark composes"},
      {"a" "\xCC\xA8" "\xCC\x81", "\xC4\x85" "\xCC\x81", "different classes: both reach the starter"},
      {"\xE0\xA5\x98", "\xE0\xA4\x95" "\xE0\xA4\xBC", "composition exclusion stays decomposed"},
      {"\xE2\x84\xAB" "\xE2\x84\xA6", "\xC3\x85" "\xCE\xA9", "singletons: Angstrom -> A-ring, Ohm -> Omega"},
      {"\xCD\x84", "\xCC\x88" "\xCC\x81", "non-starter decomposition"},
      {"\xE0\xBD\xB3", "\xE0\xBD\xB1" "\xE0\xBD\xB2", "Tibetan non-starter decomposition"},
      {"\xE0\xAD\x87" "\xE0\xAC\xBE", "\xE0\xAD\x8B", "two starters compose (Oriya)"},
      {"\xCC\x81" "e", "\xCC\x81" "e", "a mark before any starter stays"},
      {"abc e" "\xCC\x81", "abc " "\xC3\xA9", "ASCII prefix, then a composition at the end"},
      {"\xE1\xB8\x8B" "\xCC\xA3", "\xE1\xB8\x8D" "\xCC\x87", "precomposed + mark reorders: d-dot-above + dot-below"},
      {"\xC3\x87" "\xCC\x81", "\xE1\xB8\x88", "composite first element: C-cedilla + acute -> U+1E08"},
      {"\xF0\x9D\x85\x9E" "\xF0\x9D\x85\xA5", "\xF0\x9D\x85\x97" "\xF0\x9D\x85\xA5" "\xF0\x9D\x85\xA5", "musical symbols: excluded composite"},
      {"", "", "empty"},
  };
  // clang-format on
  for (const auto& c : cases) EXPECT_EQ(unicode::nfc(c.in), c.want) << c.why;
  EXPECT_STREQ(unicode::nfc_unicode_version(), "14.0.0");
  EXPECT_EQ(unicode::combining_class(0x301), 230);
  EXPECT_EQ(unicode::combining_class(0x323), 220);
  EXPECT_EQ(unicode::combining_class('a'), 0);
  EXPECT_EQ(unicode::combining_class(0x10FFFF), 0);
}

// Properties that hold for any text: NFC is idempotent, keeps valid UTF-8 valid, and leaves text
// without decomposable characters or marks alone.
TEST(Nfc, IsIdempotentOnRandomMixedText) {
  const std::vector<std::string> alphabet = {"a", "e", "E", " ", "\xCC\x81", "\xCC\xA3", "\xCC\x82", "\xCC\x85",
                                             "\xC3\xA9", "\xE1\x84\x80", "\xE1\x85\xA1", "\xE1\x86\xA8", "\xEA\xB0\x80",
                                             "\xE2\x84\xAB", "\xE0\xA5\x98", "\xCD\x84", "\xF0\x9F\x98\x80", "\xE6\x97\xA5"};
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int j = 0, n = int(rng() % 10); j < n; ++j) s += alphabet[rng() % alphabet.size()];
    const std::string once = unicode::nfc(s);
    EXPECT_EQ(unicode::invalid_utf8_at(once), std::string_view::npos);
    EXPECT_EQ(unicode::nfc(once), once);
  }
  EXPECT_EQ(unicode::nfc("plain ASCII\n\t and \xC3\xBC"), "plain ASCII\n\t and \xC3\xBC");
}

// Qwen's tokenizer normalises to NFC before splitting; the vocabulary has the precomposed "é" only.
TEST(BpeFamilies, QwenNormalisesDecomposedAccentsToNfc) {
  const std::string e_acute = "\xC3\xA9", e_decomposed = "e\xCC\x81";
  const std::vector<std::pair<std::string, std::string>> merges = {{"\xC3", "\xA9"}, {"caf", e_acute}, {"ca", "f"}, {"c", "a"}};
  auto qwen = Tokenizer::load(write_bpe("qwen-nfc", "qwen2", merges));
  ASSERT_TRUE(qwen.ok()) << qwen.status().ToString();
  EXPECT_EQ((*qwen)->family_normalization(), Normalization::kNfc);
  EXPECT_EQ(pieces(**qwen, "caf" + e_decomposed), (V{"caf" + e_acute}));
  EXPECT_EQ(pieces(**qwen, "caf" + e_acute), (V{"caf" + e_acute}));
  // Switched off: the text as given, as llama.cpp encodes it (a lone U+0301 is two byte tokens).
  EncodeOptions raw{false, false, Normalization::kNone};
  EXPECT_EQ(pieces(**qwen, "caf" + e_decomposed, raw), (V{"caf", "e", "\xCC", "\x81"}));
  // Special tokens are matched on the raw text and split the normalisation: a mark after one has
  // no starter to join.
  EncodeOptions special{false, true};
  EXPECT_EQ(pieces(**qwen, "e<|im_end|>\xCC\x81", special), (V{"e", "<|im_end|>", "\xCC", "\x81"}));
  EXPECT_EQ(pieces(**qwen, "<|im_start|>" + e_decomposed, special), (V{"<|im_start|>", e_acute}));

  // Other families keep the text as given unless NFC is asked for.
  auto gpt2 = Tokenizer::load(write_bpe("gpt2-nfc", "gpt2", merges));
  ASSERT_TRUE(gpt2.ok()) << gpt2.status().ToString();
  EXPECT_EQ((*gpt2)->family_normalization(), Normalization::kNone);
  EXPECT_EQ(pieces(**gpt2, "caf" + e_decomposed), (V{"caf", "e", "\xCC", "\x81"}));
  EXPECT_EQ(pieces(**gpt2, "caf" + e_decomposed, EncodeOptions{false, false, Normalization::kNfc}), (V{"caf" + e_acute}));
}

TEST(BpeFamilies, NfcAlsoAppliesToSpmWhenAsked) {
  GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "\xC3\xA9", "e", "\xCC\x81"});
  w.set_array_i32("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1});
  w.set_array_f32("tokenizer.ggml.scores", {0.f, 0.f, 0.f, -1.f, -2.f, -3.f, -4.f});
  const std::string path = testsupport::scratch_path("hf-spm-nfc.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto tok = Tokenizer::load(path);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->family_normalization(), Normalization::kNone);
  auto plain = (*tok)->encode("e\xCC\x81", EncodeOptions{false, false});
  auto nfc = (*tok)->encode("e\xCC\x81", EncodeOptions{false, false, Normalization::kNfc});
  ASSERT_TRUE(plain.ok() && nfc.ok());
  EXPECT_EQ(*plain, (std::vector<int32_t>{3, 5, 6}));
  EXPECT_EQ(*nfc, (std::vector<int32_t>{3, 4}));
}
