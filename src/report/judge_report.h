// The judge section of run reports: judge noise vs model noise per judged criterion
// (analysis/judge_noise.h), in Markdown and JSON. Empty output when the run has no judge gradings.
#pragma once

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/judge_noise.h"

namespace wobble {

void render_judge_markdown(const std::vector<JudgeNoise>& judge, std::ostream& out);
void render_judge_definitions_markdown(const std::vector<JudgeNoise>& judge, std::ostream& out);
nlohmann::json judge_json(const std::vector<JudgeNoise>& judge);

}  // namespace wobble
