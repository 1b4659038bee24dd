// Tokenizer from GGUF metadata: SPM (score-driven merges, U+2581 spaces, byte fallback) and
// byte-level BPE (bytes_to_unicode mapping, merges by rank, family pre-tokenizer).
#include "moe/tokenizer.h"

#include <algorithm>
#include <map>
#include <queue>
#include <unordered_map>

#include "gguf/gguf_file.h"
#include "tokenizer/pre_tokenizer.h"

namespace moe {
namespace {

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// GPT-2's reversible byte <-> printable code point mapping.
struct ByteMap {
  std::string byte_to_utf8[256];
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
      byte_to_utf8[b] = encode(cp);
      cp_to_byte[cp] = uint8_t(b);
    }
  }
  static std::string encode(uint32_t cp) {
    std::string s;
    if (cp < 0x80) s += char(cp);
    else if (cp < 0x800) { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { s += char(0xE0 | (cp >> 12)); s += char(0x80 | ((cp >> 6) & 0x3F)); s += char(0x80 | (cp & 0x3F)); }
    else { s += char(0xF0 | (cp >> 18)); s += char(0x80 | ((cp >> 12) & 0x3F)); s += char(0x80 | ((cp >> 6) & 0x3F)); s += char(0x80 | (cp & 0x3F)); }
    return s;
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// Length of the UTF-8 sequence starting with byte c (1 for invalid lead bytes).
size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos when the whole text is valid.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if (c == 0xED) n = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c == 0xF4) n = 4, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else return i;
    if (i + n > s.size()) return i;
    const unsigned char c1 = s[i + 1];
    if (c1 < lo || c1 > hi) return i;
    for (size_t k = 2; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    i += n;
  }
  return std::string_view::npos;
}

// The byte a "<0xNN>" token stands for, or -1 when the text is not of that form.
int byte_value(std::string_view t) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Lets string-keyed maps be searched with a string_view, so lookups in the merge loops allocate nothing.
struct TextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextMap = std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>>;

}  // namespace

struct Tokenizer::Impl {
  std::string model, pre, chat_template;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  TextMap id_of;
  // BPE works on symbol ids: vocabulary ids first, then texts that merges produce or consume but the
  // vocabulary lacks (kept in extra_symbols so the merge order stays exactly the string-based one).
  TextMap symbol_of;
  std::vector<std::string> extra_symbols;                 // symbol id n_vocab + k -> text
  struct Merge {
    int32_t rank, result;
  };
  std::unordered_map<uint64_t, Merge> merges;            // (left symbol << 32 | right symbol) -> merge
  int32_t byte_symbol[256];                              // GPT-2 mapped byte -> symbol id, -1 if none
  int32_t symbol(const std::string& text);
  std::vector<int32_t> specials;                         // control + user-defined, longest first
  std::vector<int32_t> specials_by_byte[256];            // the same, bucketed by first byte
  int32_t bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false, add_space_prefix = true;
  std::unique_ptr<PreTokenizer> pretok;
  int32_t byte_tokens[256];

  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void spm_text(std::string_view text, std::vector<int32_t>& out) const;
  void append_piece(int32_t id, const DecodeOptions& opts, std::string& out) const;
  bool strips_prefix_space() const;
};

int32_t Tokenizer::Impl::symbol(const std::string& text) {
  auto it = symbol_of.find(text);
  if (it != symbol_of.end()) return it->second;
  int32_t id = int32_t(tokens.size() + extra_symbols.size());
  extra_symbols.push_back(text);
  symbol_of.emplace(text, id);
  return id;
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  // One symbol per byte; repeatedly apply the lowest-ranked merge (leftmost on ties) through a
  // priority queue over a linked list, so long words stay O(n log n).
  struct Sym {
    int32_t id;
    int prev, next;
  };
  std::vector<Sym> sy;
  sy.reserve(word.size());
  for (unsigned char c : word) sy.push_back({byte_symbol[c], int(sy.size()) - 1, int(sy.size()) + 1});
  if (sy.empty()) return;
  sy.back().next = -1;
  struct Cand {
    int32_t rank;
    int left, right;
    int32_t left_id, right_id;
    bool operator<(const Cand& o) const { return rank > o.rank || (rank == o.rank && left > o.left); }
  };
  std::priority_queue<Cand> q;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0 || sy[size_t(l)].id < 0 || sy[size_t(r)].id < 0) return;
    auto it = merges.find((uint64_t(uint32_t(sy[size_t(l)].id)) << 32) | uint32_t(sy[size_t(r)].id));
    if (it != merges.end()) q.push({it->second.rank, l, r, sy[size_t(l)].id, sy[size_t(r)].id});
  };
  for (size_t i = 1; i < sy.size(); ++i) try_add(int(i) - 1, int(i));
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    Sym& l = sy[size_t(c.left)];
    Sym& r = sy[size_t(c.right)];
    if (l.id != c.left_id || r.id != c.right_id || l.next != c.right) continue;  // stale
    l.id = merges.at((uint64_t(uint32_t(c.left_id)) << 32) | uint32_t(c.right_id)).result;
    r.id = -2;  // dead
    l.next = r.next;
    if (r.next >= 0) sy[size_t(r.next)].prev = c.left;
    try_add(l.prev, c.left);
    try_add(c.left, l.next);
  }
  const int32_t n_vocab = int32_t(tokens.size());
  for (int i = 0; i >= 0; i = sy[size_t(i)].next) {
    int32_t id = sy[size_t(i)].id;
    if (id >= 0 && id < n_vocab) {
      out.push_back(id);
      continue;
    }
    // Not in the vocabulary: fall back to its characters (each exists in a byte-level vocabulary).
    std::string_view text = id >= n_vocab ? std::string_view(extra_symbols[size_t(id - n_vocab)]) : std::string_view();
    if (id < 0) text = byte_map().byte_to_utf8[static_cast<unsigned char>(word[size_t(i)])];
    for (size_t k = 0; k < text.size();) {
      size_t n = std::min(utf8_len(static_cast<unsigned char>(text[k])), text.size() - k);
      auto bt = id_of.find(text.substr(k, n));
      out.push_back(bt != id_of.end() ? bt->second : unk);
      k += n;
    }
  }
}

