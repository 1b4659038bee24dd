// load_suite(): YAML/JSON suite -> validated Suite. Every error names file, line and field.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "moe/chat_template.h"
#include "suite/rubric_loader.h"
#include "suite/suite.h"
#include "suite/yaml_node.h"
#include "util/error.h"
#include "util/sha256.h"
#include "util/text_policy.h"
#include "util/url.h"

namespace fs = std::filesystem;

namespace wobble {
namespace {

bool is_iso_date(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (d[i] < '0' || d[i] > '9') return false;
  int month = (d[5] - '0') * 10 + (d[6] - '0'), day = (d[8] - '0') * 10 + (d[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

SamplingSpec parse_sampling(const YamlNode& n) {
  n.expect_keys({"temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "stop"});
  SamplingSpec s;
  s.temperature = n.opt_double("temperature", 0, 100);
  s.top_p = n.opt_double("top_p", 0, 1);
  if (s.top_p && *s.top_p <= 0) n.required("top_p").fail("must be greater than 0");
  s.min_p = n.opt_double("min_p", 0, 1);
  if (auto k = n.opt_int("top_k", 0, 1 << 20)) s.top_k = int(*k);
  if (auto m = n.opt_int("max_tokens", 1, 1 << 20)) s.max_tokens = int(*m);
  if (auto seed = n.opt_int("seed", 0, INT64_MAX)) s.seed = uint64_t(*seed);
  if (auto stop = n.child("stop")) {
    if (!stop->is_null()) {
      auto list = stop->as_string_list();
      for (const auto& st : list)
        if (st.empty()) stop->fail("stop strings must not be empty");
      s.stop = list;
    }
  }
  return s;
}

// provider.routing and provider.routing_shape (kind openai).
void parse_routing(const YamlNode& n, ProviderSpec& p) {
  p.routing = n.opt_string("routing").value_or("off");
  if (p.routing != "off" && p.routing != "vllm" && p.routing != "sglang")
    n.required("routing").fail("must be 'vllm', 'sglang' or 'off', got '" + p.routing + "'");
  if (auto shape = n.child("routing_shape")) {
    shape->expect_map();
    shape->expect_keys({"layers", "top_k", "n_experts"});
    // RoutingTrace's limits: ids are u16 and a trace has at most 4096 layers.
    shape->required("layers");
    shape->required("top_k");
    auto layers = shape->opt_int("layers", 1, 4096);
    auto top_k = shape->opt_int("top_k", 1, 65536);
    auto experts = shape->opt_int("n_experts", 1, 65536);
    p.routing_layers = uint32_t(*layers);
    p.routing_top_k = uint32_t(*top_k);
    p.routing_n_experts = experts ? uint32_t(*experts) : 0;
    if (experts && p.routing_top_k > p.routing_n_experts)
      shape->required("top_k").fail("top_k (" + std::to_string(p.routing_top_k) + ") exceeds n_experts (" +
                                    std::to_string(p.routing_n_experts) + ")");
  }
  if (p.routing == "sglang" && p.routing_layers == 0)
    n.required("routing").fail("'sglang' sends expert ids without their shape: add routing_shape: {layers: N, top_k: K}");
}

bool valid_provider_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// A string field that may use ${ENV}: expanded here, so every later check sees the real value.
std::string env_string(const YamlNode& n) {
  return expand_env(n.as_string(), n.file(), n.line(), n.path());
}

ProviderSpec parse_provider(const YamlNode& n) {
  ProviderSpec p;
  n.expect_map();
  p.kind = n.opt_string("kind").value_or("local");
  if (auto id = n.child("id")) {
    p.id = id->as_string();
    if (!valid_provider_id(p.id)) id->fail("a provider id is 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  if (p.kind == "openai") {
    n.expect_keys({"id", "kind", "base_url", "model", "api_key_env", "endpoint", "timeout", "max_concurrency", "rps",
                   "max_attempts", "logprobs", "top_logprobs", "circuit_breaker",
                   "max_output_bytes", "routing", "routing_shape", "sampling"});
    p.base_url = env_string(n.required("base_url"));
    if (p.base_url.rfind("http://", 0) != 0 && p.base_url.rfind("https://", 0) != 0)
      n.required("base_url").fail("must start with http:// or https://");
    while (!p.base_url.empty() && p.base_url.back() == '/') p.base_url.pop_back();
    if (url_has_userinfo(p.base_url)) {  // never stored, printed or sent (util/url.h)
      p.base_url = url_without_userinfo(p.base_url);
      std::cerr << "warning: " << ConfigError(n.file(), n.required("base_url").line(), n.required("base_url").path(),
                                              "credentials in the URL were removed and will not be sent; name an "
                                              "environment variable holding the key in provider.api_key_env")
                                      .what()
                << "\n";
    }
    p.model = env_string(n.required("model"));
    if (p.model.empty()) n.required("model").fail("must not be empty");
    p.api_key_env = n.opt_string("api_key_env").value_or("");
    // The key field names a variable; it is never itself expanded (nor the key put in the file).
    if (p.api_key_env.find('$') != std::string::npos)
      n.required("api_key_env").fail("names the environment variable holding the key (e.g. OPENAI_API_KEY), "
                                     "without ${...}");
    p.endpoint = n.opt_string("endpoint").value_or("chat");
    if (p.endpoint != "chat" && p.endpoint != "completions")
      n.required("endpoint").fail("must be 'chat' or 'completions'");
    p.logprobs = n.opt_bool("logprobs").value_or(false);
    p.top_logprobs = int(n.opt_int("top_logprobs", 0, 20).value_or(0));
    if (p.top_logprobs > 0) p.logprobs = true;
    parse_routing(n, p);
  } else if (p.kind == "local") {
    n.expect_keys({"id", "kind", "model_path", "chat_template", "thinking", "reasoning_effort", "chat_date", "threads", "max_concurrency", "trace_routing", "timeout",
                   "max_attempts", "circuit_breaker", "max_output_bytes", "sampling", "batch", "batch_variance", "weights"});
    p.model_path = n.opt_string("model_path").value_or("");
    p.chat_template = n.opt_string("chat_template").value_or("auto");
    std::set<std::string> kTemplates = {"auto"};
    for (const auto& name : moe::chat_family_names()) kTemplates.insert(name);
    if (!kTemplates.count(p.chat_template)) {
      std::string hint = closest_match(p.chat_template, kTemplates);
      n.required("chat_template").fail("unknown chat template '" + p.chat_template + "'" +
                                       (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    p.thinking = n.opt_bool("thinking");
    p.reasoning_effort = n.opt_string("reasoning_effort").value_or("");
    if (!p.reasoning_effort.empty() && p.reasoning_effort != "low" && p.reasoning_effort != "medium" &&
        p.reasoning_effort != "high")
      n.required("reasoning_effort").fail("must be 'low', 'medium' or 'high'");
    p.chat_date = n.opt_string("chat_date").value_or("");
    if (!p.chat_date.empty() && !is_iso_date(p.chat_date))
      n.required("chat_date").fail("must be a date written YYYY-MM-DD");
    p.threads = int(n.opt_int("threads", 0, 1024).value_or(0));
    p.trace_routing = n.opt_bool("trace_routing").value_or(true);
    p.batch = int(n.opt_int("batch", 1, 256).value_or(p.batch));
    p.batch_variance = n.opt_bool("batch_variance").value_or(false);
    p.weights = n.opt_string("weights").value_or("auto");
    if (p.weights != "auto" && p.weights != "mapped" && p.weights != "copy")
      n.required("weights").fail("must be 'auto', 'mapped' or 'copy'");
    p.max_concurrency = 1;
  } else {
    n.required("kind").fail("unknown provider kind '" + p.kind + "' (expected 'local' or 'openai')");
  }
  p.timeout_s = n.opt_double("timeout", 0.001, 86400).value_or(p.timeout_s);
  p.max_attempts = int(n.opt_int("max_attempts", 1, 100).value_or(p.max_attempts));
  p.max_concurrency = int(n.opt_int("max_concurrency", 1, 1024).value_or(p.max_concurrency));
  p.requests_per_second = n.opt_double("rps", 0, 1e6).value_or(0);
  p.circuit_breaker = int(n.opt_int("circuit_breaker", 0, 1 << 20).value_or(p.circuit_breaker));
  // Up to the 16 MiB a response may carry at all; each stored output is cut to this.
  p.max_output_bytes = n.opt_int("max_output_bytes", 1, int64_t(16) << 20).value_or(p.max_output_bytes);
  if (auto sm = n.child("sampling")) p.sampling = parse_sampling(*sm);
  return p;
}

JudgeSpec parse_judge(const YamlNode& n) {
  n.expect_keys({"provider", "sampling", "repeats", "max_concurrency", "max_malformed_retries", "structured"});
  JudgeSpec j;
  j.provider = parse_provider(n.required("provider"));
  if (auto sm = n.child("sampling")) j.sampling = parse_sampling(*sm);
  if (!j.sampling.temperature) j.sampling.temperature = 0.0;
  j.repeats = int(n.opt_int("repeats", 1, 25).value_or(j.repeats));
  j.max_concurrency = int(n.opt_int("max_concurrency", 1, 256).value_or(j.max_concurrency));
  j.max_malformed_retries = int(n.opt_int("max_malformed_retries", 0, 10).value_or(j.max_malformed_retries));
  j.structured = n.opt_bool("structured");
  if (j.structured.value_or(false) && j.provider.kind != "local")
    n.required("structured").fail(
        "structured decoding needs the bundled engine (provider kind local); an OpenAI-compatible judge is "
        "asked for the JSON in its prompt");
  return j;
}

GateSpec parse_gate(const YamlNode& n) {
  n.expect_keys({"max_unstable", "min_pass_rate", "max_pass_rate_drop", "alpha", "max_routing_jsd",
                 "min_topk_overlap", "max_provider_failures", "min_weighted_score", "min_pass_hat_k", "pass_k"});
  GateSpec g;
  if (auto v = n.opt_int("max_unstable", 0, 1 << 30)) g.max_unstable = int(*v);
  g.min_pass_rate = n.opt_double("min_pass_rate", 0, 1);
  g.max_pass_rate_drop = n.opt_double("max_pass_rate_drop", 0, 1);
  g.alpha = n.opt_double("alpha", 0, 1);
  g.max_routing_jsd = n.opt_double("max_routing_jsd", 0, 1);
  g.min_topk_overlap = n.opt_double("min_topk_overlap", 0, 1);
  if (auto f = n.opt_string("max_provider_failures")) {
    g.max_provider_failures = FailureBudget::parse(*f);
    if (!g.max_provider_failures)
      n.required("max_provider_failures").fail("expected a count (e.g. 3) or a share (e.g. 5%), got '" + *f + "'");
  }
  g.min_weighted_score = n.opt_double("min_weighted_score", 0, 1);
  g.min_pass_hat_k = n.opt_double("min_pass_hat_k", 0, 1);
  if (auto k = n.opt_int("pass_k", 1, 10000)) g.pass_k = int(*k);
  return g;
}

const std::set<std::string> kRoles = {"system", "user", "assistant"};

Message parse_message(const YamlNode& n) {
  n.expect_map();
  auto keys = n.keys();
  // Shorthand `- user: text`.
  if (keys.size() == 1 && kRoles.count(keys[0])) return {keys[0], n.required(keys[0]).as_string()};
  n.expect_keys({"role", "content"});
  Message m{n.required("role").as_string(), n.required("content").as_string()};
  if (!kRoles.count(m.role)) n.required("role").fail("role must be system, user or assistant");
  return m;
}

// The routing-friendly skeleton: structured keys expanded into a system and a user message in a
// fixed, documented layout so that variants differ only where the author changed them.
void expand_skeleton(const YamlNode& n, Variant& v) {
  std::string system;
  auto add_line = [&](const std::string& label, const std::optional<std::string>& value) {
    if (value) system += (system.empty() ? "" : "\n") + label + *value;
  };
  if (auto role = n.opt_string("role")) add_line("", "You are " + *role + ".");
  add_line("Audience: ", n.opt_string("audience"));
  add_line("Language: ", n.opt_string("language"));
  add_line("Output format: ", n.opt_string("output_format"));
  if (auto steps = n.child("steps")) {
    auto list = steps->as_string_list();
    std::string s = "Steps:";
    for (size_t i = 0; i < list.size(); ++i) s += "\n" + std::to_string(i + 1) + ". " + list[i];
    add_line("", s);
  }
  add_line("Context: ", n.opt_string("context"));
  std::string user;
  if (auto examples = n.child("examples")) {
    for (const auto& ex : examples->items()) {
      ex.expect_keys({"input", "output"});
      user += "Example input: " + ex.required("input").as_string() + "\nExample output: " +
              ex.required("output").as_string() + "\n\n";
    }
  }
  user += n.required("task").as_string();
  if (!system.empty()) v.messages.push_back({"system", system});
  v.messages.push_back({"user", user});
}

Variant parse_variant(const YamlNode& n) {
  n.expect_keys({"id", "description", "prompt", "messages", "role", "task", "audience", "language",
                 "output_format", "steps", "examples", "context"});
  Variant v;
  v.id = n.required("id").as_string();
  v.description = n.opt_string("description").value_or("");
  int forms = (n.child("prompt") ? 1 : 0) + (n.child("messages") ? 1 : 0) + (n.child("task") ? 1 : 0);
  if (forms != 1) n.fail("a variant needs exactly one of 'prompt', 'messages' or the skeleton's 'task'");
  if (auto p = n.child("prompt")) {
    v.prompt = p->as_string();
  } else if (auto m = n.child("messages")) {
    for (const auto& item : m->items()) v.messages.push_back(parse_message(item));
    if (v.messages.empty()) m->fail("needs at least one message");
  } else {
    expand_skeleton(n, v);
  }
  if (!v.prompt) {
    for (const char* k : {"role", "audience", "language", "output_format", "steps", "examples", "context"})
      if (n.child("messages") && n.child(k)) n.required(k).fail("skeleton keys cannot be mixed with 'messages'");
  } else {
    for (const char* k : {"role", "audience", "language", "output_format", "steps", "examples", "context"})
      if (n.child(k)) n.required(k).fail("skeleton keys cannot be mixed with 'prompt'");
  }
  return v;
}

// rubric_files: the rubric files read so far, by normalised path; a file named by many cases is
// read and parsed once.
Rubric resolve_rubric(const YamlNode& n, const std::string& suite_dir, std::map<std::string, Rubric>& rubric_files) {
  if (n.is_scalar()) {
    std::string ref = n.as_string();
    std::vector<fs::path> candidates = {fs::path(suite_dir) / ref, fs::path(ref)};
    for (const auto& c : candidates) {
      std::error_code ec;
      if (fs::is_regular_file(c, ec)) {
        std::string p = c.lexically_normal().string();
        auto it = rubric_files.find(p);
        if (it == rubric_files.end()) it = rubric_files.emplace(p, load_rubric_file(p)).first;
        return it->second;
      }
    }
    n.fail("rubric file '" + ref + "' not found (looked in " + suite_dir + " and the current directory)");
  }
  return parse_rubric_node(n);
}

Case parse_case(const YamlNode& n, const std::string& suite_dir, const std::optional<Rubric>& default_rubric,
                std::map<std::string, Rubric>& rubric_files) {
  n.expect_keys({"id", "description", "vars", "rubric", "repeats", "sampling", "tags", "answer_extractor"});
  Case c;
  c.id = n.required("id").as_string();
  if (c.id.empty()) n.required("id").fail("must not be empty");
  c.description = n.opt_string("description").value_or("");
  if (auto vars = n.child("vars")) {
    if (!vars->is_null()) {
      for (const auto& key : vars->keys()) c.vars[key] = vars->required(key).as_string();
    }
  }
  if (auto r = n.child("rubric")) {
    c.rubric = resolve_rubric(*r, suite_dir, rubric_files);
  } else if (default_rubric) {
    c.rubric = *default_rubric;
  } else {
    n.fail("case has no rubric and the suite names no default 'rubric'");
  }
  if (auto r = n.opt_int("repeats", 1, 10000)) c.repeats = int(*r);
  if (auto s = n.child("sampling")) c.sampling = parse_sampling(*s);
  if (auto t = n.child("tags")) c.tags = t->as_string_list();
  if (auto x = n.child("answer_extractor")) c.answer_extractor = parse_extractor(*x);
  return c;
}

// Renders every string scalar under `n` (skipping ids and descriptions, which are never sent) and
// reports the first one that uses a var the case lacks, at that scalar's own line and field.
void check_node_templates(const YamlNode& n, const Case& c) {
  if (n.is_map()) {
    for (const auto& key : n.keys())
      if (key != "id" && key != "description") check_node_templates(n.required(key), c);
  } else if (n.is_sequence()) {
    for (const auto& item : n.items()) check_node_templates(item, c);
  } else if (n.is_scalar()) {
    try {
      render_template(n.raw().Scalar(), c.vars, "case '" + c.id + "'");
    } catch (const ConfigError& e) {
      n.fail(e.what());
    }
  }
}

// Every template a case will see must resolve now, not halfway through a run.
void check_templates(const Suite& s, const std::vector<YamlNode>& variant_nodes,
                     const std::vector<std::string>& case_paths) {
  for (size_t ci = 0; ci < s.cases.size(); ++ci) {
    const Case& c = s.cases[ci];
    for (size_t vi = 0; vi < s.variants.size(); ++vi) {
      check_node_templates(variant_nodes[vi], c);
      render_prompt(s.variants[vi], c);  // the expanded form; cannot fail once the scalars pass
    }
    for (size_t k = 0; k < c.rubric.criteria.size(); ++k) {
      const CriterionSpec& crit = c.rubric.criteria[k];
      try {
        render_template(dump_json(crit.args), c.vars, "case '" + c.id + "'");
      } catch (const ConfigError& e) {
        // crit.source is "file:line" of the criterion, in the rubric file or the suite.
        std::string file = crit.source;
        int line = 0;
        if (auto colon = file.rfind(':'); colon != std::string::npos) {
          line = std::atoi(file.c_str() + colon + 1);
          file.resize(colon);
        }
        throw ConfigError(file, line,
                          case_paths[ci] + ".rubric.criteria[" + std::to_string(k) + "].args",
                          std::string(e.what()) + " (criterion '" + crit.id + "')");
      }
    }
  }
}

}  // namespace

static Suite load_suite_unchecked(const std::string& path) {
  YamlNode root = YamlNode::load_file(path);
  if (root.is_null()) throw ConfigError(path, 0, "", "suite file is empty");
  root.expect_keys({"name", "description", "provider", "providers", "sampling", "repeats", "gate", "variants", "cases",
                    "cases_file", "rubric", "judge"});
  Suite s;
  s.source_path = path;
  std::string suite_dir = fs::path(path).parent_path().string();
  if (suite_dir.empty()) suite_dir = ".";
  s.name = root.required("name").as_string();
  s.description = root.opt_string("description").value_or("");
  if (auto p = root.child("provider")) s.provider = parse_provider(*p);
  if (auto list = root.child("providers")) {
    if (root.child("provider"))
      list->fail("give either 'provider' (one) or 'providers' (a list), not both");
    std::map<std::string, int> seen;  // id -> line
    for (const auto& item : list->items()) {
      if (!item.is_map() || !item.child("id")) item.fail("each entry of 'providers' needs an 'id'");
      ProviderSpec spec = parse_provider(item);
      if (auto [it, fresh] = seen.emplace(spec.id, item.required("id").line()); !fresh)
        item.required("id").fail("duplicate provider id '" + spec.id + "' (first at line " +
                                 std::to_string(it->second) + ")");
      s.providers.push_back(std::move(spec));
    }
    if (s.providers.empty()) list->fail("needs at least one provider");
    s.provider = s.providers.front();
  }
  if (auto sm = root.child("sampling")) s.sampling = parse_sampling(*sm);
  s.repeats = int(root.opt_int("repeats", 1, 10000).value_or(5));
  if (auto g = root.child("gate")) s.gate = parse_gate(*g);
  if (auto j = root.child("judge")) s.judge = parse_judge(*j);

  std::map<std::string, Rubric> rubric_files;
  std::optional<Rubric> default_rubric;
  if (auto r = root.child("rubric")) default_rubric = resolve_rubric(*r, suite_dir, rubric_files);

  std::set<std::string> ids;
  std::vector<YamlNode> variant_nodes;
  for (const auto& item : root.required("variants").items()) {
    variant_nodes.push_back(item);
    Variant v = parse_variant(item);
    if (!ids.insert(v.id).second) item.required("id").fail("duplicate variant id '" + v.id + "'");
    s.variants.push_back(std::move(v));
  }
  if (s.variants.empty()) root.required("variants").fail("needs at least one variant");
  ids.clear();
  std::vector<std::string> case_paths;
  auto cases_node = root.child("cases");
  auto cases_file = root.child("cases_file");
  if (!cases_node && !cases_file) root.fail("needs 'cases' or 'cases_file'");
  if (cases_node) {
    for (const auto& item : cases_node->items()) {
      case_paths.push_back(item.path());
      Case c = parse_case(item, suite_dir, default_rubric, rubric_files);
      if (!ids.insert(c.id).second) item.required("id").fail("duplicate case id '" + c.id + "'");
      s.cases.push_back(std::move(c));
    }
  }
  if (cases_file) {
    if (!default_rubric)
      cases_file->fail("cases read from a file are graded by the suite's 'rubric', and the suite names none");
    std::string data = cases_file->as_string();
    fs::path data_path = fs::path(data).is_absolute() ? fs::path(data) : fs::path(suite_dir) / data;
    std::string shown = data_path.lexically_normal().string();
    for (auto& c : load_cases_file(shown, *default_rubric)) {
      if (!ids.insert(c.id).second)
        throw ConfigError(shown, 0, "cases_file", "case id '" + c.id + "' is also defined in the suite's 'cases'");
      case_paths.push_back("cases_file:" + c.id);
      s.cases.push_back(std::move(c));
    }
  }
  if (s.cases.empty()) (cases_node ? *cases_node : *cases_file).fail("needs at least one case");
  check_templates(s, variant_nodes, case_paths);
  for (size_t ci = 0; ci < s.cases.size(); ++ci)
    for (const auto& crit : s.cases[ci].rubric.criteria)
      if (crit.scorer == "judge" && !s.judge)
        throw ConfigError(crit.source, 0, "scorer",
                          "criterion '" + crit.id + "' of case '" + s.cases[ci].id +
                              "' uses the judge scorer, but the suite has no 'judge:' block naming the judge model");

  s.content_hash = suite_content_hash(s);
  return s;
}

Suite load_suite(const std::string& path) {
  try {
    return load_suite_unchecked(path);
  } catch (const YAML::Exception& e) {
    // Every conversion goes through YamlNode's checked accessors; this net turns any yaml-cpp
    // exception that still escapes into the documented error (and exit code 2), never a crash.
    throw ConfigError(path, e.mark.is_null() ? 0 : e.mark.line + 1, "", e.msg);
  }
}

void filter_cases(Suite& suite, const std::vector<std::string>& ids, const std::vector<std::string>& tags) {
  if (ids.empty() && tags.empty()) return;
  std::vector<Case> kept;
  for (auto& c : suite.cases) {
    bool keep = std::find(ids.begin(), ids.end(), c.id) != ids.end();
    for (const auto& t : c.tags) keep = keep || std::find(tags.begin(), tags.end(), t) != tags.end();
    if (keep) kept.push_back(std::move(c));
  }
  suite.cases = std::move(kept);
}

}  // namespace wobble
