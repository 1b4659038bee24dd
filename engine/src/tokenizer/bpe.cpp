// Byte-level BPE merges: symbols are ids (vocabulary ids, then merge-only texts); the lowest-ranked
// adjacent pair merges first, leftmost on ties.
#include "tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <queue>

namespace moe {

using unicode::byte_map;
using unicode::utf8_len;

int32_t Tokenizer::Impl::symbol(const std::string& text) {
  auto it = symbol_of.find(text);
  if (it != symbol_of.end()) return it->second;
  int32_t id = int32_t(tokens.size() + extra_symbols.size());
  extra_symbols.push_back(text);
  symbol_of.emplace(text, id);
  return id;
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    // The family's tokenizer looks the whole pre-token up first (tiktoken's rule): merges alone can
    // miss an entry, e.g. Llama 3's " Việt", whose merge path is outranked inside the word.
    std::string text;
    for (unsigned char c : word) text += byte_map().byte_to_utf8[c];
    auto it = id_of.find(text);
    if (it != id_of.end() && types[size_t(it->second)] == kTokNormal) {
      out.push_back(it->second);
      return;
    }
  }
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

}  // namespace moe