void Tokenizer::Impl::spm_text(std::string_view text, std::vector<int32_t>& out) const {
  // Symbols are UTF-8 characters; repeatedly merge the adjacent pair whose concatenation is a token
  // with the highest score (leftmost on ties).
  struct Sym {
    size_t start, len;
    int prev, next;
  };
  std::string_view s = text;
  std::vector<Sym> sy;
  sy.reserve(text.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(s[i])), s.size() - i);
    sy.push_back({i, n, int(sy.size()) - 1, int(sy.size()) + 1});
    i += n;
  }
  if (sy.empty()) return;
  sy.back().next = -1;
  struct Bigram {
    int left, right;
    float score;
    size_t len;
    bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
  };
  std::priority_queue<Bigram> q;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    std::string_view piece = std::string_view(s).substr(sy[l].start, sy[l].len + sy[r].len);
    auto it = id_of.find(piece);
    if (it == id_of.end()) return;
    q.push({l, r, scores[size_t(it->second)], piece.size()});
  };
  for (size_t i = 1; i < sy.size(); ++i) try_add(int(i) - 1, int(i));
  while (!q.empty()) {
    Bigram b = q.top();
    q.pop();
    Sym& l = sy[size_t(b.left)];
    Sym& r = sy[size_t(b.right)];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sy[size_t(r.next)].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int i = 0; i >= 0; i = sy[size_t(i)].next) {
    std::string_view piece = std::string_view(s).substr(sy[size_t(i)].start, sy[size_t(i)].len);
    auto it = id_of.find(piece);
    if (it != id_of.end()) {
      out.push_back(it->second);
    } else {
      for (unsigned char c : piece) out.push_back(byte_tokens[c] >= 0 ? byte_tokens[c] : unk);
    }
  }
}

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
  im->types.assign(n, kNormal);
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
  for (size_t i = 0; i < n; ++i)
    if ((im->types[i] == kControl || im->types[i] == kUserDefined) && !im->tokens[i].empty())
      im->specials.push_back(int32_t(i));
  std::stable_sort(im->specials.begin(), im->specials.end(),
                   [&](int32_t a, int32_t b) { return im->tokens[size_t(a)].size() > im->tokens[size_t(b)].size(); });
  for (int32_t sid : im->specials)
    im->specials_by_byte[static_cast<unsigned char>(im->tokens[size_t(sid)][0])].push_back(sid);
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(im)));
}

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, const EncodeOptions& opts) const {
  const Impl& im = *impl_;
  size_t bad = invalid_utf8_at(text);
  if (bad != std::string_view::npos)
    return Status::InvalidArgument("input is not valid UTF-8 at byte " + std::to_string(bad));
  std::vector<int32_t> out;
  if (opts.add_special && im.add_bos && im.bos >= 0) out.push_back(im.bos);
  // Split out special tokens: user-defined always, control tokens only with parse_special.
  std::vector<std::pair<std::string_view, int32_t>> parts;  // (text, -1) or ("", special id)
  size_t pos = 0, plain_start = 0;
  while (pos < text.size()) {
    int32_t hit = -1;
    for (int32_t sid : im.specials_by_byte[static_cast<unsigned char>(text[pos])]) {
      if (im.types[size_t(sid)] == kControl && !opts.parse_special) continue;
      const std::string& t = im.tokens[size_t(sid)];
      if (text.compare(pos, t.size(), t) == 0) {
        hit = sid;
        break;
      }
    }
    if (hit < 0) {
      ++pos;
      continue;
    }
    if (pos > plain_start) parts.emplace_back(text.substr(plain_start, pos - plain_start), -1);
    parts.emplace_back(std::string_view(), hit);
    pos += im.tokens[size_t(hit)].size();
    plain_start = pos;
  }
  if (plain_start < text.size()) parts.emplace_back(text.substr(plain_start), -1);

  bool first_plain = true;
  for (const auto& [piece, sid] : parts) {
    if (sid >= 0) {
      out.push_back(sid);
      continue;
    }
    if (im.model == "gpt2") {
      for (std::string_view w : im.pretok->split(piece)) im.bpe_word(w, out);
    } else {
      std::string s;
      if (im.add_space_prefix && first_plain) s += "\xE2\x96\x81";
      for (char c : piece) {
        if (c == ' ') s += "\xE2\x96\x81";
        else s += c;
      }
      im.spm_text(s, out);
    }
    first_plain = false;
  }
  if (opts.add_special && im.add_eos && im.eos >= 0) out.push_back(im.eos);
  return out;
}

