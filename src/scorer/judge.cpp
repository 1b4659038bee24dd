#include "scorer/judge.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

constexpr size_t kMaxReplyBytes = 64 * 1024;  // a grading reply is a few hundred bytes; more is not JSON we asked for
constexpr size_t kMaxQuotes = 32;


// The normalised text and, for each of its bytes, the offset of the original byte it came from
// (a collapsed run maps to its first whitespace byte).
struct Normalised {
  std::string text;
  std::vector<size_t> origin;
};

Normalised normalise(const std::string& s) {
  Normalised n;
  n.text.reserve(s.size());
  n.origin.reserve(s.size());
  size_t i = 0;
  while (i < s.size() && is_evidence_space(static_cast<unsigned char>(s[i]))) ++i;
  size_t end = s.size();
  while (end > i && is_evidence_space(static_cast<unsigned char>(s[end - 1]))) --end;
  while (i < end) {
    if (is_evidence_space(static_cast<unsigned char>(s[i]))) {
      n.text.push_back(' ');
      n.origin.push_back(i);
      while (i < end && is_evidence_space(static_cast<unsigned char>(s[i]))) ++i;
    } else {
      n.text.push_back(s[i]);
      n.origin.push_back(i);
      ++i;
    }
  }
  return n;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_evidence_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && is_evidence_space(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

JudgeGrading faulted(JudgeGrading g, JudgeFault f, std::string detail) {
  g.fault = f;
  g.fault_detail = std::move(detail);
  g.verdict.clear();
  return g;
}

// The scorer entry in the table: it validates the arguments when the suite loads. Grading needs a
// judge model, which the runner's judge pool holds; scored on its own (no pool), the criterion
// stays unscored rather than guessing.
class JudgeScorer : public Scorer {
 public:
  explicit JudgeScorer(const CriterionSpec& spec) { JudgeCriterion::parse(spec); }
  CriterionResult score(const ScoreInput&) const override {
    return unscored("not graded: the judge did not run for this output");
  }
};

}  // namespace

std::unique_ptr<Scorer> make_judge_scorer(const CriterionSpec& spec) { return std::make_unique<JudgeScorer>(spec); }

JudgeCriterion JudgeCriterion::parse(const CriterionSpec& spec) {
  ScorerArgs a(spec, {"rubric", "scale", "threshold", "expect_missing", "judge"});
  JudgeCriterion c;
  c.rubric = a.string("rubric");
  if (trimmed(c.rubric).empty()) a.fail("rubric", "must say in words what the judge checks");
  std::string scale = a.opt_string("scale").value_or("pass-fail");
  if (scale == "1-5") c.five_point = true;
  else if (scale != "pass-fail") a.fail("scale", "must be 'pass-fail' or '1-5', got '" + scale + "'");
  if (auto t = a.opt_number("threshold")) {
    if (!c.five_point) a.fail("threshold", "applies to scale 1-5 only");
    if (*t < 1 || *t > 5 || *t != double(int(*t))) a.fail("threshold", "must be a whole number from 1 to 5");
    c.threshold = int(*t);
  }
  c.expect_missing = a.flag("expect_missing");
  if (spec.negate) a.fail("", "'not' cannot wrap the judge scorer; state the criterion the other way round in the rubric");
  const auto& raw = a.raw();
  if (raw.contains("judge")) {
    const auto& j = raw["judge"];
    if (!j.is_object()) a.fail("judge", "expected a mapping (model, repeats, temperature, max_tokens)");
    for (const auto& [key, v] : j.items()) {
      if (key == "model") {
        if (!v.is_string() || v.get<std::string>().empty()) a.fail("judge.model", "expected a model name");
        c.model = v.get<std::string>();
      } else if (key == "repeats") {
        if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 25)
          a.fail("judge.repeats", "must be a whole number from 1 to 25");
        c.repeats = int(v.get<int64_t>());
      } else if (key == "temperature") {
        if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 100)
          a.fail("judge.temperature", "must be a number from 0 to 100");
        c.sampling.temperature = v.get<double>();
      } else if (key == "max_tokens") {
        if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > (1 << 20))
          a.fail("judge.max_tokens", "must be a whole number from 1 to 1048576");
        c.sampling.max_tokens = int(v.get<int64_t>());
      } else {
        a.fail("judge." + key, "unknown judge override (expected model, repeats, temperature or max_tokens)");
      }
    }
  }
  return c;
}

JudgeSpec effective_judge(const JudgeSpec& suite_judge, const JudgeCriterion& c) {
  JudgeSpec j = suite_judge;
  if (c.model) {
    if (j.provider.kind == "openai") j.provider.model = *c.model;
    else j.provider.model_path = *c.model;
  }
  if (c.repeats) j.repeats = *c.repeats;
  j.sampling = j.sampling.overlaid_with(c.sampling);
  return j;
}

