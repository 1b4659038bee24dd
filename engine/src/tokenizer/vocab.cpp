// Tokenizer construction from GGUF metadata (tokenizer.ggml.*), validating every key as hostile
// input, plus the vocabulary accessors.
#include "tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <cstdio>

#include "gguf/gguf_file.h"

namespace moe {

using unicode::byte_map;
using unicode::utf8_len;

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return f.status();
  return from_gguf(**f);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& f) {
  auto im = std::make_unique<Impl>();
  MOE_ASSIGN_OR_RETURN(im->model, f.get_string("tokenizer.ggml.model"));
  if (im->model != "llama" && im->model != "gpt2")
    return Status::NotSupported("tokenizer.ggml.model '" + im->model + "' is not supported (llama, gpt2)");
  im->pre = "default";
  if (f.find("tokenizer.ggml.pre")) {
    MOE_ASSIGN_OR_RETURN(im->pre, f.get_string("tokenizer.ggml.pre"));
  }
  if (f.find("tokenizer.chat_template")) {
    MOE_ASSIGN_OR_RETURN(im->chat_template, f.get_string("tokenizer.chat_template"));
  }
  MOE_ASSIGN_OR_RETURN(const GgufArray* toks, f.get_array("tokenizer.ggml.tokens"));
  if (toks->elem_type != GgufValueType::STRING || toks->items.empty() || toks->items.size() > (1u << 24))
    return Status::Corruption("tokenizer.ggml.tokens must be a non-empty string array");
  const size_t n = toks->items.size();
  for (const auto& t : toks->items) im->tokens.push_back(std::get<std::string>(t.v));
  im->scores.assign(n, 0.f);
  im->types.assign(n, kTokNormal);
  if (f.find("tokenizer.ggml.scores")) {
    MOE_ASSIGN_OR_RETURN(const GgufArray* sc, f.get_array("tokenizer.ggml.scores"));
    if (sc->items.size() != n || sc->elem_type != GgufValueType::FLOAT32)
      return Status::Corruption("tokenizer.ggml.scores must be " + std::to_string(n) + " floats");
    for (size_t i = 0; i < n; ++i) im->scores[i] = float(std::get<double>(sc->items[i].v));
  }
  if (f.find("tokenizer.ggml.token_type")) {
    MOE_ASSIGN_OR_RETURN(const GgufArray* ty, f.get_array("tokenizer.ggml.token_type"));
    if (ty->items.size() != n) return Status::Corruption("tokenizer.ggml.token_type must have " + std::to_string(n) + " entries");
    for (size_t i = 0; i < n; ++i) {
      const auto& v = ty->items[i].v;
      if (auto* x = std::get_if<int64_t>(&v)) im->types[i] = int32_t(*x);
      else if (auto* u = std::get_if<uint64_t>(&v)) im->types[i] = int32_t(*u);
      else return Status::Corruption("tokenizer.ggml.token_type must hold integers");
    }
  }
  for (size_t i = 0; i < n; ++i) im->id_of.emplace(im->tokens[i], int32_t(i));
  im->symbol_of = im->id_of;
  if (im->model == "gpt2") {
    MOE_ASSIGN_OR_RETURN(const GgufArray* merges, f.get_array("tokenizer.ggml.merges"));
    if (merges->elem_type != GgufValueType::STRING) return Status::Corruption("tokenizer.ggml.merges must be strings");
    for (size_t i = 0; i < merges->items.size(); ++i) {
      const auto& m = std::get<std::string>(merges->items[i].v);
      size_t sp = m.find(' ', 1);
      if (sp == std::string::npos || sp + 1 >= m.size())
        return Status::Corruption("tokenizer.ggml.merges[" + std::to_string(i) + "] is not 'a b'");
      const int32_t left = im->symbol(m.substr(0, sp)), right = im->symbol(m.substr(sp + 1));
      const int32_t result = im->symbol(m.substr(0, sp) + m.substr(sp + 1));
      // A repeated pair keeps its first (best) rank.
      im->merges.emplace((uint64_t(uint32_t(left)) << 32) | uint32_t(right), Impl::Merge{int32_t(i), result});
    }
    for (int b = 0; b < 256; ++b) {
      auto it = im->symbol_of.find(byte_map().byte_to_utf8[b]);
      im->byte_symbol[b] = it == im->symbol_of.end() ? -1 : it->second;
    }
    auto pt = PreTokenizer::create(im->pre);
    if (!pt.ok()) return pt.status();
    im->pretok = std::move(pt).value();
    im->ignore_merges = im->pretok->traits().ignore_merges;
    im->family_nfc = im->pretok->traits().nfc;
    im->add_bos = false;
    im->add_space_prefix = false;
  } else {
    im->add_bos = true;
  }
  auto id_key = [&](const char* key, int32_t* out) -> Status {
    if (!f.find(key)) return Status::Ok();
    MOE_ASSIGN_OR_RETURN(uint64_t v, f.get_uint(key));
    if (v >= n) return Status::Corruption(std::string(key) + " = " + std::to_string(v) + " is outside the vocabulary");
    *out = int32_t(v);
    return Status::Ok();
  };
  MOE_RETURN_IF_ERROR(id_key("tokenizer.ggml.bos_token_id", &im->bos));
  MOE_RETURN_IF_ERROR(id_key("tokenizer.ggml.eos_token_id", &im->eos));
  MOE_RETURN_IF_ERROR(id_key("tokenizer.ggml.eot_token_id", &im->eot));
  MOE_RETURN_IF_ERROR(id_key("tokenizer.ggml.unknown_token_id", &im->unk));
  MOE_RETURN_IF_ERROR(id_key("tokenizer.ggml.padding_token_id", &im->pad));
  if (f.find("tokenizer.ggml.add_bos_token")) {
    MOE_ASSIGN_OR_RETURN(im->add_bos, f.get_bool("tokenizer.ggml.add_bos_token"));
  }
  if (f.find("tokenizer.ggml.add_eos_token")) {
    MOE_ASSIGN_OR_RETURN(im->add_eos, f.get_bool("tokenizer.ggml.add_eos_token"));
  }
  if (f.find("tokenizer.ggml.add_space_prefix")) {
    MOE_ASSIGN_OR_RETURN(im->add_space_prefix, f.get_bool("tokenizer.ggml.add_space_prefix"));
  }
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    auto it = im->id_of.find(buf);
    im->byte_tokens[b] = it == im->id_of.end() ? -1 : it->second;
  }
  auto special_id = [&](const char* text) {
    auto it = im->id_of.find(text);
    return it == im->id_of.end() ? -1 : int32_t(it->second);
  };
  if (special_id("<|channel|>") >= 0 && special_id("<|return|>") >= 0) {
    im->harmony_end = special_id("<|end|>");
    im->harmony_return = special_id("<|return|>");
    im->harmony_call = special_id("<|call|>");
  }
  for (size_t i = 0; i < n; ++i)
    if ((im->types[i] == kTokControl || im->types[i] == kTokUserDefined) && !im->tokens[i].empty())
      im->specials.push_back(int32_t(i));
  std::stable_sort(im->specials.begin(), im->specials.end(),
                   [&](int32_t a, int32_t b) { return im->tokens[size_t(a)].size() > im->tokens[size_t(b)].size(); });
  for (int32_t sid : im->specials)
    im->specials_by_byte[static_cast<unsigned char>(im->tokens[size_t(sid)][0])].push_back(sid);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(im)));
}

std::string Tokenizer::piece(int32_t id) const {
  if (id < 0 || size_t(id) >= impl_->tokens.size()) return "";
  return impl_->tokens[size_t(id)];
}

int32_t Tokenizer::n_vocab() const { return int32_t(impl_->tokens.size()); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
bool Tokenizer::is_eog(int32_t id) const {
  if (id >= 0 && id == impl_->harmony_end) return false;
  if (id >= 0 && (id == impl_->harmony_return || id == impl_->harmony_call)) return true;
  return id >= 0 && (id == impl_->eos || id == impl_->eot ||
                     (size_t(id) < impl_->tokens.size() &&
                      (impl_->tokens[size_t(id)] == "<|im_end|>" || impl_->tokens[size_t(id)] == "<|endoftext|>" ||
                       impl_->tokens[size_t(id)] == "<|eot_id|>")));
}
const std::string& Tokenizer::model_kind() const { return impl_->model; }
const std::string& Tokenizer::pre_kind() const { return impl_->pre; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }
Normalization Tokenizer::family_normalization() const {
  return impl_->family_nfc ? Normalization::kNfc : Normalization::kNone;
}
bool Tokenizer::ignores_merges() const { return impl_->ignore_merges; }

}  // namespace moe
