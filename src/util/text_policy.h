// Text policy: how bytes from a model, a server or a file cross into each output medium.
//
// Contract (one rule per medium; reports/README.md "Text at every output" states it with its
// tests):
//   Storage   The database keeps the exact bytes it was given (outputs, error bodies, names), valid
//             UTF-8 or not. Nothing in this file is applied before storing.
//   JSON      Every JSON document wobble writes goes through dump_json(): ill-formed UTF-8 becomes
//             U+FFFD (the same repair as valid_utf8()), and the characters that are invisible or
//             reorder text on a terminal (C1 controls, bidi controls, U+2028/U+2029, Unicode tag
//             characters) are written as \uXXXX escapes, which JSON decodes to the same string.
//             C0 controls are escaped by the JSON writer itself. A parser therefore always reads
//             valid JSON, and only ill-formed bytes differ from what is stored.
//   Terminal  Every string that came from a model, a server or a file is printed through
//             term_text() (multi-line) or term_line() (one line, e.g. a table cell): ill-formed
//             UTF-8 becomes U+FFFD, and control characters (C0 except newline and tab, DEL, C1),
//             bidi controls (U+061C, U+200E-200F, U+202A-202E, U+2066-2069), U+2028/U+2029 and tag
//             characters (U+E0000-E007F) are shown as visible escapes: \x1b, \r, \u202e,
//             \U000e0041. A CR directly before a newline is dropped (CRLF prints as LF).
//   Markdown  md_inline() (report/report.h): the terminal rule, then Markdown's own escapes.
//   XML/HTML  xml_escape() / html_escape(): the terminal rule, then the markup escapes; so a bidi
//             override in a report is visible as \u202e, never applied.
//   Snippets  An error message quoting foreign bytes is cut with clip_utf8(), never inside a
//             character.
// Every function here is pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace wobble {

// The visible form of `s` under the terminal rule. keep_newlines=true keeps '\n' and '\t' (a CR
// directly before '\n' is dropped); false escapes them as \n and \t too, so the result is one line.
std::string visible_text(std::string_view s, bool keep_newlines);

// Multi-line text for a terminal: visible_text(s, true).
std::string term_text(std::string_view s);
// One line for a terminal: visible_text of the first `max_bytes` bytes of s (cut on a character
// boundary, with "…" appended when cut).
std::string term_line(std::string_view s, size_t max_bytes = std::string_view::npos);

// One table cell for a terminal: term_line(s), cut to at most `width` code points (the last one
// "…" when cut), so a long or escaped name cannot push the next column.
std::string term_cell(std::string_view s, size_t width);

// The longest prefix of s of at most max_bytes bytes that does not end inside a UTF-8 sequence.
std::string clip_utf8(std::string_view s, size_t max_bytes);

// True when the code point must be shown escaped (see the contract above); '\n' and '\t' count.
bool needs_visible_escape(char32_t cp);

// The one JSON writer: nlohmann's dump() with the JSON rule above. indent < 0: compact.
std::string dump_json(const nlohmann::json& j, int indent = -1);

// Number of code points in s after UTF-8 repair, for aligning table columns.
size_t display_width(std::string_view s);
// s padded with spaces to `width` code points (never cut).
std::string pad_right(std::string_view s, size_t width);

}  // namespace wobble
