#include "suite/rubric_loader.h"

#include <set>
#include <stdexcept>

#include "scorer/json_support.h"
#include "scorer/pcre_regex.h"
#include "scorer/scorer.h"
#include "util/error.h"

namespace wobble {
namespace {

// Converts a YAML subtree to JSON for scorer arguments; scalars stay strings unless they read as
// numbers or booleans, so `min: 3` is a number and `value: "3"` (quoted) stays a string.
nlohmann::json to_json(const YAML::Node& n, const std::string& file, const std::string& path) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted in the document
      if (s == "true") return true;
      if (s == "false") return false;
      char* end = nullptr;
      long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0') return i;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0') return d;
      return s;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json a = nlohmann::json::array();
      size_t i = 0;
      for (const auto& item : n) a.push_back(to_json(item, file, path + "[" + std::to_string(i++) + "]"));
      return a;
    }
    case YAML::NodeType::Map: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) {
          YAML::Mark m = kv.first.Mark();
          throw ConfigError(file, m.is_null() ? 0 : m.line + 1, path, "keys must be plain strings");
        }
        const std::string& key = kv.first.Scalar();
        o[key] = to_json(kv.second, file, path + "." + key);
      }
      return o;
    }
  }
  return nullptr;
}

CriterionSpec parse_criterion(const YamlNode& node) {
  node.expect_keys({"id", "description", "weight", "scorer", "args", "not", "scope"});
  CriterionSpec c;
  c.id = node.required("id").as_string();
  if (c.id.empty()) node.required("id").fail("must not be empty");
  c.description = node.opt_string("description").value_or("");
  c.weight = node.opt_double("weight", 0, 1e6).value_or(1.0);
  c.scorer = node.required("scorer").as_string();
  if (auto a = node.child("args")) {
    if (!a->is_null()) {
      a->expect_map();
      c.args = to_json(a->raw(), a->file(), a->path());
    }
  }
  if (c.args.is_null()) c.args = nlohmann::json::object();
  c.negate = node.opt_bool("not").value_or(false);
  if (auto sc = node.opt_string("scope")) {
    auto scope = scope_from_name(*sc);
    if (!scope) node.required("scope").fail("must be 'answer', 'reasoning' or 'raw', not '" + *sc + "'");
    c.scope = *scope;
  }
  c.source = node.file() + ":" + std::to_string(node.line());
  try {
    make_scorer(c);  // validates the name and arguments now, not mid-run
  } catch (const ConfigError& e) {
    // The scorer reports "args.<key>: message" without YAML positions; re-anchor it at the
    // offending key's own node. (YamlNode is never reassigned: YAML::Node::operator= writes into
    // the document.)
    std::string what = e.what();
    std::string prefix = ConfigError(e.file(), e.line(), e.field(), "").what();
    std::string msg = what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
    bool in_args = e.field().rfind("args", 0) == 0 && node.child("args").has_value();
    auto anchor = [&]() -> YamlNode {
      if (!in_args) return node.required("scorer");
      YamlNode args = *node.child("args");
      std::string key = e.field().size() > 5 ? e.field().substr(5) : "";
      if (!key.empty() && args.is_map())
        if (auto k = args.child(key)) return *k;
      return args;
    };
    throw ConfigError(node.file(), anchor().line(), node.path() + "." + (in_args ? e.field() : "scorer"), msg);
  }
  return c;
}

}  // namespace

ExtractorSpec parse_extractor(const YamlNode& node) {
  ExtractorSpec e;
  if (node.is_scalar()) {
    e.kind = node.as_string();
    e.args = nlohmann::json::object();
  } else {
    node.expect_keys({"kind", "pattern", "group", "path"});
    e.kind = node.required("kind").as_string();
    e.args = to_json(node.raw(), node.file(), node.path());
    e.args.erase("kind");
  }
  static const std::set<std::string> kKinds = {"regex", "number", "last-line", "first-line", "json-path"};
  if (!kKinds.count(e.kind)) {
    std::string hint = closest_match(e.kind, kKinds);
    node.fail("unknown extractor kind '" + e.kind + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  if ((e.kind == "regex") && !e.args.contains("pattern")) node.fail("regex extractor needs 'pattern'");
  if ((e.kind == "json-path") && !e.args.contains("path")) node.fail("json-path extractor needs 'path'");
  // A bad pattern, group or path would otherwise extract nothing from every output, silently.
  auto key_node = [&](const char* key) { return node.is_map() ? node.required(key) : node; };
  for (const char* key : {"pattern", "path"}) {
    if (e.args.contains(key) && !e.args[key].is_string()) key_node(key).fail("expected a string");
    if (e.args.contains(key) && e.kind != (std::string(key) == "pattern" ? "regex" : "json-path"))
      key_node(key).fail("'" + std::string(key) + "' does not apply to a " + e.kind + " extractor");
  }
  if (e.args.contains("group") && e.kind != "regex") key_node("group").fail("'group' applies to regex extractors only");
  if (e.kind == "regex") {
    try {
      PcreRegex re(e.args["pattern"].get<std::string>(), false, true, false);
      if (e.args.contains("group")) {
        const auto& g = e.args["group"];
        if (!g.is_number_integer() || g.get<long long>() < 0 || g.get<long long>() > re.capture_count())
          key_node("group").fail("must be a group number between 0 and " + std::to_string(re.capture_count()) +
                                 " (the pattern's capture groups)");
      }
    } catch (const std::invalid_argument& ex) {
      key_node("pattern").fail(std::string("invalid regex: ") + ex.what());
    }
  }
  if (e.kind == "json-path") {
    try {
      check_json_path(e.args["path"].get<std::string>());
    } catch (const std::invalid_argument& ex) {
      key_node("path").fail(ex.what());
    }
  }
  return e;
}

Rubric parse_rubric_node(const YamlNode& node) {
  Rubric r;
  r.source_path = node.file();
  std::optional<YamlNode> criteria;
  if (node.is_sequence()) {
    criteria = node;
  } else {
    node.expect_keys({"name", "description", "answer_extractor", "criteria"});
    r.name = node.opt_string("name").value_or("");
    if (auto x = node.child("answer_extractor")) r.answer_extractor = parse_extractor(*x);
    criteria = node.required("criteria");
  }
  std::set<std::string> ids;
  for (const auto& item : criteria->items()) {
    CriterionSpec c = parse_criterion(item);
    if (!ids.insert(c.id).second) item.required("id").fail("duplicate criterion id '" + c.id + "'");
    r.criteria.push_back(std::move(c));
  }
  if (r.criteria.empty()) criteria->fail("a rubric needs at least one criterion");
  return r;
}

Rubric load_rubric_file(const std::string& path) {
  YamlNode root = YamlNode::load_file(path);
  if (root.is_null()) throw ConfigError(path, 0, "", "rubric file is empty");
  Rubric r = parse_rubric_node(root);
  r.source_path = path;
  return r;
}

}  // namespace wobble
