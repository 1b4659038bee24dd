// YamlNode: a YAML node that knows where it came from (file, line, dotted field path), so every
// validation error can name all three. Thin wrapper over yaml-cpp used by the suite and rubric
// loaders. All accessors throw ConfigError on a type mismatch or a missing required key.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace wobble {

class YamlNode {
 public:
  YamlNode(YAML::Node node, std::string file, std::string path)
      : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}

  // Parses a whole file (YAML or JSON). Throws ConfigError with the parser's line on bad syntax.
  static YamlNode load_file(const std::string& file);
  // The same for bytes already read (through read_file_bounded); `file` names them in errors.
  static YamlNode load_text(const std::string& file, const std::string& text);

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  int line() const;  // 1-based; 0 when yaml-cpp has no mark
  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return !node_ || node_.IsNull(); }
  const YAML::Node& raw() const { return node_; }

  [[noreturn]] void fail(const std::string& message) const;

  // Map access. child() of an absent key is nullopt.
  std::optional<YamlNode> child(const std::string& key) const;
  YamlNode required(const std::string& key) const;
  std::vector<std::string> keys() const;  // in document order; the node must be a map
  // Rejects keys not in `allowed`, suggesting the closest known key.
  void expect_keys(const std::set<std::string>& allowed) const;
  void expect_map() const;

  // Sequence access.
  std::vector<YamlNode> items() const;

  // Scalars.
  std::string as_string() const;  // numbers and booleans are accepted and kept as written
  double as_double() const;
  long long as_int() const;
  bool as_bool() const;
  std::vector<std::string> as_string_list() const;  // a sequence of scalars, or one scalar

  // Helpers combining child() and a conversion.
  std::optional<std::string> opt_string(const std::string& key) const;
  std::optional<double> opt_double(const std::string& key, double min, double max) const;
  std::optional<long long> opt_int(const std::string& key, long long min, long long max) const;
  std::optional<bool> opt_bool(const std::string& key) const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

// Levenshtein-closest candidate within distance 3, or "" when none is close.
std::string closest_match(const std::string& word, const std::set<std::string>& candidates);

}  // namespace wobble