std::string Tokenizer::piece(int32_t id) const {
  if (id < 0 || size_t(id) >= impl_->tokens.size()) return "";
  return impl_->tokens[size_t(id)];
}

// Appends the text of one token. SPM's prefix-space removal is the caller's business because it
// applies once per decoded sequence, not once per token.
void Tokenizer::Impl::append_piece(int32_t id, const DecodeOptions& opts, std::string& out) const {
  if (id < 0 || size_t(id) >= tokens.size()) return;
  const std::string& t = tokens[size_t(id)];
  int32_t type = types[size_t(id)];
  if (type == kControl || type == kUnknown) {
    if (opts.show_special) out += t;
    return;
  }
  if (type == kUserDefined) {
    out += t;
    return;
  }
  if (model == "gpt2") {
    for (size_t i = 0; i < t.size();) {
      size_t n = utf8_len(static_cast<unsigned char>(t[i]));
      unsigned char c0 = t[i];
      uint32_t cp = n == 1 ? c0 : (c0 & (0xFF >> (n + 1)));
      for (size_t k = 1; k < n && i + k < t.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(t[i + k]) & 0x3F);
      auto it = byte_map().cp_to_byte.find(cp);
      if (it != byte_map().cp_to_byte.end()) out += char(it->second);
      i += n;
    }
  } else if (type == kByte && byte_value(t) >= 0) {
    out += char(byte_value(t));
  } else {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "\xE2\x96\x81") == 0) {
        out += ' ';
        i += 2;
      } else {
        out += t[i];
      }
    }
  }
}

bool Tokenizer::Impl::strips_prefix_space() const { return model == "llama" && add_space_prefix; }

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& opts) const {
  std::string out;
  for (int32_t id : ids) impl_->append_piece(id, opts, out);
  // Undo the space SPM encoding put in front of the text.
  if (impl_->strips_prefix_space() && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

int32_t Tokenizer::n_vocab() const { return int32_t(impl_->tokens.size()); }
int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && (id == impl_->eos || id == impl_->eot ||
                     (size_t(id) < impl_->tokens.size() &&
                      (impl_->tokens[size_t(id)] == "<|im_end|>" || impl_->tokens[size_t(id)] == "<|endoftext|>" ||
                       impl_->tokens[size_t(id)] == "<|eot_id|>")));
}
const std::string& Tokenizer::model_kind() const { return impl_->model; }
const std::string& Tokenizer::pre_kind() const { return impl_->pre; }
const std::string& Tokenizer::chat_template() const { return impl_->chat_template; }

Tokenizer::StreamDecoder::StreamDecoder(const Tokenizer& tok, DecodeOptions opts) : tok_(tok), opts_(opts) {}

std::string Tokenizer::StreamDecoder::push(int32_t id) {
  const size_t before = pending_.size();
  tok_.impl_->append_piece(id, opts_, pending_);
  // The SPM prefix space is dropped once, at the start of the stream, as decode() does.
  if (!started_ && pending_.size() > before) {
    started_ = true;
    if (tok_.impl_->strips_prefix_space() && pending_[before] == ' ') pending_.erase(before, 1);
  }
  // Emit everything up to the last complete UTF-8 character.
  size_t cut = pending_.size();
  size_t i = pending_.size();
  while (i > 0 && pending_.size() - i < 4) {
    --i;
    unsigned char c = pending_[i];
    if ((c & 0xC0) != 0x80) {
      size_t need = utf8_len(c);
      if (c >= 0x80 && i + need > pending_.size()) cut = i;
      break;
    }
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string Tokenizer::StreamDecoder::finish() {
  std::string out;
  if (!pending_.empty()) out = "\xEF\xBF\xBD";
  pending_.clear();
  return out;
}

}  // namespace moe
