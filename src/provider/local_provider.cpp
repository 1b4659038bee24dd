// The bundled engine as a Provider. The model is loaded once and shared (immutable). Sessions
// (each with its KV cache and thread pool) are kept for the provider's lifetime and lent to one
// request or group at a time, so concurrent requests are safe and no completion starts threads.
// A group of repeats (complete_group) is prefilled once and decoded as one batch
// (moe::generate_repeats), bit-identical to one at a time. Engine errors become failed completions
// (data), never exceptions out of complete().
#include "provider/local_provider.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>

#include "moe/chat_template.h"
#include "moe/model.h"
#include "moe/repeats.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "moe/prompt.h"
#include "util/error.h"
#include "util/sha256.h"

namespace fs = std::filesystem;

namespace wobble {
namespace {

constexpr const char* kBundledModel = "engine/models/wobble-demo-moe.gguf";

fs::path exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p.parent_path();
}

// Where a model path given in a suite (or the bundled default) is looked for, in order.
std::vector<fs::path> candidates(const std::string& model_path, const std::string& suite_dir) {
  std::vector<fs::path> out;
  if (!model_path.empty()) {
    fs::path p(model_path);
    if (p.is_absolute()) return {p};
    out.push_back(fs::path(suite_dir) / p);
    out.push_back(p);
    return out;
  }
  if (const char* env = std::getenv("WOBBLE_MODEL"); env && *env) out.push_back(env);
  out.push_back(kBundledModel);
  out.push_back(fs::path(suite_dir) / ".." / kBundledModel);
  fs::path exe = exe_dir();
  if (!exe.empty()) {
    out.push_back(exe / ".." / kBundledModel);
    out.push_back(exe / ".." / ".." / kBundledModel);
  }
  return out;
}

std::string file_sha256_prefix(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    h.update(std::string_view(buf.data(), size_t(in.gcount())));
  }
  return h.hex_digest().substr(0, 16);
}

class LocalProvider : public Provider {
 public:
  LocalProvider(const ProviderSpec& spec, const std::string& suite_dir) : spec_(spec) {
    std::string tried;
    for (const auto& c : candidates(spec.model_path, suite_dir)) {
      std::error_code ec;
      if (fs::is_regular_file(c, ec)) {
        path_ = fs::weakly_canonical(c).string();
        break;
      }
      tried += (tried.empty() ? "" : ", ") + c.string();
    }
    if (path_.empty())
      throw RuntimeError("local provider: model not found (looked for " + tried +
                         "); set provider.model_path or WOBBLE_MODEL");
    moe::LoadOptions lo;
    lo.weights = spec.weights == "mapped" ? moe::WeightMemory::kMapped
                 : spec.weights == "copy" ? moe::WeightMemory::kHugePageCopy
                                          : moe::WeightMemory::kAuto;
    auto m = moe::Model::load(path_, lo);
    if (!m.ok()) throw RuntimeError("local provider: " + m.status().ToString());
    model_ = m.value();
    if (!model_->has_tokenizer()) throw RuntimeError("local provider: " + path_ + " has no tokenizer metadata");
    auto f = moe::resolve_chat_family(model_->tokenizer(), spec.chat_template);
    if (!f.ok()) throw ConfigError("", 0, "provider.chat_template", f.status().message());
    family_ = *f;
    if (spec.thinking) chat_options_.enable_thinking = *spec.thinking;
    if (!spec.reasoning_effort.empty()) chat_options_.reasoning_effort = spec.reasoning_effort;
    chat_options_.current_date = spec.chat_date;
    id_ = "local:" + fs::path(path_).filename().string() + "@sha256:" + file_sha256_prefix(path_);
  }

  std::string model_id() const override { return id_; }

  Completion complete(const CompletionRequest& req) override {
    Completion out;
    auto t0 = std::chrono::steady_clock::now();
    Attempt a;
    a.index = 1;
    auto fail = [&](const std::string& msg) {
      a.outcome = "engine_error";
      a.error = msg;
      a.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      out.ok = false;
      out.error = msg;
      out.attempts.push_back(a);
      return out;
    };
    auto ids = encode(req);
    if (!ids.ok()) return fail(ids.status().ToString());
    auto session = acquire();
    if (!session.ok()) return fail(session.status().ToString());
    moe::GenerateOptions go = generate_options(req);
    std::optional<GrammarMask> mask;
    if (req.grammar) mask.emplace(*this, *req.grammar, go);
    auto res = moe::generate(**session, *ids, go);
    Lent lent{this, std::move(*session)};
    if (!res.ok() && res.status().code() == moe::Status::Code::kCancelled) {
      out.cancelled = true;
      return out;
    }
    if (!res.ok()) return fail(res.status().ToString());
    a.outcome = "ok";
    a.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fill(out, req, a, *ids, *res, spec_.trace_routing ? lent.session->trace().serialize() : std::vector<uint8_t>{});
    return out;
  }

