#include "store/store.h"

#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>
#include <map>
#include <tuple>
#include <unordered_map>

#include "store/schema.h"
#include "store/sqlite_util.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace wobble {
namespace {

std::vector<uint8_t> pack_ids(const std::vector<int32_t>& ids) {
  std::vector<uint8_t> out(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    uint32_t v = uint32_t(ids[i]);
    for (int b = 0; b < 4; ++b) out[4 * i + b] = uint8_t(v >> (8 * b));
  }
  return out;
}

std::vector<int32_t> unpack_ids(const std::vector<uint8_t>& bytes) {
  std::vector<int32_t> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    uint32_t v = 0;
    for (int b = 0; b < 4; ++b) v |= uint32_t(bytes[4 * i + b]) << (8 * b);
    out[i] = int32_t(v);
  }
  return out;
}

Outcome outcome_from(const std::string& s) {
  if (s == "pass") return Outcome::kPass;
  if (s == "fail") return Outcome::kFail;
  return Outcome::kUnscored;
}

nlohmann::json parse_json_column(const std::string& s, const char* what) {
  try {
    return nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception& e) {
    throw StoreError(std::string("corrupt ") + what + " JSON in database: " + e.what());
  }
}

// Logprobs column: JSON [[token, logprob, [[alternative, logprob], ...]], ...]; NULL when none.
std::optional<std::string> encode_logprobs(const std::vector<TokenLogprob>& lps) {
  if (lps.empty()) return std::nullopt;
  nlohmann::json j = nlohmann::json::array();
  for (const auto& t : lps) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [tok, lp] : t.top) top.push_back({tok, lp});
    j.push_back({t.token, t.logprob, top});
  }
  return dump_json(j);
}

std::vector<TokenLogprob> decode_logprobs(const std::optional<std::string>& text) {
  std::vector<TokenLogprob> out;
  if (!text) return out;
  nlohmann::json j = parse_json_column(*text, "logprobs");
  if (!j.is_array()) throw StoreError("corrupt logprobs JSON in database: not an array");
  for (const auto& t : j) {
    if (!t.is_array() || t.size() < 2 || !t[0].is_string() || !t[1].is_number())
      throw StoreError("corrupt logprobs JSON in database: bad token entry");
    TokenLogprob lp{t[0].get<std::string>(), t[1].get<double>(), {}};
    if (t.size() > 2 && t[2].is_array())
      for (const auto& a : t[2])
        if (a.is_array() && a.size() == 2 && a[0].is_string() && a[1].is_number())
          lp.top.emplace_back(a[0].get<std::string>(), a[1].get<double>());
    out.push_back(std::move(lp));
  }
  return out;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// A holder on this host whose process no longer exists has certainly let go.
bool holder_is_dead(const RunLease& l) {
  if (l.host != host_name() || l.pid <= 0) return false;
  return ::kill(pid_t(l.pid), 0) != 0 && errno == ESRCH;
}

const char* kRunColumns =
    "id, suite_name, suite_path, suite_hash, suite_snapshot, provider, model_id, sampling, repeats, tool_version, "
    "started_at, COALESCE(finished_at, ''), status, shard, expected_samples, plan";

RunRecord read_run(const Stmt& s) {
  RunRecord r;
  r.id = s.int64(0);
  r.suite_name = s.text(1);
  r.suite_path = s.text(2);
  r.suite_hash = s.text(3);
  r.provider = parse_json_column(s.text(5), "provider");
  r.model_id = s.text(6);
  r.sampling = parse_json_column(s.text(7), "sampling");
  r.repeats = int(s.int64(8));
  r.tool_version = s.text(9);
  r.started_at = s.text(10);
  r.finished_at = s.text(11);
  r.status = s.text(12);
  r.shard = s.text(13);
  r.expected_samples = s.int64(14);
  nlohmann::json plan_column = nullptr;
  if (auto p = s.opt_text(15)) plan_column = parse_json_column(*p, "run plan");
  try {
    r.plan = RunPlan::from_stored(parse_json_column(s.text(4), "suite snapshot"), plan_column, r.shard);
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    throw StoreError("corrupt plan of run " + std::to_string(r.id) + ": " + e.what());
  }
  return r;
}

}  // namespace

