// Store: the SQLite database every run, sample, score, attempt and routing trace lives in.
//
// Schema: documented in src/store/README.md and versioned; open() applies pending
// migrations in a transaction and refuses a database from a newer tool version.
// WAL mode, busy timeout 5 s. Writes are batched: insert_samples() writes a batch in one
// transaction. Thread safety: one Store per thread (SQLite connection); the runner funnels writes
// through a single writer. Errors throw StoreError (exit code 4); a failed batch is rolled back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "provider/provider.h"
#include "scorer/judge.h"
#include "scorer/scorer.h"
#include "store/run_plan.h"
#include "store/schema.h"

struct sqlite3;

namespace wobble {

// One per migration (store/schema.cpp), so appending a migration needs no second edit here.
inline const int kSchemaVersion = int(schema_migrations().size());

struct RunRecord {
  int64_t id = 0;
  std::string suite_name;
  std::string suite_path;
  std::string suite_hash;
  RunPlan plan;                   // what the run executes: suite as run, repeats, sampling, shard
  nlohmann::json provider;        // ProviderSpec::to_json()
  std::string model_id;
  nlohmann::json sampling;        // suite-level sampling defaults
  int repeats = 0;
  std::string tool_version;
  std::string started_at, finished_at;  // ISO-8601 UTC
  std::string status;             // "running" | "complete" | "interrupted" | "failed"
  std::string shard;              // "" or "i/N" (plan.shard_text())
  int64_t expected_samples = 0;
};

// Who holds a run: one process at a time executes a run's samples (a new run or a resume).
struct RunLease {
  std::string owner;       // random token of the holding process
  int64_t pid = 0;
  std::string host;
  double acquired_at = 0, heartbeat_at = 0;  // unix seconds
  // A lease for the calling process: a fresh random owner token, its pid and host name.
  static RunLease for_this_process();
};

struct SampleRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string case_id, variant_id;
  int repeat = 0;
  std::string provider_id;     // ProviderSpec::id it ran on ("" for a suite with one unnamed provider)
  std::string prompt;          // as sent (RenderedPrompt::as_text)
  bool ok = false;             // false: every attempt failed; output is empty and not a model output
  std::string output;
  std::string finish_reason;
  int64_t prompt_tokens = -1, completion_tokens = -1;
  double latency_s = 0;
  std::string error;
  std::string model_reported;  // the model id the endpoint answered with ("" when none)
  std::vector<TokenLogprob> logprobs;  // per generated token, when the provider reported them
  int64_t output_original_bytes = -1;  // >= 0: output was cut to the stored cap from this many bytes
  uint64_t seed = 0;
  std::optional<std::string> extracted_answer;
  // The thinking part and the answer part (scorer/output_parts.h). kNone: the output has no
  // thinking part and is the answer itself (`answer` stays empty, never a copy of it).
  ReasoningForm reasoning_form = ReasoningForm::kNone;
  std::string reasoning, answer;
  bool reasoning_closed = true;
  OutputParts parts() const {
    if (reasoning_form == ReasoningForm::kNone) return OutputParts{ReasoningForm::kNone, "", output, true};
    return OutputParts{reasoning_form, reasoning, answer, reasoning_closed};
  }
  void set_parts(OutputParts p) {
    reasoning_form = p.form;
    reasoning = std::move(p.reasoning);
    answer = p.form == ReasoningForm::kNone ? std::string() : std::move(p.answer);
    reasoning_closed = p.closed;
  }
  // The answer part: the output itself when there is no thinking part.
  const std::string& answer_text() const { return reasoning_form == ReasoningForm::kNone ? output : answer; }
  std::vector<int32_t> prompt_token_ids, token_ids;
  std::vector<uint8_t> routing_trace;   // empty when none
  std::string routing_error;            // why routing was asked for but is absent ("" otherwise)
  std::vector<CriterionResult> scores;
  std::vector<Attempt> attempts;
  std::vector<JudgeGrading> judge_gradings;  // every grading of every judge criterion (scorer/judge.h)
};

// Which columns a streaming read fills in; the others are left empty. Scores are always read.
struct SampleColumns {
  bool prompt = true;
  bool traces = false;     // routing_trace
  bool token_ids = true;   // prompt_token_ids and token_ids
  bool logprobs = true;
  bool attempts = true;
  // false: attempts of failed samples only (the analysis counts those; a sample with output keeps
  // an empty list).
  bool attempts_of_ok_samples = true;
  // Outputs and extracted answers (false: both left empty, extracted_answer nullopt).
  bool output = true;
  // Which scores' reason, evidence text and expected value are read: all (renderers of per-repeat
  // detail and the disagreement quotes), fails only (reason and evidence, never the expected value),
  // or none (commands that use outcomes and scores only: gate, compare, trend, routing).
  enum class ScoreText { kAll, kFails, kNone };
  ScoreText score_text = ScoreText::kAll;
  // Every judge grading of each sample (SampleRecord::judge_gradings), in criterion then k order.
  bool judge_gradings = false;
  // The provider whose samples for_each_group(groups, ...) reads ('' for a run's single unnamed
  // provider); the overload over ProviderGroups names the provider per group instead.
  std::string provider_id;
};

// A (case, variant) pair of a run.
using GroupKey = std::pair<std::string, std::string>;

// A (case, variant) pair of a run on one provider: what one streamed read covers.
struct ProviderGroup {
  std::string case_id, variant_id, provider_id;
};

