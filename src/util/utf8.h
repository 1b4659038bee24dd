// UTF-8 helpers for text that came from a model or a file and may be ill-formed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace wobble {

// The same text with every ill-formed sequence (stray continuation bytes, truncated sequences,
// overlong forms, surrogates, code points above U+10FFFF) replaced by U+FFFD, one per bad byte
// run. Well-formed input is returned unchanged.
std::string valid_utf8(std::string_view s);

// Offset of the first byte of the first ill-formed sequence, or npos when s is valid UTF-8.
size_t first_invalid_utf8(std::string_view s);

// The largest position <= pos that does not split a UTF-8 sequence (pos is clamped to s.size()).
size_t utf8_floor(std::string_view s, size_t pos);

}  // namespace wobble
