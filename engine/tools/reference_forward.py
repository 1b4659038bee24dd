#!/usr/bin/python3
"""Independent numpy reference forward pass for the engine's tiny test models (F32/F16/Q8_0/MXFP4 weights).

Reads a GGUF with its own parser, runs every position of a prompt in float64 following the public
model definitions (HF modeling files), and prints one line of logits per position. The engine's
golden test (tests/engine/runtime/golden_test.cpp) compares against the output, committed as
tests/fixtures/engine/golden_<arch>.txt. Regenerate (offline, no torch needed):

    WOBBLE_DUMP_GOLDEN_MODELS=/tmp/g build/test_engine_runtime --gtest_filter='Golden*'
    for a in llama qwen2moe qwen3moe olmoe granitemoe; do
      /usr/bin/python3 engine/tools/reference_forward.py /tmp/g/golden_$a.gguf 1,5,9,13,2,7,11,3 \
          > tests/fixtures/engine/golden_$a.txt; done

gpt-oss (tests/engine/runtime/gptoss_test.cpp; F32 and MXFP4 experts):

    WOBBLE_DUMP_GOLDEN_MODELS=/tmp/g build/test_engine_runtime --gtest_filter='GptOssGolden*'
    for a in gpt-oss gpt-oss-mxfp4; do
      /usr/bin/python3 engine/tools/reference_forward.py /tmp/g/golden_$a.gguf 1,5,9,13,2,7,11,3 \
          > tests/fixtures/engine/golden_$a.txt; done

deepseek2 (tests/engine/runtime/deepseek2_test.cpp, models from tiny_deepseek2.h):

    WOBBLE_DUMP_GOLDEN_MODELS=/tmp/g build/test_engine_runtime --gtest_filter='*Deepseek2Golden*'
    for n in v2 v2lite v3 v2_q8_0 v3_q8_0; do
      /usr/bin/python3 engine/tools/reference_forward.py /tmp/g/golden_deepseek2_$n.gguf 1,5,9,13,2,7,11,3 \
          > tests/fixtures/engine/golden_deepseek2_$n.txt; done
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
        if ttype == 8:  # Q8_0: blocks of 32 int8 values sharing one fp16 scale (34 bytes)
            nb = int(np.prod(ne)) // 32
            blk = np.frombuffer(buf, dtype=np.uint8, count=nb * 34, offset=start + off).reshape(nb, 34)
            scale = blk[:, :2].copy().view(np.float16).astype(np.float64)
            arr = (blk[:, 2:].copy().view(np.int8).astype(np.float64) * scale).reshape(-1)
            tensors[name] = arr.reshape(list(reversed(ne)))
            continue
        if ttype == 39:
            arr = mxfp4_values(buf, start + off, int(np.prod(ne)))
        elif ttype in (0, 1):
            dt = np.float32 if ttype == 0 else np.float16
            arr = np.frombuffer(buf, dtype=dt, count=int(np.prod(ne)), offset=start + off)
        else:
            raise ValueError("tensor %s: only F32/F16/Q8_0/MXFP4 are read by the reference" % name)
        # ne[0] is contiguous: ne = [in, out(, experts)] is a row-major (experts, out, in) array.
        tensors[name] = arr.reshape(list(reversed(ne))).astype(np.float64)
    return kv, tensors


# E2M1 code -> value: bit 3 is the sign, bits 2-1 the exponent, bit 0 the mantissa.
E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def mxfp4_values(buf, offset, n):
    # Blocks of 17 bytes: E8M0 scale byte e (value 2^(e-127)), then 16 bytes of codes; byte j holds
    # value j in its low nibble and value j+16 in its high nibble.
    blocks = np.frombuffer(buf, dtype=np.uint8, count=n // 32 * 17, offset=offset).reshape(-1, 17)
    scale = np.ldexp(1.0, blocks[:, 0].astype(np.int64) - 127)
    codes = np.concatenate([blocks[:, 1:] & 0x0F, blocks[:, 1:] >> 4], axis=1)
    return (E2M1[codes] * scale[:, None]).reshape(-1)


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


def yarn(dim, base, factor, orig_ctx, beta_fast, beta_slow):
    # Inverse frequencies (dim/2,) and the cos/sin scale of YaRN as gpt-oss defines it: pairs below
    # the fast correction dimension keep base^(-2i/dim), pairs above the slow one are divided by the
    # factor, a linear ramp (not rounded to whole dims) blends between; scale 0.1 ln(factor) + 1.
    inv = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    if factor <= 1.0:
        return inv, 1.0

    def corr(rotations):
        return dim * np.log(orig_ctx / (rotations * 2 * np.pi)) / (2 * np.log(base))
    lo, hi = max(corr(beta_fast), 0.0), min(corr(beta_slow), dim - 1.0)
    if lo == hi:
        hi += 0.001
    blend = np.clip((np.arange(dim // 2, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)  # 1 = interpolate
    return inv * (1 - blend) + (inv / factor) * blend, 0.1 * np.log(factor) + 1.0


def forward_gpt_oss(kv, t, ids):
    g = lambda k, dflt=None: kv.get("gpt-oss." + k, dflt)
    L, H, Hkv = g("block_count"), g("attention.head_count"), g("attention.head_count_kv")
    hd, eps, k_used = g("attention.key_length"), g("attention.layer_norm_rms_epsilon"), g("expert_used_count")
    window = g("attention.sliding_window")
    alpha, limit = 1.702, 7.0
    if g("rope.scaling.type", "none") == "yarn":
        inv, msc = yarn(hd, g("rope.freq_base"), g("rope.scaling.factor"), g("rope.scaling.original_context_length"),
                        g("rope.scaling.yarn_beta_fast", 32.0), g("rope.scaling.yarn_beta_slow", 1.0))
    else:
        inv, msc = yarn(hd, g("rope.freq_base"), 1.0, 1, 32.0, 1.0)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    ang = pos[:, None] * inv[None, :]
    cos, sin = (np.cos(ang) * msc)[:, None, :], (np.sin(ang) * msc)[:, None, :]

    def rope_neox(x):  # (T, heads, hd): rotate (i, i + hd/2)
        a, b = x[..., :hd // 2], x[..., hd // 2:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

    qi, kj = np.arange(T)[:, None], np.arange(T)[None, :]
    x = t["token_embd.weight"][ids]
    for l in range(L):
        p = "blk.%d." % l
        h = rms(x, t[p + "attn_norm.weight"], eps)
        q = (h @ t[p + "attn_q.weight"].T + t[p + "attn_q.bias"]).reshape(T, H, hd)
        k = (h @ t[p + "attn_k.weight"].T + t[p + "attn_k.bias"]).reshape(T, Hkv, hd)
        v = (h @ t[p + "attn_v.weight"].T + t[p + "attn_v.bias"]).reshape(T, Hkv, hd)
        q, k = rope_neox(q), rope_neox(k)
        k, v = np.repeat(k, H // Hkv, axis=1), np.repeat(v, H // Hkv, axis=1)
        visible = kj <= qi
        if l % 2 == 0:  # sliding layers: 0, 2, ...
            visible &= (qi - kj) < window
        s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd)
        s = np.where(visible[None], s, -np.inf)
        sink = np.broadcast_to(t[p + "attn_sinks.weight"][:, None, None], (H, T, 1))
        s = np.concatenate([s, sink], axis=-1)  # the sink joins the softmax ...
        s = np.exp(s - s.max(-1, keepdims=True))
        s = (s / s.sum(-1, keepdims=True))[..., :T]  # ... and is dropped after it
        o = np.einsum("hts,shd->thd", s, v).reshape(T, H * hd)
        x = x + o @ t[p + "attn_output.weight"].T + t[p + "attn_output.bias"]
        h = rms(x, t[p + "post_attention_norm.weight"], eps)
        r = h @ t[p + "ffn_gate_inp.weight"].T + t[p + "ffn_gate_inp.bias"]
        out = np.zeros_like(x)
        for ti in range(T):
            top = sorted(range(r.shape[1]), key=lambda e: (-r[ti, e], e))[:k_used]
            w = np.exp(r[ti, top] - r[ti, top].max())
            w /= w.sum()
            for e, we in zip(top, w):
                gt = h[ti] @ t[p + "ffn_gate_exps.weight"][e].T + t[p + "ffn_gate_exps.bias"][e]
                up = h[ti] @ t[p + "ffn_up_exps.weight"][e].T + t[p + "ffn_up_exps.bias"][e]
                gt, up = np.minimum(gt, limit), np.clip(up, -limit, limit)
                act = gt / (1.0 + np.exp(-alpha * gt)) * (up + 1.0)
                out[ti] += we * (act @ t[p + "ffn_down_exps.weight"][e].T + t[p + "ffn_down_exps.bias"][e])
        x = x + out
    x = rms(x, t["output_norm.weight"], eps)
    return x @ t.get("output.weight", t["token_embd.weight"]).T


def forward(kv, t, ids):
    a = kv["general.architecture"]
    if a == "deepseek2":
        return forward_deepseek2(kv, t, ids)
    if a == "gpt-oss":
        return forward_gpt_oss(kv, t, ids)
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


def yarn_inv_freq(dim, base, factor, orig_ctx, beta_fast=32.0, beta_slow=1.0):
    # YaRN (as in DeepSeek's HF rotary embedding): interpolate low frequencies by `factor`, keep the
    # high ones, blend linearly over the pair indices between the two correction dimensions.
    extra = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    inter = extra / factor

    def corr_dim(n_rot):
        return dim * np.log(orig_ctx / (n_rot * 2 * np.pi)) / (2 * np.log(base))

    low = max(np.floor(corr_dim(beta_fast)), 0)
    high = min(np.ceil(corr_dim(beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0, 1)
    keep = 1.0 - ramp  # 1: original (extrapolated) frequency
    return inter * (1 - keep) + extra * keep


def rope_pairs(x, inv):
    # x (T, H, n): rotate adjacent pairs (2i, 2i+1) by pos * inv[i] (GGUF keeps DeepSeek's rope
    # weights unpermuted, so its "normal" rope equals HF's permute-then-rotate_half).
    T = x.shape[0]
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    out = np.empty_like(x)
    a, b = x[..., 0::2], x[..., 1::2]
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = a * s + b * c
    return out


def route_deepseek(logits, bias, sigmoid, n_group, topk_group, k, norm, scale):
    # One token: logits (E,) -> [(expert, weight)]. Scores are softmax (V2) or sigmoid (V3); the
    # bias (V3) only steers the choice; groups are ranked by their best score (V2) or the sum of
    # their two best (V3), and only the best topk_group groups may supply experts.
    E = logits.shape[0]
    if sigmoid:
        s = 1.0 / (1.0 + np.exp(-logits))
    else:
        s = np.exp(logits - logits.max())
        s /= s.sum()
    choice = s + (bias if bias is not None else 0.0)
    masked = choice.copy()
    if n_group > 1 and topk_group < n_group:
        g = choice.reshape(n_group, E // n_group)
        gs = np.sort(g, axis=1)[:, ::-1]
        gscore = gs[:, :2].sum(1) if sigmoid else gs[:, 0]
        keep = sorted(range(n_group), key=lambda i: (-gscore[i], i))[:topk_group]
        for i in range(n_group):
            if i not in keep:
                masked[i * (E // n_group):(i + 1) * (E // n_group)] = -np.inf
    top = sorted(range(E), key=lambda e: (-masked[e], e))[:k]
    w = s[top]
    if norm:
        w = w / w.sum()
    return list(zip(top, w * scale))


def forward_deepseek2(kv, t, ids):
    # DeepSeek-V2/V3 multi-head latent attention, written in the expanded form (K and V rebuilt from
    # the latent for every position, as the HF modeling code does), not the engine's absorbed one.
    g = lambda k, dflt=None: kv.get("deepseek2." + k, dflt)
    L, d, H = g("block_count"), g("embedding_length"), g("attention.head_count")
    eps, base = g("attention.layer_norm_rms_epsilon"), g("rope.freq_base", 10000.0)
    nr, rank, rq = g("rope.dimension_count"), g("attention.kv_lora_rank"), g("attention.q_lora_rank", 0)
    qk, vd = g("attention.key_length_mla", g("attention.key_length")), g("attention.value_length_mla", g("attention.value_length"))
    nope = qk - nr
    k_used, lead, n_shared = g("expert_used_count"), g("leading_dense_block_count", 0), g("expert_shared_count", 0)
    sigmoid = g("expert_gating_func", 1) == 2
    n_group = g("expert_group_count", 1) or 1
    topk_group = g("expert_group_used_count", n_group) or n_group
    norm, scale = bool(g("expert_weights_norm", False)), g("expert_weights_scale", 1.0)
    mscale = g("rope.scaling.attn_factor", 1.0)
    if g("rope.scaling.type", "none") == "yarn" and g("rope.scaling.factor", 1.0) > 1:
        factor = g("rope.scaling.factor")
        inv = yarn_inv_freq(nr, base, factor, g("rope.scaling.original_context_length", g("context_length")))
        mscale *= 1.0 + g("rope.scaling.yarn_log_multiplier", 0.0) * np.log(factor)
    else:
        inv = base ** (-np.arange(0, nr, 2, dtype=np.float64) / nr)
    softmax_scale = mscale * mscale / np.sqrt(qk)
    T = len(ids)
    x = t["token_embd.weight"][ids]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(L):
        p = "blk.%d." % l
        h = rms(x, t[p + "attn_norm.weight"], eps)
        if rq:
            q = rms(h @ t[p + "attn_q_a.weight"].T, t[p + "attn_q_a_norm.weight"], eps) @ t[p + "attn_q_b.weight"].T
        else:
            q = h @ t[p + "attn_q.weight"].T
        q = q.reshape(T, H, qk)
        ckv = h @ t[p + "attn_kv_a_mqa.weight"].T  # (T, rank + nr)
        c = rms(ckv[:, :rank], t[p + "attn_kv_a_norm.weight"], eps)
        k_pe = rope_pairs(ckv[:, None, rank:], inv)  # (T, 1, nr), shared by every head
        if p + "attn_kv_b.weight" in t:
            kvb = t[p + "attn_kv_b.weight"].reshape(H, nope + vd, rank)
            wk, wv = kvb[:, :nope, :], kvb[:, nope:, :]  # (H, nope, rank), (H, vd, rank)
        else:
            wk = np.transpose(t[p + "attn_k_b.weight"], (0, 2, 1))  # stored (H, rank, nope)
            wv = t[p + "attn_v_b.weight"]  # (H, vd, rank)
        k_nope = np.einsum("hnr,tr->thn", wk, c)
        v = np.einsum("hvr,tr->thv", wv, c)
        k = np.concatenate([k_nope, np.repeat(k_pe, H, axis=1)], axis=-1)  # (T, H, qk)
        qq = np.concatenate([q[..., :nope], rope_pairs(q[..., nope:], inv)], axis=-1)
        s = np.einsum("thd,shd->hts", qq, k) * softmax_scale + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = np.einsum("hts,shv->thv", s, v).reshape(T, H * vd)
        x = x + o @ t[p + "attn_output.weight"].T
        h = rms(x, t[p + "ffn_norm.weight"], eps)
        if l < lead:
            out = ffn(h, t[p + "ffn_gate.weight"], t[p + "ffn_up.weight"], t[p + "ffn_down.weight"])
        else:
            r = h @ t[p + "ffn_gate_inp.weight"].T  # (T, E)
            bias = t.get(p + "exp_probs_b.bias")
            out = np.zeros_like(x)
            for ti in range(T):
                for e, we in route_deepseek(r[ti], bias, sigmoid, n_group, topk_group, k_used, norm, scale):
                    out[ti] += we * ffn(h[ti:ti + 1], t[p + "ffn_gate_exps.weight"][e],
                                        t[p + "ffn_up_exps.weight"][e], t[p + "ffn_down_exps.weight"][e])[0]
            if n_shared:
                out += ffn(h, t[p + "ffn_gate_shexp.weight"], t[p + "ffn_up_shexp.weight"], t[p + "ffn_down_shexp.weight"])
        x = x + out
    x = rms(x, t["output_norm.weight"], eps)
    return x @ t["output.weight"].T


def main():
    kv, t = read_gguf(sys.argv[1])
    ids = [int(s) for s in sys.argv[2].replace(",", " ").split()]
    for row in forward(kv, t, ids):
        print(" ".join("%.6e" % v for v in row))


if __name__ == "__main__":
    main()