class Store {
 public:
  static Store open(const std::string& path);  // creates and migrates as needed
  // For commands that only read (runs, show, report, gate, compare, trend, merge's inputs): never
  // creates, migrates or writes anything (PRAGMA query_only; see store.cpp for why not
  // SQLITE_OPEN_READONLY). A missing path throws StoreError "no such database: PATH";
  // a file that is not a wobble database, or one whose schema is older or newer than this tool's,
  // throws StoreError naming the version and what to do (an older one: `wobble migrate --db PATH`).
  static Store open_read_only(const std::string& path);
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  int schema_version() const;

  // Stores a new run (status "running") and, when lease_owner is given, leases it to that owner
  // in the same transaction. Returns the new id.
  int64_t create_run(const RunRecord& run, const RunLease* lease = nullptr);
  void set_run_status(int64_t run_id, const std::string& status, bool finished);
  // Compare-and-set: changes the status only while the run is leased by `owner`. Returns false
  // (and changes nothing) when another process holds or took the lease.
  bool set_run_status_as(int64_t run_id, const std::string& owner, const std::string& status, bool finished);

  // Leases: taken atomically (BEGIN IMMEDIATE). A lease whose heartbeat is older than stale_after_s
  // (or whose holder is a dead process on this host) may be taken over. Returns nullopt when
  // taken, else the current holder.
  std::optional<RunLease> acquire_lease(int64_t run_id, const RunLease& me, double stale_after_s);
  void heartbeat(int64_t run_id, const std::string& owner);
  void release_lease(int64_t run_id, const std::string& owner);
  std::optional<RunLease> lease_of(int64_t run_id) const;
  std::optional<RunRecord> get_run(int64_t run_id) const;
  // Whether a run with this id exists, without reading its plan (get_run parses the suite snapshot).
  bool run_exists(int64_t run_id) const;
  std::vector<RunRecord> list_runs(const std::string& suite_name = "", int limit = 0) const;
  // Deletes a run with its samples, scores and attempts (one transaction). Used to undo a merge
  // that failed half-way; returns false when there was no such run.
  bool delete_run(int64_t run_id);

  // Inserts samples with their scores and attempts in one transaction. A sample whose
  // (run, provider, case, variant, repeat) already exists is rejected (UNIQUE constraint) and the batch
  // rolled back: repeats are never collapsed or duplicated.
  void insert_samples(const std::vector<SampleRecord>& batch);
  // (case, variant, repeat) with an ok sample on any provider; see completed_work for the per-provider set.
  std::set<Triple> completed_triples(int64_t run_id) const;
  std::set<WorkItem> completed_work(int64_t run_id) const;  // (provider, case, variant, repeat) with an ok sample
  // Loads samples of a run in the suite's order of cases and variants (its snapshot), then by
  // repeat; with_trace=false skips trace blobs.
  std::vector<SampleRecord> samples(int64_t run_id, bool with_trace = false) const;

  // The (case, variant) groups that have stored samples, in the order samples() returns them: the
  // suite's order of cases and variants, ids the suite does not name after, alphabetically.
  // traced_only: only groups with at least one sample carrying a routing trace (an index lookup).
  int64_t sample_count(int64_t run_id) const;  // stored samples of the run, failed ones included
  // The distinct provider ids of a run's stored samples, sorted ('' for an unnamed provider).
  std::vector<std::string> sample_providers(int64_t run_id) const;
  // The same in the order samples() meets them: the suite's order of providers, then by id.
  std::vector<std::string> sample_providers_in_order(int64_t run_id, const Suite& suite) const;
  std::vector<GroupKey> sample_groups(int64_t run_id, const Suite& suite, bool traced_only = false) const;
  // Streams the samples of `groups` one group at a time, each group in repeat order with its scores
  // (and attempts when asked): the same records samples() returns, without holding the whole run.
  // Memory is one group's samples. `fn` may move the vector's contents away.
  void for_each_group(int64_t run_id, const std::vector<GroupKey>& groups, const SampleColumns& columns,
                      const std::function<void(std::vector<SampleRecord>& group)>& fn) const;
  // The same over (case, variant, provider) triples in the order given (columns.provider_id unused);
  // `fn` is also called for a triple without samples, with an empty vector, and gets its index.
  void for_each_group(int64_t run_id, const std::vector<ProviderGroup>& groups, const SampleColumns& columns,
                      const std::function<void(size_t index, std::vector<SampleRecord>& group)>& fn) const;
  bool has_judge_gradings(int64_t run_id) const;  // any grading of any sample of the run

  // Samples with output but no routing trace that carry a routing_error, counted per (case,
  // variant, error): in the order samples() would meet them (the suite's group order, then each
  // error's first repeat). Reads only the index of traced or routing-error samples.
  // Counted per provider too: a run on several providers meets them provider by provider within
  // each (case, variant) group (the suite's order of providers, then by id).
  struct RoutingErrorCount {
    std::string case_id, variant_id, error;
    int64_t samples = 0;
    int first_repeat = 0;
    std::string provider_id;
  };
  std::vector<RoutingErrorCount> routing_errors(int64_t run_id, const Suite& suite) const;
  // Judge gradings of a run's samples by sample id, in criterion then k order.
  std::map<int64_t, std::vector<JudgeGrading>> judge_gradings(int64_t run_id) const;
  // A stored grading with this cache key that may be reused (JudgeGrading::cacheable), or nullopt.
  std::optional<JudgeGrading> cached_grading(const std::string& cache_key) const;

  sqlite3* handle() const { return db_; }

 private:
  explicit Store(sqlite3* db);
  sqlite3* db_ = nullptr;
};

}  // namespace wobble
