// Streaming decode: holds back the bytes of a character that is not complete yet.
#include "tokenizer/tokenizer_impl.h"

namespace moe {

using unicode::byte_map;
using unicode::utf8_len;

Tokenizer::StreamDecoder::StreamDecoder(const Tokenizer& tok, DecodeOptions opts) : tok_(tok), opts_(opts) {}

std::string Tokenizer::StreamDecoder::push(int32_t id) {
  const size_t before = pending_.size();
  tok_.impl_->append_piece(id, opts_, pending_);
  // At the start of a text the SPM prefix space is dropped once, as decode() does; a continuation
  // keeps it.
  if (!started_ && pending_.size() > before) {
    started_ = true;
    if (tok_.impl_->strips_prefix_space(opts_) && pending_[before] == ' ') pending_.erase(before, 1);
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
