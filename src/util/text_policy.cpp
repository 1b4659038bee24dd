#include "util/text_policy.h"

#include <cstdio>

#include "util/utf8.h"

namespace wobble {
namespace {

// Decodes the well-formed sequence at s[i] (s must be valid UTF-8); sets len to its byte count.
char32_t decode(std::string_view s, size_t i, size_t& len) {
  unsigned char b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) { return char32_t(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    len = 2;
    return (char32_t(b0 & 0x1F) << 6) | cont(1);
  }
  if (b0 < 0xF0) {
    len = 3;
    return (char32_t(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2);
  }
  len = 4;
  return (char32_t(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

bool is_bidi_control(char32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

void append_escape(std::string& out, char32_t cp) {
  char buf[16];
  if (cp == '\n') out += "\\n";
  else if (cp == '\t') out += "\\t";
  else if (cp == '\r') out += "\\r";
  else if (cp < 0x80) std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(cp)), out += buf;
  else if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp)), out += buf;
  else std::snprintf(buf, sizeof buf, "\\U%08x", unsigned(cp)), out += buf;
}

// A JSON escape of a non-ASCII code point: \uXXXX, or a surrogate pair above U+FFFF.
void append_json_escape(std::string& out, char32_t cp) {
  char buf[16];
  if (cp <= 0xFFFF) {
    std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp));
  } else {
    char32_t v = cp - 0x10000;
    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", unsigned(0xD800 + (v >> 10)), unsigned(0xDC00 + (v & 0x3FF)));
  }
  out += buf;
}

nlohmann::json repaired(const nlohmann::json& j) {
  if (j.is_string()) return valid_utf8(j.get_ref<const std::string&>());
  if (j.is_array()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : j) a.push_back(repaired(x));
    return a;
  }
  if (j.is_object()) {
    nlohmann::json o = nlohmann::json::object();
    for (auto it = j.begin(); it != j.end(); ++it) o[valid_utf8(it.key())] = repaired(it.value());
    return o;
  }
  return j;
}

}  // namespace

bool needs_visible_escape(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp) || cp == 0x2028 ||
         cp == 0x2029 || (cp >= 0xE0000 && cp <= 0xE007F);
}

std::string visible_text(std::string_view raw, bool keep_newlines) {
  std::string s = valid_utf8(raw);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    char32_t cp = decode(s, i, len);
    if (!needs_visible_escape(cp)) {
      out.append(s, i, len);
    } else if (keep_newlines && (cp == '\n' || cp == '\t')) {
      out += char(cp);
    } else if (keep_newlines && cp == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      // CRLF prints as LF.
    } else {
      append_escape(out, cp);
    }
    i += len;
  }
  return out;
}

std::string term_text(std::string_view s) { return visible_text(s, true); }

std::string term_line(std::string_view s, size_t max_bytes) {
  if (max_bytes >= s.size()) return visible_text(s, false);
  return visible_text(s.substr(0, utf8_floor(s, max_bytes)), false) + "…";
}

std::string term_cell(std::string_view s, size_t width) {
  std::string line = visible_text(s, false);
  if (width == 0) return "";
  size_t n = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (n == width - 1) {
      // Does more than one code point remain from here?
      size_t rest = 0;
      for (size_t k = i; k < line.size() && rest < 2; ++k)
        if ((static_cast<unsigned char>(line[k]) & 0xC0) != 0x80) ++rest;
      if (rest > 1) return line.substr(0, i) + "…";
      return line;
    }
    ++n;
  }
  return line;
}

std::string clip_utf8(std::string_view s, size_t max_bytes) {
  return std::string(s.substr(0, utf8_floor(s, max_bytes)));
}

std::string dump_json(const nlohmann::json& j, int indent) {
  std::string text;
  try {
    text = j.dump(indent, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::type_error&) {
    // Ill-formed UTF-8 somewhere (the stored bytes are kept as they are): repair a copy.
    text = repaired(j).dump(indent, ' ', false, nlohmann::json::error_handler_t::strict);
  }
  // Non-ASCII bytes occur only inside strings, so rewriting a code point as \uXXXX keeps the value.
  size_t first = 0;
  for (; first < text.size(); ++first)
    if (static_cast<unsigned char>(text[first]) >= 0x80) break;
  if (first == text.size()) return text;
  std::string out = text.substr(0, first);
  out.reserve(text.size());
  for (size_t i = first; i < text.size();) {
    size_t len = 1;
    char32_t cp = decode(text, i, len);
    if (cp >= 0x80 && needs_visible_escape(cp)) append_json_escape(out, cp);
    else out.append(text, i, len);
    i += len;
  }
  return out;
}

size_t display_width(std::string_view raw) {
  std::string s = valid_utf8(raw);
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad_right(std::string_view s, size_t width) {
  std::string out(s);
  for (size_t w = display_width(s); w < width; ++w) out += ' ';
  return out;
}

}  // namespace wobble
