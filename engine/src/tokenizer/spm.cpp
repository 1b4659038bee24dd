// SentencePiece-style merges: the adjacent pair whose concatenation is the highest-scoring token
// merges first; characters no token covers fall back to <0xNN> byte tokens.
#include "tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <queue>

namespace moe {

using unicode::byte_map;
using unicode::utf8_len;

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

}  // namespace moe
