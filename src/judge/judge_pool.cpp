#include "judge/judge_pool.h"

#include "judge/judge_reply_grammar.h"
#include "runner/seeds.h"
#include "scorer/scorer_args.h"
#include "util/error.h"
#include "util/text_policy.h"

namespace wobble {

struct JudgePool::Judge {
  JudgeSpec spec;
  std::unique_ptr<Provider> provider;
  std::string identity;  // what a cached grading must match: the judge model and its sampling
};

struct JudgePool::SampleJob {
  struct Criterion {
    std::string id;
    JudgeCriterion crit;
    std::string rubric;  // rendered with the case's vars
    std::string text;    // what is graded: the criterion's scope of the output
    Judge* judge = nullptr;
    int k = 1;
    size_t result_index = 0;  // where its placeholder sits in r.scores
    std::vector<JudgeGrading> gradings;
  };
  SampleRecord r;
  std::string task;
  std::vector<Criterion> criteria;
  std::atomic<int64_t> remaining{0};
  Done done;
};

namespace {

std::string criterion_key(const std::string& case_id, const std::string& criterion_id) {
  return case_id + '\x1f' + criterion_id;
}

}  // namespace

bool JudgePool::suite_needs_judge(const Suite& suite) {
  for (const auto& c : suite.cases)
    for (const auto& k : c.rubric.criteria)
      if (k.scorer == "judge") return true;
  return false;
}

JudgePool::JudgePool(const Suite& suite, const std::string& suite_dir) {
  if (!suite.judge) throw ConfigError(suite.source_path, 0, "judge", "the suite has judge criteria but no 'judge:' block");
  std::map<std::string, Judge*> by_spec;
  for (const auto& c : suite.cases) {
    for (const auto& k : c.rubric.criteria) {
      if (k.scorer != "judge") continue;
      JudgeSpec eff = effective_judge(*suite.judge, JudgeCriterion::parse(k));
      std::string spec_key = dump_json(eff.to_json());
      auto it = by_spec.find(spec_key);
      if (it == by_spec.end()) {
        auto j = std::make_unique<Judge>();
        j->spec = eff;
        j->provider = make_provider(eff.provider, suite_dir);
        j->identity = j->provider->model_id() + '\x1f' + dump_json(Sampling::resolve(eff.sampling).to_json());
        // A structured judge answers differently from a free one: its gradings are not interchangeable.
        if (eff.structured_decoding()) j->identity += "\x1fstructured-v1";
        it = by_spec.emplace(spec_key, j.get()).first;
        judges_.push_back(std::move(j));
      }
      judge_by_key_[criterion_key(c.id, k.id)] = it->second;
    }
  }
  int threads = std::max(1, suite.judge->max_concurrency);
  max_pending_ = std::max<int64_t>(8, int64_t(threads) * 4);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
}

JudgePool::~JudgePool() {
  cancel();
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool JudgePool::case_needs_judge(const Case& c) const {
  for (const auto& k : c.rubric.criteria)
    if (k.scorer == "judge") return true;
  return false;
}

void JudgePool::preflight() {
  for (auto& j : judges_) {
    try {
      j->provider->preflight();
    } catch (const Error& e) {
      throw RuntimeError(std::string("judge: ") + e.what());
    }
  }
}

void JudgePool::cancel() {
  cancel_.store(true);
  work_cv_.notify_all();
}

void JudgePool::submit(SampleRecord r, const Case& c, const RenderedPrompt& prompt, Done done,
                       const CacheLookup* lookup) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    room_cv_.wait(lock, [&] { return pending_samples_ < max_pending_ || cancel_.load(); });
    ++pending_samples_;
  }
  auto job = std::make_shared<SampleJob>();
  job->task = judge_task_text(prompt);
  job->done = std::move(done);
  std::vector<Task> tasks;
  for (const auto& k : c.rubric.criteria) {
    if (k.scorer != "judge") continue;
    SampleJob::Criterion cj;
    cj.id = k.id;
    const OutputParts parts = r.parts();
    std::optional<std::string> text = scoped_text(r.output, parts, k.scope);
    // Nothing to grade (no reasoning part, an empty answer): score_output's verdict stands.
    if (!text || text->empty()) continue;
    cj.text = std::move(*text);
    cj.crit = JudgeCriterion::parse(k);  // validated when the suite loaded
    try {
      cj.rubric = render_arg(cj.crit.rubric, c, k.id);
    } catch (const std::exception&) {
      cj.rubric = cj.crit.rubric;
    }
    auto jit = judge_by_key_.find(criterion_key(c.id, k.id));
    if (jit == judge_by_key_.end()) continue;  // a case the pool was not built for: left as its placeholder
    cj.judge = jit->second;
    cj.k = cj.judge->spec.repeats;
    cj.result_index = r.scores.size();
    for (size_t i = 0; i < r.scores.size(); ++i)
      if (r.scores[i].criterion_id == k.id) cj.result_index = i;
    cj.gradings.resize(size_t(cj.k));
    const size_t ci = job->criteria.size();
    for (int kk = 0; kk < cj.k; ++kk) {
      JudgeGrading& g = cj.gradings[size_t(kk)];
      g.criterion_id = k.id;
      g.k_index = kk;
      g.judge_model = cj.judge->provider->model_id();
      g.cache_key = judge_cache_key(cj.judge->identity, job->task, cj.text, cj.crit, cj.rubric, kk);
      std::optional<JudgeGrading> hit;
      if (lookup) hit = (*lookup)(g.cache_key);
      if (hit) {
        JudgeGrading reused = *hit;
        reused.criterion_id = k.id;
        reused.k_index = kk;
        reused.cached = true;
        reused.calls = 0;
        reused.cache_key = g.cache_key;
        g = std::move(reused);
        cache_hits_.fetch_add(1);
        gradings_.fetch_add(1);
        if (!g.counts()) faults_.fetch_add(1);
      } else {
        tasks.push_back(Task{job, ci, kk});
      }
    }
    job->criteria.push_back(std::move(cj));
  }
  job->r = std::move(r);
  // One extra count held by submit itself, so a task finishing early cannot complete the job
  // before every task is queued.
  job->remaining.store(int64_t(tasks.size()) + 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : tasks) queue_.push_back(std::move(t));
  }
  work_cv_.notify_all();
  finish_task(job);
}

