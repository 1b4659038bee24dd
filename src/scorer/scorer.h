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

#include "scorer/output_parts.h"
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
  Scope scope = Scope::kAnswer;  // the text the evidence offsets point into (the criterion's scope)
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

// The text a criterion with this scope grades: the answer part, the reasoning part or the raw
// output. nullopt for kReasoning when the output has no thinking part.
std::optional<std::string> scoped_text(const std::string& raw, const OutputParts& parts, Scope scope);

// Scores every criterion of the case's rubric (applying `not`), each on its scope's text. The
// answer extractor reads the answer part. An answer that is empty because the thinking never ended
// is a fail of every answer-scoped criterion (`not` does not flip it); an empty text otherwise, or a
// reasoning scope without a thinking part, is unscored.
std::vector<CriterionResult> score_output(const Case& c, const std::string& raw, const OutputParts& parts);
// The same after split_output(output).
std::vector<CriterionResult> score_output(const Case& c, const std::string& output);

}  // namespace wobble
