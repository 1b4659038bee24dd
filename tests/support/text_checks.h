// Checks for text that must be safe on a terminal or well-formed as XML, and a string of hostile
// bytes to feed through every output (tests of util/text_policy.h). Header-only.
#pragma once

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "util/utf8.h"

namespace wobble::testing {

// Terminal escapes: clear screen (CSI 2J), window title (OSC 0 ... BEL), hyperlink (OSC 8 ... ST),
// carriage return over a fake verdict, a C1 CSI, bidi override and isolate, a Unicode tag
// character, and ill-formed UTF-8 (stray bytes, a character cut in half).
inline const std::string kHostile =
    "A\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\ ok\rPASS \xC2\x9B" "31m "
    "\xE2\x80\xAE" "evil" "\xE2\x81\xA6" "x\xE2\x81\xA9 tag\xF3\xA0\x81\x81 bad\xFF\xFE cut\xC3";

// Decodes valid UTF-8 (checked by the caller) into code points.
inline std::vector<char32_t> code_points(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

// "" when `s` is safe to print on a terminal: valid UTF-8, no control character other than
// newline and tab, no C1 control, no bidi control, no line/paragraph separator, no tag character.
inline std::string terminal_problem(const std::string& s) {
  if (valid_utf8(s) != s) return "ill-formed UTF-8";
  for (char32_t cp : code_points(s)) {
    bool bad = (cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
               (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
               cp == 0x061C || cp == 0x2028 || cp == 0x2029 || (cp >= 0xE0000 && cp <= 0xE007F);
    if (bad) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "raw U+%04X", unsigned(cp));
      return buf;
    }
  }
  return "";
}

// "" when `x` is well-formed XML 1.0 as far as a JUnit consumer cares: valid UTF-8, only allowed
// characters, every '&' an entity, every '<' a tag, attributes quoted without '<', tags nested.
inline std::string xml_problem(const std::string& x) {
  if (valid_utf8(x) != x) return "ill-formed UTF-8";
  for (unsigned char c : x)
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "forbidden control character";
  static const std::regex entity(R"(^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)");
  static const std::regex tag(R"(^<(/?)([A-Za-z_][A-Za-z0-9_.-]*)((?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*="[^"<]*")*)\s*(/?)>)");
  std::vector<std::string> stack;
  size_t i = 0;
  if (x.rfind("<?xml", 0) == 0) i = x.find("?>") + 2;
  bool root_seen = false;
  while (i < x.size()) {
    char c = x[i];
    if (c == '&') {
      std::smatch m;
      std::string rest = x.substr(i, 16);
      if (!std::regex_search(rest, m, entity)) return "bare '&' at " + std::to_string(i);
      i += m.length(0);
    } else if (c == '<') {
      std::smatch m;
      std::string rest = x.substr(i, x.find('>', i) - i + 1);
      if (!std::regex_search(rest, m, tag)) return "malformed tag at " + std::to_string(i) + ": " + rest.substr(0, 80);
      // Attribute values: '&' must be an entity there too.
      std::string attrs = m[3].str();
      for (size_t a = attrs.find('&'); a != std::string::npos; a = attrs.find('&', a + 1))
        if (!std::regex_search(attrs.substr(a, 16), entity)) return "bare '&' in attribute";
      if (m[1].length()) {
        if (stack.empty() || stack.back() != m[2].str()) return "mismatched </" + m[2].str() + ">";
        stack.pop_back();
      } else if (!m[4].length()) {
        if (stack.empty() && root_seen) return "second root element";
        root_seen = true;
        stack.push_back(m[2].str());
      }
      i += m.length(0);
    } else {
      if (c == '>' ) return "bare '>' in text";  // legal in XML but never written by an escaper
      ++i;
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  return root_seen ? "" : "no root element";
}

}  // namespace wobble::testing
