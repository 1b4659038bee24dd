// Unicode tables for NFC (canonical composition), generated from Python's unicodedata by
// engine/tools/gen_unicode_nfc.py into unicode_nfc_data.cpp. Every table is sorted by its first
// field(s) for binary search. Hangul syllables are not listed: they compose and decompose by the
// arithmetic of Unicode §3.12.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moe::unicode::nfc_data {

struct CodePointRange {
  char32_t first, last;  // inclusive
};
struct CccRange {
  char32_t first, last;  // inclusive
  uint8_t ccc;           // canonical combining class, never 0 here
};
struct Decomposition {
  char32_t cp;
  uint16_t offset;  // into kDecompData
  uint8_t length;   // full (recursive) canonical decomposition
};
struct Composition {
  char32_t first, second, composite;  // primary composites only
};

extern const char kUnicodeVersion[];
extern const char32_t kQuickBound;  // every code point below this is inert (kInert[0] = [0, kQuickBound))
// Inert code points: class 0, their own NFC form, never the second of a composition (NFC_QC=Yes).
extern const CodePointRange kInert[];
extern const size_t kInertCount;
extern const CccRange kCcc[];
extern const size_t kCccCount;
extern const char32_t kDecompData[];
extern const Decomposition kDecomp[];
extern const size_t kDecompCount;
extern const Composition kCompose[];
extern const size_t kComposeCount;

}  // namespace moe::unicode::nfc_data
