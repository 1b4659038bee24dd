"""An independent numpy forward pass over the tensors of an exported GGUF.

It shares no code with the torch model: it reads the metadata keys and tensors the way a GGUF
consumer does (ne[0] contiguous, so a tensor with ne = [in, out] is a row-major (out, in) matrix),
and checks that the export carries everything the engine needs to reproduce torch's logits.
"""
import numpy as np


def _rms(x, w, eps):
    # x (T, d), w (d,) -> (T, d)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _rope(x, base):
    # x (T, H, hd): adjacent pairs (2i, 2i+1) rotate by pos * base^(-2i/hd) (GGUF llama "normal" rope).
    T, _, hd = x.shape
    inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)  # (hd/2,)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]  # (T, hd/2)
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def forward(kv, t, ids):
    """Logits (T, n_vocab) for the token ids, float64 throughout."""
    d = kv["llama.embedding_length"]
    n_head, n_kv = kv["llama.attention.head_count"], kv["llama.attention.head_count_kv"]
    n_exp, k = kv["llama.expert_count"], kv["llama.expert_used_count"]
    eps, base = kv["llama.attention.layer_norm_rms_epsilon"], kv["llama.rope.freq_base"]
    hd = d // n_head
    W = {n: a.astype(np.float64) for n, a in t.items()}
    x = W["token_embd.weight"][ids]  # (T, d)
    T = len(ids)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for L in range(kv["llama.block_count"]):
        p = "blk.%d." % L
        h = _rms(x, W[p + "attn_norm.weight"], eps)
        q = _rope((h @ W[p + "attn_q.weight"].T).reshape(T, n_head, hd), base)
        kk = _rope((h @ W[p + "attn_k.weight"].T).reshape(T, n_kv, hd), base)
        v = (h @ W[p + "attn_v.weight"].T).reshape(T, n_kv, hd)
        y = np.empty((T, n_head, hd))
        for hh in range(n_head):
            g = hh // (n_head // n_kv)  # query head hh reads kv head g
            s = q[:, hh] @ kk[:, g].T / np.sqrt(hd) + mask  # (T, T)
            s = np.exp(s - s.max(-1, keepdims=True))
            y[:, hh] = (s / s.sum(-1, keepdims=True)) @ v[:, g]
        x = x + y.reshape(T, d) @ W[p + "attn_output.weight"].T
        h = _rms(x, W[p + "ffn_norm.weight"], eps)
        r = h @ W[p + "ffn_gate_inp.weight"].T  # (T, n_exp)
        r = np.exp(r - r.max(-1, keepdims=True))
        r /= r.sum(-1, keepdims=True)
        out = np.zeros_like(x)
        for i in range(T):
            top = np.argsort(-r[i], kind="stable")[:k]  # ties: lower expert index first
            w = r[i, top] / r[i, top].sum()
            for e, we in zip(top, w):
                a = W[p + "ffn_gate_exps.weight"][e] @ h[i]  # (ff, d) @ (d,) -> (ff,)
                b = W[p + "ffn_up_exps.weight"][e] @ h[i]
                out[i] += we * (W[p + "ffn_down_exps.weight"][e] @ (a / (1 + np.exp(-a)) * b))  # (d, ff) @ (ff,)
        x = x + out
    return _rms(x, W["output_norm.weight"], eps) @ W["output.weight"].T
