// Building blocks for HTML output that contains untrusted text (model outputs, case ids, reasons).
//
// Every byte of untrusted text goes through html_escape, which also repairs ill-formed UTF-8 and
// shows control characters and bidi overrides as visible escapes (util/text_policy.h), so
// no model output can open a tag, close an attribute or inject an event handler. Reports carry no
// script at all and declare a Content-Security-Policy that forbids scripts, as a second wall.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wobble {

// Text content and double- or single-quoted attribute values: the terminal rule of
// util/text_policy.h (ill-formed UTF-8 becomes U+FFFD; control characters other than tab and
// newline, bidi overrides and isolates are shown as visible escapes such as \x1b and \u202e),
// then & < > " ' escaped.
std::string html_escape(std::string_view s);

// A highlighted byte range of a text; classes of overlapping spans are combined.
struct TextSpan {
  int64_t start = 0, end = 0;  // byte offsets, end exclusive; clamped to the text
  std::string css_class;       // trusted: chosen by the renderer, never from data
  std::string title;           // untrusted: escaped
};

// Renders `text` (its first `clip` bytes, cut at a UTF-8 boundary) with each span wrapped in
// <span class=...>, splitting at every span boundary so overlapping spans nest correctly.
// Returns escaped HTML; appends a note with the number of bytes left out when clipped.
std::string html_marked_text(std::string_view text, const std::vector<TextSpan>& spans, size_t clip);

// A number with `digits` decimals, "n/a" when not finite.
std::string html_number(double x, int digits = 2);

}  // namespace wobble