  int group_size() const override { return spec_.batch; }

  std::vector<Completion> complete_group(const std::vector<CompletionRequest>& reqs) override {
    if (reqs.size() <= 1) return Provider::complete_group(reqs);
    for (const auto& r : reqs)
      if (r.grammar) return Provider::complete_group(reqs);  // constrained: one at a time
    auto t0 = std::chrono::steady_clock::now();
    // One prompt for the whole group, or no batch: the runner groups by (case, variant), so
    // this holds unless a prompt renders differently per repeat.
    std::vector<std::vector<int32_t>> ids;
    for (const auto& r : reqs) {
      auto e = encode(r);
      if (!e.ok() || (!ids.empty() && *e != ids.front())) return Provider::complete_group(reqs);
      ids.push_back(std::move(*e));
    }
    std::vector<Completion> out(reqs.size());
    auto fail_all = [&](const std::string& msg) {
      for (auto& c : out) {
        Attempt a;
        a.index = 1;
        a.outcome = "engine_error";
        a.error = msg;
        a.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        c.ok = false;
        c.error = msg;
        c.attempts.push_back(a);
      }
      return out;
    };
    std::vector<moe::GenerateOptions> opts;
    for (const auto& r : reqs) opts.push_back(generate_options(r));
    auto session = acquire();
    if (!session.ok()) return fail_all(session.status().ToString());
    Lent lent{this, std::move(*session)};
    moe::RepeatsOptions ro;
    ro.max_batch = uint32_t(std::max(1, spec_.batch));
    ro.batch_variant = spec_.batch_variance;
    auto res = moe::generate_repeats(*lent.session, ids.front(), opts, ro);
    if (!res.ok() && res.status().code() == moe::Status::Code::kCancelled) {
      for (auto& c : out) c.cancelled = true;
      return out;
    }
    if (!res.ok()) return fail_all(res.status().ToString());
    for (size_t i = 0; i < reqs.size(); ++i) {
      moe::RepeatResult& rr = (*res)[i];
      Attempt a;
      a.index = 1;
      a.outcome = "ok";
      // A repeat's latency: the shared prefill plus the batched steps until it finished.
      a.latency_s = rr.result.prefill_seconds + rr.result.decode_seconds;
      fill(out[i], reqs[i], a, ids.front(), rr.result, spec_.trace_routing ? rr.trace.serialize() : std::vector<uint8_t>{});
    }
    return out;
  }

 private:
  // A session lent out of the provider's idle list; returned (reset) when it goes out of scope.
  struct Lent {
    LocalProvider* owner;
    std::unique_ptr<moe::Session> session;
    ~Lent() {
      session->reset();
      std::lock_guard<std::mutex> lock(owner->mu_);
      owner->idle_.push_back(std::move(session));
    }
  };

