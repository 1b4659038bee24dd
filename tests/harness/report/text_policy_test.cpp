// The text policy (util/text_policy.h): hostile bytes from a model, a server or a file (ill-formed
// UTF-8, terminal escape sequences, CR, bidi overrides) through every output medium. JSON must
// parse, JUnit must be well-formed XML, and no terminal-facing output may carry a raw control
// character or bidi control.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "analysis/compare.h"
#include "report/html_text.h"
#include "report/report.h"
#include "report/sample_view.h"
#include "suite/suite.h"
#include "support/scratch.h"
#include "support/text_checks.h"
#include "util/error.h"
#include "util/text_policy.h"
#include "util/url.h"
#include "util/utf8.h"

using namespace wobble;
using wobble::testing::terminal_problem;
using wobble::testing::xml_problem;
using wobble::testing::kHostile;

namespace {

RunAnalysis hostile_analysis(int64_t id) {
  RunRecord run;
  run.id = id;
  run.suite_name = "suite " + kHostile;
  run.suite_path = "/tmp/" + kHostile;
  run.model_id = "model " + kHostile;
  run.status = "complete";
  run.started_at = "2026-01-01T00:00:00Z";
  run.sampling = {{"temperature", 0.5}, {"stop", {kHostile}}};
  run.repeats = 3;
  run.expected_samples = 4;
  std::vector<SampleRecord> samples;
  for (int r = 0; r < 4; ++r) {
    SampleRecord s;
    s.id = r + 1;
    s.case_id = "case " + kHostile;
    s.variant_id = "v\xFF";
    s.repeat = r;
    s.prompt = "prompt " + kHostile;
    s.ok = r != 3;
    s.output = s.ok ? "out " + std::to_string(r % 2) + " " + kHostile : "";
    s.error = s.ok ? "" : "HTTP 500: " + kHostile;
    s.finish_reason = "stop";
    s.extracted_answer = "ans\xC3";
    Attempt a;
    a.index = 1;
    a.http_status = s.ok ? 200 : 500;
    a.outcome = s.ok ? "ok" : "http_error";
    a.error = s.error;
    s.attempts = {a};
    if (s.ok) {
      CriterionResult c;
      c.criterion_id = "crit " + kHostile;
      c.outcome = r % 2 ? Outcome::kFail : Outcome::kPass;
      c.score = r % 2 ? 0 : 1;
      c.reason = "reason " + kHostile;
      c.evidence = {0, 3, "ev " + kHostile};
      c.expected = "exp " + kHostile;
      s.scores = {c};
    }
    samples.push_back(s);
  }
  return analyze_samples(run, samples);
}

}  // namespace

