#include "store/run_plan.h"

#include <algorithm>
#include <stdexcept>

#include "scorer/judge.h"

namespace wobble {

std::string RunPlan::shard_text() const {
  if (shard_count <= 1) return "";
  return std::to_string(shard_index) + "/" + std::to_string(shard_count);
}

int64_t RunPlan::samples_per_shard_set() const {
  int64_t total = 0;
  for (const auto& c : suite.cases) total += int64_t(suite.repeats_for(c)) * int64_t(suite.variants.size());
  return total * int64_t(suite.run_providers().size());
}

bool RunPlan::uniform_repeats() const {
  return std::all_of(suite.cases.begin(), suite.cases.end(),
                     [&](const Case& c) { return suite.repeats_for(c) == suite.repeats; });
}

std::string RunPlan::repeats_text() const {
  if (suite.cases.empty()) return std::to_string(suite.repeats);
  int lo = suite.repeats_for(suite.cases[0]), hi = lo;
  for (const auto& c : suite.cases) {
    lo = std::min(lo, suite.repeats_for(c));
    hi = std::max(hi, suite.repeats_for(c));
  }
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + "-" + std::to_string(hi) + " (per case)";
}

nlohmann::json RunPlan::plan_json() const {
  nlohmann::json j = {{"format", kFormat}, {"suite_dir", suite_dir}, {"shard", shard_text()},
                      {"overrides", overrides}, {"cases", nlohmann::json::array()},
                      {"prompts", nlohmann::json::array()}, {"providers", nlohmann::json::array()}};
  for (const auto& p : suite.run_providers()) j["providers"].push_back(p.id);
  if (source_run_id > 0) j["source_run"] = source_run_id;
  if (suite.judge) j["judge_prompt"] = kJudgePromptVersion;
  for (const auto& c : suite.cases) {
    j["cases"].push_back({{"id", c.id}, {"repeats", suite.repeats_for(c)}, {"sampling", suite.sampling_for(c).to_json()}});
    for (const auto& v : suite.variants) {
      nlohmann::json p = {{"case", c.id}, {"variant", v.id}};
      try {
        p["prompt"] = render_prompt(v, c).as_text();
      } catch (const std::exception& e) {  // validated at load; recorded rather than lost if not
        p["error"] = e.what();
      }
      j["prompts"].push_back(p);
    }
  }
  return j;
}

bool parse_shard_text(const std::string& text, int& index, int& count) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return false;
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  std::string a = text.substr(0, slash), b = text.substr(slash + 1);
  if (!digits(a) || !digits(b)) return false;
  int i = std::stoi(a), n = std::stoi(b);
  if (n < 1 || i >= n) return false;
  index = i;
  count = n;
  return true;
}

RunPlan RunPlan::from_stored(const nlohmann::json& snapshot, const nlohmann::json& plan_column,
                             const std::string& shard_column) {
  RunPlan p;
  p.suite = suite_from_json(snapshot);
  std::string shard = shard_column;
  if (plan_column.is_object()) {
    int format = plan_column.value("format", 0);
    if (format != kFormat) throw std::runtime_error("run plan format " + std::to_string(format) + " is not understood");
    p.suite_dir = plan_column.value("suite_dir", std::string());
    if (plan_column.contains("shard") && plan_column["shard"].is_string()) shard = plan_column["shard"];
    if (plan_column.contains("source_run") && plan_column["source_run"].is_number_integer())
      p.source_run_id = plan_column["source_run"].get<int64_t>();
    if (plan_column.contains("overrides") && plan_column["overrides"].is_object())
      for (const auto& [k, v] : plan_column["overrides"].items())
        if (v.is_string()) p.overrides[k] = v.get<std::string>();
  } else if (!plan_column.is_null()) {
    throw std::runtime_error("run plan is not an object");
  }
  if (!shard.empty() && !parse_shard_text(shard, p.shard_index, p.shard_count))
    throw std::runtime_error("shard '" + shard + "' is malformed");
  return p;
}

}  // namespace wobble