  moe::Result<std::unique_ptr<moe::Session>> acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto s = std::move(idle_.back());
        idle_.pop_back();
        return s;
      }
    }
    moe::SessionOptions so;
    so.n_threads = spec_.threads;
    so.trace_routing = spec_.trace_routing;
    return moe::Session::create(model_, so);
  }

  moe::Result<std::vector<int32_t>> encode(const CompletionRequest& req) const {
    std::vector<moe::ChatMessage> msgs;
    if (!req.prompt.prompt)
      for (const auto& m : req.prompt.messages) msgs.push_back({m.role, m.content});
    return moe::encode_prompt(model_->tokenizer(), family_, req.prompt.prompt, msgs, chat_options_);
  }

  // The bytes each token adds to the output, and which tokens end it: built once, for grammars.
  struct TokenTable {
    std::vector<std::string> bytes;
    std::vector<uint8_t> eog;
  };
  const TokenTable& token_table() const {
    std::call_once(token_table_once_, [&] {
      const moe::Tokenizer& tok = model_->tokenizer();
      token_table_.bytes.resize(size_t(tok.n_vocab()));
      token_table_.eog.resize(size_t(tok.n_vocab()));
      for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        token_table_.bytes[size_t(id)] = tok.token_bytes(id);
        token_table_.eog[size_t(id)] = tok.is_eog(id) ? 1 : 0;
      }
    });
    return token_table_;
  }

  // Constrained decoding for one generation: before each token, every token the grammar does not
  // accept from its state is masked out (end-of-generation only once it is complete); the sampled
  // token advances the state. Should the grammar accept no token at all (a vocabulary that cannot
  // spell what it needs), the logits are left alone from then on and the output is checked as any
  // other would be.
  struct GrammarMask {
    GrammarMask(const LocalProvider& p, const OutputGrammar& g, moe::GenerateOptions& go)
        : table(p.token_table()), state(g.start(go.max_tokens)) {
      go.constrain = [this](std::span<float> logits) { mask(logits); };
      // The token was drawn from what mask() allowed this step; `allowed` says so without asking
      // the grammar again.
      go.on_token = [this](int32_t id, std::span<const float>) {
        if (!broken && size_t(id) < allowed.size() && allowed[size_t(id)]) state->advance(table.bytes[size_t(id)]);
        else broken = true;
      };
    }
    void mask(std::span<float> logits) {
      if (broken) return;
      const size_t n = std::min(logits.size(), table.bytes.size());
      allowed.assign(n, 0);
      const bool done = state->complete();
      bool any = false;
      for (size_t id = 0; id < n; ++id) {
        bool ok = table.eog[id] ? done : (!done && state->accepts(table.bytes[id]));
        allowed[id] = ok;
        any = any || ok;
      }
      if (!any) {
        broken = true;
        return;
      }
      for (size_t id = 0; id < logits.size(); ++id)
        if (id >= n || !allowed[id]) logits[id] = -std::numeric_limits<float>::infinity();
    }
    const TokenTable& table;
    std::unique_ptr<GrammarState> state;
    std::vector<uint8_t> allowed;
    bool broken = false;
  };

  static moe::GenerateOptions generate_options(const CompletionRequest& req) {
    moe::GenerateOptions go;
    go.max_tokens = req.sampling.max_tokens;
    go.sampling.temperature = float(req.sampling.temperature);
    go.sampling.top_k = req.sampling.top_k;
    go.sampling.top_p = float(req.sampling.top_p);
    go.sampling.min_p = float(req.sampling.min_p);
    go.sampling.seed = req.sampling.seed;
    go.stop = req.sampling.stop;
    go.cancel = req.cancel;
    return go;
  }

  void fill(Completion& out, const CompletionRequest& req, const Attempt& a, const std::vector<int32_t>& ids,
            const moe::GenerateResult& res, std::vector<uint8_t> trace) const {
    out.ok = true;
    // The continuation of the prompt, decoded as an OpenAI-compatible server returns it (one policy
    // for every caller: moe::DecodeOptions::generated_text()), so local and remote runs of the same
    // GGUF store the same bytes; the SPM word-boundary space of the first token is kept.
    out.text = res.text;
    if (moe::chat_output_needs_specials(family_) && !req.prompt.prompt) {
      // Harmony's channel markers are control tokens the generated-text policy hides; the answer
      // cannot be told from the thinking without them, so this family's output keeps them.
      out.text = model_->tokenizer().decode(res.tokens, moe::output_decode_options(family_));
      for (const auto& s : req.sampling.stop)
        if (size_t at = out.text.find(s); !s.empty() && at != std::string::npos) out.text.resize(at);
    }
    out.finish_reason = res.finish_reason;
    out.prompt_tokens = int64_t(ids.size());
    // Counted like llama.cpp's and vLLM's usage: every sampled token, the end-of-turn one included.
    out.completion_tokens = int64_t(res.tokens.size()) + (res.eog_token >= 0 ? 1 : 0);
    out.latency_s = a.latency_s;
    out.model_reported = id_;
    out.prompt_token_ids = ids;
    out.token_ids = res.tokens;
    out.routing_trace = std::move(trace);
    out.attempts.push_back(a);
  }

  ProviderSpec spec_;
  std::string path_, id_;
  std::shared_ptr<const moe::Model> model_;
  moe::ChatFamily family_ = moe::ChatFamily::kRaw;
  moe::ChatOptions chat_options_;
  std::mutex mu_;
  mutable std::once_flag token_table_once_;
  mutable TokenTable token_table_;
  std::vector<std::unique_ptr<moe::Session>> idle_;  // sessions not lent out
};

}  // namespace

std::unique_ptr<Provider> make_local_provider(const ProviderSpec& spec, const std::string& suite_dir) {
  return std::make_unique<LocalProvider>(spec, suite_dir);
}

}  // namespace wobble
