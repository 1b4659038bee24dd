// is-json, json-schema, json-path: structure checks on JSON found in the output.
#include <stdexcept>

#include "scorer/json_support.h"
#include "scorer/scorer_args.h"
#include "scorer/scorer_factories.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

class IsJsonScorer : public Scorer {
 public:
  explicit IsJsonScorer(const CriterionSpec& spec) {
    ScorerArgs a(spec, {"fenced"});
    fenced_ = a.flag("fenced", true);
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string err;
    auto j = locate_json(in.output, fenced_, &err);
    if (!j) return make_result(Outcome::kFail, 0, "not JSON: " + clip(err));
    return make_result(Outcome::kPass, 1, "valid JSON (" + std::string(j->value.type_name()) + ")",
                       span(in.output, j->start, j->end));
  }

 private:
  bool fenced_;
};

class JsonSchemaScorer : public Scorer {
 public:
  explicit JsonSchemaScorer(const CriterionSpec& spec) {
    ScorerArgs a(spec, {"schema", "fenced"});
    if (!a.raw().contains("schema")) a.fail("schema", "is required");
    schema_ = a.raw()["schema"];
    try {
      check_schema(schema_);
    } catch (const std::invalid_argument& e) {
      a.fail("schema", e.what());
    }
    fenced_ = a.flag("fenced", true);
  }
  CriterionResult score(const ScoreInput& in) const override {
    std::string err;
    auto j = locate_json(in.output, fenced_, &err);
    if (!j) return make_result(Outcome::kFail, 0, "not JSON: " + clip(err), {}, dump_json(schema_));
    auto bad = validate_schema(schema_, j->value);
    if (!bad)
      return make_result(Outcome::kPass, 1, "JSON matches the schema", span(in.output, j->start, j->end),
                         dump_json(schema_));
    Evidence e = span(in.output, j->start, j->end);
    e.text = bad->path + ": " + bad->reason;
    return make_result(Outcome::kFail, 0, "schema violation at " + bad->path + ": " + bad->reason, e,
                       dump_json(schema_));
  }

 private:
  nlohmann::json schema_;
  bool fenced_;
};

class JsonPathScorer : public Scorer {
 public:
  explicit JsonPathScorer(const CriterionSpec& spec) : id_(spec.id) {
    ScorerArgs a(spec, {"path", "equals", "fenced"});
    path_ = a.string("path");
    try {
      check_json_path(path_);
    } catch (const std::invalid_argument& e) {
      a.fail("path", e.what());
    }
    if (!a.raw().contains("equals")) a.fail("equals", "is required");
    expected_ = a.raw()["equals"];
    fenced_ = a.flag("fenced", true);
  }
  CriterionResult score(const ScoreInput& in) const override {
    nlohmann::json expected = expected_;
    if (expected.is_string()) expected = render_arg(expected.get<std::string>(), in.test_case, id_);
    std::string err;
    auto j = locate_json(in.output, fenced_, &err);
    if (!j) return make_result(Outcome::kFail, 0, "not JSON: " + clip(err), {}, dump_json(expected));
    const nlohmann::json* got = json_path_get(j->value, path_);
    Evidence e = span(in.output, j->start, j->end);
    if (!got) {
      e.text = path_ + " is absent";
      return make_result(Outcome::kFail, 0, path_ + " not found", e, dump_json(expected));
    }
    // A templated expectation is text; compare it with the value's text form for strings and numbers.
    bool eq = *got == expected ||
              (expected.is_string() && !got->is_string() && dump_json(*got) == expected.get<std::string>());
    e.text = path_ + " = " + clip(dump_json(*got));
    return make_result(eq ? Outcome::kPass : Outcome::kFail, eq ? 1 : 0,
                       eq ? path_ + " equals " + clip(dump_json(expected))
                          : path_ + " is " + clip(dump_json(*got)) + ", expected " + clip(dump_json(expected)),
                       e, dump_json(expected));
  }

 private:
  std::string id_, path_;
  nlohmann::json expected_;
  bool fenced_;
};

}  // namespace

std::unique_ptr<Scorer> make_is_json_scorer(const CriterionSpec& spec) { return std::make_unique<IsJsonScorer>(spec); }
std::unique_ptr<Scorer> make_json_schema_scorer(const CriterionSpec& spec) {
  return std::make_unique<JsonSchemaScorer>(spec);
}
std::unique_ptr<Scorer> make_json_path_scorer(const CriterionSpec& spec) {
  return std::make_unique<JsonPathScorer>(spec);
}

}  // namespace wobble
