#include "scorer/json_support.h"

#include <cctype>
#include <set>
#include <stdexcept>

#include "util/text_policy.h"

namespace wobble {
namespace {

constexpr int kMaxDepth = 256;

// Rejects nesting deeper than kMaxDepth before handing text to the recursive parser.
bool depth_ok(std::string_view s) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (char c : s) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return false;
    } else if (c == ']' || c == '}') --depth;
  }
  return true;
}

std::optional<nlohmann::json> try_parse(std::string_view text, std::string* error) {
  if (!depth_ok(text)) {
    if (error) *error = "JSON nested deeper than 256 levels";
    return std::nullopt;
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

std::string type_of(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool has_type(const nlohmann::json& v, const std::string& t) {
  std::string actual = type_of(v);
  if (t == actual) return true;
  if (t == "number" && actual == "integer") return true;
  if (t == "integer" && actual == "number") {
    double d = v.get<double>();
    return d == static_cast<double>(static_cast<long long>(d));
  }
  return false;
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::optional<SchemaViolation> validate_at(const nlohmann::json& schema, const nlohmann::json& v,
                                           const std::string& path) {
  auto fail = [&](std::string reason) { return SchemaViolation{path, std::move(reason)}; };
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) return fail("no value is allowed here");
    return std::nullopt;
  }
  if (schema.contains("type")) {
    const auto& t = schema["type"];
    bool ok = false;
    std::string wanted;
    if (t.is_string()) {
      ok = has_type(v, t.get<std::string>());
      wanted = t.get<std::string>();
    } else {
      for (const auto& x : t) {
        ok = ok || has_type(v, x.get<std::string>());
        wanted += (wanted.empty() ? "" : " or ") + x.get<std::string>();
      }
    }
    if (!ok) return fail("expected type " + wanted + ", got " + type_of(v));
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == v;
    if (!found) return fail("value " + dump_json(v) + " is not one of " + dump_json(schema["enum"]));
  }
  if (schema.contains("const") && schema["const"] != v) return fail("value must be " + dump_json(schema["const"]));
  if (v.is_number()) {
    double x = v.get<double>();
    if (schema.contains("minimum") && x < schema["minimum"].get<double>())
      return fail(dump_json(v) + " is less than the minimum " + dump_json(schema["minimum"]));
    if (schema.contains("maximum") && x > schema["maximum"].get<double>())
      return fail(dump_json(v) + " is greater than the maximum " + dump_json(schema["maximum"]));
    if (schema.contains("exclusiveMinimum") && x <= schema["exclusiveMinimum"].get<double>())
      return fail(dump_json(v) + " is not greater than " + dump_json(schema["exclusiveMinimum"]));
    if (schema.contains("exclusiveMaximum") && x >= schema["exclusiveMaximum"].get<double>())
      return fail(dump_json(v) + " is not less than " + dump_json(schema["exclusiveMaximum"]));
  }
  if (v.is_string()) {
    size_t len = utf8_length(v.get<std::string>());
    if (schema.contains("minLength") && len < schema["minLength"].get<size_t>())
      return fail("string of length " + std::to_string(len) + " is shorter than " + dump_json(schema["minLength"]));
    if (schema.contains("maxLength") && len > schema["maxLength"].get<size_t>())
      return fail("string of length " + std::to_string(len) + " is longer than " + dump_json(schema["maxLength"]));
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>())
      return fail("array has " + std::to_string(v.size()) + " items, fewer than " + dump_json(schema["minItems"]));
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>())
      return fail("array has " + std::to_string(v.size()) + " items, more than " + dump_json(schema["maxItems"]));
    if (schema.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i)
        if (auto bad = validate_at(schema["items"], v[i], path + "[" + std::to_string(i) + "]")) return bad;
    }
  }
  if (v.is_object()) {
    if (schema.contains("required")) {
      for (const auto& r : schema["required"]) {
        std::string key = r.get<std::string>();
        if (!v.contains(key)) return fail("missing required property '" + key + "'");
      }
    }
    const nlohmann::json* props = schema.contains("properties") ? &schema["properties"] : nullptr;
    for (const auto& [key, val] : v.items()) {
      if (props && props->contains(key)) {
        if (auto bad = validate_at((*props)[key], val, path + "." + key)) return bad;
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_boolean() &&
                 !schema["additionalProperties"].get<bool>()) {
        return SchemaViolation{path + "." + key, "property '" + key + "' is not allowed"};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<LocatedJson> locate_json(const std::string& output, bool fenced, std::string* error) {
  size_t b = 0, e = output.size();
  while (b < e && std::isspace(static_cast<unsigned char>(output[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(output[e - 1]))) --e;
  if (b == e) {
    if (error) *error = "output is empty";
    return std::nullopt;
  }
  if (auto v = try_parse(std::string_view(output).substr(b, e - b), error)) return LocatedJson{*v, b, e};
  if (!fenced) return std::nullopt;
  size_t fence = output.find("```");
  if (fence == std::string::npos) return std::nullopt;
  size_t body = output.find('\n', fence);
  if (body == std::string::npos) return std::nullopt;
  ++body;
  size_t close = output.find("```", body);
  if (close == std::string::npos) {
    if (error) *error = "unterminated ``` block";
    return std::nullopt;
  }
  if (auto v = try_parse(std::string_view(output).substr(body, close - body), error))
    return LocatedJson{*v, body, close};
  return std::nullopt;
}

namespace {

struct PathStep {
  bool is_index;
  std::string key;
  size_t index;
};

std::vector<PathStep> parse_path(const std::string& path) {
  if (path.empty() || path[0] != '$') throw std::invalid_argument("JSON path must start with '$'");
  std::vector<PathStep> steps;
  size_t i = 1;
  while (i < path.size()) {
    if (path[i] == '.') {
      size_t j = i + 1;
      while (j < path.size() && path[j] != '.' && path[j] != '[') ++j;
      if (j == i + 1) throw std::invalid_argument("empty name in JSON path at offset " + std::to_string(i));
      steps.push_back({false, path.substr(i + 1, j - i - 1), 0});
      i = j;
    } else if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos) throw std::invalid_argument("unclosed '[' in JSON path");
      std::string inner = path.substr(i + 1, close - i - 1);
      if (inner.size() >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner.back() == inner[0]) {
        steps.push_back({false, inner.substr(1, inner.size() - 2), 0});
      } else {
        if (inner.empty() || inner.size() > 9 || inner.find_first_not_of("0123456789") != std::string::npos)
          throw std::invalid_argument("bad index '" + inner + "' in JSON path");
        steps.push_back({true, "", size_t(std::stoul(inner))});
      }
      i = close + 1;
    } else {
      throw std::invalid_argument("unexpected '" + std::string(1, path[i]) + "' in JSON path at offset " +
                                  std::to_string(i));
    }
  }
  return steps;
}

}  // namespace

void check_json_path(const std::string& path) { parse_path(path); }

const nlohmann::json* json_path_get(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* cur = &root;
  for (const auto& s : parse_path(path)) {
    if (s.is_index) {
      if (!cur->is_array() || s.index >= cur->size()) return nullptr;
      cur = &(*cur)[s.index];
    } else {
      if (!cur->is_object() || !cur->contains(s.key)) return nullptr;
      cur = &(*cur)[s.key];
    }
  }
  return cur;
}

std::optional<SchemaViolation> validate_schema(const nlohmann::json& schema, const nlohmann::json& value) {
  return validate_at(schema, value, "$");
}

void check_schema(const nlohmann::json& schema) {
  static const std::set<std::string> kKeywords = {
      "type", "required", "properties", "additionalProperties", "items", "enum", "const", "minimum", "maximum",
      "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
      "description", "title", "$schema"};
  static const std::set<std::string> kTypes = {"null", "boolean", "integer", "number", "string", "array", "object"};
  if (schema.is_boolean()) return;
  if (!schema.is_object()) throw std::invalid_argument("a schema must be an object or a boolean");
  for (const auto& [k, v] : schema.items()) {
    if (!kKeywords.count(k)) throw std::invalid_argument("unsupported schema keyword '" + k + "'");
    if (k == "type") {
      auto check = [&](const nlohmann::json& t) {
        if (!t.is_string() || !kTypes.count(t.get<std::string>()))
          throw std::invalid_argument("bad schema type " + dump_json(t));
      };
      if (v.is_array()) for (const auto& t : v) check(t);
      else check(v);
    } else if (k == "properties") {
      if (!v.is_object()) throw std::invalid_argument("'properties' must be an object");
      for (const auto& [_, sub] : v.items()) check_schema(sub);
    } else if (k == "items") {
      check_schema(v);
    } else if (k == "required") {
      if (!v.is_array()) throw std::invalid_argument("'required' must be a list");
      for (const auto& r : v) if (!r.is_string()) throw std::invalid_argument("'required' entries must be strings");
    } else if (k == "enum") {
      if (!v.is_array()) throw std::invalid_argument("'enum' must be a list");
    } else if (k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum") {
      if (!v.is_number()) throw std::invalid_argument("'" + k + "' must be a number");
    } else if (k == "minLength" || k == "maxLength" || k == "minItems" || k == "maxItems") {
      if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<long long>() >= 0))
        throw std::invalid_argument("'" + k + "' must be a whole number >= 0");
    } else if (k == "additionalProperties") {
      if (!v.is_boolean()) throw std::invalid_argument("'additionalProperties' supports only true/false");
    }
  }
}

}  // namespace wobble
