// Reading and checking a scorer's arguments (at load time), and rendering templated ones (at score
// time). Errors are ConfigErrors naming the criterion's source and the argument.
#pragma once

#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "scorer/scorer.h"

namespace wobble {

class ScorerArgs {
 public:
  ScorerArgs(const CriterionSpec& spec, std::set<std::string> allowed);

  std::string string(const std::string& key) const;  // required
  std::optional<std::string> opt_string(const std::string& key) const;
  std::optional<double> opt_number(const std::string& key) const;
  bool flag(const std::string& key, bool dflt = false) const;
  std::vector<std::string> string_list(const std::string& key) const;  // absent = empty
  const nlohmann::json& raw() const { return args_; }
  [[noreturn]] void fail(const std::string& key, const std::string& msg) const;

 private:
  const nlohmann::json& args_;
  std::string where_;
};

// {{var}} substitution of an argument with the case's vars.
std::string render_arg(const std::string& value, const Case& c, const std::string& criterion_id);

CriterionResult make_result(Outcome o, double score, std::string reason, Evidence ev = {},
                            std::string expected = "");
CriterionResult unscored(std::string reason);
Evidence span(const std::string& output, size_t start, size_t end);
// At most `max` bytes of text for evidence and reasons, cut on a UTF-8 boundary.
std::string clip(const std::string& s, size_t max = 200);

}  // namespace wobble
