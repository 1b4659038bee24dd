// The suite model: what `wobble run` executes. Parsed from YAML (or JSON) by load_suite().
//
// A suite runs every case x variant `repeats` times. Prompts are templates with {{var}}
// placeholders filled from the case's vars. Everything here is a plain value; the parsed suite
// is immutable once loaded and may be shared across threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scorer/output_parts.h"

namespace wobble {

// Sampling parameters as written: every field optional so case overrides layer over suite defaults.
struct SamplingSpec {
  std::optional<double> temperature, top_p, min_p;
  std::optional<int> top_k, max_tokens;
  std::optional<uint64_t> seed;
  std::optional<std::vector<std::string>> stop;

  SamplingSpec overlaid_with(const SamplingSpec& over) const;  // `over` wins where set
  nlohmann::json to_json() const;
  static SamplingSpec from_json(const nlohmann::json& j);  // inverse of to_json; throws on a wrong type
};

// Concrete values after defaults: temperature 0, top_p 1, top_k 0, min_p 0, max_tokens 256, seed 0.
struct Sampling {
  double temperature = 0, top_p = 1, min_p = 0;
  int top_k = 0, max_tokens = 256;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  static Sampling resolve(const SamplingSpec& s);
  nlohmann::json to_json() const;
  static Sampling from_json(const nlohmann::json& j);  // inverse of to_json
};

struct ProviderSpec {
  // Names the provider in a `providers:` list (required there, unique, [A-Za-z0-9._-]{1,64});
  // every sample stores it. "" for a suite with a single `provider:` that names none.
  std::string id;
  std::string kind = "local";  // "local" (bundled engine) or "openai"
  // openai
  // base_url and model may use ${ENV} in the suite file; they hold the expanded value.
  std::string base_url;        // e.g. http://127.0.0.1:8000/v1
  std::string model;
  std::string api_key_env;     // name of the environment variable; the key itself is never stored
  std::string endpoint = "chat";  // "chat" (chat/completions) or "completions"
  double timeout_s = 60;
  int max_concurrency = 4;
  double requests_per_second = 0;  // 0 = unlimited
  int max_attempts = 4;
  bool logprobs = false;
  int top_logprobs = 0;            // alternatives per token to ask for (0..20; needs logprobs)
  // Expert routing from the server (provider/routing_payload.h): "off", "vllm" (choice field
  // routed_experts, .npy) or "sglang" (sglext.routed_experts, raw int32). routing_shape gives the
  // layer count and top_k (required for sglang, whose payload has no shape) and optionally the
  // expert count, which bounds the ids; 0 = not given.
  std::string routing = "off";
  uint32_t routing_layers = 0, routing_top_k = 0, routing_n_experts = 0;
  // Stop the run after this many samples in a row failed at the provider, spanning more than one
  // (case, variant) group unless the plan has only one; 0 never stops.
  int circuit_breaker = 8;
  // Both kinds: an output longer than this is stored cut (runner/output_cap.h), 1 MiB by default.
  int64_t max_output_bytes = int64_t(1) << 20;
  // local
  std::string model_path;          // GGUF; empty = the bundled demo model
  std::string chat_template = "auto";  // "auto" or a name of moe::chat_family_list()
  // Template switches (moe::ChatOptions): qwen3's thinking (unset: the template's default, on) and
  // harmony's reasoning effort and date line ("" : medium; today's UTC date).
  std::optional<bool> thinking;
  std::string reasoning_effort, chat_date;
  int threads = 0;
  bool trace_routing = true;
  // Repeats of one (case, variant) decoded together as one batch (moe/repeats.h), prompt prefilled
  // once; results are bit-identical to running them one at a time, so this is not recorded.
  int batch = 8;
  // Reproduces a batching server's batch-dependent numerics (engine/README.md "Batched decoding");
  // it changes results, so it is recorded with the run.
  bool batch_variance = false;
  // local: where the model's weights live (moe::WeightMemory): "auto" (a private copy in huge pages
  // when the file fits in half of available memory), "mapped" or "copy". Changes no result, so it
  // is not recorded with the run.
  std::string weights = "auto";
  // Sampling for this provider's samples, over the suite's and each case's (the provider is the
  // condition being compared, so a case cannot silently undo it). Leave `seed` unset to keep
  // repeats paired across providers.
  SamplingSpec sampling;

