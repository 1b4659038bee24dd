// JSON in model outputs: locating it (whole output, or a ```json fenced block), simple paths
// ($.a.b[0]), and a practical JSON-Schema subset validator that reports the first violation.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace wobble {

struct LocatedJson {
  nlohmann::json value;
  size_t start = 0, end = 0;  // byte span of the JSON text in the output
};

// Parses the trimmed output, or the first fenced code block when `fenced` is true and the output
// is not itself JSON. Depth-limited so hostile nesting cannot exhaust the stack. On failure,
// `error` holds the parser's message and byte offset.
std::optional<LocatedJson> locate_json(const std::string& output, bool fenced, std::string* error);

// Path syntax: $ then any of .name, ['name'], [index]. Returns nullptr when the path is absent.
// Throws std::invalid_argument for a malformed path.
const nlohmann::json* json_path_get(const nlohmann::json& root, const std::string& path);
void check_json_path(const std::string& path);  // throws std::invalid_argument when malformed

struct SchemaViolation {
  std::string path;    // "$.items[2].name"
  std::string reason;  // "expected type string, got number"
};
// Supported keywords: type (string or list), required, properties, additionalProperties (bool),
// items, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
// minItems, maxItems. Unknown keywords are rejected by check_schema at load time.
std::optional<SchemaViolation> validate_schema(const nlohmann::json& schema, const nlohmann::json& value);
void check_schema(const nlohmann::json& schema);  // throws std::invalid_argument naming the keyword

}  // namespace wobble
