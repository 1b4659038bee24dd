// The bundled engine as a Provider. The model is loaded once and shared (immutable); each
// completion gets its own Session, so concurrent repeats are safe. Engine errors become failed
// completions (data), never exceptions out of complete().
#include "provider/local_provider.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "moe/chat_template.h"
#include "moe/model.h"
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
    auto m = moe::Model::load(path_);
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
    std::vector<moe::ChatMessage> msgs;
    if (!req.prompt.prompt)
      for (const auto& m : req.prompt.messages) msgs.push_back({m.role, m.content});
    auto ids = moe::encode_prompt(model_->tokenizer(), family_, req.prompt.prompt, msgs, chat_options_);
    if (!ids.ok()) return fail(ids.status().ToString());
    moe::SessionOptions so;
    so.n_threads = spec_.threads;
    so.trace_routing = spec_.trace_routing;
    auto session = moe::Session::create(model_, so);
    if (!session.ok()) return fail(session.status().ToString());
    moe::GenerateOptions go;
    go.max_tokens = req.sampling.max_tokens;
    go.sampling.temperature = float(req.sampling.temperature);
    go.sampling.top_k = req.sampling.top_k;
    go.sampling.top_p = float(req.sampling.top_p);
    go.sampling.min_p = float(req.sampling.min_p);
    go.sampling.seed = req.sampling.seed;
    go.stop = req.sampling.stop;
    go.cancel = req.cancel;
    auto res = moe::generate(**session, *ids, go);
    if (!res.ok() && res.status().code() == moe::Status::Code::kCancelled) {
      out.cancelled = true;
      return out;
    }
    if (!res.ok()) return fail(res.status().ToString());
    a.outcome = "ok";
    a.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.ok = true;
    // The continuation of the prompt, decoded as an OpenAI-compatible server returns it (one policy
    // for every caller: moe::DecodeOptions::generated_text()), so local and remote runs of the same
    // GGUF store the same bytes; the SPM word-boundary space of the first token is kept.
    out.text = res->text;
    if (moe::chat_output_needs_specials(family_) && !req.prompt.prompt) {
      // Harmony's channel markers are control tokens the generated-text policy hides; the answer
      // cannot be told from the thinking without them, so this family's output keeps them.
      out.text = model_->tokenizer().decode(res->tokens, moe::output_decode_options(family_));
      for (const auto& s : req.sampling.stop)
        if (size_t at = out.text.find(s); !s.empty() && at != std::string::npos) out.text.resize(at);
    }
    out.finish_reason = res->finish_reason;
    out.prompt_tokens = int64_t(ids->size());
    // Counted like llama.cpp's and vLLM's usage: every sampled token, the end-of-turn one included.
    out.completion_tokens = int64_t(res->tokens.size()) + (res->eog_token >= 0 ? 1 : 0);
    out.latency_s = a.latency_s;
    out.model_reported = id_;
    out.prompt_token_ids = *ids;
    out.token_ids = res->tokens;
    if (spec_.trace_routing) out.routing_trace = (*session)->trace().serialize();
    out.attempts.push_back(a);
    return out;
  }

 private:
  ProviderSpec spec_;
  std::string path_, id_;
  std::shared_ptr<const moe::Model> model_;
  moe::ChatFamily family_ = moe::ChatFamily::kRaw;
  moe::ChatOptions chat_options_;
};

}  // namespace

std::unique_ptr<Provider> make_local_provider(const ProviderSpec& spec, const std::string& suite_dir) {
  return std::make_unique<LocalProvider>(spec, suite_dir);
}

}  // namespace wobble
