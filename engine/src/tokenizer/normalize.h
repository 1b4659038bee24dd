// Unicode Normalization Form C (UAX #15) for tokenizer input, without ICU: canonical decomposition,
// canonical ordering of combining marks, canonical composition (Hangul by arithmetic). The tables
// come from unicode_nfc_data.cpp (Unicode version in unicode_version()).
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moe::unicode {

// NFC of well-formed UTF-8 (the caller validates; ill-formed bytes are copied through unchanged).
std::string nfc(std::string_view utf8);
// The canonical combining class of a code point (0 for starters).
uint8_t combining_class(char32_t cp);
const char* nfc_unicode_version();

}  // namespace moe::unicode