JudgePrompt build_judge_prompt(const std::string& task, const std::string& output, const std::string& rubric,
                               bool five_point) {
  JudgePrompt p;
  p.system = five_point ? "You are a strict grader. Reply with JSON only: {\"verdict\": 1 to 5, \"evidence\": "
                          "[\"exact quote from the output\"], \"reason\": \"short reason\"}"
                        : "You are a strict grader. Reply with JSON only: {\"verdict\": \"pass\" or \"fail\", "
                          "\"evidence\": [\"exact quote from the output\"], \"reason\": \"short reason\"}";
  p.user = "Task:\n" + task + "\n\nOutput:\n" + output + "\n\nCriterion:\n" + rubric;
  return p;
}

std::string judge_task_text(const RenderedPrompt& p) {
  if (p.prompt) return *p.prompt;
  for (auto it = p.messages.rbegin(); it != p.messages.rend(); ++it)
    if (it->role == "user") return it->content;
  return p.messages.empty() ? "" : p.messages.back().content;
}

const char* judge_fault_name(JudgeFault f) {
  switch (f) {
    case JudgeFault::kNone: return "";
    case JudgeFault::kProvider: return "provider";
    case JudgeFault::kMalformed: return "malformed";
    case JudgeFault::kHallucinated: return "hallucinated";
    case JudgeFault::kUnquotedFail: return "unquoted-fail";
    case JudgeFault::kCancelled: return "cancelled";
  }
  return "";
}

JudgeFault judge_fault_from(const std::string& name) {
  for (JudgeFault f : {JudgeFault::kProvider, JudgeFault::kMalformed, JudgeFault::kHallucinated,
                       JudgeFault::kUnquotedFail, JudgeFault::kCancelled})
    if (name == judge_fault_name(f)) return f;
  return JudgeFault::kNone;
}

std::optional<Evidence> find_quote(const std::string& output, const std::string& quote) {
  Normalised q = normalise(quote);
  if (q.text.empty()) return std::nullopt;
  Normalised o = normalise(output);
  size_t pos = o.text.find(q.text);
  if (pos == std::string::npos) return std::nullopt;
  size_t last = pos + q.text.size() - 1;
  size_t start = o.origin[pos];
  // The last normalised byte is never a collapsed space (the quote is trimmed), so it maps to one byte.
  size_t end = o.origin[last] + 1;
  return span(output, start, end);
}

