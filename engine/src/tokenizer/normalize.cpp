// NFC: decompose every character fully (canonical mappings only), put each run of combining marks
// in canonical order (stable sort by class), then compose left to right: a character joins the last
// starter when nothing between them blocks it (UAX #15 §1.3, Unicode §3.11).
#include "tokenizer/normalize.h"

#include <algorithm>
#include <vector>

#include "tokenizer/unicode.h"
#include "tokenizer/unicode_nfc_data.h"

namespace moe::unicode {
namespace {

using namespace nfc_data;

// Hangul syllable arithmetic (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const Decomposition* end = kDecomp + kDecompCount;
  const Decomposition* d = std::lower_bound(kDecomp, end, cp, [](const Decomposition& e, char32_t c) { return e.cp < c; });
  if (d == end || d->cp != cp) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), kDecompData + d->offset, kDecompData + d->offset + d->length);
}

// The primary composite of (a, b), or 0 when there is none.
char32_t compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition* end = kCompose + kComposeCount;
  const Composition* c = std::lower_bound(kCompose, end, std::pair(a, b), [](const Composition& e, std::pair<char32_t, char32_t> k) {
    return e.first < k.first || (e.first == k.first && e.second < k.second);
  });
  return c != end && c->first == a && c->second == b ? c->composite : 0;
}

char32_t decode_at(std::string_view s, size_t& i) {
  const unsigned char c0 = s[i];
  const size_t n = utf8_len(c0);
  char32_t cp = n == 1 ? c0 : (c0 & (0xFF >> (n + 1)));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

}  // namespace

uint8_t combining_class(char32_t cp) {
  if (cp < kCcc[0].first) return 0;
  const CccRange* end = kCcc + kCccCount;
  const CccRange* r = std::upper_bound(kCcc, end, cp, [](char32_t c, const CccRange& e) { return c < e.first; });
  --r;  // the last range starting at or before cp
  return cp <= r->last ? r->ccc : 0;
}

const char* nfc_unicode_version() { return kUnicodeVersion; }

namespace {

// NFC of one stretch: decomposition, canonical ordering, composition, appended to `out`.
void nfc_stretch(std::string_view s, std::string& out) {
  std::vector<char32_t> cps;
  for (size_t i = 0; i < s.size();) decompose(decode_at(s, i), cps);

  // Canonical ordering: a stable sort of each run of non-starters by class.
  for (size_t i = 0; i < cps.size();) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + std::ptrdiff_t(i), cps.begin() + std::ptrdiff_t(j),
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }

  // Composition. `last_ccc` is the class of the last character kept after the current starter, or
  // -1 when nothing stands between them; a character with a class not above it is blocked.
  std::vector<char32_t> composed;
  composed.reserve(cps.size());
  ptrdiff_t starter = -1;
  int last_ccc = -1;
  for (char32_t cp : cps) {
    const int ccc = combining_class(cp);
    if (starter >= 0 && (last_ccc == -1 || last_ccc < ccc)) {
      if (char32_t c = compose(composed[size_t(starter)], cp)) {
        composed[size_t(starter)] = c;
        continue;
      }
    }
    if (ccc == 0) {
      starter = ptrdiff_t(composed.size());
      last_ccc = -1;
    } else {
      last_ccc = ccc;
    }
    composed.push_back(cp);
  }

  for (char32_t cp : composed) out += encode_utf8(cp);
}

bool inert(char32_t cp) {
  if (cp < kQuickBound) return true;
  const CodePointRange* end = kInert + kInertCount;
  const CodePointRange* r = std::upper_bound(kInert, end, cp, [](char32_t c, const CodePointRange& e) { return c < e.first; });
  return cp <= (r - 1)->last;  // kInert[0] starts at 0, so r > kInert
}

}  // namespace

std::string nfc(std::string_view s) {
  if (invalid_utf8_at(s) != std::string_view::npos) return std::string(s);
  // Inert characters (see unicode_nfc_data.h) cut the text into stretches that normalise alone;
  // each stretch of other characters is normalised together with the inert one in front of it,
  // which may be the first of a composition. Text without such stretches comes back as it is.
  std::string out;
  size_t copied = 0;                            // s[0, copied) is in `out` or needs no change
  size_t last_inert = std::string_view::npos;  // offset of the last inert character seen
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    if (inert(decode_at(s, i))) {
      last_inert = at;
      continue;
    }
    const size_t begin = last_inert != std::string_view::npos && last_inert >= copied ? last_inert : at;
    size_t end = s.size();
    for (size_t j = i; j < s.size();) {
      const size_t k = j;
      if (inert(decode_at(s, j))) {
        end = k;
        break;
      }
    }
    if (out.empty()) out.reserve(s.size() + 16);
    out.append(s.substr(copied, begin - copied));
    nfc_stretch(s.substr(begin, end - begin), out);
    copied = i = end;
  }
  if (copied == 0) return std::string(s);
  out.append(s.substr(copied));
  return out;
}

}  // namespace moe::unicode
