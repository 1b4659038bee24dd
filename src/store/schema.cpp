#include "store/schema.h"

namespace wobble {

const std::vector<const char*>& schema_migrations() {
  static const std::vector<const char*> kMigrations = {
      // 1: runs, samples, scores, attempts.
      R"sql(
CREATE TABLE runs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  suite_name       TEXT NOT NULL,
  suite_path       TEXT NOT NULL,
  suite_hash       TEXT NOT NULL,
  suite_snapshot   TEXT NOT NULL,          -- JSON: the parsed suite
  provider         TEXT NOT NULL,          -- JSON: provider spec, no secrets
  model_id         TEXT NOT NULL,
  sampling         TEXT NOT NULL,          -- JSON: suite-level sampling defaults
  repeats          INTEGER NOT NULL,
  tool_version     TEXT NOT NULL,
  started_at       TEXT NOT NULL,
  finished_at      TEXT,
  status           TEXT NOT NULL CHECK (status IN ('running','complete','interrupted','failed')),
  shard            TEXT NOT NULL DEFAULT '',
  expected_samples INTEGER NOT NULL
);
CREATE TABLE samples (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  case_id           TEXT NOT NULL,
  variant_id        TEXT NOT NULL,
  repeat_index      INTEGER NOT NULL,
  prompt            TEXT NOT NULL,
  ok                INTEGER NOT NULL,      -- 0: every attempt failed; output is not a model output
  output            TEXT NOT NULL,
  finish_reason     TEXT NOT NULL,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  latency_s         REAL NOT NULL,
  error             TEXT NOT NULL,
  seed              INTEGER NOT NULL,
  extracted_answer  TEXT,
  prompt_token_ids  BLOB,                  -- little-endian int32
  token_ids         BLOB,                  -- little-endian int32
  routing_trace     BLOB,                  -- moe::RoutingTrace::serialize()
  UNIQUE (run_id, case_id, variant_id, repeat_index)
);
CREATE TABLE scores (
  sample_id      INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
  criterion_id   TEXT NOT NULL,
  outcome        TEXT NOT NULL CHECK (outcome IN ('pass','fail','unscored')),
  score          REAL NOT NULL,
  evidence_start INTEGER NOT NULL,
  evidence_end   INTEGER NOT NULL,
  evidence_text  TEXT NOT NULL,
  reason         TEXT NOT NULL,
  expected       TEXT NOT NULL,
  PRIMARY KEY (sample_id, criterion_id)
);
CREATE TABLE attempts (
  sample_id     INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
  attempt_index INTEGER NOT NULL,
  http_status   INTEGER NOT NULL,
  outcome       TEXT NOT NULL,
  error         TEXT NOT NULL,
  latency_s     REAL NOT NULL,
  retry_after_s REAL NOT NULL,
  PRIMARY KEY (sample_id, attempt_index)
);
CREATE INDEX samples_by_run ON samples(run_id, case_id, variant_id, repeat_index);
CREATE INDEX runs_by_suite ON runs(suite_name, id);
)sql",
      // 2: the typed run plan, what the provider reported per sample, output cuts, run leases.
      R"sql(
ALTER TABLE runs ADD COLUMN plan TEXT;                 -- JSON: RunPlan (store/run_plan.h); NULL for v1 runs
ALTER TABLE samples ADD COLUMN model_reported TEXT NOT NULL DEFAULT '';
ALTER TABLE samples ADD COLUMN logprobs TEXT;          -- JSON [[token, logprob, [[alt, logprob], ...]], ...]
ALTER TABLE samples ADD COLUMN output_original_bytes INTEGER;  -- set when the stored output was cut
CREATE TABLE run_leases (
  run_id       INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  owner        TEXT NOT NULL,                          -- random token of the holding process
  pid          INTEGER NOT NULL,
  host         TEXT NOT NULL,
  acquired_at  REAL NOT NULL,                          -- unix seconds
  heartbeat_at REAL NOT NULL
);
)sql",
      // remote routing (issue 14): why a sample's routing trace is absent although it was asked
      // for (the server sent none, or a payload that failed its checks).
      R"sql(
ALTER TABLE samples ADD COLUMN routing_error TEXT NOT NULL DEFAULT '';
)sql",
      // judge: every grading of every judged output (scorer/judge.h), and the cache rescore reads.
      R"sql(
