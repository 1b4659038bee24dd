"""Byte-level BPE (GPT-2 conventions) trained on the demo corpus.

Pre-tokenisation uses the GPT-2 split pattern; the corpus is ASCII, where Python's `re` (with the
letter/number classes spelled out) and PCRE2's Unicode classes agree. Special tokens are matched
before splitting and never merged.
"""
import re
from collections import Counter

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()


def words_of(text):
    out = []
    for part in SPECIAL_RE.split(text):
        if not part:
            continue
        if part in SPECIALS:
            out.append((part, True))
        else:
            for w in SPLIT.findall(part):
                out.append(("".join(B2U[b] for b in w.encode("utf-8")), False))
    return out


DIGITS = frozenset("0123456789")


def _has_digit(sym):
    return any(ch in DIGITS for ch in sym)


def train(texts, n_merges):
    """Learns up to n_merges merges. No merge ever involves a digit, so every number is spelled one
    digit per token: with " 23" as one token the model would have to learn a separate sum for each
    pair of number tokens, with single digits it can learn carrying, which generalises to pairs it
    never saw. Needs no pre-tokeniser change (the GPT-2 split still groups " 23"); the digits simply
    stay unmerged bytes."""
    counts = Counter()
    for t in texts:
        for w, special in words_of(t):
            if not special:
                counts[w] += 1
    words = {w: list(w) for w in counts}
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in counts.items():
            sym = words[w]
            for i in range(len(sym) - 1):
                if not (_has_digit(sym[i]) or _has_digit(sym[i + 1])):
                    pairs[(sym[i], sym[i + 1])] += c
        if not pairs:
            break
        # Highest count; ties broken by the pair itself so training is deterministic.
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        a, b = best
        for w in words:
            sym = words[w]
            i, out = 0, []
            while i < len(sym):
                if i + 1 < len(sym) and sym[i] == a and sym[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            words[w] = out
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = merges
        self.rank = {m: i for i, m in enumerate(merges)}
        byte_tokens = [B2U[b] for b in range(256)]
        self.tokens = byte_tokens + [a + b for a, b in merges] + SPECIALS
        self.id = {t: i for i, t in enumerate(self.tokens)}
        self.special_ids = {s: self.id[s] for s in SPECIALS}
        self.u2b = {v: k for k, v in B2U.items()}
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        sym = list(word)
        while len(sym) > 1:
            best, best_rank = None, None
            for i in range(len(sym) - 1):
                r = self.rank.get((sym[i], sym[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            sym = sym[:best] + [sym[best] + sym[best + 1]] + sym[best + 2:]
        ids = [self.id[s] for s in sym]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for w, special in words_of(text):
            ids.extend([self.special_ids[w]] if special else self.bpe(w))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in self.special_ids:
                out += t.encode()
            else:
                out += bytes(self.u2b[c] for c in t)
        return out.decode("utf-8", errors="replace")
