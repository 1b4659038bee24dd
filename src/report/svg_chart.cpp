#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/html_text.h"
#include "util/fixed.h"
#include "util/utf8.h"

namespace wobble {
namespace {

std::string px(double x) { return fixed(x, 1); }

double clamp01(double x) { return std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 0.0; }

std::string open_svg(double w, double h, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + px(w) + "\" height=\"" + px(h) +
         "\" viewBox=\"0 0 " + px(w) + " " + px(h) + "\" role=\"img\" aria-label=\"" + html_escape(title) +
         "\"><title>" + html_escape(title) + "</title>";
}

// Layout of the row charts on a 0..1 scale: labels on the left, the plot, values on the right.
struct RowChart {
  static constexpr double label_w = 300, plot_w = 400, row_h = 18, top = 22;
};

// A row label clipped to fit the label column, cut on a UTF-8 character boundary.
std::string row_label(const std::string& label) {
  return label.size() > 48 ? label.substr(0, utf8_floor(label, 45)) + "…" : label;
}

// Ticks 0, 0.25, ..., 1 along the top of a plot spanning [left, left + width], with grid lines.
std::string unit_axis(double left, double width, double top, double bottom) {
  std::string s;
  for (int t = 0; t <= 4; ++t) {
    double x = left + width * t / 4.0;
    s += "<line class=\"grid\" x1=\"" + px(x) + "\" y1=\"" + px(top - 4) + "\" x2=\"" + px(x) + "\" y2=\"" +
         px(bottom - 4) + "\"/><text class=\"axis\" x=\"" + px(x) + "\" y=\"12\" text-anchor=\"middle\">" +
         html_number(t / 4.0) + "</text>";
  }
  return s;
}

// The opening of a row chart of n rows with `right` pixels for values: frame, title and axis.
std::string open_row_chart(size_t n, double right, const std::string& title) {
  const double h = RowChart::top + RowChart::row_h * double(n) + 6;
  return open_svg(RowChart::label_w + RowChart::plot_w + right, h, title) +
         unit_axis(RowChart::label_w, RowChart::plot_w, RowChart::top, h);
}

}  // namespace

std::string svg_interval_bars(const std::vector<IntervalBar>& rows, const std::string& title) {
  constexpr double label_w = RowChart::label_w, plot_w = RowChart::plot_w, row_h = RowChart::row_h, top = RowChart::top;
  std::string s = open_row_chart(rows.size(), 60, title);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    double y = top + row_h * double(i);
    std::string row = "<g class=\"" + html_escape(r.css_class) + "\"><title>" + html_escape(r.tooltip) + "</title>";
    const std::string label = row_label(r.label);
    row += "<text class=\"label\" x=\"" + px(label_w - 6) + "\" y=\"" + px(y + 13) + "\" text-anchor=\"end\">" +
           html_escape(label) + "</text>";
    // A zero bar still draws a stub, so a stable-fail row shows its colour instead of nothing.
    constexpr double kMinBar = 4;
    row += "<rect class=\"bar\" x=\"" + px(label_w) + "\" y=\"" + px(y + 3) + "\" width=\"" +
           px(std::max(kMinBar, plot_w * clamp01(r.value))) + "\" height=\"" + px(row_h - 6) + "\"/>";
    double lo = label_w + plot_w * clamp01(r.lo), hi = label_w + plot_w * clamp01(r.hi), mid = y + row_h / 2;
    row += "<line class=\"whisker\" x1=\"" + px(lo) + "\" y1=\"" + px(mid) + "\" x2=\"" + px(hi) + "\" y2=\"" + px(mid) +
           "\"/><line class=\"whisker\" x1=\"" + px(lo) + "\" y1=\"" + px(mid - 4) + "\" x2=\"" + px(lo) + "\" y2=\"" +
           px(mid + 4) + "\"/><line class=\"whisker\" x1=\"" + px(hi) + "\" y1=\"" + px(mid - 4) + "\" x2=\"" + px(hi) +
           "\" y2=\"" + px(mid + 4) + "\"/>";
    row += "<text class=\"value\" x=\"" + px(label_w + plot_w + 6) + "\" y=\"" + px(y + 13) + "\">" +
           html_number(r.value) + "</text></g>";
    if (!r.href.empty()) row = "<a href=\"" + html_escape(r.href) + "\">" + row + "</a>";
    s += row;
  }
  return s + "</svg>";
}

