// Streaming decode: holds back the bytes of a character that is not complete yet and replaces
// ill-formed bytes with U+FFFD as soon as they are known to be ill-formed.
#include "tokenizer/tokenizer_impl.h"

namespace moe {

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
  // Emit every complete character; keep an unfinished one for the next token.
  std::string out;
  pending_.erase(0, unicode::append_valid_utf8(pending_, /*hold_incomplete=*/true, out));
  return out;
}

std::string Tokenizer::StreamDecoder::finish() {
  std::string out;
  unicode::append_valid_utf8(pending_, /*hold_incomplete=*/false, out);
  pending_.clear();
  return out;
}

}  // namespace moe
