// The judge scorer's pure parts: its arguments, the versioned prompt, reading and verifying a
// judge's reply, and folding k gradings into one outcome. No I/O: the calls themselves are made by
// judge/judge_pool.h, which uses these functions, as do rescore and the tests.
//
// Evidence rule: every quote in a reply must occur in the output after whitespace normalisation
// (each run of ASCII whitespace becomes one space; leading and trailing whitespace is dropped, on
// both sides) and case-sensitive otherwise. A found quote becomes a span of byte offsets into the
// original output. A reply quoting text that is not there is a judge fault (kHallucinated): that
// grading counts toward neither pass nor fail. A fail with no quote is accepted only from a
// criterion with `expect_missing: true` (its rubric names something that must be present, so
// its absence cannot be quoted); otherwise it is the fault kUnquotedFail.
//
// Outcome rule: with k gradings, pass when more than k/2 of them pass, fail when more than k/2
// fail, otherwise unscored (ties, and too many faults). Faults never count toward either side.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scorer/scorer.h"

namespace wobble {

inline constexpr const char* kJudgePromptVersion = "judge-v1";
inline constexpr const char* kHallucinatedReason = "judge quoted text that is not in the output";

// The validated arguments of one `scorer: judge` criterion.
struct JudgeCriterion {
  std::string rubric;          // may hold {{var}} templates; render with render_arg
  bool five_point = false;     // scale 1-5 instead of pass-fail
  int threshold = 4;           // scale 1-5: a grading passes when its verdict >= threshold
  bool expect_missing = false;
  // args.judge: per-criterion overrides of the suite's judge block.
  std::optional<std::string> model;  // openai: provider.model; local: provider.model_path
  std::optional<int> repeats;
  SamplingSpec sampling;
  // Throws ConfigError naming the criterion's source and the argument.
  static JudgeCriterion parse(const CriterionSpec& spec);
};

// The suite's judge with the criterion's overrides applied.
JudgeSpec effective_judge(const JudgeSpec& suite_judge, const JudgeCriterion& c);

// The prompt v1 (documented verbatim in rubrics/README.md).
struct JudgePrompt {
  std::string system, user;
};
JudgePrompt build_judge_prompt(const std::string& task, const std::string& output, const std::string& rubric,
                               bool five_point);
// What the judge is shown as the task: the plain prompt, or the last user message of a chat.
std::string judge_task_text(const RenderedPrompt& p);

enum class JudgeFault { kNone, kProvider, kMalformed, kHallucinated, kUnquotedFail, kCancelled };
const char* judge_fault_name(JudgeFault f);  // "" | "provider" | "malformed" | "hallucinated" | ...
JudgeFault judge_fault_from(const std::string& name);

// One grading of one output against one criterion (one of its k).
struct JudgeGrading {
  std::string criterion_id;
  int k_index = 0;
  std::string raw;             // the judge's reply (the last one when retried), at most 64 KiB
  std::string verdict;         // "pass" | "fail"; "" on a fault
  int points = 0;              // scale 1-5: the judge's number; 0 otherwise
  std::vector<Evidence> evidence;
  std::string reason;          // the judge's own reason, clipped
  JudgeFault fault = JudgeFault::kNone;
  std::string fault_detail;
  int calls = 0;               // judge calls made for it (0 when it came from the cache)
  double latency_s = 0;
  bool cached = false;
  std::string cache_key;
  std::string judge_model;     // Provider::model_id() of the judge
  std::string prompt_version = kJudgePromptVersion;
  bool counts() const { return fault == JudgeFault::kNone; }
  // Whether a later rescore may reuse it: the judge answered (even wrongly); transport faults,
  // malformed replies and cancellations are asked again.
  bool cacheable() const {
    return fault == JudgeFault::kNone || fault == JudgeFault::kHallucinated || fault == JudgeFault::kUnquotedFail;
  }
};

// The whitespace the evidence rule normalises: space, tab, LF, CR, FF, VT.
inline bool is_evidence_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// The first occurrence of `quote` in `output` under the whitespace normalisation above, as byte
// offsets into `output`; nullopt when absent or when the quote is empty after normalisation.
std::optional<Evidence> find_quote(const std::string& output, const std::string& quote);

// Reads a reply: the text from its first '{' to its last '}' must be one JSON object with
// `verdict` ("pass"/"fail", or 1..5 on scale 1-5), optional `evidence` (list of strings, or one
// string) and optional `reason`. Sets verdict/points/evidence/reason, or the fault with its detail
// (kMalformed, kHallucinated, kUnquotedFail). `raw` is kept clipped.
JudgeGrading interpret_judge_reply(const std::string& reply, const std::string& output, const JudgeCriterion& c);

// Folds k gradings (any order; faults included) into the criterion's result: the outcome rule
// above, the evidence of the first agreeing grading that has some, and a reason that states the
// counts and the agreement.
CriterionResult combine_gradings(const std::vector<JudgeGrading>& gradings, int k, const JudgeCriterion& c);

// Cache key: SHA-256 over (judge identity, prompt version, task, output, rendered criterion, k).
std::string judge_cache_key(const std::string& judge_identity, const std::string& task, const std::string& output,
                            const JudgeCriterion& c, const std::string& rendered_rubric, int k_index);

nlohmann::json evidence_to_json(const std::vector<Evidence>& ev);      // [[start, end, text], ...]
std::vector<Evidence> evidence_from_json(const nlohmann::json& j);      // inverse; ignores malformed items

}  // namespace wobble