std::string svg_paired_rates(const std::vector<PairedRate>& rows, const std::string& title) {
  constexpr double label_w = RowChart::label_w, plot_w = RowChart::plot_w, row_h = RowChart::row_h, top = RowChart::top;
  std::string s = open_row_chart(rows.size(), 90, title);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    double y = top + row_h * double(i) + row_h / 2;
    double xa = label_w + plot_w * clamp01(r.a), xb = label_w + plot_w * clamp01(r.b);
    const char* dir = r.b > r.a ? "up" : r.b < r.a ? "down" : "same";
    const std::string label = row_label(r.label);
    std::string row = "<g class=\"" + std::string(dir) + "\"><title>" + html_escape(r.tooltip) + "</title><text class=\"label\" x=\"" +
                      px(label_w - 6) + "\" y=\"" + px(y + 4) + "\" text-anchor=\"end\">" + html_escape(label) +
                      "</text><line class=\"delta\" x1=\"" + px(xa) + "\" y1=\"" + px(y) + "\" x2=\"" + px(xb) +
                      "\" y2=\"" + px(y) + "\"/><circle class=\"dot-a\" cx=\"" + px(xa) + "\" cy=\"" + px(y) +
                      "\" r=\"4\"/><circle class=\"dot-b\" cx=\"" + px(xb) + "\" cy=\"" + px(y) +
                      "\" r=\"4\"/><text class=\"value\" x=\"" + px(label_w + plot_w + 8) + "\" y=\"" + px(y + 4) +
                      "\">" + html_number(r.a) + " → " + html_number(r.b) + "</text></g>";
    if (!r.href.empty()) row = "<a href=\"" + html_escape(r.href) + "\">" + row + "</a>";
    s += row;
  }
  return s + "</svg>";
}

namespace {

std::string heat_colour(double v, const HeatScale& scale, double max) {
  auto mix = [](double t, int r, int g, int b) {
    t = std::clamp(t, 0.0, 1.0);
    return "rgb(" + std::to_string(int(std::lround(255 - t * (255 - r)))) + "," +
           std::to_string(int(std::lround(255 - t * (255 - g)))) + "," +
           std::to_string(int(std::lround(255 - t * (255 - b)))) + ")";
  };
  if (!std::isfinite(v) || !(max > 0)) return "rgb(255,255,255)";
  if (!scale.diverging) return mix(v / max, 8, 69, 148);
  return v >= 0 ? mix(v / max, 8, 69, 148) : mix(-v / max, 178, 24, 43);
}

}  // namespace

std::string svg_heatmap(const std::vector<std::vector<double>>& cells, const std::string& row_name,
                        const std::string& col_name, const std::string& title, const HeatScale& scale) {
  size_t n_rows = cells.size(), n_cols = 0;
  double own = 0;
  for (const auto& r : cells) {
    n_cols = std::max(n_cols, r.size());
    for (double v : r) own = std::max(own, std::isfinite(v) ? std::fabs(v) : 0.0);
  }
  const double max = scale.max > 0 ? scale.max : own;
  const double cell = n_cols > 48 ? 8 : n_cols > 16 ? 16 : 28, left = 70, top = 30;
  const double w = left + cell * double(n_cols) + 10, h = top + cell * double(n_rows) + 10;
  std::string s = open_svg(w, h, title);
  s += "<text class=\"axis\" x=\"" + px(left) + "\" y=\"12\">" + html_escape(col_name) + " →</text>";
  for (size_t c = 0; c < n_cols; c += (n_cols > 16 ? 4 : 1))
    s += "<text class=\"axis\" x=\"" + px(left + cell * (double(c) + 0.5)) + "\" y=\"" + px(top - 4) +
         "\" text-anchor=\"middle\">" + std::to_string(c) + "</text>";
  for (size_t r = 0; r < n_rows; ++r) {
    s += "<text class=\"axis\" x=\"" + px(left - 6) + "\" y=\"" + px(top + cell * (double(r) + 0.6)) +
         "\" text-anchor=\"end\">" + html_escape(row_name) + " " + std::to_string(r) + "</text>";
    for (size_t c = 0; c < cells[r].size(); ++c) {
      double v = std::isfinite(cells[r][c]) ? cells[r][c] : 0.0;
      if (!scale.diverging) v = clamp01(v);
      s += "<rect x=\"" + px(left + cell * double(c)) + "\" y=\"" + px(top + cell * double(r)) + "\" width=\"" +
           px(cell - 1) + "\" height=\"" + px(cell - 1) + "\" fill=\"" + heat_colour(v, scale, max) + "\"><title>" +
           html_escape(row_name) + " " + std::to_string(r) + ", " + html_escape(col_name) + " " + std::to_string(c) +
           ": " + html_number(v, 3) + "</title></rect>";
    }
  }
  return s + "</svg>";
}