Store::Store(sqlite3* db) : db_(db) {}
Store::Store(Store&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
Store& Store::operator=(Store&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close(db_);
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}
Store::~Store() {
  if (db_) sqlite3_close(db_);
}

Store Store::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError("cannot open database '" + path + "': " + msg);
  }
  Store store(db);
  sqlite3_busy_timeout(db, 5000);
  const auto& migrations = schema_migrations();
  auto check_not_newer = [&](int version) {
    if (version > int(migrations.size()))
      throw StoreError("database '" + path + "' has schema version " + std::to_string(version) +
                       ", newer than this wobble understands (" + std::to_string(migrations.size()) +
                       "); upgrade wobble");
  };
  auto prepare = [&] {
    exec_sql(db, "PRAGMA foreign_keys = ON");
    {
      Stmt wal(db, "PRAGMA journal_mode = WAL");
      wal.step();
    }
    exec_sql(db, "PRAGMA synchronous = NORMAL");
    int version = store.schema_version();
    check_not_newer(version);
    if (version < int(migrations.size())) {
      // Another process may be creating or migrating the same file: take the write lock first,
      // then read the version again, so exactly one of them runs each migration.
      // Foreign keys are off while migrating (the pragma is a no-op inside a transaction): a
      // migration that rebuilds a table drops the old one, which would otherwise cascade-delete
      // every row that refers to it. foreign_key_check then proves no reference was broken.
      exec_sql(db, "PRAGMA foreign_keys = OFF");
      struct ForeignKeysBackOn {
        sqlite3* db;
        ~ForeignKeysBackOn() { sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr); }
      } back_on{db};
      {
        Transaction tx(db);
        version = store.schema_version();
        check_not_newer(version);
        for (int v = version; v < int(migrations.size()); ++v) exec_sql(db, migrations[v]);
        exec_sql(db, ("PRAGMA user_version = " + std::to_string(migrations.size())).c_str());
        {
          Stmt fk(db, "PRAGMA foreign_key_check");
          if (fk.step())
            throw StoreError("migration left a broken reference in table '" + fk.text(0) + "'; nothing was changed");
        }
        tx.commit();
      }
    }
  };
  // Switching a new file to WAL while another connection opens it can be refused at once
  // (SQLite does not wait on that lock): such refusals are retried for up to 30 s.
  auto t0 = std::chrono::steady_clock::now();
  for (double wait = 0.01;; wait = std::min(wait * 2, 0.5)) {
    try {
      prepare();
      break;
    } catch (const StoreError& e) {
      bool again = e.busy() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30);
      if (!again) throw StoreError(path + ": " + e.what(), e.busy());
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
  }
  return store;
}

Store Store::open_read_only(const std::string& path) {
  // SQLite would create a missing file only with SQLITE_OPEN_CREATE, but a clear message needs the
  // check up front: "unable to open database file" does not say which of path or permissions failed.
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) throw StoreError("no such database: " + path);
  if (std::filesystem::is_directory(st)) throw StoreError("'" + path + "' is a directory, not a database");
  // Without SQLITE_OPEN_CREATE nothing is created. Not SQLITE_OPEN_READONLY: a read-only connection
  // is never the one that checkpoints and removes the -wal and -shm files of a WAL database when it
  // closes, so each `wobble runs` would leave two files behind. `query_only` refuses every write
  // instead; SQLite opens a write-protected file read-only by itself.
  sqlite3* db = nullptr;
  // NOMUTEX: a Store is used by one thread at a time (store.h), and the serialized mode's mutex
  // around every sqlite3_column_* call cost about 6% of a large report.
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError("cannot open database '" + path + "': " + msg);
  }
  Store store(db);
  sqlite3_busy_timeout(db, 5000);
  int version = 0;
  bool has_runs = false;
  try {
    exec_sql(db, "PRAGMA query_only = ON");
    version = store.schema_version();  // the first read: a file that is not SQLite fails here
    Stmt t(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'");
    has_runs = t.step();
  } catch (const StoreError& e) {
    throw StoreError("'" + path + "' is not a wobble database (" + e.what() + ")");
  }
  const int current = int(schema_migrations().size());
  if (version == 0 && !has_runs) throw StoreError("'" + path + "' is not a wobble database (it has no runs table)");
  if (version > current)
    throw StoreError("database '" + path + "' has schema version " + std::to_string(version) +
                     ", newer than this wobble understands (" + std::to_string(current) + "); upgrade wobble");
  // A read-only command cannot migrate, and reading an older layout with today's queries could
  // misread it; say so and name the one command that upgrades in place.
  if (version < current)
    throw StoreError("database '" + path + "' has schema version " + std::to_string(version) +
                     ", older than this wobble's " + std::to_string(current) +
                     "; read-only commands do not upgrade it: run 'wobble migrate --db " + path + "' first");
  return store;
}

int Store::schema_version() const {
  Stmt s(db_, "PRAGMA user_version");
  s.step();
  return int(s.int64(0));
}