CREATE TABLE judge_gradings (
  sample_id      INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
  criterion_id   TEXT NOT NULL,
  k_index        INTEGER NOT NULL,                     -- 0..k-1
  verdict        TEXT NOT NULL CHECK (verdict IN ('pass','fail','')),  -- '' on a fault
  points         INTEGER NOT NULL,                     -- scale 1-5: the judge's number; else 0
  evidence       TEXT NOT NULL,                        -- JSON [[start, end, text], ...], byte offsets into the output
  reason         TEXT NOT NULL,
  fault          TEXT NOT NULL,                        -- '' | provider | malformed | hallucinated | unquoted-fail | cancelled
  fault_detail   TEXT NOT NULL,
  raw_response   TEXT NOT NULL,
  calls          INTEGER NOT NULL,                     -- judge calls made; 0 when copied from the cache
  latency_s      REAL NOT NULL,
  cached         INTEGER NOT NULL,
  cache_key      TEXT NOT NULL,
  judge_model    TEXT NOT NULL,
  prompt_version TEXT NOT NULL,
  PRIMARY KEY (sample_id, criterion_id, k_index)
);
CREATE INDEX judge_gradings_by_key ON judge_gradings(cache_key);
)sql",
      // providers: each sample names the provider it ran on ('' for a suite with one unnamed
      // provider, and for every sample stored before), and the unique key includes it so several
      // providers can store the same (case, variant, repeat). SQLite cannot change a table's
      // UNIQUE constraint in place: the table is rebuilt (Store::open runs migrations with foreign
      // keys off, so scores and attempts keep their rows, and checks them before committing).
      R"sql(
CREATE TABLE samples_with_provider (
  id                    INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id                INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  case_id               TEXT NOT NULL,
  variant_id            TEXT NOT NULL,
  repeat_index          INTEGER NOT NULL,
  prompt                TEXT NOT NULL,
  ok                    INTEGER NOT NULL,
  output                TEXT NOT NULL,
  finish_reason         TEXT NOT NULL,
  prompt_tokens         INTEGER NOT NULL,
  completion_tokens     INTEGER NOT NULL,
  latency_s             REAL NOT NULL,
  error                 TEXT NOT NULL,
  seed                  INTEGER NOT NULL,
  extracted_answer      TEXT,
  prompt_token_ids      BLOB,
  token_ids             BLOB,
  routing_trace         BLOB,
  model_reported        TEXT NOT NULL DEFAULT '',
  logprobs              TEXT,
  output_original_bytes INTEGER,
  routing_error         TEXT NOT NULL DEFAULT '',
  provider_id           TEXT NOT NULL DEFAULT '',
  UNIQUE (run_id, provider_id, case_id, variant_id, repeat_index)
);
INSERT INTO samples_with_provider (id, run_id, case_id, variant_id, repeat_index, prompt, ok, output, finish_reason,
    prompt_tokens, completion_tokens, latency_s, error, seed, extracted_answer, prompt_token_ids, token_ids,
    routing_trace, model_reported, logprobs, output_original_bytes, routing_error, provider_id)
  SELECT id, run_id, case_id, variant_id, repeat_index, prompt, ok, output, finish_reason, prompt_tokens,
    completion_tokens, latency_s, error, seed, extracted_answer, prompt_token_ids, token_ids, routing_trace,
    model_reported, logprobs, output_original_bytes, routing_error, '' FROM samples;
DROP TABLE samples;
ALTER TABLE samples_with_provider RENAME TO samples;
CREATE INDEX samples_by_run ON samples(run_id, provider_id, case_id, variant_id, repeat_index);
)sql",
      // Samples that carry a routing trace or say why they lack one, so routing analysis finds its
      // few groups and routing errors without reading every sample of a large run (wobble
      // report/compare/trend/gate). Queries repeat the WHERE term verbatim (kTracedOrErrorTerm).
      R"sql(
CREATE INDEX samples_traced ON samples(run_id, case_id, variant_id)
  WHERE length(routing_trace) > 0 OR routing_error <> '';
)sql",
      // reasoning (issue 16): an output's thinking part and answer part kept apart
      // (scorer/output_parts.h), and which of them a score's evidence offsets point into.
      R"sql(
ALTER TABLE samples ADD COLUMN reasoning_form TEXT NOT NULL DEFAULT '';  -- '' (none) | think | harmony | field
ALTER TABLE samples ADD COLUMN reasoning TEXT;                          -- NULL when reasoning_form = ''
ALTER TABLE samples ADD COLUMN answer TEXT;                             -- NULL when reasoning_form = '': the output is the answer
ALTER TABLE samples ADD COLUMN reasoning_closed INTEGER NOT NULL DEFAULT 1;  -- 0: the thinking never ended
ALTER TABLE scores ADD COLUMN scope TEXT NOT NULL DEFAULT 'answer';     -- answer | reasoning | raw
)sql",
  };
  return kMigrations;
}

}  // namespace wobble
