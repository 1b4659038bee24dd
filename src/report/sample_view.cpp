#include "report/sample_view.h"

#include <cmath>
#include <cstdio>
#include <iomanip>

#include "util/text_policy.h"

namespace wobble {
namespace {

nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }
nlohmann::json count_or_null(int64_t x) { return x >= 0 ? nlohmann::json(x) : nlohmann::json(nullptr); }

std::string fixed(double x, int digits) {
  if (!std::isfinite(x)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

struct LogprobSummary {
  size_t tokens = 0;
  double mean = NAN, min = NAN;
  size_t min_at = 0;
};

LogprobSummary summarize_logprobs(const std::vector<TokenLogprob>& lp) {
  LogprobSummary s;
  double sum = 0;
  for (size_t i = 0; i < lp.size(); ++i) {
    if (!std::isfinite(lp[i].logprob)) continue;
    if (s.tokens == 0 || lp[i].logprob < s.min) s.min = lp[i].logprob, s.min_at = i;
    sum += lp[i].logprob;
    ++s.tokens;
  }
  if (s.tokens) s.mean = sum / double(s.tokens);
  return s;
}

}  // namespace

nlohmann::json sample_json(const SampleRecord& s) {
  nlohmann::json sj = {{"case", s.case_id}, {"variant", s.variant_id}, {"repeat", s.repeat}, {"seed", s.seed},
                       {"ok", s.ok}, {"prompt", s.prompt}, {"output", s.output},
                       {"output_original_bytes", count_or_null(s.output_original_bytes)},
                       {"finish_reason", s.finish_reason}, {"prompt_tokens", count_or_null(s.prompt_tokens)},
                       {"completion_tokens", count_or_null(s.completion_tokens)}, {"latency_s", s.latency_s},
                       {"model_reported", s.model_reported}, {"provider", s.provider_id}, {"error", s.error},
                       {"attempts", nlohmann::json::array()}, {"scores", nlohmann::json::array()}};
  sj["extracted_answer"] = s.extracted_answer ? nlohmann::json(*s.extracted_answer) : nlohmann::json(nullptr);
  for (const auto& a : s.attempts)
    sj["attempts"].push_back({{"index", a.index}, {"http_status", a.http_status}, {"outcome", a.outcome},
                              {"error", a.error}, {"latency_s", a.latency_s}, {"retry_after_s", a.retry_after_s}});
  const bool parts = s.ok && s.reasoning_form != ReasoningForm::kNone;  // only then: older outputs print as before
  if (parts)
    sj["reasoning"] = {{"form", reasoning_form_name(s.reasoning_form)}, {"text", s.reasoning},
                       {"closed", s.reasoning_closed}, {"answer", s.answer}};
  for (const auto& c : s.scores) {
    nlohmann::json cj = {{"criterion", c.criterion_id}, {"outcome", outcome_name(c.outcome)}, {"score", c.score},
                         {"evidence_start", c.evidence.start}, {"evidence_end", c.evidence.end},
                         {"evidence", c.evidence.text}, {"reason", c.reason}, {"expected", c.expected}};
    if (parts) cj["evidence_in"] = scope_name(c.scope);
    sj["scores"].push_back(cj);
  }
  if (s.logprobs.empty()) {
    sj["logprobs"] = nullptr;
  } else {
    LogprobSummary sum = summarize_logprobs(s.logprobs);
    nlohmann::json tokens = nlohmann::json::array();
    for (const auto& t : s.logprobs) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [tok, lp] : t.top) top.push_back({{"token", tok}, {"logprob", finite_or_null(lp)}});
      tokens.push_back({{"token", t.token}, {"logprob", finite_or_null(t.logprob)}, {"top", top}});
    }
    sj["logprobs"] = {{"tokens", tokens}, {"mean", finite_or_null(sum.mean)}, {"min", finite_or_null(sum.min)},
                      {"min_index", sum.tokens ? nlohmann::json(sum.min_at) : nlohmann::json(nullptr)}};
  }
  return sj;
}

namespace {

// Multi-line text, each line indented, through the terminal rule.
void print_block(std::ostream& out, const std::string& label, const std::string& text, const std::string& note = "") {
  out << "  " << label << note << ":";
  if (text.empty()) {
    out << " (empty)\n";
    return;
  }
  out << "\n";
  std::string shown = term_text(text);
  size_t start = 0;
  while (start <= shown.size()) {
    size_t nl = shown.find('\n', start);
    if (nl == std::string::npos) nl = shown.size();
    out << "    " << std::string_view(shown).substr(start, nl - start) << "\n";
    if (nl == shown.size()) break;
    start = nl + 1;
  }
}

}  // namespace