int64_t Store::create_run(const RunRecord& r, const RunLease* lease) {
  Transaction tx(db_);
  Stmt s(db_,
         "INSERT INTO runs (suite_name, suite_path, suite_hash, suite_snapshot, provider, model_id, sampling, "
         "repeats, tool_version, started_at, status, shard, expected_samples, plan) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.suite_name).bind(2, r.suite_path).bind(3, r.suite_hash).bind(4, dump_json(suite_to_json(r.plan.suite)));
  s.bind(5, dump_json(r.provider)).bind(6, r.model_id).bind(7, dump_json(r.sampling)).bind(8, int64_t(r.repeats));
  s.bind(9, r.tool_version).bind(10, r.started_at).bind(11, r.status.empty() ? std::string("running") : r.status);
  s.bind(12, r.plan.shard_text()).bind(13, r.expected_samples).bind(14, dump_json(r.plan.plan_json()));
  s.run();
  int64_t id = sqlite3_last_insert_rowid(db_);
  if (lease) {
    Stmt l(db_, "INSERT INTO run_leases (run_id, owner, pid, host, acquired_at, heartbeat_at) VALUES (?,?,?,?,?,?)");
    double now = unix_now();
    l.bind(1, id).bind(2, lease->owner).bind(3, lease->pid).bind(4, lease->host).bind(5, now).bind(6, now).run();
  }
  tx.commit();
  return id;
}

bool Store::set_run_status_as(int64_t run_id, const std::string& owner, const std::string& status, bool finished) {
  Stmt s(db_, finished ? "UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ? "
                         "AND EXISTS (SELECT 1 FROM run_leases WHERE run_id = runs.id AND owner = ?)"
                       : "UPDATE runs SET status = ?, finished_at = NULL WHERE id = ? "
                         "AND EXISTS (SELECT 1 FROM run_leases WHERE run_id = runs.id AND owner = ?)");
  s.bind(1, status).bind(2, run_id).bind(3, owner).run();
  return sqlite3_changes(db_) > 0;
}

RunLease RunLease::for_this_process() {
  RunLease l;
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof buf, "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  l.owner = buf;
  l.pid = int64_t(getpid());
  l.host = host_name();
  return l;
}

std::optional<RunLease> Store::lease_of(int64_t run_id) const {
  Stmt s(db_, "SELECT owner, pid, host, acquired_at, heartbeat_at FROM run_leases WHERE run_id = ?");
  s.bind(1, run_id);
  if (!s.step()) return std::nullopt;
  return RunLease{s.text(0), s.int64(1), s.text(2), s.real(3), s.real(4)};
}

std::optional<RunLease> Store::acquire_lease(int64_t run_id, const RunLease& me, double stale_after_s) {
  Transaction tx(db_);
  if (auto held = lease_of(run_id)) {
    bool stale = unix_now() - held->heartbeat_at > stale_after_s || holder_is_dead(*held);
    if (held->owner != me.owner && !stale) return held;
  }
  Stmt up(db_, "INSERT OR REPLACE INTO run_leases (run_id, owner, pid, host, acquired_at, heartbeat_at) "
               "VALUES (?,?,?,?,?,?)");
  double now = unix_now();
  up.bind(1, run_id).bind(2, me.owner).bind(3, me.pid).bind(4, me.host).bind(5, now).bind(6, now).run();
  tx.commit();
  return std::nullopt;
}

void Store::heartbeat(int64_t run_id, const std::string& owner) {
  Stmt s(db_, "UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ? AND owner = ?");
  s.bind(1, unix_now()).bind(2, run_id).bind(3, owner).run();
}

void Store::release_lease(int64_t run_id, const std::string& owner) {
  Stmt s(db_, "DELETE FROM run_leases WHERE run_id = ? AND owner = ?");
  s.bind(1, run_id).bind(2, owner).run();
}

void Store::set_run_status(int64_t run_id, const std::string& status, bool finished) {
  Stmt s(db_, finished ? "UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?"
                       : "UPDATE runs SET status = ?, finished_at = NULL WHERE id = ?");
  s.bind(1, status).bind(2, run_id).run();
  if (sqlite3_changes(db_) == 0) throw StoreError("no run with id " + std::to_string(run_id));
}

bool Store::run_exists(int64_t run_id) const {
  Stmt s(db_, "SELECT 1 FROM runs WHERE id = ?");
  s.bind(1, run_id);
  return s.step();
}

std::optional<RunRecord> Store::get_run(int64_t run_id) const {
  Stmt s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id = ?").c_str());
  s.bind(1, run_id);
  if (!s.step()) return std::nullopt;
  return read_run(s);
}

std::vector<RunRecord> Store::list_runs(const std::string& suite_name, int limit) const {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs WHERE (? = '' OR suite_name = ?) ORDER BY id DESC";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  Stmt s(db_, sql.c_str());
  s.bind(1, suite_name).bind(2, suite_name);
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(read_run(s));
  return out;
}

bool Store::delete_run(int64_t run_id) {
  Transaction tx(db_);
  Stmt s(db_, "DELETE FROM runs WHERE id = ?");  // samples, scores and attempts cascade
  s.bind(1, run_id).run();
  bool deleted = sqlite3_changes(db_) > 0;
  tx.commit();
  return deleted;
}

void Store::insert_samples(const std::vector<SampleRecord>& batch) {
  if (batch.empty()) return;
  Transaction tx(db_);
  // A failed sample (ok = 0) is a placeholder that a resumed run replaces.
  Stmt drop_failed(db_,
                   "DELETE FROM samples WHERE run_id = ? AND case_id = ? AND variant_id = ? AND repeat_index = ? "
                   "AND provider_id = ? AND ok = 0");
  Stmt ins(db_,
           "INSERT INTO samples (run_id, case_id, variant_id, repeat_index, prompt, ok, output, finish_reason, "
           "prompt_tokens, completion_tokens, latency_s, error, seed, extracted_answer, prompt_token_ids, token_ids, "
           "routing_trace, model_reported, logprobs, output_original_bytes, provider_id) "
           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  Stmt score(db_,
             "INSERT INTO scores (sample_id, criterion_id, outcome, score, evidence_start, evidence_end, "
             "evidence_text, reason, expected, scope) VALUES (?,?,?,?,?,?,?,?,?,?)");
  Stmt attempt(db_,
               "INSERT INTO attempts (sample_id, attempt_index, http_status, outcome, error, latency_s, retry_after_s) "
               "VALUES (?,?,?,?,?,?,?)");
  // Set apart from the insert: only routing runs fill it.
  Stmt routing_error(db_, "UPDATE samples SET routing_error = ? WHERE id = ?");
  // Likewise only outputs with a thinking part.
  Stmt reasoning(db_, "UPDATE samples SET reasoning_form = ?, reasoning = ?, answer = ?, reasoning_closed = ? WHERE id = ?");
  Stmt grading(db_,
               "INSERT INTO judge_gradings (sample_id, criterion_id, k_index, verdict, points, evidence, reason, fault, "
               "fault_detail, raw_response, calls, latency_s, cached, cache_key, judge_model, prompt_version) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  for (const auto& r : batch) {
    drop_failed.bind(1, r.run_id).bind(2, r.case_id).bind(3, r.variant_id).bind(4, int64_t(r.repeat));
    drop_failed.bind(5, r.provider_id).run();
    ins.bind(1, r.run_id).bind(2, r.case_id).bind(3, r.variant_id).bind(4, int64_t(r.repeat)).bind(5, r.prompt);
    ins.bind(6, int64_t(r.ok ? 1 : 0)).bind(7, r.ok ? r.output : std::string()).bind(8, r.finish_reason);
    ins.bind(9, r.prompt_tokens).bind(10, r.completion_tokens).bind(11, r.latency_s).bind(12, r.error);
    ins.bind(13, int64_t(r.seed));
    if (r.extracted_answer) ins.bind(14, *r.extracted_answer);
    else ins.bind_null(14);
    auto pids = pack_ids(r.prompt_token_ids), tids = pack_ids(r.token_ids);
    ins.bind_blob(15, pids.data(), pids.size()).bind_blob(16, tids.data(), tids.size());
    ins.bind_blob(17, r.routing_trace.data(), r.routing_trace.size());
    ins.bind(18, r.model_reported);
    if (auto lp = encode_logprobs(r.logprobs)) ins.bind(19, *lp);
    else ins.bind_null(19);
    if (r.output_original_bytes >= 0) ins.bind(20, r.output_original_bytes);
    else ins.bind_null(20);
    ins.bind(21, r.provider_id);
    try {
      ins.run();
    } catch (const StoreError& e) {
      throw StoreError("cannot store sample (" + (r.provider_id.empty() ? "" : r.provider_id + ", ") + r.case_id +
                       ", " + r.variant_id + ", repeat " + std::to_string(r.repeat) + "): " + e.what());
    }
    int64_t id = sqlite3_last_insert_rowid(db_);
    if (!r.routing_error.empty()) routing_error.bind(1, r.routing_error).bind(2, id).run();
    if (r.ok && r.reasoning_form != ReasoningForm::kNone) {
      reasoning.bind(1, std::string(reasoning_form_name(r.reasoning_form))).bind(2, r.reasoning).bind(3, r.answer);
      reasoning.bind(4, int64_t(r.reasoning_closed ? 1 : 0)).bind(5, id).run();
    }
    for (const auto& c : r.scores) {
      score.bind(1, id).bind(2, c.criterion_id).bind(3, std::string(outcome_name(c.outcome))).bind(4, c.score);
      score.bind(5, c.evidence.start).bind(6, c.evidence.end).bind(7, c.evidence.text).bind(8, c.reason);
      score.bind(9, c.expected).bind(10, std::string(scope_name(c.scope))).run();
    }
    for (const auto& a : r.attempts) {
      attempt.bind(1, id).bind(2, int64_t(a.index)).bind(3, int64_t(a.http_status)).bind(4, a.outcome);
      attempt.bind(5, a.error).bind(6, a.latency_s).bind(7, a.retry_after_s).run();
    }
    for (const auto& g : r.judge_gradings) {
      grading.bind(1, id).bind(2, g.criterion_id).bind(3, int64_t(g.k_index)).bind(4, g.verdict);
      grading.bind(5, int64_t(g.points)).bind(6, dump_json(evidence_to_json(g.evidence))).bind(7, g.reason);
      grading.bind(8, std::string(judge_fault_name(g.fault))).bind(9, g.fault_detail).bind(10, g.raw);
      grading.bind(11, int64_t(g.calls)).bind(12, g.latency_s).bind(13, int64_t(g.cached ? 1 : 0));
      grading.bind(14, g.cache_key).bind(15, g.judge_model).bind(16, g.prompt_version).run();
    }
  }
  tx.commit();
}

namespace {

constexpr const char* kGradingColumns =
    "g.criterion_id, g.k_index, g.verdict, g.points, g.evidence, g.reason, g.fault, g.fault_detail, g.raw_response, "
    "g.calls, g.latency_s, g.cached, g.cache_key, g.judge_model, g.prompt_version";

// Reads the kGradingColumns starting at column `c0`.
JudgeGrading grading_row(const Stmt& s, int c0) {
  JudgeGrading g;
  g.criterion_id = s.text(c0);
  g.k_index = int(s.int64(c0 + 1));
  g.verdict = s.text(c0 + 2);
  g.points = int(s.int64(c0 + 3));
  g.evidence = evidence_from_json(nlohmann::json::parse(s.text(c0 + 4), nullptr, false));
  g.reason = s.text(c0 + 5);
  g.fault = judge_fault_from(s.text(c0 + 6));
  // A fault name this tool does not know (a newer writer) must not read as a valid grading.
  if (g.fault == JudgeFault::kNone && !s.text(c0 + 6).empty()) g.fault = JudgeFault::kMalformed;
  g.fault_detail = s.text(c0 + 7);
  g.raw = s.text(c0 + 8);
  g.calls = int(s.int64(c0 + 9));
  g.latency_s = s.real(c0 + 10);
  g.cached = s.int64(c0 + 11) != 0;
  g.cache_key = s.text(c0 + 12);
  g.judge_model = s.text(c0 + 13);
  g.prompt_version = s.text(c0 + 14);
  return g;
}

}  // namespace

std::map<int64_t, std::vector<JudgeGrading>> Store::judge_gradings(int64_t run_id) const {
  std::string sql = std::string("SELECT g.sample_id, ") + kGradingColumns +
                    " FROM judge_gradings g JOIN samples s ON s.id = g.sample_id WHERE s.run_id = ? "
                    "ORDER BY g.sample_id, g.criterion_id, g.k_index";
  Stmt s(db_, sql.c_str());
  s.bind(1, run_id);
  std::map<int64_t, std::vector<JudgeGrading>> out;
  while (s.step()) out[s.int64(0)].push_back(grading_row(s, 1));
  return out;
}

std::optional<JudgeGrading> Store::cached_grading(const std::string& cache_key) const {
  std::string sql = std::string("SELECT ") + kGradingColumns +
                    " FROM judge_gradings g WHERE g.cache_key = ? AND g.fault IN ('', 'hallucinated', 'unquoted-fail') "
                    "LIMIT 1";
  Stmt s(db_, sql.c_str());
  s.bind(1, cache_key);
  if (!s.step()) return std::nullopt;
  return grading_row(s, 0);
}

std::set<Triple> Store::completed_triples(int64_t run_id) const {
  Stmt s(db_, "SELECT case_id, variant_id, repeat_index FROM samples WHERE run_id = ? AND ok = 1");
  s.bind(1, run_id);
  std::set<Triple> out;
  while (s.step()) out.emplace(s.text(0), s.text(1), int(s.int64(2)));
  return out;
}

std::set<WorkItem> Store::completed_work(int64_t run_id) const {
  Stmt s(db_, "SELECT provider_id, case_id, variant_id, repeat_index FROM samples WHERE run_id = ? AND ok = 1");
  s.bind(1, run_id);
  std::set<WorkItem> out;
  while (s.step()) out.emplace(s.text(0), s.text(1), s.text(2), int(s.int64(3)));
  return out;
}

namespace {

// Sorts samples into the order the suite lists its cases and variants (from the run's plan),
// then by repeat. Ids the snapshot does not name (an old or hand-edited database) come after the
// named ones, alphabetically.
void order_as_suite(std::vector<SampleRecord>& samples, const Suite& suite) {
  std::map<std::string, size_t> case_rank, variant_rank, provider_rank;
  for (const auto& c : suite.cases) case_rank.emplace(c.id, case_rank.size());
  for (const auto& v : suite.variants) variant_rank.emplace(v.id, variant_rank.size());
  for (const auto& p : suite.run_providers()) provider_rank.emplace(p.id, provider_rank.size());
  auto rank_of = [](const std::map<std::string, size_t>& rank, const std::string& id) {
    auto it = rank.find(id);
    return it == rank.end() ? rank.size() : it->second;
  };
  std::stable_sort(samples.begin(), samples.end(), [&](const SampleRecord& a, const SampleRecord& b) {
    return std::forward_as_tuple(rank_of(case_rank, a.case_id), a.case_id, rank_of(variant_rank, a.variant_id),
                                 a.variant_id, rank_of(provider_rank, a.provider_id), a.provider_id, a.repeat) <
           std::forward_as_tuple(rank_of(case_rank, b.case_id), b.case_id, rank_of(variant_rank, b.variant_id),
                                 b.variant_id, rank_of(provider_rank, b.provider_id), b.provider_id, b.repeat);
  });
}

}  // namespace

namespace {

// The samples columns in the order read_sample() expects; a column left out is read as NULL.
std::string sample_select(const SampleColumns& c) {
  std::string sql = "SELECT id, run_id, case_id, variant_id, repeat_index, ";
  sql += c.prompt ? "prompt" : "NULL";
  sql += ", ok, ";
  sql += c.output ? "output" : "NULL";
  sql += ", finish_reason, prompt_tokens, completion_tokens, latency_s, error, seed, ";
  sql += c.output ? "extracted_answer, " : "NULL, ";
  sql += c.token_ids ? "prompt_token_ids, token_ids, " : "NULL, NULL, ";
  sql += c.traces ? "routing_trace" : "NULL";
  sql += ", model_reported, ";
  sql += c.logprobs ? "logprobs" : "NULL";
  sql += ", output_original_bytes, routing_error, provider_id, reasoning_form, ";
  // The reasoning and answer parts are texts of the output's size: read with the output or not at all.
  sql += c.output ? "reasoning, answer" : "NULL, NULL";
  sql += ", reasoning_closed FROM samples";
  return sql;
}

SampleRecord read_sample(const Stmt& s) {
  SampleRecord r;
  r.id = s.int64(0);
  r.run_id = s.int64(1);
  r.case_id = s.text(2);
  r.variant_id = s.text(3);
  r.repeat = int(s.int64(4));
  r.prompt = s.text(5);
  r.ok = s.int64(6) != 0;
  r.output = s.text(7);
  r.finish_reason = s.text(8);
  r.prompt_tokens = s.int64(9);
  r.completion_tokens = s.int64(10);
  r.latency_s = s.real(11);
  r.error = s.text(12);
  r.seed = uint64_t(s.int64(13));
  r.extracted_answer = s.opt_text(14);
  r.prompt_token_ids = unpack_ids(s.blob(15));
  r.token_ids = unpack_ids(s.blob(16));
  r.routing_trace = s.blob(17);
  r.model_reported = s.text(18);
  r.logprobs = decode_logprobs(s.opt_text(19));
  r.output_original_bytes = s.opt_text(20) ? s.int64(20) : -1;
  r.routing_error = s.text(21);
  r.provider_id = s.text(22);
  r.reasoning_form = reasoning_form_from_name(s.text(23)).value_or(ReasoningForm::kNone);
  if (r.reasoning_form != ReasoningForm::kNone) {
    r.reasoning = s.text(24);
    r.answer = s.text(25);
    r.reasoning_closed = s.int64(26) != 0;
  }
  return r;
}

const char* kScoreColumns =
    "s.sample_id, s.criterion_id, s.outcome, s.score, s.evidence_start, s.evidence_end, s.evidence_text, s.reason, "
    "s.expected, s.scope";
// The same columns without the texts (read as NULL), for SampleColumns::ScoreText::kNone.
const char* kScoreColumnsNoText =
    "s.sample_id, s.criterion_id, s.outcome, s.score, s.evidence_start, s.evidence_end, NULL, NULL, NULL, s.scope";

using ScoreText = SampleColumns::ScoreText;

CriterionResult read_score(const Stmt& sc, ScoreText text = ScoreText::kAll) {
  CriterionResult c;
  c.criterion_id = sc.text(1);
  c.outcome = outcome_from(sc.text(2));
  c.score = sc.real(3);
  c.evidence.start = sc.int64(4);
  c.evidence.end = sc.int64(5);
  if (text == ScoreText::kAll || (text == ScoreText::kFails && c.outcome == Outcome::kFail)) {
    c.evidence.text = sc.text(6);
    c.reason = sc.text(7);
  }
  if (text == ScoreText::kAll) c.expected = sc.text(8);
  c.scope = scope_from_name(sc.text(9)).value_or(Scope::kAnswer);
  return c;
}

const char* kAttemptColumns = "a.sample_id, a.attempt_index, a.http_status, a.outcome, a.error, a.latency_s, a.retry_after_s";

Attempt read_attempt(const Stmt& at) {
  Attempt a;
  a.index = int(at.int64(1));
  a.http_status = int(at.int64(2));
  a.outcome = at.text(3);
  a.error = at.text(4);
  a.latency_s = at.real(5);
  a.retry_after_s = at.real(6);
  return a;
}

}  // namespace

std::vector<SampleRecord> Store::samples(int64_t run_id, bool with_trace) const {
  SampleColumns columns;
  columns.traces = with_trace;
  Stmt s(db_, (sample_select(columns) + " WHERE run_id = ? ORDER BY case_id, variant_id, repeat_index").c_str());
  s.bind(1, run_id);
  std::vector<SampleRecord> out;
  std::map<int64_t, size_t> by_id;
  while (s.step()) {
    SampleRecord r = read_sample(s);
    by_id[r.id] = out.size();
    out.push_back(std::move(r));
  }
  Stmt sc(db_, (std::string("SELECT ") + kScoreColumns +
                " FROM scores s JOIN samples m ON m.id = s.sample_id WHERE m.run_id = ? ORDER BY s.sample_id, s.rowid")
                   .c_str());
  sc.bind(1, run_id);
  while (sc.step()) {
    auto it = by_id.find(sc.int64(0));
    if (it == by_id.end()) continue;
    out[it->second].scores.push_back(read_score(sc));
  }
  Stmt at(db_, (std::string("SELECT ") + kAttemptColumns +
                " FROM attempts a JOIN samples m ON m.id = a.sample_id WHERE m.run_id = ? ORDER BY a.sample_id, "
                "a.attempt_index")
                   .c_str());
  at.bind(1, run_id);
  while (at.step()) {
    auto it = by_id.find(at.int64(0));
    if (it == by_id.end()) continue;
    out[it->second].attempts.push_back(read_attempt(at));
  }
  if (auto run = get_run(run_id)) order_as_suite(out, run->plan.suite);
  return out;
}

int64_t Store::sample_count(int64_t run_id) const {
  Stmt s(db_, "SELECT COUNT(*) FROM samples WHERE run_id = ?");
  s.bind(1, run_id);
  s.step();
  return s.int64(0);
}

namespace {
// The partial index samples_traced (migration in schema.cpp) serves a query only when the query's
// WHERE contains this term exactly.
const std::string kTracedOrErrorTerm = "(length(routing_trace) > 0 OR routing_error <> '')";

// Ranks of (case, variant) in the order order_as_suite() sorts them.
struct GroupRank {
  std::map<std::string, size_t> case_rank, variant_rank;
  explicit GroupRank(const Suite& suite) {
    for (const auto& c : suite.cases) case_rank.emplace(c.id, case_rank.size());
    for (const auto& v : suite.variants) variant_rank.emplace(v.id, variant_rank.size());
  }
  static size_t of(const std::map<std::string, size_t>& rank, const std::string& id) {
    auto it = rank.find(id);
    return it == rank.end() ? rank.size() : it->second;
  }
  auto key(const std::string& c, const std::string& v) const {
    return std::make_tuple(of(case_rank, c), std::cref(c), of(variant_rank, v), std::cref(v));
  }
};
}  // namespace

std::vector<Store::RoutingErrorCount> Store::routing_errors(int64_t run_id, const Suite& suite) const {
  Stmt s(db_, ("SELECT case_id, variant_id, routing_error, COUNT(*), MIN(repeat_index), provider_id FROM samples INDEXED BY "
               "samples_traced WHERE run_id = ? AND " + kTracedOrErrorTerm +
               " AND ok = 1 AND coalesce(length(routing_trace), 0) = 0 AND routing_error <> '' GROUP BY case_id, variant_id, "
               "provider_id, routing_error")
                  .c_str());
  s.bind(1, run_id);
  std::vector<RoutingErrorCount> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), s.int64(3), int(s.int64(4)), s.text(5)});
  const GroupRank rank(suite);
  std::map<std::string, size_t> provider_rank;
  for (const auto& p : suite.run_providers()) provider_rank.emplace(p.id, provider_rank.size());
  std::sort(out.begin(), out.end(), [&](const RoutingErrorCount& a, const RoutingErrorCount& b) {
    auto ka = rank.key(a.case_id, a.variant_id), kb = rank.key(b.case_id, b.variant_id);
    if (ka != kb) return ka < kb;
    auto pa = std::make_pair(GroupRank::of(provider_rank, a.provider_id), std::cref(a.provider_id));
    auto pb = std::make_pair(GroupRank::of(provider_rank, b.provider_id), std::cref(b.provider_id));
    if (pa != pb) return pa < pb;
    return a.first_repeat < b.first_repeat;
  });
  return out;
}

