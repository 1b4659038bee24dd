// UTF-8 helpers and GPT-2's byte <-> printable code point mapping, shared by the tokenizer files.
// Pure functions; byte_map() is built once and is read-only afterwards (thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace moe::unicode {

// GPT-2's reversible mapping: every byte gets a printable code point so byte-level BPE tokens are text.
struct ByteMap {
  std::string byte_to_utf8[256];
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;
  ByteMap();
};
const ByteMap& byte_map();

std::string encode_utf8(uint32_t cp);
// Length of the UTF-8 sequence starting with byte c (1 for invalid lead bytes).
size_t utf8_len(unsigned char c);
// The UTF-8 sequence starting at s[i] (i < s.size()): `need`, its length when complete (0 when s[i]
// cannot start one), and `ok`, how many of its bytes are present and well-formed (Unicode Table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF).
struct Utf8Seq {
  size_t need, ok;
};
Utf8Seq check_utf8_seq(std::string_view s, size_t i);
// Offset of the first byte that does not start a well-formed UTF-8 sequence, or npos when the whole
// text is valid.
size_t invalid_utf8_at(std::string_view s);
// Appends `in` to `out` with each maximal ill-formed subpart replaced by one U+FFFD (Unicode §3.9,
// what llama-server's JSON encoder, Python's errors="replace" and WHATWG decoders do). With
// hold_incomplete, a well-formed but unfinished sequence at the end is left unconsumed. Returns the
// number of bytes of `in` consumed.
size_t append_valid_utf8(std::string_view in, bool hold_incomplete, std::string& out);
// The byte a "<0xNN>" token stands for, or -1 when the text is not of that form.
int byte_value(std::string_view t);

}  // namespace moe::unicode
