// wobble generate / inspect: the engine for people (tokenize lives in cmd_tokenize.cpp).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "moe/chat_template.h"
#include "moe/model.h"
#include "moe/session.h"
#include "moe/tokenizer.h"
#include "moe/prompt.h"
#include "util/error.h"

namespace po = boost::program_options;

namespace wobble::cli {
namespace {

std::shared_ptr<const moe::Model> load_model(const std::string& path, bool vocab_only = false) {
  moe::LoadOptions lo;
  lo.vocab_only = vocab_only;
  // One completion: the copy into huge pages (up to seconds for a GB-sized file on a fragmented
  // machine) would cost more than it saves; runs and `serve` keep the engine's default.
  lo.weights = moe::WeightMemory::kMapped;
  auto m = moe::Model::load(path, lo);
  if (!m.ok()) throw RuntimeError(m.status().ToString());
  return m.value();
}

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',' || c == ' ') {
      if (!cur.empty()) {
        try {
          size_t used = 0;
          long v = std::stol(cur, &used);
          if (used != cur.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument("");
          ids.push_back(int32_t(v));
        } catch (const std::exception&) {
          throw Error(kExitUsage, "--tokens: '" + cur + "' is not a token id");
        }
        cur.clear();
      }
    } else {
      cur += c;
    }
  }
  return ids;
}

int generate_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble generate -m MODEL.gguf (-p TEXT | --tokens IDS) [options]");
  std::string model_path, prompt, tokens, trace_file, chat = "auto", thinking, effort;
  int n = 64, threads = 0, top_k = 0;
  float temp = 0, top_p = 1, min_p = 0;
  uint64_t seed = 0;
  opts.add_options()("help,h", "show this help")("model,m", po::value(&model_path), "GGUF model file")
      ("prompt,p", po::value(&prompt), "prompt text (needs the model's tokenizer)")
      ("tokens", po::value(&tokens), "prompt as token ids, comma or space separated; prints ids")
      ("n,n", po::value(&n)->default_value(n), "tokens to generate")
      ("temp", po::value(&temp)->default_value(temp), "temperature (0 = greedy)")
      ("top-k", po::value(&top_k)->default_value(top_k), "top-k (0 = off)")
      ("top-p", po::value(&top_p)->default_value(top_p), "top-p (1 = off)")
      ("min-p", po::value(&min_p)->default_value(min_p), "min-p (0 = off)")
      ("seed", po::value(&seed)->default_value(seed), "sampler seed")
      ("threads", po::value(&threads)->default_value(threads), "threads (0 = all cores)")
      ("chat-template", po::value(&chat)->default_value(chat), ("how -p is wrapped: auto (the model's own chat template as a user turn; raw if it has none), raw (as is), or one of " + moe::chat_family_list()).c_str())
      ("thinking", po::value(&thinking), "qwen3 template: on (default) lets the model think, off renders the empty thinking block")
      ("reasoning-effort", po::value(&effort), "harmony template: low | medium (default) | high")
      ("trace", po::value(&trace_file), "write the routing trace (binary MOERT1) to FILE");
  po::variables_map vm;
  if (parse_or_help(opts, nullptr, args, vm)) return kExitOk;
  if (model_path.empty()) throw Error(kExitUsage, "-m MODEL.gguf is required");
  if (prompt.empty() == tokens.empty()) throw Error(kExitUsage, "give exactly one of -p TEXT or --tokens IDS");
  if (n < 0 || temp < 0 || top_p <= 0 || top_p > 1 || min_p < 0 || min_p > 1 || top_k < 0)
    throw Error(kExitUsage, "sampling options out of range");
  auto model = load_model(model_path);
  std::vector<int32_t> ids;
  bool text_mode = !prompt.empty();
  moe::ChatFamily fam = moe::ChatFamily::kRaw;  // how -p is wrapped
  if (text_mode) {
    if (!model->has_tokenizer()) throw RuntimeError("the model has no tokenizer metadata; use --tokens");
    auto f = moe::resolve_chat_family(model->tokenizer(), chat);
    if (!f.ok()) throw Error(kExitUsage, f.status().message());
    fam = *f;
    if (!thinking.empty() && thinking != "on" && thinking != "off") throw Error(kExitUsage, "--thinking must be on or off");
    if (!effort.empty() && effort != "low" && effort != "medium" && effort != "high")
      throw Error(kExitUsage, "--reasoning-effort must be low, medium or high");
    moe::ChatOptions co;
    co.enable_thinking = thinking != "off";
    if (!effort.empty()) co.reasoning_effort = effort;
    // The same encoding as the local provider and `wobble serve`: -p is one user turn.
    std::vector<moe::ChatMessage> msgs = {{"user", prompt}};
    auto enc = fam == moe::ChatFamily::kRaw ? moe::encode_prompt(model->tokenizer(), fam, prompt, {})
                                            : moe::encode_prompt(model->tokenizer(), fam, std::nullopt, msgs, co);
    if (!enc.ok()) throw Error(kExitUsage, enc.status().message());
    ids = *enc;
  } else {
    ids = parse_ids(tokens);
    if (ids.empty()) throw Error(kExitUsage, "--tokens is empty");
  }
  moe::SessionOptions so;
  so.n_threads = threads;
  so.trace_routing = !trace_file.empty();
  auto session = moe::Session::create(model, so);
  if (!session.ok()) throw RuntimeError(session.status().ToString());
  moe::GenerateOptions go;
  go.max_tokens = n;
  go.sampling = {temp, top_k, top_p, min_p, seed};
  if (text_mode) {
    // A raw prompt is continued in place; a chat answer starts on its own line. The generated text
    // is the continuation of the prompt (moe::DecodeOptions::generated_text(), as llama-server
    // returns it): an SPM model's first word keeps its space, so "Hello" + " world" reads right.
    std::cout << prompt << (fam != moe::ChatFamily::kRaw ? "\n" : "") << std::flush;
  }
  auto res = moe::generate(**session, ids, go, [&](std::string_view s) {
    if (text_mode) std::cout << s << std::flush;
  });
  if (!res.ok()) throw RuntimeError(res.status().ToString());
  if (!text_mode) {
    for (size_t i = 0; i < res->tokens.size(); ++i) std::cout << (i ? " " : "") << res->tokens[i];
  }
  std::cout << "\n";
  double pp = res->prefill_seconds > 0 ? double(ids.size()) / res->prefill_seconds : 0;
  double tg = res->decode_seconds > 0 ? double(res->tokens.size()) / res->decode_seconds : 0;
  std::fprintf(stderr, "prompt: %zu tokens, %.1f t/s | decode: %zu tokens, %.1f t/s | finish: %s\n", ids.size(), pp,
               res->tokens.size(), tg, res->finish_reason.c_str());
  if (!trace_file.empty()) {
    auto bytes = (*session)->trace().serialize();
    std::ofstream out(trace_file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw RuntimeError("cannot write " + trace_file);
    std::fprintf(stderr, "routing trace: %llu tokens x %u MoE layers, %zu bytes -> %s\n",
                 (unsigned long long)(*session)->trace().n_tokens(), (*session)->trace().n_layers(), bytes.size(),
                 trace_file.c_str());
  }
  return kExitOk;
}