std::string svg_colour_bar(const HeatScale& scale, const std::string& label) {
  const double w = 400, left = 10, bar_w = 240, top = 16, bar_h = 12;
  std::string s = open_svg(w, top + bar_h + 18, label);
  s += "<text class=\"axis\" x=\"" + px(left) + "\" y=\"11\">" + html_escape(label) + "</text>";
  constexpr int kSteps = 40;
  const double lo = scale.diverging ? -scale.max : 0;
  for (int i = 0; i < kSteps; ++i) {
    double v = lo + (scale.max - lo) * (double(i) + 0.5) / kSteps;
    s += "<rect x=\"" + px(left + bar_w * i / kSteps) + "\" y=\"" + px(top) + "\" width=\"" + px(bar_w / kSteps + 0.5) +
         "\" height=\"" + px(bar_h) + "\" fill=\"" + heat_colour(v, scale, scale.max) + "\"/>";
  }
  s += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(bar_w) + "\" height=\"" + px(bar_h) +
       "\" class=\"frame\"/>";
  auto tick = [&](double x, double v, const char* anchor) {
    s += "<text class=\"axis\" x=\"" + px(x) + "\" y=\"" + px(top + bar_h + 12) + "\" text-anchor=\"" + anchor + "\">" +
         html_number(v, 3) + "</text>";
  };
  tick(left, lo, "start");
  tick(left + bar_w / 2, (lo + scale.max) / 2, "middle");
  tick(left + bar_w, scale.max, "end");
  return s + "</svg>";
}

std::string svg_value_rows(const std::vector<ValueRow>& rows, double x_max, double threshold, const std::string& title) {
  const double label_w = RowChart::label_w, plot_w = RowChart::plot_w, row_h = RowChart::row_h, top = RowChart::top;
  if (!(x_max > 0)) x_max = 1;
  const double h = top + row_h * double(rows.size()) + 6;
  std::string s = open_svg(label_w + plot_w + 70, h, title);
  auto x_of = [&](double v) { return label_w + plot_w * std::clamp(std::isfinite(v) ? v : 0.0, 0.0, x_max) / x_max; };
  for (int t = 0; t <= 4; ++t) {
    double x = label_w + plot_w * t / 4.0;
    s += "<line class=\"grid\" x1=\"" + px(x) + "\" y1=\"" + px(top - 4) + "\" x2=\"" + px(x) + "\" y2=\"" + px(h - 4) +
         "\"/><text class=\"axis\" x=\"" + px(x) + "\" y=\"12\" text-anchor=\"middle\">" + html_number(x_max * t / 4.0, 3) +
         "</text>";
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    double y = top + row_h * double(i);
    s += "<g class=\"" + html_escape(r.css_class) + "\"><title>" + html_escape(r.tooltip) + "</title>";
    s += "<text class=\"label\" x=\"" + px(label_w - 6) + "\" y=\"" + px(y + 13) + "\" text-anchor=\"end\">" +
         html_escape(row_label(r.label)) + "</text>";
    s += "<rect class=\"bar\" x=\"" + px(label_w) + "\" y=\"" + px(y + 3) + "\" width=\"" +
         px(std::max(2.0, x_of(r.value) - label_w)) + "\" height=\"" + px(row_h - 6) + "\"/>";
    if (std::isfinite(r.marker))
      s += "<line class=\"marker\" x1=\"" + px(x_of(r.marker)) + "\" y1=\"" + px(y + 1) + "\" x2=\"" + px(x_of(r.marker)) +
           "\" y2=\"" + px(y + row_h - 1) + "\"/>";
    s += "<text class=\"value\" x=\"" + px(label_w + plot_w + 6) + "\" y=\"" + px(y + 13) + "\">" +
         html_number(r.value, 3) + "</text></g>";
  }
  if (threshold >= 0 && threshold <= x_max)
    s += "<line class=\"threshold\" x1=\"" + px(x_of(threshold)) + "\" y1=\"" + px(top - 4) + "\" x2=\"" +
         px(x_of(threshold)) + "\" y2=\"" + px(h - 4) + "\"><title>threshold " + html_number(threshold, 3) +
         "</title></line>";
  return s + "</svg>";
}

