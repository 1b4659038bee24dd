#include "report/html_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "util/text_policy.h"
#include "util/utf8.h"

namespace wobble {

std::string html_escape(std::string_view s) {
  // The terminal rule (text_policy.h) first, so control characters and bidi overrides show as
  // visible escapes (\x1b, \u202e) instead of acting on the page.
  std::string valid = visible_text(s, /*keep_newlines=*/true);
  std::string out;
  out.reserve(valid.size() + valid.size() / 8);
  for (char c : valid) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_marked_text(std::string_view text, const std::vector<TextSpan>& spans, size_t clip) {
  size_t shown = utf8_floor(text, std::min(clip, text.size()));
  std::string_view visible = text.substr(0, shown);
  // Cut points: every span edge that falls inside the visible text, moved to a UTF-8 boundary so
  // each escaped piece is whole characters.
  std::set<size_t> cuts = {0, shown};
  std::vector<std::pair<size_t, size_t>> ranges;
  for (const auto& sp : spans) {
    size_t b = utf8_floor(visible, size_t(std::clamp<int64_t>(sp.start, 0, int64_t(shown))));
    size_t e = utf8_floor(visible, size_t(std::clamp<int64_t>(sp.end, 0, int64_t(shown))));
    ranges.emplace_back(b, e);
    cuts.insert(b);
    cuts.insert(e);
  }
  std::string out;
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it) {
    size_t b = *it, e = *std::next(it);
    std::string classes, titles;
    for (size_t i = 0; i < spans.size(); ++i) {
      if (ranges[i].first <= b && e <= ranges[i].second && ranges[i].first < ranges[i].second) {
        classes += (classes.empty() ? "" : " ") + spans[i].css_class;
        if (!spans[i].title.empty()) titles += (titles.empty() ? "" : "\n") + spans[i].title;
      }
    }
    std::string piece = html_escape(visible.substr(b, e - b));
    if (classes.empty()) out += piece;
    else out += "<span class=\"" + html_escape(classes) + "\" title=\"" + html_escape(titles) + "\">" + piece + "</span>";
  }
  // Zero-width markers (e.g. a divergence exactly at the end) still deserve a visible sign.
  for (size_t i = 0; i < spans.size(); ++i)
    if (ranges[i].first == ranges[i].second && ranges[i].first == shown && spans[i].start >= int64_t(shown) &&
        spans[i].start <= int64_t(text.size()) && shown == text.size())
      out += "<span class=\"" + html_escape(spans[i].css_class) + " empty\" title=\"" + html_escape(spans[i].title) +
             "\">∅</span>";
  if (shown < text.size())
    out += "<span class=\"clipped\">… (" + std::to_string(text.size() - shown) + " more bytes)</span>";
  return out;
}

std::string html_number(double x, int digits) {
  if (!std::isfinite(x)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

}  // namespace wobble
