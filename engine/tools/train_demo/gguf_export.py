"""Minimal GGUF v3 writer for the demo model (offline tooling; the C++ engine has its own).

Layout: magic "GGUF", version 3, tensor count, kv count, kv pairs, tensor infos, padding to the
alignment, tensor data (each tensor aligned). ne[0] is the contiguous dimension, so a row-major
torch tensor of shape (a, b, c) is written as-is with ne = [c, b, a].
"""
import struct

import numpy as np

T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16 = 0, 1
ALIGN = 32
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3

CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                   "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _kv(key, vtype, value):
    out = _str(key) + struct.pack("<I", vtype)
    if vtype == T_U32:
        out += struct.pack("<I", value)
    elif vtype == T_I32:
        out += struct.pack("<i", value)
    elif vtype == T_F32:
        out += struct.pack("<f", value)
    elif vtype == T_BOOL:
        out += struct.pack("<B", 1 if value else 0)
    elif vtype == T_STR:
        out += _str(value)
    elif vtype == T_ARR:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        for it in items:
            if etype == T_STR:
                out += _str(it)
            elif etype == T_I32:
                out += struct.pack("<i", it)
            elif etype == T_F32:
                out += struct.pack("<f", it)
    return out


def write(path, model, tok, c, name="wobble-demo-moe"):
    kvs = [
        ("general.architecture", T_STR, "llama"),
        ("general.name", T_STR, name),
        ("general.alignment", T_U32, ALIGN),
        ("llama.context_length", T_U32, c.ctx),
        ("llama.embedding_length", T_U32, c.d),
        ("llama.block_count", T_U32, c.n_layer),
        ("llama.feed_forward_length", T_U32, c.ff),
        ("llama.attention.head_count", T_U32, c.n_head),
        ("llama.attention.head_count_kv", T_U32, c.n_kv),
        ("llama.rope.freq_base", T_F32, c.rope_base),
        ("llama.rope.dimension_count", T_U32, c.d // c.n_head),
        ("llama.attention.layer_norm_rms_epsilon", T_F32, c.eps),
        ("llama.expert_count", T_U32, c.n_expert),
        ("llama.expert_used_count", T_U32, c.k),
        ("llama.vocab_size", T_U32, c.n_vocab),
        ("tokenizer.ggml.model", T_STR, "gpt2"),
        ("tokenizer.ggml.pre", T_STR, "gpt-2"),  # the name GGUF runtimes use for the GPT-2 split
        ("tokenizer.ggml.tokens", T_ARR, (T_STR, tok.tokens)),
        ("tokenizer.ggml.token_type", T_ARR, (T_I32, [TOKEN_CONTROL if t in tok.special_ids else TOKEN_NORMAL for t in tok.tokens])),
        ("tokenizer.ggml.merges", T_ARR, (T_STR, [a + " " + b for a, b in tok.merges])),
        ("tokenizer.ggml.bos_token_id", T_U32, tok.special_ids["<|endoftext|>"]),
        ("tokenizer.ggml.eos_token_id", T_U32, tok.special_ids["<|im_end|>"]),
        ("tokenizer.ggml.eot_token_id", T_U32, tok.special_ids["<|im_end|>"]),
        ("tokenizer.ggml.padding_token_id", T_U32, tok.special_ids["<|endoftext|>"]),
        ("tokenizer.ggml.add_bos_token", T_BOOL, False),
        ("tokenizer.chat_template", T_STR, CHATML_TEMPLATE),
    ]
    f32 = lambda t: t.detach().float().numpy().astype(np.float32)  # noqa: E731
    f16 = lambda t: t.detach().float().numpy().astype(np.float16)  # noqa: E731
    tensors = [("token_embd.weight", f16(model.emb.weight))]
    for i, b in enumerate(model.blocks):
        p = "blk.%d." % i
        tensors += [
            (p + "attn_norm.weight", f32(b.attn_norm.w)),
            (p + "attn_q.weight", f16(b.q.weight)),
            (p + "attn_k.weight", f16(b.k.weight)),
            (p + "attn_v.weight", f16(b.v.weight)),
            (p + "attn_output.weight", f16(b.o.weight)),
            (p + "ffn_norm.weight", f32(b.ffn_norm.w)),
            (p + "ffn_gate_inp.weight", f32(b.moe.router.weight)),
            (p + "ffn_gate_exps.weight", f16(b.moe.gate)),
            (p + "ffn_up_exps.weight", f16(b.moe.up)),
            (p + "ffn_down_exps.weight", f16(b.moe.down)),
        ]
    tensors += [("output_norm.weight", f32(model.norm.w)), ("output.weight", f16(model.out.weight))]

    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        header += _kv(k, t, v)
    offset = 0
    blobs = []
    for name, arr in tensors:
        ne = list(reversed(arr.shape))
        header += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        header += struct.pack("<IQ", GGML_F16 if arr.dtype == np.float16 else GGML_F32, offset)
        raw = np.ascontiguousarray(arr).tobytes()
        blobs.append(raw)
        offset += len(raw)
        offset = (offset + ALIGN - 1) // ALIGN * ALIGN
    with open(path, "wb") as f:
        f.write(header)
        f.write(b"\0" * ((-len(header)) % ALIGN))
        for raw in blobs:
            f.write(raw)
            f.write(b"\0" * ((-len(raw)) % ALIGN))
