// UTF-8 validation and GPT-2's byte mapping.
#include "tokenizer/unicode.h"

namespace moe::unicode {

ByteMap::ByteMap() {
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    // Printable Latin-1 bytes stand for themselves; the rest are moved above U+0100 in byte order.
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
    byte_to_utf8[b] = encode_utf8(cp);
    cp_to_byte[cp] = uint8_t(b);
  }
}

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

std::string encode_utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

Utf8Seq check_utf8_seq(std::string_view s, size_t i) {
  const unsigned char c = s[i];
  if (c < 0x80) return {1, 1};
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else return {0, 0};
  size_t ok = 1;
  while (ok < n && i + ok < s.size()) {
    const unsigned char b = s[i + ok];
    if (ok == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
    ++ok;
  }
  return {n, ok};
}

size_t invalid_utf8_at(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    Utf8Seq q = check_utf8_seq(s, i);
    if (q.need == 0 || q.ok < q.need) return i;
    i += q.need;
  }
  return std::string_view::npos;
}

size_t append_valid_utf8(std::string_view in, bool hold_incomplete, std::string& out) {
  size_t i = 0;
  while (i < in.size()) {
    Utf8Seq q = check_utf8_seq(in, i);
    if (q.need != 0 && q.ok == q.need) {
      out.append(in.substr(i, q.need));
      i += q.need;
    } else if (q.need != 0 && i + q.ok == in.size() && hold_incomplete) {
      break;  // well-formed so far; the rest may still arrive
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for the maximal subpart; the byte that broke it is read again
      i += q.ok > 0 ? q.ok : 1;
    }
  }
  return i;
}

int byte_value(std::string_view t) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace moe::unicode
