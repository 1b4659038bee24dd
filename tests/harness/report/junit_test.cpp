// JUnit and summary output: counts, failure reasons with evidence, and escaping of hostile text.
#include <gtest/gtest.h>

#include <sstream>

#include "report/report.h"

using namespace wobble;

TEST(JUnit, OneTestcasePerCriterionFailuresCarryEvidenceAndTextIsEscaped) {
  RunRecord run;
  run.id = 3;
  run.suite_name = "s<&>";
  run.status = "complete";
  std::vector<SampleRecord> samples;
  for (int r = 0; r < 3; ++r) {
    SampleRecord s;
    s.case_id = "c\"1";
    s.variant_id = "v";
    s.repeat = r;
    s.ok = true;
    s.output = "<script>alert(1)</script>\x01";
    CriterionResult a, b;
    a.criterion_id = "stable";
    a.outcome = Outcome::kPass;
    b.criterion_id = "flaky";
    b.outcome = r == 1 ? Outcome::kFail : Outcome::kPass;
    b.reason = "no match for </script>";
    b.evidence = {0, 8, "<script>\x02"};
    s.scores = {a, b};
    samples.push_back(s);
  }
  RunAnalysis an = analyze_samples(run, samples);
  std::ostringstream os;
  render_junit(an, os);
  std::string x = os.str();
  EXPECT_NE(x.find("tests=\"2\" failures=\"1\""), std::string::npos) << x;
  EXPECT_NE(x.find("<testcase classname=\"s&lt;&amp;&gt;.c&quot;1.v\" name=\"flaky\">"), std::string::npos) << x;
  EXPECT_NE(x.find("<failure type=\"unstable\" message=\"unstable: 2/3 passed"), std::string::npos) << x;
  // Control characters are shown as visible escapes (util/text_policy.h), never written raw.
  EXPECT_NE(x.find("repeat 1: no match for &lt;/script&gt; [evidence: &lt;script&gt;\\x02]"), std::string::npos) << x;
  EXPECT_EQ(x.find("<script>"), std::string::npos);
  EXPECT_EQ(x.find('\x02'), std::string::npos);
  // Well-formed nesting: every testcase opened is closed.
  size_t open = 0, close = 0;
  for (size_t p = 0; (p = x.find("<testcase ", p)) != std::string::npos; ++p) ++open;
  for (size_t p = 0; (p = x.find("</testcase>", p)) != std::string::npos; ++p) ++close;
  EXPECT_EQ(open, 2u);
  EXPECT_EQ(close, 2u);
  std::ostringstream sm;
  render_summary(an, sm);
  EXPECT_NE(sm.str().find("| c\"1 | v | flaky | 2/3 (0.67) |"), std::string::npos) << sm.str();
  EXPECT_NE(sm.str().find("**1 unstable**"), std::string::npos);
}
