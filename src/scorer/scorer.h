// Scorers grade one output against one criterion and say exactly which text triggered the grade.
//
// A scorer is built once from its spec (name + args, validated then: bad args throw ConfigError)
// and is then immutable and thread-safe. "Unscored" is its own outcome, never a fail: a scorer
// error (bad JSON path on valid input is still a fail; a regex hitting its match limit, an empty
// or missing output) yields kUnscored with the reason.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "suite/suite.h"

namespace wobble {

enum class Outcome { kPass, kFail, kUnscored };
const char* outcome_name(Outcome o);  // "pass" | "fail" | "unscored"

struct Evidence {
  int64_t start = -1;  // byte offset into the output, -1 when there is no span
  int64_t end = -1;    // exclusive
  std::string text;    // the exact quoted text (the match, the offending word count, the path...)
};

struct CriterionResult {
  std::string criterion_id;
  Outcome outcome = Outcome::kUnscored;
  double score = 0;      // [0, 1]
  Evidence evidence;
  std::string reason;    // human sentence
  std::string expected;  // rendered expected value, when the scorer has one
};

struct ScoreInput {
  const std::string& output;
  const Case& test_case;
  const std::optional<std::string>& extracted_answer;
};

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual CriterionResult score(const ScoreInput& in) const = 0;
};

// Builds a scorer from a criterion spec; templated args are rendered from the case's vars at
// score time. Throws ConfigError for an unknown scorer name or bad arguments.
std::unique_ptr<Scorer> make_scorer(const CriterionSpec& spec);
std::vector<std::string> scorer_names();

// Applies the case's (or rubric's) answer extractor; nullopt when none is set or nothing matched.
// This is the form stored with a sample: an answer longer than 1 KiB becomes its first 256 bytes,
// its length and its SHA-256 (equal answers stay equal, the output is never stored twice).
std::optional<std::string> extract_answer(const Case& c, const std::string& output);
// The same answer in full, as the scorers see it (score_output).
std::optional<std::string> extract_answer_full(const Case& c, const std::string& output);

// Scores every criterion of the case's rubric (applying `not`).
std::vector<CriterionResult> score_output(const Case& c, const std::string& output);

}  // namespace wobble