TEST(TextPolicy, TerminalRuleEscapesControlsAndBidiVisibly) {
  EXPECT_EQ(term_line("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(term_line("ok\rPASS\x07"), "ok\\rPASS\\x07");
  EXPECT_EQ(term_line("x\ny\tz"), "x\\ny\\tz");
  EXPECT_EQ(term_text("x\ny\tz"), "x\ny\tz");
  EXPECT_EQ(term_text("line\r\nnext\rover"), "line\nnext\\rover");  // CRLF prints as LF
  EXPECT_EQ(term_line("\xE2\x80\xAE" "abc"), "\\u202eabc");
  EXPECT_EQ(term_line("\xE2\x81\xA6" "i" "\xE2\x81\xA9"), "\\u2066i\\u2069");
  EXPECT_EQ(term_line("\xC2\x9B" "31m"), "\\u009b31m");
  EXPECT_EQ(term_line("\x7f"), "\\x7f");
  EXPECT_EQ(term_line("t\xF3\xA0\x81\x81"), "t\\U000e0041");
  EXPECT_EQ(term_line("bad\xFF\xFE!"), "bad\xEF\xBF\xBD!");
  // Ordinary text is untouched: accents, CJK, emoji, RTL letters (only the controls are escaped).
  const std::string plain = "café 日本 🙂 שלום \\x1b-literal";
  EXPECT_EQ(term_text(plain), plain);
  EXPECT_EQ(terminal_problem(term_text(kHostile)), "");
  EXPECT_EQ(terminal_problem(term_line(kHostile)), "");
  EXPECT_EQ(term_line(kHostile).find('\n'), std::string::npos);
}

TEST(TextPolicy, ClipsOnCharacterBoundaries) {
  std::string s = std::string(199, 'x') + "€";  // € is 3 bytes at 199..201
  EXPECT_EQ(clip_utf8(s, 200), std::string(199, 'x'));
  EXPECT_EQ(clip_utf8(s, 202), s);
  EXPECT_EQ(clip_utf8("abc", 10), "abc");
  EXPECT_EQ(term_line("é" "é", 3), "é…");
  EXPECT_EQ(term_cell("abcdef", 4), "abc…");
  EXPECT_EQ(term_cell("abcd", 4), "abcd");
  EXPECT_EQ(term_cell("a\x1b[2J", 4), "a\\x…");
  EXPECT_EQ(term_cell("日本語", 3), "日本語");
  EXPECT_EQ(display_width("é日x"), 3u);
  EXPECT_EQ(pad_right("é", 3), "é  ");
}

TEST(TextPolicy, DumpJsonRepairsIllFormedUtf8AndEscapesInvisibleCharacters) {
  nlohmann::json j = {{"out", "a\xFF" "b"}, {"k\xC3", nlohmann::json::array({"x\xE2\x82"})}, {"bidi", "\xE2\x80\xAE" "z"}, {"n", 1}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);  // what `report --format json` died of
  std::string text = dump_json(j, 2);
  nlohmann::json back = nlohmann::json::parse(text);
  EXPECT_EQ(back["out"], "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(back["k\xEF\xBF\xBD"][0], "x\xEF\xBF\xBD");
  // Bidi controls and C1 are written as escapes but decode to the same string.
  EXPECT_NE(text.find("\\u202e"), std::string::npos) << text;
  EXPECT_EQ(back["bidi"], "\xE2\x80\xAE" "z");
  EXPECT_EQ(terminal_problem(text), "");
  EXPECT_EQ(terminal_problem(dump_json(nlohmann::json(kHostile))), "");
  EXPECT_EQ(nlohmann::json::parse(dump_json(nlohmann::json("t\xF3\xA0\x81\x81"))), "t\xF3\xA0\x81\x81");
  // Valid input: same bytes as nlohmann's own writer.
  nlohmann::json ok = {{"a", "café"}, {"b", {1, 2.5, nullptr}}};
  EXPECT_EQ(dump_json(ok), ok.dump());
  EXPECT_EQ(dump_json(ok, 2), ok.dump(2));
}

TEST(TextPolicy, EveryReportFormatSurvivesHostileText) {
  RunAnalysis a = hostile_analysis(5);
  // JSON: parses, and every stored string appears (repaired), e.g. the error body.
  std::string js = dump_json(report_json(a), 2);
  nlohmann::json j = nlohmann::json::parse(js);
  EXPECT_EQ(j["run"]["suite"], valid_utf8(a.run.suite_name));
  EXPECT_EQ(j["samples"].size(), 4u);
  EXPECT_EQ(terminal_problem(js), "");

  std::ostringstream junit, md, summary, html;
  render_junit(a, junit);
  render_markdown(a, md);
  render_summary(a, summary);
  render_html(a, html);
  EXPECT_EQ(xml_problem(junit.str()), "") << junit.str();
  EXPECT_NE(junit.str().find("\\x1b[2J"), std::string::npos) << "escapes are shown, not dropped";
  EXPECT_NE(junit.str().find("\\u202e"), std::string::npos);
  EXPECT_EQ(terminal_problem(md.str()), "") << md.str();
  EXPECT_EQ(terminal_problem(summary.str()), "") << summary.str();
  EXPECT_NE(md.str().find("\\u202eevil"), std::string::npos);
  // HTML: valid UTF-8, no raw control or bidi character, the override is visible as text.
  EXPECT_EQ(terminal_problem(html.str()), "");
  EXPECT_NE(html.str().find("\\u202eevil"), std::string::npos);
  EXPECT_NE(html.str().find("ok\\rPASS"), std::string::npos);

  // A comparison of two such runs, in its Markdown and JSON forms.
  RunComparison c = compare_runs(a, hostile_analysis(6));
  std::ostringstream cmd;
  render_comparison_markdown(c, cmd);
  EXPECT_EQ(terminal_problem(cmd.str()), "");
  EXPECT_NO_THROW({ auto parsed = nlohmann::json::parse(dump_json(comparison_json(c))); (void)parsed; });
}

TEST(TextPolicy, SummaryNeverCutsANameInsideACharacter) {
  // Long multi-byte names used to go through a 256-byte snprintf buffer.
  RunAnalysis a = hostile_analysis(1);
  for (auto& c : a.criteria) c.case_id = std::string(100, 'x') + std::string(40, '\0') + "日本語日本語日本語日本語";
  for (auto& c : a.criteria) c.criterion_id = "日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語";
  std::ostringstream s;
  render_summary(a, s);
  EXPECT_EQ(valid_utf8(s.str()), s.str());
  EXPECT_NE(s.str().find("Unstable criteria, most unstable first"), std::string::npos) << s.str();
  EXPECT_NE(s.str().find("日本語日本語"), std::string::npos) << s.str();
}

TEST(TextPolicy, MarkdownInlineKeepsItsEscapes) {
  EXPECT_EQ(md_inline("a|b`c<d>\ne"), "a\\|b'c&lt;d&gt;⏎e");
  EXPECT_EQ(md_inline("x\x1b[31my"), "x\\x1b[31my");
  EXPECT_EQ(md_inline("\xE2\x80\xAE"), "\\u202e");
  EXPECT_EQ(md_inline("ééé", 2), "éé…");
}

TEST(TextPolicy, HtmlMarksBidiOverridesAndControls) {
  EXPECT_EQ(html_escape("a\xE2\x80\xAE<b>"), "a\\u202e&lt;b&gt;");
  EXPECT_EQ(html_escape("t\x1b]0;x\x07"), "t\\x1b]0;x\\x07");
  std::string marked = html_marked_text("ab\xE2\x80\xAE" "cd", {{0, 2, "ev", "title\xE2\x80\xAE"}}, 100);
  EXPECT_EQ(marked.find("\xE2\x80\xAE"), std::string::npos) << marked;
  EXPECT_NE(marked.find("\\u202ecd"), std::string::npos) << marked;
}

TEST(TextPolicy, ShowViewHoldsEveryStoredFact) {
  SampleRecord s;
  s.case_id = "add";
  s.variant_id = "plain";
  s.repeat = 2;
  s.seed = 77;
  s.ok = true;
  s.prompt = "What is 2+3?\nAnswer <briefly> | `now`";
  s.output = "Answer: 5 <ok> | `x`\n\x1b[2Jsecond line";
  s.output_original_bytes = 5000;
  s.finish_reason = "length";
  s.prompt_tokens = 12;
  s.completion_tokens = 4;
  s.latency_s = 0.25;
  s.model_reported = "fake-model-2026\x1b[31m";
  s.extracted_answer = "5";
  s.logprobs = {{"Answer", -0.5, {{"Answer", -0.5}, {"The", -1.5}}}, {":", -0.1, {}}, {" 5", -2.0, {}}};
  CriterionResult c;
  c.criterion_id = "correct";
  c.outcome = Outcome::kPass;
  c.score = 1;
  c.evidence = {8, 9, "5"};
  c.reason = "answer 5 matches\x07";
  c.expected = "5";
  s.scores = {c};
  Attempt a1, a2;
  a1.index = 1;
  a1.http_status = 429;
  a1.outcome = "http_error";
  a1.error = "HTTP 429: {\"error\":{\"message\":\"rate limited\"}}";
  a1.latency_s = 0.01;
  a1.retry_after_s = 1.5;
  a2.index = 2;
  a2.http_status = 200;
  a2.outcome = "ok";
  a2.latency_s = 0.25;
  s.attempts = {a1, a2};

  std::ostringstream os;
  render_sample_text(s, os, /*per_token_logprobs=*/false);
  std::string t = os.str();
  EXPECT_EQ(terminal_problem(t), "") << t;
  // Text as text: no Markdown escaping of <, |, backticks.
  EXPECT_NE(t.find("    Answer: 5 <ok> | `x`\n    \\x1b[2Jsecond line\n"), std::string::npos) << t;
  EXPECT_NE(t.find("    What is 2+3?\n    Answer <briefly> | `now`\n"), std::string::npos) << t;
  EXPECT_NE(t.find("cut by wobble to"), std::string::npos) << t;
  EXPECT_NE(t.find("5000 bytes"), std::string::npos) << t;
  EXPECT_NE(t.find("finish: length"), std::string::npos) << t;
  EXPECT_NE(t.find("12 prompt, 4 completion"), std::string::npos) << t;
  EXPECT_NE(t.find("latency: 0.250 s"), std::string::npos) << t;
  EXPECT_NE(t.find("model: fake-model-2026\\x1b[31m"), std::string::npos) << t;
  EXPECT_NE(t.find("logprobs: 3 tokens, mean -0.867, min -2.000 at token 2 \" 5\""), std::string::npos) << t;
  EXPECT_EQ(t.find("top:"), std::string::npos) << "per-token list only on request";
  EXPECT_NE(t.find("pass      correct  score 1.00  @8-9  evidence \"5\"  expected \"5\"  — answer 5 matches\\x07"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("#1 http_error    HTTP 429  0.010 s, then waited 1.50 s  HTTP 429: {\"error\""), std::string::npos)
      << t;
  EXPECT_NE(t.find("#2 ok            HTTP 200"), std::string::npos) << t;
  std::ostringstream per;
  render_sample_text(s, per, true);
  EXPECT_NE(per.str().find("\"Answer\"   top: \"Answer\" -0.500 \"The\" -1.500"), std::string::npos) << per.str();

  // The provider a sample ran on is named in its header (and in the JSON), through the terminal rule.
  EXPECT_EQ(t.find(" on "), std::string::npos) << "no provider id, no provider";
  SampleRecord on = s;
  on.provider_id = "hosted\x1b[1m";
  std::ostringstream os_on;
  render_sample_text(on, os_on, false);
  EXPECT_EQ(os_on.str().rfind("== add / plain #2 on hosted\\x1b[1m (seed 77", 0), 0u) << os_on.str();
  EXPECT_EQ(nlohmann::json::parse(dump_json(sample_json(on)))["provider"], on.provider_id);

  nlohmann::json j = nlohmann::json::parse(dump_json(sample_json(s)));
  EXPECT_EQ(j["provider"], "");
  EXPECT_EQ(j["prompt"], s.prompt);
  EXPECT_EQ(j["output"], s.output);
  EXPECT_EQ(j["output_original_bytes"], 5000);
  EXPECT_EQ(j["finish_reason"], "length");
  EXPECT_EQ(j["prompt_tokens"], 12);
  EXPECT_EQ(j["completion_tokens"], 4);
  EXPECT_EQ(j["model_reported"], s.model_reported);
  EXPECT_EQ(j["extracted_answer"], "5");
  EXPECT_EQ(j["logprobs"]["tokens"].size(), 3u);
  EXPECT_EQ(j["logprobs"]["tokens"][0]["top"][1]["token"], "The");
  EXPECT_DOUBLE_EQ(j["logprobs"]["min"].get<double>(), -2.0);
  EXPECT_EQ(j["logprobs"]["min_index"], 2);
  EXPECT_EQ(j["scores"][0]["evidence_start"], 8);
  EXPECT_EQ(j["scores"][0]["evidence"], "5");
  EXPECT_EQ(j["scores"][0]["reason"], c.reason);
  EXPECT_EQ(j["attempts"][0]["http_status"], 429);
  EXPECT_EQ(j["attempts"][0]["error"], a1.error);
  EXPECT_DOUBLE_EQ(j["attempts"][0]["retry_after_s"].get<double>(), 1.5);

  // Unknown counts are null / "?", a failed sample shows its error instead of an output.
  SampleRecord f;
  f.case_id = "c";
  f.variant_id = "v";
  f.error = "HTTP 500: \x1b[2Jboom";
  std::ostringstream fo;
  render_sample_text(f, fo, false);
  EXPECT_NE(fo.str().find("provider failure: HTTP 500: \\x1b[2Jboom"), std::string::npos) << fo.str();
  EXPECT_NE(fo.str().find("tokens: ? prompt, ? completion"), std::string::npos) << fo.str();
  nlohmann::json fj = sample_json(f);
  EXPECT_TRUE(fj["prompt_tokens"].is_null());
  EXPECT_TRUE(fj["logprobs"].is_null());
  EXPECT_TRUE(fj["output_original_bytes"].is_null());
}

TEST(TextPolicy, UserinfoIsStrippedFromBaseUrls) {
  EXPECT_EQ(url_without_userinfo("http://user:sk-abc@host:8000/v1"), "http://host:8000/v1");
  EXPECT_EQ(url_without_userinfo("https://sk-abc@host/v1"), "https://host/v1");
  EXPECT_EQ(url_without_userinfo("http://a:b@c@host/v1"), "http://host/v1");  // last '@' of the authority
  EXPECT_EQ(url_without_userinfo("http://host/v1/u@x?k=a@b"), "http://host/v1/u@x?k=a@b");  // '@' in path/query
  EXPECT_EQ(url_without_userinfo("http://host"), "http://host");
  EXPECT_TRUE(url_has_userinfo("http://u:p@h"));
  EXPECT_FALSE(url_has_userinfo("http://h/@x"));

  std::string dir = testsupport::scratch_path("userinfo-suite");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/s.yaml") << "name: s\nprovider:\n  kind: openai\n  base_url: http://bob:sk-INURL-77@127.0.0.1:9/v1/\n"
                                    "  model: m\n  api_key_env: SOME_KEY\nrepeats: 1\nvariants:\n  - id: v\n    prompt: hi\n"
                                    "cases:\n  - id: c\n    rubric:\n      - {id: k, scorer: regex, args: {pattern: hi}}\n";
  ::testing::internal::CaptureStderr();
  Suite s = load_suite(dir + "/s.yaml");
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(s.provider.base_url, "http://127.0.0.1:9/v1");
  EXPECT_NE(err.find("s.yaml:4: provider.base_url: credentials in the URL were removed"), std::string::npos) << err;
  EXPECT_NE(err.find("api_key_env"), std::string::npos) << err;
  EXPECT_EQ(err.find("sk-INURL-77"), std::string::npos) << err;
  EXPECT_EQ(dump_json(suite_to_json(s)).find("sk-INURL-77"), std::string::npos);
  // A spec built by hand with userinfo still never records it.
  ProviderSpec p = s.provider;
  p.base_url = "http://bob:sk-INURL-77@127.0.0.1:9/v1";
  EXPECT_EQ(dump_json(p.to_json()).find("sk-INURL-77"), std::string::npos);
}

TEST(TextPolicy, SuiteFilesMustBeUtf8) {
  // Ids and names are kept in JSON columns too (the run plan), where ill-formed bytes would be
  // repaired and no longer match the samples' exact ids: a resume would then run them again.
  std::string dir = testsupport::scratch_path("utf8-suite");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/bad.yaml") << "name: s\nvariants:\n  - id: v\n    prompt: hi\ncases:\n  - id: \"c\xFE\"\n"
                                      "    rubric:\n      - {id: k, scorer: regex, args: {pattern: hi}}\n";
  try {
    (void)load_suite(dir + "/bad.yaml");
    ADD_FAILURE() << "a suite with ill-formed UTF-8 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 6);
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 (byte 0xFE at column 11)"), std::string::npos) << e.what();
    EXPECT_EQ(e.exit_code(), kExitUsage);
  }
  EXPECT_EQ(first_invalid_utf8("ok é"), std::string::npos);
  EXPECT_EQ(first_invalid_utf8("ok \xC3("), 3u);
}

TEST(TextPolicy, EveryJsonDumpInSrcGoesThroughDumpJson) {
  // nlohmann's dump() throws on ill-formed UTF-8 (type_error.316); src/ must call dump_json().
  const std::filesystem::path src = std::filesystem::path(WOBBLE_SOURCE_DIR) / "src";
  std::regex raw_dump(R"((\.|->)dump\()");
  std::vector<std::string> offenders;
  for (const auto& e : std::filesystem::recursive_directory_iterator(src)) {
    if (!e.is_regular_file() || e.path().filename() == "text_policy.cpp") continue;
    std::ifstream in(e.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      if (std::regex_search(line, raw_dump)) offenders.push_back(e.path().string() + ":" + std::to_string(n));
  }
  EXPECT_TRUE(offenders.empty()) << "raw dump() at " << ::testing::PrintToString(offenders);
}