void JudgePool::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return pending_samples_ == 0; });
}

void JudgePool::worker() {
  for (;;) {
    Task t;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing and drained
      t = std::move(queue_.front());
      queue_.pop_front();
    }
    run_task(t);
    finish_task(t.job);
  }
}

void JudgePool::run_task(const Task& t) {
  auto& cj = t.job->criteria[t.criterion];
  JudgeGrading& slot = cj.gradings[size_t(t.k)];
  JudgeGrading g;
  const SampleRecord& r = t.job->r;
  Judge& judge = *cj.judge;
  JudgePrompt jp = build_judge_prompt(t.job->task, cj.text, cj.rubric, cj.crit.five_point);
  CompletionRequest req;
  req.case_id = r.case_id;
  req.variant_id = r.variant_id;
  req.repeat = r.repeat;
  req.prompt.messages = {{"system", jp.system}, {"user", jp.user}};
  req.cancel = &cancel_;
  if (judge.spec.structured_decoding()) req.grammar = std::make_shared<JudgeReplyGrammar>(cj.crit, cj.text);
  const int max_calls = 1 + std::max(0, judge.spec.max_malformed_retries);
  if (cancel_.load()) {
    g.fault = JudgeFault::kCancelled;
    g.fault_detail = "cancelled before the judge was asked";
  }
  int calls = 0;
  double latency = 0;
  for (int attempt = 0; attempt < max_calls && !cancel_.load(); ++attempt) {
    req.sampling = Sampling::resolve(judge.spec.sampling);
    // Each (criterion, k, attempt) gets its own seed, so k gradings at a temperature above 0 are
    // independent draws and a retried malformed reply is not the same draw again.
    req.sampling.seed = derive_seed(req.sampling.seed, r.case_id,
                                    r.variant_id + '\x1f' + cj.id + '\x1f' + std::to_string(t.k),
                                    r.repeat * 16 + attempt);
    Completion comp;
    try {
      comp = judge.provider->complete(req);
    } catch (const std::exception& e) {  // a provider bug is a grading fault, not a crash
      comp.ok = false;
      comp.error = std::string("judge provider raised: ") + e.what();
    }
    ++calls;
    calls_.fetch_add(1);
    latency += comp.latency_s;
    if (comp.cancelled) {
      g = JudgeGrading{};
      g.fault = JudgeFault::kCancelled;
      g.fault_detail = "cancelled while the judge was asked";
      break;
    }
    if (!comp.ok) {
      g = JudgeGrading{};
      g.fault = JudgeFault::kProvider;
      g.fault_detail = clip("judge call failed: " + comp.error, 400);
      break;
    }
    g = interpret_judge_reply(comp.text, cj.text, cj.crit);
    if (g.fault != JudgeFault::kMalformed) break;
  }
  if (calls == 0 && g.fault == JudgeFault::kNone) {
    g.fault = JudgeFault::kCancelled;
    g.fault_detail = "cancelled before the judge was asked";
  }
  g.criterion_id = slot.criterion_id;
  g.k_index = slot.k_index;
  g.cache_key = slot.cache_key;
  g.judge_model = slot.judge_model;
  g.calls = calls;
  g.latency_s = latency;
  if (g.fault != JudgeFault::kCancelled) {
    gradings_.fetch_add(1);
    if (!g.counts()) faults_.fetch_add(1);
  }
  slot = std::move(g);
}

void JudgePool::finish_task(const std::shared_ptr<SampleJob>& job) {
  if (job->remaining.fetch_sub(1) != 1) return;
  bool cancelled = false;
  for (auto& cj : job->criteria)
    for (const auto& g : cj.gradings)
      if (g.fault == JudgeFault::kCancelled) cancelled = true;
  if (cancelled) {
    dropped_.fetch_add(1);
  } else {
    SampleRecord& r = job->r;
    for (auto& cj : job->criteria) {
      CriterionResult res = combine_gradings(cj.gradings, cj.k, cj.crit);
      res.criterion_id = cj.id;
      if (cj.result_index < r.scores.size()) res.scope = r.scores[cj.result_index].scope;
      if (cj.result_index < r.scores.size()) r.scores[cj.result_index] = res;
      else r.scores.push_back(res);
      for (auto& g : cj.gradings) r.judge_gradings.push_back(std::move(g));
    }
    try {
      job->done(std::move(r));
    } catch (...) {
      // `done` stores or queues the sample; its own failures are reported by its owner (the
      // writer rethrows at close). Nothing may escape a pool thread.
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    --pending_samples_;
  }
  room_cv_.notify_one();
  idle_cv_.notify_all();
}

}  // namespace wobble
