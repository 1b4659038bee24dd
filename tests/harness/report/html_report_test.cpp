// The HTML report: hostile model output, ids and reasons never become markup; divergence and
// evidence are marked where the data says; cells link to anchors that exist; and, where Debian's
// chromium is installed, a headless browser loads the page without running any of it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <vector>
#include <sstream>

#include "report/html_text.h"
#include "report/report.h"
#include "report/svg_chart.h"
#include "util/utf8.h"

using namespace wobble;
namespace fs = std::filesystem;

namespace {

// Each payload builds its marker ("pw" + "ned") at run time, so finding the marker in a page means
// a script or handler ran, never that the escaped source text was echoed.
const char* kPayloads[] = {
    "<script>document.body.setAttribute('data-x','pw'+'ned')</script>",
    "<img src=x onerror=\"document.title='pw'+'ned'\">",
    "\"><svg onload=document.title='pw'+'ned'>",
    "</pre></td></tr></table><script>document.title='pw'+'ned'</script>",
    "<a href=\"javascript:document.title='pw'+'ned'\">x</a> <style>body{display:none}</style>",
    "' onmouseover='document.title=\"pw\"+\"ned\"' x='",
    "<!-- --><iframe srcdoc=\"<script>parent.document.title='pw'+'ned'</script>\"></iframe>",
    "bad utf-8 \xff\xfe \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 and control \x01\x1b[31m",
};

CriterionResult criterion(const std::string& id, Outcome o, Evidence ev, const std::string& reason) {
  CriterionResult r;
  r.criterion_id = id;
  r.outcome = o;
  r.score = o == Outcome::kPass ? 1 : 0;
  r.evidence = ev;
  r.reason = reason;
  return r;
}

RunAnalysis hostile_run() {
  RunRecord run;
  run.id = 9;
  run.suite_name = "<script>document.title='pw'+'ned'</script>";
  run.model_id = "\"><img src=x onerror=alert(1)>";
  run.suite_path = "suites/<b>.yaml";
  run.status = "complete";
  run.repeats = 2;
  std::vector<SampleRecord> samples;
  int repeat = 0;
  for (const char* payload : kPayloads) {
    SampleRecord s;
    s.id = 100 + repeat;
    s.case_id = "case<i onclick=x>";
    s.variant_id = "v'\"";
    s.repeat = repeat++;
    s.ok = true;
    s.output = std::string("Answer: ") + payload;
    // Evidence spans that cut into multi-byte characters and run past the end.
    s.scores = {criterion("crit<script>", repeat % 2 ? Outcome::kPass : Outcome::kFail, {3, 20, payload},
                          std::string("reason ") + payload),
                criterion("tail", Outcome::kFail, {int64_t(s.output.size()) - 3, int64_t(s.output.size()) + 50, "x"},
                          "past the end")};
    samples.push_back(s);
  }
  SampleRecord failed;
  failed.id = 999;
  failed.case_id = "case<i onclick=x>";
  failed.variant_id = "v'\"";
  failed.repeat = repeat;
  failed.ok = false;
  failed.error = "HTTP 500: <script>document.title='pw'+'ned'</script>";
  samples.push_back(failed);
  return analyze_samples(run, samples);
}

RoutingAnalysis hostile_routing() {
  RoutingAnalysis r;
  r.has_traces = true;
  r.trace_bytes = 4000;
  r.trace_tokens = 100;
  GroupRouting g;
  g.case_id = "case<i onclick=x>";
  g.variant_id = "v'\"";
  g.n_layers = 2;
  g.n_expert = 4;
  g.k = 2;
  g.usage = {{0.5, 0.25, 0.25, 0}, {0.1, 0.2, 0.3, 0.4}};
  r.groups.push_back(g);
  VariantDrift v;
  v.case_id = g.case_id;
  v.variant_a = "<script>";
  v.variant_b = "b";
  v.jsd = {0.01, 0.2};
  r.variants.push_back(v);
  RunRoutingDrift d;
  d.case_id = g.case_id;
  d.variant_id = g.variant_id;
  d.jsd = {0.05, std::nan("")};
  d.flagged = true;
  r.baseline.push_back(d);
  r.baseline_run = 3;
  return r;
}

std::string render(const RunAnalysis& a, const RoutingAnalysis* r) {
  std::ostringstream os;
  render_html(a, os, r);
  return os.str();
}

// Attribute names of a tag's attribute text, honouring quoted values (which may contain anything
// but their own quote).
std::vector<std::string> attribute_names(const std::string& attrs) {
  std::vector<std::string> names;
  size_t i = 0;
  while (i < attrs.size()) {
    while (i < attrs.size() && (std::isspace(static_cast<unsigned char>(attrs[i])) || attrs[i] == '/')) ++i;
    size_t start = i;
    while (i < attrs.size() && !std::isspace(static_cast<unsigned char>(attrs[i])) && attrs[i] != '=' && attrs[i] != '/') ++i;
    if (i > start) names.push_back(attrs.substr(start, i - start));
    if (i < attrs.size() && attrs[i] == '=') {
      ++i;
      if (i < attrs.size() && (attrs[i] == '"' || attrs[i] == '\'')) {
        char q = attrs[i++];
        while (i < attrs.size() && attrs[i] != q) ++i;
        ++i;
      } else {
        while (i < attrs.size() && !std::isspace(static_cast<unsigned char>(attrs[i]))) ++i;
      }
    }
    if (i == start) ++i;
  }
  return names;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

}  // namespace

TEST(HtmlReport, HostileTextNeverBecomesMarkup) {
  RunAnalysis a = hostile_run();
  RoutingAnalysis r = hostile_routing();
  std::string page = render(a, &r);
  ASSERT_GT(page.size(), 1000u);
  std::string low = lower(page);
  EXPECT_EQ(low.find("<script"), std::string::npos);
  EXPECT_EQ(low.find("<iframe"), std::string::npos);
  EXPECT_EQ(low.find("<img"), std::string::npos);
  EXPECT_EQ(low.find("href=\"javascript:"), std::string::npos);
  // Every tag is one the renderer writes, and no tag carries an event-handler attribute.
  const std::set<std::string> allowed = {"!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3",
                                         "nav", "a", "dl", "dt", "dd", "code", "section", "p", "span", "table", "tr",
                                         "th", "td", "div", "pre", "strong", "b", "br", "footer", "svg", "g", "rect",
                                         "line", "text", "circle", "path"};
  std::regex tag(R"(<(/?)([!a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>)");
  size_t tags = 0, lt = std::count(page.begin(), page.end(), '<');
  for (auto it = std::sregex_iterator(page.begin(), page.end(), tag); it != std::sregex_iterator(); ++it) {
    ++tags;
    std::string name = lower((*it)[2].str());
    EXPECT_TRUE(allowed.count(name)) << "unexpected tag <" << name << ">";
    for (const auto& attr : attribute_names((*it)[3].str())) {
      EXPECT_NE(lower(attr).rfind("on", 0), 0u) << "event handler in " << (*it)[0].str();
      EXPECT_TRUE(attr == "class" || attr == "title" || attr == "href" || attr == "id" || attr == "lang" ||
                  attr == "charset" || attr == "http-equiv" || attr == "content" || attr == "name" || attr == "html" ||
                  attr == "xmlns" || attr == "width" || attr == "height" || attr == "viewBox" || attr == "role" ||
                  attr == "aria-label" || attr == "x" || attr == "y" || attr == "x1" || attr == "y1" || attr == "x2" ||
                  attr == "y2" || attr == "text-anchor" || attr == "fill" || attr == "cx" || attr == "cy" || attr == "r" ||
                  attr == "d")
          << "unexpected attribute '" << attr << "' in " << (*it)[0].str();
    }
  }
  EXPECT_EQ(tags, lt) << "a '<' that does not open a well-formed tag";
  // The payloads are there, as text.
  EXPECT_NE(page.find("&lt;script&gt;document.body.setAttribute(&#39;data-x&#39;,&#39;pw&#39;+&#39;ned&#39;)"),
            std::string::npos);
  EXPECT_NE(page.find("&quot;&gt;&lt;svg onload=document.title"), std::string::npos);
  EXPECT_NE(page.find("HTTP 500: &lt;script&gt;"), std::string::npos);
  // Ill-formed UTF-8 and control characters were replaced; the page is valid UTF-8.
  EXPECT_EQ(valid_utf8(page), page);
  EXPECT_EQ(page.find('\x01'), std::string::npos);
  EXPECT_EQ(page.find('\x1b'), std::string::npos);
  // Scripts are forbidden by policy too.
  EXPECT_NE(page.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
}

TEST(HtmlReport, MarksTheDivergenceAndTheEvidenceWhereTheDataSays) {
  RunRecord run;
  run.id = 1;
  run.suite_name = "fixture";
  std::vector<SampleRecord> samples;
  const char* outputs[] = {"The sum is 12.", "The sum is 12.", "The total is 13."};
  for (int r = 0; r < 3; ++r) {
    SampleRecord s;
    s.id = 10 + r;
    s.case_id = "sum";
    s.variant_id = "plain";
    s.repeat = r;
    s.ok = true;
    s.output = outputs[r];
    bool right = r != 2;
    s.scores = {criterion("answer", right ? Outcome::kPass : Outcome::kFail,
                          right ? Evidence{11, 13, "12"} : Evidence{13, 15, "13"}, right ? "" : "expected 12, got 13")};
    samples.push_back(s);
  }
  RunAnalysis a = analyze_samples(run, samples);
  std::string page = render(a, nullptr);
  // Repeat 2 departs from repeat 0 at byte 4 ("sum" vs "total"); its evidence "13" lies inside the
  // departing part, so it carries both classes; repeats 0 and 1 carry no divergence mark.
  EXPECT_NE(page.find("The <span class=\"div\" title=\"departs from repeat 0 here (byte 4)\">total is </span>"
                      "<span class=\"div ev ev-fail\""),
            std::string::npos)
      << page;
  EXPECT_NE(page.find(">13</span><span class=\"div\" title=\"departs from repeat 0 here (byte 4)\">.</span>"), std::string::npos);
  EXPECT_EQ(page.find("<span class=\"div\" title=\"departs from repeat 0 here (byte 11)"), std::string::npos);
  EXPECT_NE(page.find("The sum is <span class=\"ev ev-pass\" title=\"answer: pass\">12</span>."), std::string::npos);
  // The grid cell says 2/3 unstable and links to the group, whose anchor exists.
  EXPECT_NE(page.find("<td class=\"cell v-unstable\"><a href=\"#g-0\""), std::string::npos);
  EXPECT_NE(page.find(">2/3</a>"), std::string::npos);
  EXPECT_NE(page.find("id=\"g-0\""), std::string::npos);
  EXPECT_NE(page.find("id=\"s-12\""), std::string::npos);
  // Every in-page link points at an id on the page.
  std::regex href("href=\"#([^\"]+)\"");
  for (auto it = std::sregex_iterator(page.begin(), page.end(), href); it != std::sregex_iterator(); ++it)
    EXPECT_NE(page.find("id=\"" + (*it)[1].str() + "\""), std::string::npos) << "dangling link #" << (*it)[1].str();
  // The Wilson interval of 2/3 is drawn and printed.
  EXPECT_NE(page.find("Wilson [0.21, 0.94]"), std::string::npos);
}

TEST(HtmlText, MarkedTextSplitsOverlapsClipsAtCharacterBoundariesAndClampsOffsets) {
  // "é" is two bytes; a span ending inside it moves back to the boundary before it.
  std::string text = "ab\xC3\xA9" "cd";
  std::string html = html_marked_text(text, {{1, 3, "x", ""}, {2, 6, "y", "t<"}}, 100);
  EXPECT_EQ(html, "a<span class=\"x\" title=\"\">b</span><span class=\"y\" title=\"t&lt;\">\xC3\xA9" "cd</span>");
  // Overlap: [0,4) and [2,6) give three pieces, the middle one with both classes.
  html = html_marked_text("abcdef", {{0, 4, "p", ""}, {2, 6, "q", ""}}, 100);
  EXPECT_EQ(html, "<span class=\"p\" title=\"\">ab</span><span class=\"p q\" title=\"\">cd</span>"
                  "<span class=\"q\" title=\"\">ef</span>");
  // Clipping at 3 bytes would split "é": only "ab" is shown, and the rest is counted.
  html = html_marked_text(text, {{-5, 1000, "z", ""}}, 3);
  EXPECT_EQ(html, "<span class=\"z\" title=\"\">ab</span><span class=\"clipped\">… (4 more bytes)</span>");
  EXPECT_EQ(html_escape("<a href='x'>&\"\x7f"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;\\x7f");
}

TEST(SvgChart, LongRowLabelsAreClippedOnACharacterBoundary) {
  // 44 ASCII bytes, then a two-byte "é" at bytes 44-45, then more: 45 bytes would split it, so
  // the label keeps the 44 before it. Labels of at most 48 bytes are kept whole.
  const std::string long_label = std::string(44, 'a') + "\xC3\xA9" + std::string(10, 'b');
  const std::string kept = std::string(45, 'c') + "\xC3\xA9" + "d";  // 48 bytes
  for (const std::string& svg : {svg_interval_bars({{long_label, 0.5, 0.2, 0.8, "x", "", ""}, {kept, 1, 1, 1, "x", "", ""}}, "t"),
                                 svg_paired_rates({{long_label, 0.2, 0.4, "", ""}, {kept, 1, 1, "", ""}}, "t")}) {
    EXPECT_NE(svg.find(">" + std::string(44, 'a') + "…</text>"), std::string::npos) << svg;
    EXPECT_NE(svg.find(">" + kept + "</text>"), std::string::npos) << svg;
    EXPECT_EQ(svg.find("\xEF\xBF\xBD"), std::string::npos) << "a split character became U+FFFD";
  }
}

TEST(Utf8, IllFormedSequencesAreReplacedAndWellFormedTextIsKept) {
  std::string good = "plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  EXPECT_EQ(valid_utf8(good), good);
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(valid_utf8("a\xFF" "b"), "a" + r + "b");
  EXPECT_EQ(valid_utf8("\xC0\xAF"), r);                   // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), r);               // UTF-16 surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), r);           // above U+10FFFF
  EXPECT_EQ(valid_utf8("x\xE2\x82"), "x" + r);            // truncated at the end
  EXPECT_EQ(valid_utf8("\x80\x80 \x80"), r + " " + r);    // one replacement per run of bad bytes
  EXPECT_EQ(utf8_floor("a\xC3\xA9", 2), 1u);
  EXPECT_EQ(utf8_floor("a\xC3\xA9", 3), 3u);
  EXPECT_EQ(utf8_floor("ab", 10), 2u);
}

TEST(HtmlReport, HeadlessChromiumLoadsThePageWithoutRunningAnything) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium not installed (Debian package chromium; .ci/html-check installs it and takes a screenshot)";
  RunAnalysis a = hostile_run();
  RoutingAnalysis r = hostile_routing();
  fs::path dir = fs::temp_directory_path() / ("wobble-html-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path page = dir / "hostile.html", dom = dir / "dom.html";
  std::ofstream(page, std::ios::binary) << render(a, &r);
  std::string cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir='" + (dir / "profile").string() +
                    "' --virtual-time-budget=2000 --dump-dom 'file://" + page.string() + "' >'" + dom.string() +
                    "' 2>/dev/null";
  int rc = std::system(cmd.c_str());
  ASSERT_EQ(WEXITSTATUS(rc), 0) << cmd;
  std::ifstream in(dom, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::remove_all(dir);
  ASSERT_NE(text.find("Repeats, aligned"), std::string::npos) << "the page did not render:\n" << text.substr(0, 2000);
  EXPECT_EQ(text.find("pwned"), std::string::npos) << "a payload ran in the browser";
  EXPECT_EQ(lower(text).find("<script"), std::string::npos);
}
