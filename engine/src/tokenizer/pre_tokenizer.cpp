#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <map>

namespace moe {
namespace {

// Split patterns per pre-tokenizer family, as the families' tokenizer.json files write them.
// Hugging Face runs them on Oniguruma; PCRE2 (UTF + UCP) agrees with it where it matters here:
// general categories (\p{Lu} ...), and case-insensitive groups that fold by Unicode case folding,
// so Llama 3's and Qwen's (?i:'s|...) take "'ſ" (long s) as a contraction, as Hugging Face does
// (llama.cpp's hand-expanded '[sS] does not). \s is rewritten below (with_unicode_white_space).
// Both engines' Unicode tables matter: PCRE2 10.42 knows Unicode 14, so a code point assigned
// later is unassigned here and may split differently.
const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// o200k (gpt-4o, gpt-oss): a word is an optional non-letter, then upper-case-ish letters followed by
// lower-case-ish ones (or the reverse), so "HelloWorld" splits at the case change; combining marks
// stay in the word; a contraction stays on its word; digits in threes; punctuation runs keep
// trailing newlines and slashes.
const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Family {
  Family(std::initializer_list<const char*> p, BpeFamilyTraits t = {}) : patterns(p), traits(t) {}
  std::vector<const char*> patterns;  // applied in order
  BpeFamilyTraits traits;
};

// ignore_merges and nfc record the families' tokenizer.json settings (model.ignore_merges, the NFC
// normalizer), which GGUF has no key for.
const std::map<std::string, Family>& families() {
  constexpr BpeFamilyTraits kIgnoreMerges{.ignore_merges = true};
  static const std::map<std::string, Family> kFamilies = {
      {"default", {kGpt2}},
      {"gpt2", {kGpt2}},
      {"gpt-2", {kGpt2}},
      {"gpt-neox", {kGpt2}},
      {"olmo", {kGpt2}},
      {"phi-2", {kGpt2}},
      {"llama3", {{kLlama3}, kIgnoreMerges}},
      {"llama-bpe", {{kLlama3}, kIgnoreMerges}},
      {"dbrx", {kLlama3}},
      {"smaug-bpe", {kLlama3}},
      {"qwen2", {{kQwen2}, {.nfc = true}}},
      {"gpt-4o", {{kGpt4o}, kIgnoreMerges}},
      {"starcoder", {R"(\p{N})", kGpt2}},
      {"refact", {R"(\p{N})", kGpt2}},
      {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"}},
      {"deepseek-coder",
       {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)", R"(\p{N})"}},
      {"deepseek-llm",
       {R"([\r\n])", R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌῐ-\x{1FD3}ῖ-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)",
        R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)", R"(\s+$)", R"([一-龥ࠀ-一가-퟿]+)", R"(\p{N}+)"}},
      {"deepseek-v3",
       {R"(\p{N}{1,3})", R"([一-龥぀-ゟ゠-ヿ]+)",
        R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
  };
  return kFamilies;
}

// The published patterns say \s; Hugging Face runs them on Oniguruma, whose \s is the Unicode
// White_Space property. PCRE2's \s in UCP mode also takes U+180E (Mongolian vowel separator, a
// format character since Unicode 6.3), which would split "⡏\u180e" differently, so every \s and \S
// is written as the property itself (PCRE2 10.40+ knows the Boolean properties).
std::string with_unicode_white_space(std::string_view pat) {
  std::string out;
  for (size_t i = 0; i < pat.size(); ++i) {
    if (pat[i] == '\\' && i + 1 < pat.size()) {
      if (pat[i + 1] == 's' || pat[i + 1] == 'S') {
        out += pat[i + 1] == 's' ? "\\p{White_Space}" : "\\P{White_Space}";
      } else {
        out += pat.substr(i, 2);
      }
      ++i;
      continue;
    }
    out += pat[i];
  }
  return out;
}

}  // namespace

struct PreTokenizer::Impl {
  std::vector<pcre2_code*> codes;
  BpeFamilyTraits traits;
  ~Impl() {
    for (auto* c : codes) pcre2_code_free(c);
  }
};

PreTokenizer::~PreTokenizer() = default;

const BpeFamilyTraits& PreTokenizer::traits() const { return impl_->traits; }

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const std::string& pre) {
  auto it = families().find(pre);
  if (it == families().end()) return Status::NotSupported("tokenizer.ggml.pre '" + pre + "' is not supported");
  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->impl_ = std::make_unique<Impl>();
  p->impl_->traits = it->second.traits;
  for (const char* pat : it->second.patterns) {
    const std::string pattern = with_unicode_white_space(pat);
    int err;
    PCRE2_SIZE off;
    pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                  &err, &off, nullptr);
    if (!c) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return Status::Internal("pre-tokenizer regex for '" + pre + "' does not compile at offset " +
                              std::to_string(off) + ": " + reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    p->impl_->codes.push_back(c);
  }
  return p;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces = {text};
  for (pcre2_code* code : impl_->codes) {
    std::vector<std::string_view> next;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
    for (std::string_view piece : pieces) {
      size_t pos = 0;
      while (pos < piece.size()) {
        int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(piece.data()), piece.size(), pos, PCRE2_NO_UTF_CHECK,
                             md, nullptr);
        if (rc < 0) break;
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (s > pos) next.push_back(piece.substr(pos, s - pos));
        if (e == s) {  // empty match: step one character forward
          size_t step = 1;
          while (s + step < piece.size() && (static_cast<unsigned char>(piece[s + step]) & 0xC0) == 0x80) ++step;
          next.push_back(piece.substr(s, step));
          pos = s + step;
          continue;
        }
        next.push_back(piece.substr(s, e - s));
        pos = e;
      }
      if (pos < piece.size()) next.push_back(piece.substr(pos));
    }
    pcre2_match_data_free(md);
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace moe