JudgeGrading interpret_judge_reply(const std::string& reply, const std::string& output, const JudgeCriterion& c) {
  JudgeGrading g;
  g.raw = reply.size() > kMaxReplyBytes ? clip(reply, kMaxReplyBytes) : reply;
  if (reply.size() > kMaxReplyBytes)
    return faulted(g, JudgeFault::kMalformed, "reply is " + std::to_string(reply.size()) + " bytes, over the 64 KiB a grading may take");
  size_t open = reply.find('{'), close = reply.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return faulted(g, JudgeFault::kMalformed, "no JSON object in the reply");
  nlohmann::json j = nlohmann::json::parse(reply.substr(open, close - open + 1), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return faulted(g, JudgeFault::kMalformed, "the reply's {...} is not a JSON object");
  if (!j.contains("verdict")) return faulted(g, JudgeFault::kMalformed, "the reply has no \"verdict\"");
  const auto& v = j["verdict"];
  if (c.five_point) {
    int points = 0;
    if (v.is_number_integer()) points = int(std::clamp<int64_t>(v.get<int64_t>(), -1, 99));
    else if (v.is_number_float() && v.get<double>() == double(int(v.get<double>()))) points = int(v.get<double>());
    else if (v.is_string() && trimmed(v.get<std::string>()).size() == 1) points = trimmed(v.get<std::string>())[0] - '0';
    if (points < 1 || points > 5) return faulted(g, JudgeFault::kMalformed, "verdict is not a whole number from 1 to 5");
    g.points = points;
    g.verdict = points >= c.threshold ? "pass" : "fail";
  } else {
    std::string s = v.is_string() ? lower(trimmed(v.get<std::string>())) : "";
    if (s != "pass" && s != "fail") return faulted(g, JudgeFault::kMalformed, "verdict is not \"pass\" or \"fail\"");
    g.verdict = s;
  }
  if (j.contains("reason")) {
    if (j["reason"].is_string()) g.reason = clip(j["reason"].get<std::string>(), 400);
    else if (!j["reason"].is_null()) return faulted(g, JudgeFault::kMalformed, "reason is not a string");
  }
  std::vector<std::string> quotes;
  if (j.contains("evidence") && !j["evidence"].is_null()) {
    const auto& e = j["evidence"];
    if (e.is_string()) {
      quotes.push_back(e.get<std::string>());
    } else if (e.is_array()) {
      for (const auto& q : e) {
        if (!q.is_string()) return faulted(g, JudgeFault::kMalformed, "evidence holds something other than strings");
        quotes.push_back(q.get<std::string>());
      }
    } else {
      return faulted(g, JudgeFault::kMalformed, "evidence is not a list of quotes");
    }
  }
  if (quotes.size() > kMaxQuotes) return faulted(g, JudgeFault::kMalformed, "more than 32 evidence quotes");
  for (const auto& q : quotes) {
    if (normalise(q).text.empty()) continue;  // an empty quote supports nothing; it is dropped, not a fault
    auto ev = find_quote(output, q);
    if (!ev) return faulted(g, JudgeFault::kHallucinated, std::string(kHallucinatedReason) + ": \"" + clip(q, 120) + "\"");
    g.evidence.push_back(*ev);
  }
  if (g.verdict == "fail" && g.evidence.empty() && !c.expect_missing)
    return faulted(g, JudgeFault::kUnquotedFail,
                   "judge failed the output without quoting it (allowed only with expect_missing: true)");
  return g;
}

CriterionResult combine_gradings(const std::vector<JudgeGrading>& gradings, int k, const JudgeCriterion& c) {
  int64_t passes = 0, fails = 0, hallucinated = 0, faults = 0;
  double points = 0;
  for (const auto& g : gradings) {
    if (!g.counts()) {
      ++faults;
      if (g.fault == JudgeFault::kHallucinated) ++hallucinated;
      continue;
    }
    if (g.verdict == "pass") ++passes;
    else ++fails;
    points += g.points;
  }
  const int64_t kk = std::max<int64_t>(k, int64_t(gradings.size()));
  const int64_t top = std::max(passes, fails);
  char agreement[16];
  std::snprintf(agreement, sizeof agreement, "%.2f", kk > 0 ? double(top) / double(kk) : 0.0);
  std::string counts = "judge k=" + std::to_string(kk) + ": " + std::to_string(passes) + " pass, " +
                       std::to_string(fails) + " fail, " + std::to_string(faults) + " fault" +
                       (faults == 1 ? "" : "s") + "; agreement " + agreement;
  std::string expected = c.five_point ? ">= " + std::to_string(c.threshold) + " of 5" : "pass";
  Outcome o = Outcome::kUnscored;
  if (2 * passes > kk) o = Outcome::kPass;
  else if (2 * fails > kk) o = Outcome::kFail;
  if (o == Outcome::kUnscored) {
    std::string why = hallucinated > 0
                          ? std::string(kHallucinatedReason) + " (" + std::to_string(hallucinated) + " of " +
                                std::to_string(kk) + " gradings)"
                          : passes == fails && faults == 0 ? std::string("judge split evenly")
                                                           : std::string("no majority among the judge's gradings");
    return make_result(Outcome::kUnscored, 0, why + "; " + counts, {}, expected);
  }
  const std::string want = o == Outcome::kPass ? "pass" : "fail";
  Evidence ev;
  std::string judge_reason;
  for (const auto& g : gradings) {
    if (!g.counts() || g.verdict != want) continue;
    if (judge_reason.empty()) judge_reason = g.reason;
    if (!g.evidence.empty()) {
      ev = g.evidence.front();
      if (!g.reason.empty()) judge_reason = g.reason;
      break;
    }
  }
  double score = o == Outcome::kPass ? 1 : 0;
  if (c.five_point && passes + fails > 0) score = (points / double(passes + fails) - 1) / 4;
  return make_result(o, score, counts + (judge_reason.empty() ? "" : "; " + clip(judge_reason, 200)), ev, expected);
}

std::string judge_cache_key(const std::string& judge_identity, const std::string& task, const std::string& output,
                            const JudgeCriterion& c, const std::string& rendered_rubric, int k_index) {
  nlohmann::json j = {{"judge", judge_identity},
                      {"prompt", kJudgePromptVersion},
                      {"task", task},
                      {"output", output},
                      {"rubric", rendered_rubric},
                      {"scale", c.five_point ? "1-5" : "pass-fail"},
                      {"threshold", c.threshold},
                      {"expect_missing", c.expect_missing},
                      {"k", k_index}};
  return sha256_hex(dump_json(j));
}

nlohmann::json evidence_to_json(const std::vector<Evidence>& ev) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& e : ev) a.push_back({e.start, e.end, e.text});
  return a;
}

std::vector<Evidence> evidence_from_json(const nlohmann::json& j) {
  std::vector<Evidence> out;
  if (!j.is_array()) return out;
  for (const auto& item : j) {
    if (!item.is_array() || item.size() != 3 || !item[0].is_number_integer() || !item[1].is_number_integer() ||
        !item[2].is_string())
      continue;
    out.push_back({item[0].get<int64_t>(), item[1].get<int64_t>(), item[2].get<std::string>()});
  }
  return out;
}

}  // namespace wobble
