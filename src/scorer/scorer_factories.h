// Factory functions of every built-in scorer, one per family file; registry.cpp maps names to them.
#pragma once

#include <memory>

#include "scorer/scorer.h"

namespace wobble {

std::unique_ptr<Scorer> make_contains_scorer(const CriterionSpec& spec, bool ignore_case);
std::unique_ptr<Scorer> make_equals_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_starts_with_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_regex_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_is_json_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_json_schema_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_json_path_scorer(const CriterionSpec& spec);
enum class CountUnit { kWords, kChars, kLines };
std::unique_ptr<Scorer> make_count_scorer(const CriterionSpec& spec, CountUnit unit);
std::unique_ptr<Scorer> make_numeric_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_refusal_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_answer_scorer(const CriterionSpec& spec);
std::unique_ptr<Scorer> make_judge_scorer(const CriterionSpec& spec);  // scorer/judge.cpp

}  // namespace wobble