std::string svg_index_bars(const std::vector<double>& values, double y_max, double threshold,
                           const std::string& index_name, const std::string& title) {
  const double bar = 22, left = 44, top = 10, plot_h = 90, bottom = 22;
  const double w = left + bar * double(values.size()) + 10, h = top + plot_h + bottom;
  if (!(y_max > 0)) y_max = 1;
  auto y_of = [&](double v) { return top + plot_h * (1 - std::clamp(std::isfinite(v) ? v : 0.0, 0.0, y_max) / y_max); };
  std::string s = open_svg(w, h, title);
  s += "<text class=\"axis\" x=\"" + px(left - 4) + "\" y=\"" + px(top + 8) + "\" text-anchor=\"end\">" +
       html_number(y_max, 2) + "</text><text class=\"axis\" x=\"" + px(left - 4) + "\" y=\"" + px(top + plot_h) +
       "\" text-anchor=\"end\">0</text><line class=\"grid\" x1=\"" + px(left) + "\" y1=\"" + px(top + plot_h) +
       "\" x2=\"" + px(w - 10) + "\" y2=\"" + px(top + plot_h) + "\"/>";
  for (size_t i = 0; i < values.size(); ++i) {
    double v = values[i], y = y_of(v);
    bool over = threshold >= 0 && std::isfinite(v) && v > threshold;
    s += "<rect class=\"bar" + std::string(over ? " over" : "") + "\" x=\"" + px(left + bar * double(i) + 2) +
         "\" y=\"" + px(y) + "\" width=\"" + px(bar - 4) + "\" height=\"" + px(top + plot_h - y) + "\"><title>" +
         html_escape(index_name) + " " + std::to_string(i) + ": " + html_number(v, 4) + "</title></rect>";
    s += "<text class=\"axis\" x=\"" + px(left + bar * (double(i) + 0.5)) + "\" y=\"" + px(top + plot_h + 14) +
         "\" text-anchor=\"middle\">" + std::to_string(i) + "</text>";
  }
  if (threshold >= 0 && threshold <= y_max)
    s += "<line class=\"threshold\" x1=\"" + px(left) + "\" y1=\"" + px(y_of(threshold)) + "\" x2=\"" + px(w - 10) +
         "\" y2=\"" + px(y_of(threshold)) + "\"><title>threshold " + html_number(threshold, 3) + "</title></line>";
  return s + "</svg>";
}

std::string svg_line_chart(const std::vector<std::string>& x_labels, const std::vector<Series>& series, double y_min,
                           double y_max, const std::string& title, const std::vector<std::string>& x_sublabels,
                           double width) {
  const double left = 50, top = 24, plot_w = std::max<double>(width - 100, 60.0 * double(x_labels.size())),
               plot_h = 200, bottom = x_sublabels.empty() ? 30 : 44;
  const double w = left + plot_w + 50, h = top + plot_h + bottom;  // room for the last label
  if (!(y_max > y_min)) y_max = y_min + 1;
  auto x_of = [&](size_t i) {
    return x_labels.size() <= 1 ? left + plot_w / 2 : left + plot_w * double(i) / double(x_labels.size() - 1);
  };
  auto y_of = [&](double v) { return top + plot_h * (1 - (std::clamp(v, y_min, y_max) - y_min) / (y_max - y_min)); };
  std::string s = open_svg(w, h, title);
  for (int t = 0; t <= 4; ++t) {
    double v = y_min + (y_max - y_min) * t / 4.0;
    s += "<line class=\"grid\" x1=\"" + px(left) + "\" y1=\"" + px(y_of(v)) + "\" x2=\"" + px(left + plot_w) +
         "\" y2=\"" + px(y_of(v)) + "\"/><text class=\"axis\" x=\"" + px(left - 4) + "\" y=\"" + px(y_of(v) + 4) +
         "\" text-anchor=\"end\">" + html_number(v, 2) + "</text>";
  }
  for (size_t i = 0; i < x_labels.size(); ++i)
    s += "<text class=\"axis\" x=\"" + px(x_of(i)) + "\" y=\"" + px(top + plot_h + 16) + "\" text-anchor=\"middle\">" +
         html_escape(x_labels[i]) + "</text>";
  for (size_t i = 0; i < x_sublabels.size() && i < x_labels.size(); ++i)
    s += "<text class=\"axis\" x=\"" + px(x_of(i)) + "\" y=\"" + px(top + plot_h + 30) + "\" text-anchor=\"middle\">" +
         html_escape(x_sublabels[i]) + "</text>";
  double legend_x = left;
  for (const auto& se : series) {
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < se.y.size() && i < x_labels.size(); ++i) {
      if (!std::isfinite(se.y[i])) {
        pen_down = false;
        continue;
      }
      path += (pen_down ? " L" : " M") + px(x_of(i)) + " " + px(y_of(se.y[i]));
      pen_down = true;
    }
    s += "<g class=\"" + html_escape(se.css_class) + "\">";
    if (!path.empty()) s += "<path class=\"line\" d=\"" + path + "\"/>";
    for (size_t i = 0; i < se.y.size() && i < x_labels.size(); ++i)
      if (std::isfinite(se.y[i]))
        s += "<circle class=\"dot\" cx=\"" + px(x_of(i)) + "\" cy=\"" + px(y_of(se.y[i])) + "\" r=\"3\"><title>" +
             html_escape(se.name) + " @ " + html_escape(x_labels[i]) + ": " + html_number(se.y[i], 3) +
             "</title></circle>";
    s += "<rect class=\"swatch\" x=\"" + px(legend_x) + "\" y=\"4\" width=\"10\" height=\"10\"/><text class=\"axis\" x=\"" +
         px(legend_x + 14) + "\" y=\"13\">" + html_escape(se.name) + "</text></g>";
    legend_x += 20 + 7.0 * double(se.name.size());
  }
  return s + "</svg>";
}

}  // namespace wobble
