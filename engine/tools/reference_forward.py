#!/usr/bin/python3
"""Independent numpy reference forward pass for the engine's tiny test models (F32/F16 weights).

Reads a GGUF with its own parser, runs every position of a prompt in float64 following the public
model definitions (HF modeling files), and prints one line of logits per position. The engine's
golden test (tests/engine/runtime/golden_test.cpp) compares against the output, committed as
tests/fixtures/engine/golden_<arch>.txt. Regenerate (offline, no torch needed):

    WOBBLE_DUMP_GOLDEN_MODELS=/tmp/g build/test_engine_runtime --gtest_filter='Golden*'
    for a in llama qwen2moe qwen3moe olmoe granitemoe; do
      /usr/bin/python3 engine/tools/reference_forward.py /tmp/g/golden_$a.gguf 1,5,9,13,2,7,11,3 \
          > tests/fixtures/engine/golden_$a.txt; done
"""
import struct
import sys

import numpy as np


def read_gguf(path):
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        raise ValueError("value type %d" % t)

    if buf[:4] != b"GGUF":
        raise ValueError("not a GGUF file")
    pos = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    if version not in (2, 3):
        raise ValueError("GGUF version %d" % version)
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("I")
        ne = [take("Q") for _ in range(nd)]
        infos.append((name, ne, take("I"), take("Q")))
    align = kv.get("general.alignment", 32)
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, ttype, off in infos:
        if ttype not in (0, 1):
            raise ValueError("tensor %s: only F32/F16 are read by the reference" % name)
        dt = np.float32 if ttype == 0 else np.float16
        arr = np.frombuffer(buf, dtype=dt, count=int(np.prod(ne)), offset=start + off)
        # ne[0] is contiguous: ne = [in, out(, experts)] is a row-major (experts, out, in) array.
        tensors[name] = arr.reshape(list(reversed(ne))).astype(np.float64)
    return kv, tensors


def rms(x, w, eps):
    # x (..., n), w (n,) -> (..., n)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, base, neox):
    # x (T, H, hd). normal: pairs (2i, 2i+1); NeoX: pairs (i, i + hd/2). Angle pos * base^(-2i/hd).
    T, _, hd = x.shape
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    out = np.empty_like(x)
    if neox:
        a, b = x[..., :hd // 2], x[..., hd // 2:]
        out[..., :hd // 2] = a * c - b * s
        out[..., hd // 2:] = a * s + b * c
    else:
        a, b = x[..., 0::2], x[..., 1::2]
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = a * s + b * c
    return out


def silu(x):
    return x / (1.0 + np.exp(-x))


def ffn(h, g, u, d):
    # h (T, n) ; g, u (ff, n) ; d (n, ff) -> (T, n)
    return (silu(h @ g.T) * (h @ u.T)) @ d.T


def forward(kv, t, ids):
    a = kv["general.architecture"]
    g = lambda k, dflt=None: kv.get(a + "." + k, dflt)
    L, d, H, Hkv = g("block_count"), g("embedding_length"), g("attention.head_count"), g("attention.head_count_kv")
    hd = d // H
    eps, base = g("attention.layer_norm_rms_epsilon"), g("rope.freq_base", 10000.0)
    k_used = g("expert_used_count", 0)
    neox = a in ("qwen2moe", "qwen3moe", "olmoe")
    renorm = a in ("llama", "qwen3moe", "granitemoe")
    emb_s, res_s = g("embedding_scale", 1.0), g("residual_scale", 1.0)
    att_s, logit_s = g("attention.scale", 0.0) or 1.0 / np.sqrt(hd), g("logit_scale", 1.0)
    T = len(ids)
    x = t["token_embd.weight"][ids] * emb_s  # (T, d)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        p = "blk.%d." % l
        h = rms(x, t[p + "attn_norm.weight"], eps)
        q, k, v = (h @ t[p + "attn_%s.weight" % n].T for n in "qkv")
        if p + "attn_q.bias" in t:
            q, k, v = q + t[p + "attn_q.bias"], k + t[p + "attn_k.bias"], v + t[p + "attn_v.bias"]
        if a == "olmoe":
            q, k = rms(q, t[p + "attn_q_norm.weight"], eps), rms(k, t[p + "attn_k_norm.weight"], eps)
        q, k, v = q.reshape(T, H, hd), k.reshape(T, Hkv, hd), v.reshape(T, Hkv, hd)
        if a == "qwen3moe":
            q, k = rms(q, t[p + "attn_q_norm.weight"], eps), rms(k, t[p + "attn_k_norm.weight"], eps)
        q, k = rope(q, base, neox), rope(k, base, neox)
        rep = H // Hkv
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)  # GQA: head j reads kv head j // rep
        s = np.einsum("thd,shd->hts", q, k) * att_s + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", s, v).reshape(T, H * hd)
        x = x + (o @ t[p + "attn_output.weight"].T) * res_s
        h = rms(x, t[p + "ffn_norm.weight"], eps)
        if p + "ffn_gate_inp.weight" not in t:
            out = ffn(h, t[p + "ffn_gate.weight"], t[p + "ffn_up.weight"], t[p + "ffn_down.weight"])
        else:
            r = h @ t[p + "ffn_gate_inp.weight"].T  # (T, E)
            pr = np.exp(r - r.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            out = np.zeros_like(x)
            for ti in range(T):
                top = sorted(range(pr.shape[1]), key=lambda e: (-pr[ti, e], e))[:k_used]
                w = pr[ti, top]
                if renorm:
                    w = w / w.sum()
                for e, we in zip(top, w):
                    out[ti] += we * ffn(h[ti:ti + 1], t[p + "ffn_gate_exps.weight"][e],
                                        t[p + "ffn_up_exps.weight"][e], t[p + "ffn_down_exps.weight"][e])[0]
            if p + "ffn_gate_inp_shexp.weight" in t:
                gate = 1.0 / (1.0 + np.exp(-(h @ t[p + "ffn_gate_inp_shexp.weight"])))  # (T,)
                out += gate[:, None] * ffn(h, t[p + "ffn_gate_shexp.weight"], t[p + "ffn_up_shexp.weight"],
                                           t[p + "ffn_down_shexp.weight"])
        x = x + out * res_s
    x = rms(x, t["output_norm.weight"], eps)
    w_out = t.get("output.weight", t["token_embd.weight"])
    return (x @ w_out.T) / logit_s  # (T, vocab)


def main():
    kv, t = read_gguf(sys.argv[1])
    ids = [int(s) for s in sys.argv[2].replace(",", " ").split()]
    for row in forward(kv, t, ids):
        print(" ".join("%.6e" % v for v in row))


if __name__ == "__main__":
    main()