int inspect_command(const std::vector<std::string>& args) {
  po::options_description opts("wobble inspect MODEL.gguf");
  std::string path;
  opts.add_options()("help,h", "show this help")("model", po::value(&path), "GGUF file");
  po::positional_options_description pos;
  pos.add("model", 1);
  po::variables_map vm;
  if (parse_or_help(opts, &pos, args, vm)) return kExitOk;
  if (path.empty()) throw Error(kExitUsage, "a model file is required: wobble inspect MODEL.gguf");
  auto model = load_model(path);
  const auto& i = model->info();
  std::printf("file:          %s\narchitecture:  %s\nname:          %s\n", path.c_str(), i.architecture.c_str(), i.name.c_str());
  std::printf("layers:        %u (%u MoE)\nembedding:     %u\nheads:         %u (kv %u, head dim %u)\n", i.n_layer,
              i.n_moe_layers, i.n_embd, i.n_head, i.n_head_kv, i.head_dim);
  // A dense FFN width only where some layer has one (deepseek2's leading layers, dense llama);
  // gpt-oss and Mixtral-style files carry feed_forward_length for their experts alone.
  std::printf("experts:       %u, %u per token, expert FFN %u", i.n_expert, i.n_expert_used, i.n_ff_expert);
  if (i.n_moe_layers < i.n_layer && i.n_ff > 0) std::printf(", dense FFN %u (%u layers)", i.n_ff, i.n_layer - i.n_moe_layers);
  std::printf("\n");
  std::printf("vocab:         %u\ncontext:       %u\n", i.n_vocab, i.n_ctx_train);
  if (i.mla_kv_lora_rank)
    std::printf("KV cache:      %llu bytes per token (MLA latent: %u layers x (kv_lora_rank %u + rope %u) x f32)\n",
                (unsigned long long)i.kv_cache_bytes_per_token, i.n_layer, i.mla_kv_lora_rank, i.mla_rope_dim);
  else
    std::printf("KV cache:      %llu bytes per token (K and V: %u layers x 2 x %u kv heads x %u x f32)\n",
                (unsigned long long)i.kv_cache_bytes_per_token, i.n_layer, i.n_head_kv, i.head_dim);
  std::printf("parameters:    %.3f M total, %.3f M active per token\n", i.n_params / 1e6, i.n_params_active / 1e6);
  std::printf("weights:       %.2f MiB total, %.2f MiB read per token\n", i.bytes_total / 1048576.0,
              i.bytes_active / 1048576.0);
  std::printf("tensor types: ");
  for (const auto& [t, c] : i.tensor_types) std::printf(" %s x%u", t.c_str(), c);
  std::printf("\n");
  // Bytes per weight type, and bits per stored value (MXFP4: 17 bytes per 32 values = 4.25).
  for (const auto& [t, bytes] : i.type_bytes) {
    const uint64_t n = i.type_params.count(t) ? i.type_params.at(t) : 0;
    std::printf("  %-6s %12llu bytes (%.2f MiB), %llu values, %.2f bits each\n", t.c_str(), (unsigned long long)bytes,
                bytes / 1048576.0, (unsigned long long)n, n ? 8.0 * double(bytes) / double(n) : 0.0);
  }
  if (model->has_tokenizer())
    std::printf("tokenizer:     %s (pre %s), chat template: %s\n", model->tokenizer().model_kind().c_str(),
                model->tokenizer().pre_kind().c_str(),
                moe::chat_family_name(moe::detect_chat_family(model->tokenizer().chat_template())));
  return kExitOk;
}

}  // namespace

WOBBLE_REGISTER_COMMAND("generate", "run the bundled engine on a GGUF model", generate_command);
WOBBLE_REGISTER_COMMAND("inspect", "print a GGUF model's architecture, sizes, types and experts", inspect_command);

}  // namespace wobble::cli
