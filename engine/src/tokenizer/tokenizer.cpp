// Encoding (special-token split, then SPM or pre-tokenized BPE) and decoding of token ids.
#include "tokenizer/tokenizer_impl.h"

#include "tokenizer/normalize.h"

namespace moe {

using unicode::byte_map;
using unicode::utf8_len;

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, const EncodeOptions& opts) const {
  const Impl& im = *impl_;
  size_t bad = unicode::invalid_utf8_at(text);
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
      if (im.types[size_t(sid)] == kTokControl && !opts.parse_special) continue;
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

  // Normalisation applies to each stretch between special tokens, as Hugging Face normalises the
  // pieces its added-token split leaves (special-token texts are matched on the raw input).
  const bool nfc = opts.normalization == Normalization::kNfc ||
                   (opts.normalization == Normalization::kFamily && im.family_nfc);
  std::string normalized;
  bool first_plain = true;
  for (auto [piece, sid] : parts) {
    if (sid >= 0) {
      out.push_back(sid);
      continue;
    }
    if (nfc) {
      normalized = unicode::nfc(piece);
      piece = normalized;
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

// Appends the text of one token, as llama.cpp's token_to_piece renders it with lstrip 0. SPM's
// prefix-space removal is the caller's business because it applies once per decoded sequence, and
// only in DecodeContext::kStartOfText.
void Tokenizer::Impl::append_piece(int32_t id, const DecodeOptions& opts, std::string& out) const {
  if (id < 0 || size_t(id) >= tokens.size()) return;
  const std::string& t = tokens[size_t(id)];
  int32_t type = types[size_t(id)];
  if (type == kTokControl || type == kTokUnknown) {
    if (opts.show_special) out += t;
    return;
  }
  if (type == kTokUserDefined) {
    out += t;
    return;
  }
  // Unused and undefined tokens have no text; a BPE vocabulary renders only normal tokens.
  if (type != kTokNormal && !(type == kTokByte && model != "gpt2")) return;
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
  } else if (type == kTokByte && unicode::byte_value(t) >= 0) {
    out += char(unicode::byte_value(t));
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

bool Tokenizer::Impl::strips_prefix_space(const DecodeOptions& opts) const {
  return opts.context == DecodeContext::kStartOfText && model == "llama" && add_space_prefix;
}

std::string Tokenizer::token_bytes(int32_t id) const {
  std::string out;
  if (id < 0 || id >= n_vocab()) return out;
  impl_->append_piece(id, DecodeOptions::generated_text(), out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& opts) const {
  std::string out;
  for (int32_t id : ids) impl_->append_piece(id, opts, out);
  // At the start of a text, undo the space SPM encoding put in front of it.
  if (impl_->strips_prefix_space(opts) && !out.empty() && out[0] == ' ') out.erase(0, 1);
  if (unicode::invalid_utf8_at(out) == std::string::npos) return out;
  std::string valid;  // byte tokens that do not form characters: U+FFFD, as StreamDecoder gives
  unicode::append_valid_utf8(out, /*hold_incomplete=*/false, valid);
  return valid;
}

}  // namespace moe
