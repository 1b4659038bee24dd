// JUnit XML for CI test reporters: one <testcase> per (case, variant, criterion) with the verdict;
// unstable and stable-fail criteria are failures carrying the reason and the evidence.
#include <cstdio>
#include <map>

#include "report/report.h"
#include "util/text_policy.h"

namespace wobble {

std::string xml_escape(const std::string& raw) {
  // The terminal rule (text_policy.h) first: ill-formed UTF-8 would make the whole file unreadable
  // to an XML parser, XML 1.0 forbids most control characters even escaped, and a bidi override
  // must show in a CI viewer rather than reorder the message.
  std::string s = visible_text(raw, /*keep_newlines=*/true), o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default: o += c;
    }
  }
  return o;
}

void render_junit(const RunAnalysis& a, std::ostream& out, const ReportOptions& opts) {
  int failures = 0, skipped = 0;
  std::vector<size_t> order;
  for (size_t i : a.criteria_by_instability())
    if (!opts.only_unstable || a.criteria[i].verdict == Verdict::kUnstable) order.push_back(i);
  for (size_t i : order) {
    const auto& c = a.criteria[i];
    if (c.verdict == Verdict::kUnstable || c.verdict == Verdict::kStableFail) ++failures;
    if (c.verdict == Verdict::kUnscored) ++skipped;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  // time: the summed provider latency of the run's samples, the closest thing to a test duration.
  const double seconds = a.total_latency_s;
  char time[32];
  std::snprintf(time, sizeof time, "%.3f", seconds);
  // Every provider failure is an <error> testcase of its own, so a CI page shows it even when no
  // criterion could be scored; an incomplete run adds one more.
  const bool incomplete = a.run.status != "complete";
  const size_t errors = a.failures.size() + (incomplete ? 1 : 0);
  const size_t tests = order.size() + errors;
  out << "<testsuites name=\"wobble\" tests=\"" << tests << "\" failures=\"" << failures
      << "\" errors=\"" << errors << "\" skipped=\"" << skipped << "\" time=\"" << time << "\">\n";
  out << "  <testsuite name=\"" << xml_escape(a.run.suite_name + " (run " + std::to_string(a.run.id) + ")")
      << "\" tests=\"" << tests << "\" failures=\"" << failures << "\" errors=\"" << errors << "\" skipped=\"" << skipped
      << "\" time=\"" << time << "\"";
  // JUnit timestamps carry no zone designator; the run's start is UTC.
  if (a.run.started_at.size() >= 19) out << " timestamp=\"" << xml_escape(a.run.started_at.substr(0, 19)) << "\"";
  out << ">\n";
  // The verdict first, as in every format: CI viewers that show properties show these.
  out << "    <properties>\n";
  const auto gate = suite_gate(a);
  auto property = [&](const std::string& name, const std::string& value) {
    out << "      <property name=\"" << xml_escape(name) << "\" value=\"" << xml_escape(value) << "\"/>\n";
  };
  property("wobble.gate", gate ? (gate->passed ? "passed" : "failed") : "no thresholds");
  if (gate)
    for (const auto& c : gate->checks)
      if (!c.passed) property("wobble.gate.failed." + c.name, c.detail);
  property("wobble.unstable", std::to_string(a.unstable));
  property("wobble.stable_fail", std::to_string(a.stable_fail));
  property("wobble.stable_pass", std::to_string(a.stable_pass));
  property("wobble.unscored", std::to_string(a.unscored_criteria));
  property("wobble.provider_failures", std::to_string(a.failed_samples));
  int rank = 0;
  for (size_t i : order) {
    const auto& c = a.criteria[i];
    if (c.verdict != Verdict::kUnstable) break;
    std::string v = c.case_id + "/" + c.variant_id + "/" + c.criterion_id + " " + std::to_string(c.passes) + "/" +
                    std::to_string(c.n);
    if (c.disagreement.pass) v += "; pass #" + std::to_string(c.disagreement.pass->repeat) + " \"" + c.disagreement.pass->text + "\"";
    if (c.disagreement.fail) v += "; fail #" + std::to_string(c.disagreement.fail->repeat) + " \"" + c.disagreement.fail->text + "\"";
    property("wobble.unstable." + std::to_string(++rank), v);
  }
  out << "    </properties>\n";
  // First failing evidence per (case, variant, criterion), kept by the analysis for every sample.
  std::map<std::tuple<std::string, std::string, std::string>, std::string> evidence;
  for (const auto& c : a.criteria)
    if (c.first_fail_repeat >= 0)
      evidence[{c.case_id, c.variant_id, c.criterion_id}] =
          "repeat " + std::to_string(c.first_fail_repeat) + ": " + c.first_fail_reason +
          (c.first_fail_evidence.empty() ? "" : " [evidence: " + c.first_fail_evidence + "]");
  for (size_t i : order) {
    const auto& c = a.criteria[i];
    char rate[96];
    std::snprintf(rate, sizeof rate, "%lld/%lld passed, pass rate %.2f, Wilson 95%% [%.2f, %.2f]",
                  (long long)c.passes, (long long)c.n, c.pass_rate, c.wilson.lo, c.wilson.hi);
    out << "    <testcase classname=\"" << xml_escape(a.run.suite_name + "." + c.case_id + "." + c.variant_id)
        << "\" name=\"" << xml_escape(c.criterion_id) << "\">\n";
    if (c.verdict == Verdict::kUnstable || c.verdict == Verdict::kStableFail) {
      std::string msg = std::string(verdict_name(c.verdict)) + ": " + rate;
      out << "      <failure type=\"" << verdict_name(c.verdict) << "\" message=\"" << xml_escape(msg) << "\">"
          << xml_escape(msg + "\n" + evidence[{c.case_id, c.variant_id, c.criterion_id}]) << "</failure>\n";
    } else if (c.verdict == Verdict::kUnscored) {
      out << "      <skipped message=\"no repeat could be scored\"/>\n";
    }
    out << "      <system-out>" << xml_escape(std::string(verdict_name(c.verdict)) + ": " + rate) << "</system-out>\n";
    out << "    </testcase>\n";
  }
  if (incomplete) {
    std::string msg = "run " + std::to_string(a.run.id) + " is " + a.run.status + ": " +
                      std::to_string(a.total_samples) + " of " + std::to_string(a.run.expected_samples) +
                      " planned samples stored";
    out << "    <testcase classname=\"" << xml_escape(a.run.suite_name) << "\" name=\"run complete\">\n"
        << "      <error type=\"run_" << xml_escape(a.run.status) << "\" message=\"" << xml_escape(msg) << "\">"
        << xml_escape(msg) << "</error>\n    </testcase>\n";
  }
  for (const auto& f : a.failures) {
    std::string msg = "provider failure after " + std::to_string(f.attempts) + " attempt(s): " + f.error;
    out << "    <testcase classname=\"" << xml_escape(a.run.suite_name + "." + f.case_id + "." + f.variant_id)
        << "\" name=\"" << xml_escape("repeat " + std::to_string(f.repeat) + " (provider)") << "\">\n"
        << "      <error type=\"provider_failure\" message=\"" << xml_escape(msg) << "\">" << xml_escape(msg)
        << "</error>\n    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
}

void render_summary(const RunAnalysis& a, std::ostream& out, const ReportOptions& opts) {
  out << "### Wobble: " << md_inline(a.run.suite_name) << " (run " << a.run.id << ")\n\n";
  for (const auto& alert : a.alerts) out << "> **Warning:** " << md_inline(alert, 400) << "\n\n";
  render_verdict_markdown(a, opts, out, "####");
  constexpr size_t kLimit = 50;
  render_unstable_markdown(a, out, "####", kLimit);
  if (opts.only_unstable || a.stable_fail == 0) return;
  out << "#### Stable-fail criteria\n\n| Case | Variant | Criterion | Passed | Expected |\n|---|---|---|---|---|\n";
  size_t shown = 0;
  for (size_t i : a.criteria_by_instability()) {
    const auto& c = a.criteria[i];
    if (c.verdict != Verdict::kStableFail) continue;
    if (++shown > kLimit) break;
    out << "| " << md_inline(c.case_id) << " | " << md_inline(c.variant_id) << " | " << md_inline(c.criterion_id)
        << " | " << c.passes << "/" << c.n << " | " << (c.expected.empty() ? "—" : md_inline(c.expected, 60)) << " |\n";
  }
  if (shown > kLimit) out << "\n(only the first " << kLimit << " stable-fail criteria are listed; see the full report)\n";
}

}  // namespace wobble