void render_sample_text(const SampleRecord& s, std::ostream& out, bool per_token) {
  out << "== " << term_line(s.case_id) << " / " << term_line(s.variant_id) << " #" << s.repeat;
  if (!s.provider_id.empty()) out << " on " << term_line(s.provider_id);
  out << " (seed " << s.seed
      << ", " << s.attempts.size() << " attempt" << (s.attempts.size() == 1 ? "" : "s") << ")\n";
  print_block(out, "prompt", s.prompt);
  if (s.ok) {
    std::string note;
    if (s.output_original_bytes >= 0)
      note = " (cut by wobble to " + std::to_string(s.output.size()) + " of " + std::to_string(s.output_original_bytes) +
             " bytes)";
    print_block(out, "output", s.output, note);
    if (s.reasoning_form != ReasoningForm::kNone) {
      // The two parts the criteria grade (rubrics/README.md, "Reasoning and answer").
      print_block(out, std::string("reasoning part (") + reasoning_form_name(s.reasoning_form) + ")", s.reasoning,
                  s.reasoning_closed ? "" : " (never ended: no answer)");
      print_block(out, "answer part", s.answer);
    }
  } else {
    out << "  provider failure: " << term_line(s.error) << "\n";
  }
  out << "  finish: " << (s.finish_reason.empty() ? "?" : term_line(s.finish_reason)) << "   tokens: "
      << (s.prompt_tokens >= 0 ? std::to_string(s.prompt_tokens) : "?") << " prompt, "
      << (s.completion_tokens >= 0 ? std::to_string(s.completion_tokens) : "?") << " completion   latency: "
      << fixed(s.latency_s, 3) << " s   model: " << (s.model_reported.empty() ? "(not reported)" : term_line(s.model_reported))
      << "\n";
  if (s.extracted_answer) out << "  answer: " << term_line(*s.extracted_answer) << "\n";
  if (!s.logprobs.empty()) {
    LogprobSummary sum = summarize_logprobs(s.logprobs);
    out << "  logprobs: " << s.logprobs.size() << " tokens, mean " << fixed(sum.mean, 3) << ", min " << fixed(sum.min, 3);
    if (sum.tokens) out << " at token " << sum.min_at << " \"" << term_line(s.logprobs[sum.min_at].token) << "\"";
    out << "\n";
    if (per_token) {
      for (size_t i = 0; i < s.logprobs.size(); ++i) {
        const auto& t = s.logprobs[i];
        out << "    " << std::setw(5) << i << "  " << std::setw(9) << fixed(t.logprob, 4) << "  \"" << term_line(t.token)
            << "\"";
        if (!t.top.empty()) {
          out << "   top:";
          for (const auto& [tok, lp] : t.top) out << " \"" << term_line(tok) << "\" " << fixed(lp, 3);
        }
        out << "\n";
      }
    }
  }
  if (!s.scores.empty()) out << "  criteria:\n";
  for (const auto& c : s.scores) {
    out << "    " << pad_right(outcome_name(c.outcome), 9) << " " << term_line(c.criterion_id) << "  score "
        << fixed(c.score, 2);
    if (c.evidence.start >= 0) {
      out << "  @" << c.evidence.start << "-" << c.evidence.end;
      if (s.reasoning_form != ReasoningForm::kNone) out << " in " << scope_name(c.scope);
    }
    if (!c.evidence.text.empty()) out << "  evidence \"" << term_line(c.evidence.text) << "\"";
    if (!c.expected.empty()) out << "  expected \"" << term_line(c.expected) << "\"";
    if (!c.reason.empty()) out << "  — " << term_line(c.reason);
    out << "\n";
  }
  if (!s.attempts.empty()) out << "  attempts:\n";
  for (const auto& a : s.attempts) {
    out << "    #" << a.index << " " << pad_right(term_line(a.outcome), 13) << " "
        << (a.http_status ? "HTTP " + std::to_string(a.http_status) : std::string("no HTTP")) << "  "
        << fixed(a.latency_s, 3) << " s";
    if (a.retry_after_s > 0) out << ", then waited " << fixed(a.retry_after_s, 2) << " s";
    if (!a.error.empty()) out << "  " << term_line(a.error);
    out << "\n";
  }
}

}  // namespace wobble