  nlohmann::json to_json() const;  // stored with the run; never contains a secret
  static ProviderSpec from_json(const nlohmann::json& j);  // inverse of to_json
};

struct Message {
  std::string role;  // system | user | assistant
  std::string content;
};

struct Variant {
  std::string id;
  std::string description;
  // Exactly one form: a plain prompt (completions-style) or chat messages. The structured
  // skeleton (role, task, audience, ...) is expanded into messages at load time.
  std::optional<std::string> prompt;
  std::vector<Message> messages;
  bool is_chat() const { return !prompt.has_value(); }
};

// How to pull "the answer" out of an output, for TARa and answer-based scorers.
struct ExtractorSpec {
  std::string kind;        // "regex" | "number" | "last-line" | "json-path" | "first-line"
  nlohmann::json args;     // e.g. {"pattern": "Answer: (\\d+)", "group": 1}
};

struct CriterionSpec {
  std::string id;
  std::string description;
  double weight = 1;
  std::string scorer;      // registered scorer name, e.g. "regex"
  nlohmann::json args;     // scorer arguments; strings may hold {{var}} templates
  bool negate = false;     // `not: true` inverts pass/fail (unscored stays unscored)
  Scope scope = Scope::kAnswer;  // which text is graded: the answer part, the reasoning part, or the raw output
  std::string source;      // "file:line" where it was defined, for messages
};

struct Rubric {
  std::string name;
  std::string source_path;  // file it came from, or the suite file for inline criteria
  std::vector<CriterionSpec> criteria;
  std::optional<ExtractorSpec> answer_extractor;
};

struct Case {
  std::string id;
  std::string description;
  std::map<std::string, std::string> vars;
  Rubric rubric;
  std::optional<int> repeats;
  SamplingSpec sampling;
  std::vector<std::string> tags;
  std::optional<ExtractorSpec> answer_extractor;  // overrides the rubric's
};

// How many provider failures a gate tolerates: a count of samples, or a share of the planned ones.
// Written "3" (count) or "5%" (share).
struct FailureBudget {
  double value = 0;
  bool share = false;
  static std::optional<FailureBudget> parse(const std::string& text);  // nullopt when malformed
  std::string text() const;
  bool allows(int64_t failed, int64_t planned) const;
};

struct GateSpec {
  std::optional<int> max_unstable;
  std::optional<double> min_pass_rate;
  std::optional<double> max_pass_rate_drop;  // vs baseline, absolute
  std::optional<double> alpha;               // significance level for baseline comparison
  std::optional<double> max_routing_jsd;     // vs baseline, per layer
  std::optional<double> min_topk_overlap;    // vs baseline
  std::optional<double> min_weighted_score;  // mean weighted score over the run's samples (0..1)
  std::optional<FailureBudget> max_provider_failures;  // unset: none tolerated
  // Every scored (case, variant, criterion) must pass all of k repeats with at least this chance:
  // pass^k = C(c, k) / C(n, k), k = min(n, pass_k). Accepts a known-flaky criterion with a bound.
  std::optional<double> min_pass_hat_k;
  std::optional<int> pass_k;  // k for min_pass_hat_k (default 3)
};

// The judge model for `scorer: judge` criteria (src/judge/): a provider of either kind, its sampling
// (temperature 0 unless set), how many independent gradings each output gets (k) and how many judge
// calls run at once. A criterion may override model, repeats and sampling in args.judge.
struct JudgeSpec {
  ProviderSpec provider;
  SamplingSpec sampling;
  int repeats = 3;
  int max_concurrency = 4;
  int max_malformed_retries = 2;  // extra calls after a reply that is not the JSON asked for
  // Structured decoding (judge/judge_reply_grammar.h): the judge can only reply judge-v1's JSON
  // shape, quoting the output. Unset: on for the bundled engine, off otherwise (an
  // OpenAI-compatible server cannot be constrained this way; `true` there is a config error).
  std::optional<bool> structured;
  bool structured_decoding() const { return structured.value_or(provider.kind == "local"); }

