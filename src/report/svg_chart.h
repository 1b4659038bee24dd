// Inline SVG charts for the HTML reports. Each function returns one <svg> element sized to its
// data; colours come from CSS classes the page defines (trusted names only), labels are escaped.
#pragma once

#include <string>
#include <vector>

namespace wobble {

// One horizontal bar per row: value in [0, 1] as a bar, [lo, hi] as a whisker (e.g. a pass rate
// and its Wilson interval). A row with an href links there.
struct IntervalBar {
  std::string label;
  double value = 0, lo = 0, hi = 0;
  std::string css_class;  // trusted
  std::string href;       // trusted fragment such as "#g-3"
  std::string tooltip;    // untrusted
};
std::string svg_interval_bars(const std::vector<IntervalBar>& rows, const std::string& title);

// Two rates per row on [0, 1] (e.g. run A and run B): a hollow dot for a, a filled one for b, and a
// line between them classed "up", "down" or "same".
struct PairedRate {
  std::string label;
  double a = 0, b = 0;
  std::string href;     // trusted fragment
  std::string tooltip;  // untrusted
};
std::string svg_paired_rates(const std::vector<PairedRate>& rows, const std::string& title);

// The colour scale of heatmaps. Sequential: 0 white to `max` dark blue (max <= 0: the chart's own
// largest cell). Diverging: -max red, 0 white, +max blue (e.g. a difference of two usage maps).
// Pass one scale to every heatmap that is to be compared by eye.
struct HeatScale {
  double max = 0;
  bool diverging = false;
};
// Rows × columns (e.g. layer × expert usage); each cell's exact value is in its tooltip.
std::string svg_heatmap(const std::vector<std::vector<double>>& cells, const std::string& row_name,
                        const std::string& col_name, const std::string& title, const HeatScale& scale = {});
// A horizontal colour bar for `scale` with its end and middle values, labelled.
std::string svg_colour_bar(const HeatScale& scale, const std::string& label);

// One row per item on [0, x_max]: a bar for the value, an optional marker (NaN: none) such as a
// noise floor, and an optional dashed threshold (negative: none). One chart for many items.
struct ValueRow {
  std::string label;
  double value = 0, marker = 0;
  std::string css_class;  // trusted
  std::string tooltip;    // untrusted
};
std::string svg_value_rows(const std::vector<ValueRow>& rows, double x_max, double threshold,
                           const std::string& title);

// One vertical bar per index (e.g. JSD per layer) on [0, y_max], with an optional dashed
// threshold line (pass a negative value for none); bars above the threshold get class "over".
std::string svg_index_bars(const std::vector<double>& values, double y_max, double threshold,
                           const std::string& index_name, const std::string& title);

// Lines over a shared x axis (e.g. runs in time order) on [y_min, y_max]; NaN values leave gaps.
struct Series {
  std::string name;
  std::vector<double> y;
  std::string css_class;  // trusted
};
// x_sublabels (optional, e.g. dates) are printed under x_labels. The chart spans `width` pixels.
std::string svg_line_chart(const std::vector<std::string>& x_labels, const std::vector<Series>& series,
                           double y_min, double y_max, const std::string& title,
                           const std::vector<std::string>& x_sublabels = {}, double width = 1150);

}  // namespace wobble