std::vector<std::string> Store::sample_providers_in_order(int64_t run_id, const Suite& suite) const {
  auto ids = sample_providers(run_id);
  std::map<std::string, size_t> rank;
  for (const auto& p : suite.run_providers()) rank.emplace(p.id, rank.size());
  std::stable_sort(ids.begin(), ids.end(), [&](const std::string& a, const std::string& b) {
    return std::make_pair(GroupRank::of(rank, a), std::cref(a)) < std::make_pair(GroupRank::of(rank, b), std::cref(b));
  });
  return ids;
}

std::vector<std::string> Store::sample_providers(int64_t run_id) const {
  Stmt s(db_, "SELECT DISTINCT provider_id FROM samples WHERE run_id = ? ORDER BY provider_id");
  s.bind(1, run_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<GroupKey> Store::sample_groups(int64_t run_id, const Suite& suite, bool traced_only) const {
  // Both forms read an index only: samples_by_run, or the partial index of traced samples.
  Stmt s(db_, traced_only ? ("SELECT DISTINCT case_id, variant_id FROM samples INDEXED BY samples_traced "
                             "WHERE run_id = ? AND " + kTracedOrErrorTerm + " AND length(routing_trace) > 0").c_str()
                          : "SELECT DISTINCT case_id, variant_id FROM samples WHERE run_id = ?");
  s.bind(1, run_id);
  std::vector<GroupKey> out;
  while (s.step()) out.emplace_back(s.text(0), s.text(1));
  // The same order as order_as_suite().
  std::map<std::string, size_t> case_rank, variant_rank;
  for (const auto& c : suite.cases) case_rank.emplace(c.id, case_rank.size());
  for (const auto& v : suite.variants) variant_rank.emplace(v.id, variant_rank.size());
  auto rank_of = [](const std::map<std::string, size_t>& rank, const std::string& id) {
    auto it = rank.find(id);
    return it == rank.end() ? rank.size() : it->second;
  };
  std::sort(out.begin(), out.end(), [&](const GroupKey& a, const GroupKey& b) {
    return std::forward_as_tuple(rank_of(case_rank, a.first), a.first, rank_of(variant_rank, a.second), a.second) <
           std::forward_as_tuple(rank_of(case_rank, b.first), b.first, rank_of(variant_rank, b.second), b.second);
  });
  return out;
}

void Store::for_each_group(int64_t run_id, const std::vector<GroupKey>& groups, const SampleColumns& columns,
                           const std::function<void(std::vector<SampleRecord>& group)>& fn) const {
  std::vector<ProviderGroup> triples;
  triples.reserve(groups.size());
  for (const auto& [case_id, variant_id] : groups) triples.push_back({case_id, variant_id, columns.provider_id});
  for_each_group(run_id, triples, columns, [&](size_t, std::vector<SampleRecord>& group) {
    if (!group.empty()) fn(group);
  });
}

bool Store::has_judge_gradings(int64_t run_id) const {
  Stmt s(db_, "SELECT 1 FROM judge_gradings g JOIN samples m ON m.id = g.sample_id WHERE m.run_id = ? LIMIT 1");
  s.bind(1, run_id);
  return s.step();
}

void Store::for_each_group(int64_t run_id, const std::vector<ProviderGroup>& groups, const SampleColumns& columns,
                           const std::function<void(size_t index, std::vector<SampleRecord>& group)>& fn) const {
  // Statements prepared once and rebound per group; each is a range of samples_by_run.
  // provider_id is bound too: samples_by_run leads with (run_id, provider_id), so without it each
  // group would be a scan of the whole run.
  Stmt s(db_, (sample_select(columns) +
               " WHERE run_id = ? AND case_id = ? AND variant_id = ? AND provider_id = ? ORDER BY repeat_index")
                  .c_str());
  // No ORDER BY: sorting every group's scores in a temporary b-tree cost more than the rest of the
  // read; each sample's few scores are put in insertion (rowid) order below instead.
  Stmt sc(db_, (std::string("SELECT ") + (columns.score_text == ScoreText::kNone ? kScoreColumnsNoText : kScoreColumns) +
                ", s.rowid FROM samples m JOIN scores s ON s.sample_id = m.id WHERE m.run_id = ? AND m.case_id = ? AND "
                "m.variant_id = ? AND m.provider_id = ?")
                   .c_str());
  std::optional<Stmt> at;
  if (columns.attempts)
    at.emplace(db_, (std::string("SELECT ") + kAttemptColumns +
                     " FROM samples m JOIN attempts a ON a.sample_id = m.id WHERE m.run_id = ? AND m.case_id = ? AND "
                     "m.variant_id = ? AND m.provider_id = ?" +
                     (columns.attempts_of_ok_samples ? "" : " AND m.ok = 0") + " ORDER BY a.sample_id, a.attempt_index")
                        .c_str());
  std::optional<Stmt> jg;
  if (columns.judge_gradings)
    jg.emplace(db_, (std::string("SELECT g.sample_id, ") + kGradingColumns +
                     " FROM samples m JOIN judge_gradings g ON g.sample_id = m.id WHERE m.run_id = ? AND m.case_id = ? "
                     "AND m.variant_id = ? AND m.provider_id = ? ORDER BY g.sample_id, g.criterion_id, g.k_index")
                        .c_str());
  std::vector<SampleRecord> group;
  std::vector<std::vector<int64_t>> score_rowids;  // per sample of the group, parallel to its scores
  std::unordered_map<int64_t, size_t> by_id;
  for (size_t index = 0; index < groups.size(); ++index) {
    const auto& [case_id, variant_id, provider_id] = groups[index];
    group.clear();
    by_id.clear();
    s.reset();
    s.bind(1, run_id).bind(2, case_id).bind(3, variant_id).bind(4, provider_id);
    while (s.step()) {
      by_id[s.int64(0)] = group.size();
      group.push_back(read_sample(s));
      group.back().scores.reserve(4);  // a rubric's few criteria, without regrowing
    }
    s.reset();
    sc.reset();
    sc.bind(1, run_id).bind(2, case_id).bind(3, variant_id).bind(4, provider_id);
    score_rowids.assign(group.size(), {});
    while (sc.step())
      if (auto it = by_id.find(sc.int64(0)); it != by_id.end()) {
        group[it->second].scores.push_back(read_score(sc, columns.score_text));
        score_rowids[it->second].push_back(sc.int64(9));
      }
    sc.reset();
    for (size_t i = 0; i < group.size(); ++i) {
      auto& rowids = score_rowids[i];
      if (std::is_sorted(rowids.begin(), rowids.end())) continue;
      std::vector<size_t> order(rowids.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return rowids[x] < rowids[y]; });
      std::vector<CriterionResult> sorted;
      sorted.reserve(order.size());
      for (size_t k : order) sorted.push_back(std::move(group[i].scores[k]));
      group[i].scores = std::move(sorted);
    }
    if (at) {
      at->reset();
      at->bind(1, run_id).bind(2, case_id).bind(3, variant_id).bind(4, provider_id);
      while (at->step())
        if (auto it = by_id.find(at->int64(0)); it != by_id.end()) group[it->second].attempts.push_back(read_attempt(*at));
      at->reset();
    }
    if (jg) {
      jg->reset();
      jg->bind(1, run_id).bind(2, case_id).bind(3, variant_id).bind(4, provider_id);
      while (jg->step())
        if (auto it = by_id.find(jg->int64(0)); it != by_id.end())
          group[it->second].judge_gradings.push_back(grading_row(*jg, 1));
      jg->reset();
    }
    fn(index, group);
  }
}

}  // namespace wobble