  nlohmann::json to_json() const;
  static JudgeSpec from_json(const nlohmann::json& j);  // inverse of to_json
};

struct Suite {
  std::string name;
  std::string description;
  std::string source_path;
  std::string content_hash;  // suite_content_hash(): what is asked and how it is graded
  // A suite names one `provider:` or a `providers:` list. With a list, `providers` holds it (in
  // the file's order) and `provider` is a copy of its first entry (the run's headline model);
  // with a single provider, `providers` is empty.
  ProviderSpec provider;
  std::vector<ProviderSpec> providers;
  SamplingSpec sampling;
  int repeats = 5;
  std::vector<Variant> variants;
  std::vector<Case> cases;
  GateSpec gate;
  std::optional<JudgeSpec> judge;  // unset: the suite has no judge; a `scorer: judge` criterion is a config error

  // Every provider the suite runs on: `providers`, or the single `provider`.
  std::vector<ProviderSpec> run_providers() const {
    return providers.empty() ? std::vector<ProviderSpec>{provider} : providers;
  }
  int repeats_for(const Case& c) const { return c.repeats.value_or(repeats); }
  Sampling sampling_for(const Case& c) const {
    return Sampling::resolve(sampling.overlaid_with(c.sampling));
  }
  // What provider `p` is asked with for case `c`: suite, then case, then provider sampling.
  Sampling sampling_for(const Case& c, const ProviderSpec& p) const {
    return Sampling::resolve(sampling.overlaid_with(c.sampling).overlaid_with(p.sampling));
  }
};

// Loads and validates a suite (and the rubric files it names, relative to the suite file's
// directory, then to the current directory). Throws ConfigError naming file, line and field.
// Unknown keys are errors. `cases_file:` rows (JSONL or CSV, relative to the suite file) are
// appended after the inline `cases:`; see load_cases_file().

Suite load_suite(const std::string& path);

// Reads cases from a data file: `.jsonl` (one JSON object per line: id, vars, tags, description)
// or `.csv` (RFC 4180; a header row naming id, tags, description and vars.NAME columns; tags are
// separated by ';'). Each case gets `rubric`. Read through read_file_bounded(); at most
// kMaxCasesFileRows rows. Throws ConfigError naming the data file and line (the line a CSV record
// starts on) for a malformed row, a missing or duplicate id or an unknown key or column.
inline constexpr size_t kMaxCasesFileRows = 100000;
std::vector<Case> load_cases_file(const std::string& path, const Rubric& rubric);

// Expands ${NAME} from the environment in `text` (NAME: [A-Za-z_][A-Za-z0-9_]*; a '$' not followed
// by '{' is kept). Throws ConfigError(file, line, field) when a variable is unset or a ${ is
// malformed; the message names `field` and the variable, never a value.
std::string expand_env(const std::string& text, const std::string& file, int line, const std::string& field);

// The parsed suite as JSON, stored with each run so reports never need the file again, and its
// inverse (throws std::runtime_error naming the field when `j` is not such a snapshot).
nlohmann::json suite_to_json(const Suite& suite);
Suite suite_from_json(const nlohmann::json& j);

// SHA-256 over what the suite asks and how it grades it: name, variants, cases (ids, vars, tags,
// extractors) and rubric criteria (id, scorer, args, not). File paths, descriptions, criterion
// weights, provider, sampling, repeats and gate thresholds are left out, so the same suite read from another directory, run on another model or
// at another temperature keeps its hash.
std::string suite_content_hash(const Suite& suite);

// The first differences between two suites as one line ("" when they would run the same work):
// used to refuse resuming a run with a changed suite, naming what changed.
std::string describe_suite_change(const Suite& planned, const Suite& now);

// Keeps cases whose id matches one of `ids` or that carry one of `tags` (empty = no filter).
void filter_cases(Suite& suite, const std::vector<std::string>& ids,
                  const std::vector<std::string>& tags);

// Substitutes {{var}} from vars. An unknown variable throws ConfigError naming `where`.
std::string render_template(const std::string& tmpl, const std::map<std::string, std::string>& vars,
                            const std::string& where);

struct RenderedPrompt {
  std::optional<std::string> prompt;  // plain
  std::vector<Message> messages;      // chat
  std::string as_text() const;        // canonical text stored as "prompt as sent"
};
RenderedPrompt render_prompt(const Variant& v, const Case& c);

}  // namespace wobble
