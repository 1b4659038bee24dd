#include "report/html_page.h"

#include "report/html_text.h"

namespace wobble {
namespace {

constexpr const char* kStyle = R"css(
:root { --pass: #2e7d32; --fail: #c62828; --unstable: #ef6c00; --unscored: #9e9e9e; --ink: #1f2328; --muted: #59636e; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
nav a { margin-right: 14px; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
div.alert { background: #fde8e8; border: 2px solid #c0392b; color: #7b1d12; font-weight: 600; padding: 8px 12px; margin: 8px 0; border-radius: 4px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.wide td { white-space: nowrap; } table.grid td:nth-child(-n+2) { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid td.cell { text-align: center; min-width: 54px; padding: 0; }
.grid td.cell a { display: block; padding: 3px 6px; color: #fff; }
.v-stable-pass { background: var(--pass); } .v-stable-fail { background: var(--fail); }
.v-unstable { background: var(--unstable); } .v-unscored { background: var(--unscored); }
.badge { display: inline-block; border-radius: 3px; padding: 0 5px; margin: 1px 2px; color: #fff; font-size: 12px; }
.o-pass { background: var(--pass); } .o-fail { background: var(--fail); } .o-unscored, .o-error { background: var(--unscored); }
pre.out { white-space: pre-wrap; overflow-wrap: anywhere; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; margin: 0; max-width: 760px; }
span.div { background: #ffe08a; border-left: 2px solid #b35900; }
span.ev { border-bottom: 2px solid; } span.ev-pass { border-color: var(--pass); } span.ev-fail { border-color: var(--fail); background: #fde4e4; }
span.ev-unscored { border-color: var(--unscored); } span.empty { color: #b35900; }
span.clipped { color: var(--muted); font-style: italic; }
.err { color: var(--fail); }
.muted { color: var(--muted); }
.flag { color: var(--fail); font-weight: 600; }
svg.chart { display: block; margin: 6px 0 12px; font: 11px system-ui, sans-serif; }
svg .grid { stroke: #e1e4e8; } svg .axis { fill: var(--muted); } svg .label, svg .value { fill: var(--ink); }
svg .whisker { stroke: #24292f; stroke-width: 1.4; }
svg .v-stable-pass .bar { fill: var(--pass); } svg .v-stable-fail .bar { fill: var(--fail); }
svg .v-unstable .bar { fill: var(--unstable); } svg .v-unscored .bar { fill: var(--unscored); }
svg .v-stable-pass, svg .v-stable-fail, svg .v-unstable, svg .v-unscored { background: none; }
svg rect.bar { fill: #4f7cac; } svg rect.bar.over { fill: var(--fail); }
svg .threshold { stroke: var(--fail); stroke-dasharray: 4 3; }
svg .line { fill: none; stroke-width: 2; }
svg .s1 .line { stroke: #0969da; } svg .s1 .dot, svg .s1 .swatch { fill: #0969da; }
svg .s2 .line { stroke: var(--unstable); } svg .s2 .dot, svg .s2 .swatch { fill: var(--unstable); }
svg .s3 .line { stroke: #8250df; } svg .s3 .dot, svg .s3 .swatch { fill: #8250df; }
svg .delta { stroke-width: 3; } svg .up .delta { stroke: var(--pass); } svg .down .delta { stroke: var(--fail); } svg .same .delta { stroke: #8c959f; }
svg .dot-a { fill: #fff; stroke: #24292f; stroke-width: 1.5; } svg .dot-b { fill: #24292f; }
.routing-group { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.scales { display: flex; gap: 32px; }
div.pair { border-top: 1px solid #d0d7de; margin-top: 10px; }
section.verdict p.headline { font-size: 16px; margin: 6px 0; }
.gate { font-weight: 700; padding: 2px 8px; border-radius: 4px; color: #fff; }
.gate-pass { background: var(--pass); } .gate-fail { background: var(--fail); } .gate-none { background: var(--unscored); }
ul.checks { margin: 4px 0; padding-left: 20px; } ul.checks li.ok { color: var(--muted); }
p.counts .badge { font-size: 13px; padding: 1px 7px; }
span.q-pass { background: #e3f4e4; border-bottom: 2px solid var(--pass); } span.q-fail { background: #fde4e4; border-bottom: 2px solid var(--fail); }
table.unstable td { max-width: 360px; overflow-wrap: anywhere; }
span.expected { font-size: 12px; color: var(--fail); margin: 0 6px 0 2px; }
td.up { color: var(--pass); } td.down { color: var(--fail); }
table.defs td { max-width: 520px; }
svg .drift .bar { fill: #4f7cac; } svg .drift.flagged .bar { fill: var(--fail); } svg .marker { stroke: #24292f; stroke-width: 2; } svg .frame { fill: none; stroke: #8c959f; }
)css";

}  // namespace

void html_page_begin(std::ostream& out, const std::string& title) {
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
         "img-src data:; base-uri 'none'; form-action 'none'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
      << html_escape(title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
}

void html_page_end(std::ostream& out, const std::string& json_command) {
  out << "<footer class=\"muted\"><p>Generated by Wobble. Every figure on this page is computed from the SQLite "
         "database; the same numbers are in <code>"
      << html_escape(json_command) << "</code>.</p></footer>\n"
         "</body>\n</html>\n";
}

}  // namespace wobble
