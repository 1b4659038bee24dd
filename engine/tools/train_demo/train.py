"""Trains the Wobble demo MoE model and exports it as GGUF (architecture "llama" with experts,
Mixtral-style routing). Offline tooling: Debian's python3-torch on CPU, fixed seeds.

    /usr/bin/python3 engine/tools/train_demo/train.py --out engine/models/wobble-demo-moe.gguf

Writes the GGUF, a model card (.card.json) beside it, and tests/fixtures/demo/expectations.json
(greedy continuations from torch that the engine must reproduce).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
import gguf_export  # noqa: E402
import gguf_read  # noqa: E402
import numpy_ref  # noqa: E402


class Config:
    def __init__(self, **kw):
        self.n_vocab = 0
        self.d = 128
        self.n_layer = 4
        self.n_head = 4
        self.n_kv = 2
        self.n_expert = 8
        self.k = 2
        self.ff = 256
        self.ctx = 256
        self.rope_base = 10000.0
        self.eps = 1e-5
        self.__dict__.update(kw)


def rope(x, pos, base):
    # x: (B, H, T, hd). Adjacent pairs (x[2i], x[2i+1]) rotate by pos * base^(-2i/hd): the GGUF
    # "llama" (normal, non-NeoX) convention, so the export needs no weight permutation.
    hd = x.shape[-1]
    inv = base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = pos[:, None].float() * inv[None, :]  # (T, hd/2)
    cos, sin = torch.cos(ang), torch.sin(ang)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.router = nn.Linear(c.d, c.n_expert, bias=False)
        s = 1 / math.sqrt(c.d)
        self.gate = nn.Parameter(torch.randn(c.n_expert, c.ff, c.d) * s)  # (E, ff, d)
        self.up = nn.Parameter(torch.randn(c.n_expert, c.ff, c.d) * s)
        self.down = nn.Parameter(torch.randn(c.n_expert, c.d, c.ff) / math.sqrt(c.ff))  # (E, d, ff)

    def forward(self, x):
        B, T, D = x.shape
        xf = x.reshape(-1, D)
        logits = self.router(xf)  # (N, E)
        probs = F.softmax(logits, dim=-1)
        w, idx = torch.topk(probs, self.c.k, dim=-1)  # ties: lower index first (torch.topk is stable on CPU)
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(xf)
        for e in range(self.c.n_expert):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            h = xf[rows]
            y = (F.silu(h @ self.gate[e].T) * (h @ self.up[e].T)) @ self.down[e].T
            out.index_add_(0, rows, y * w[rows, slot][:, None])
        # Switch-style load-balancing loss: fraction routed x mean probability, per expert.
        frac = torch.zeros(self.c.n_expert).index_add_(0, idx.reshape(-1), torch.ones(idx.numel())) / idx.numel()
        aux = self.c.n_expert * (frac * probs.mean(0)).sum()
        return out.reshape(B, T, D), aux


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        hd = c.d // c.n_head
        self.attn_norm = RMSNorm(c.d, c.eps)
        self.q = nn.Linear(c.d, c.n_head * hd, bias=False)
        self.k = nn.Linear(c.d, c.n_kv * hd, bias=False)
        self.v = nn.Linear(c.d, c.n_kv * hd, bias=False)
        self.o = nn.Linear(c.n_head * hd, c.d, bias=False)
        self.ffn_norm = RMSNorm(c.d, c.eps)
        self.moe = MoE(c)

    def forward(self, x, pos):
        c = self.c
        B, T, D = x.shape
        hd = D // c.n_head
        h = self.attn_norm(x)
        q = self.q(h).view(B, T, c.n_head, hd).transpose(1, 2)
        k = self.k(h).view(B, T, c.n_kv, hd).transpose(1, 2)
        v = self.v(h).view(B, T, c.n_kv, hd).transpose(1, 2)
        q, k = rope(q, pos, c.rope_base), rope(k, pos, c.rope_base)
        rep = c.n_head // c.n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.o(y)
        m, aux = self.moe(self.ffn_norm(x))
        return x + m, aux


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.emb = nn.Embedding(c.n_vocab, c.d)
        nn.init.normal_(self.emb.weight, std=0.02)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.norm = RMSNorm(c.d, c.eps)
        self.out = nn.Linear(c.d, c.n_vocab, bias=False)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1])
        x = self.emb(ids)
        aux = 0.0
        for b in self.blocks:
            x, a = b(x, pos)
            aux = aux + a
        return self.out(self.norm(x)), aux / len(self.blocks)


def greedy(model, tok, prompt_ids, steps):
    ids = list(prompt_ids)
    first_logits = None
    with torch.no_grad():
        for i in range(steps):
            logits, _ = model(torch.tensor([ids[-model.c.ctx:]]))
            last = logits[0, -1]
            if i == 0:
                first_logits = last.clone()
            nxt = int(torch.argmax(last))  # first maximum = lowest id on ties
            ids.append(nxt)
            if nxt == tok.special_ids["<|im_end|>"]:
                break
    return ids[len(prompt_ids):], first_logits


def load_from_gguf(path):
    """Rebuilds the torch model and tokenizer from an exported GGUF (F16 weights as stored)."""
    kv, t = gguf_read.read(path)
    tokens = kv["tokenizer.ggml.tokens"]
    merges = [tuple(m.split(" ", 1)) for m in kv["tokenizer.ggml.merges"]]
    tok = bpe.Tokenizer(merges)
    assert tok.tokens == tokens, "tokenizer in the GGUF does not match the trainer's"
    c = Config(n_vocab=len(tokens), d=kv["llama.embedding_length"], n_layer=kv["llama.block_count"],
               n_head=kv["llama.attention.head_count"], n_kv=kv["llama.attention.head_count_kv"],
               n_expert=kv["llama.expert_count"], k=kv["llama.expert_used_count"],
               ff=kv["llama.feed_forward_length"], ctx=kv["llama.context_length"])
    m = Model(c)
    T = lambda n: torch.tensor(t[n])  # noqa: E731
    with torch.no_grad():
        m.emb.weight.copy_(T("token_embd.weight"))
        for i, b in enumerate(m.blocks):
            p = "blk.%d." % i
            b.attn_norm.w.copy_(T(p + "attn_norm.weight"))
            b.q.weight.copy_(T(p + "attn_q.weight"))
            b.k.weight.copy_(T(p + "attn_k.weight"))
            b.v.weight.copy_(T(p + "attn_v.weight"))
            b.o.weight.copy_(T(p + "attn_output.weight"))
            b.ffn_norm.w.copy_(T(p + "ffn_norm.weight"))
            b.moe.router.weight.copy_(T(p + "ffn_gate_inp.weight"))
            b.moe.gate.copy_(T(p + "ffn_gate_exps.weight"))
            b.moe.up.copy_(T(p + "ffn_up_exps.weight"))
            b.moe.down.copy_(T(p + "ffn_down_exps.weight"))
        m.norm.w.copy_(T("output_norm.weight"))
        m.out.weight.copy_(T("output.weight"))
    m.eval()
    return m, tok, c


PROMPTS = [
    ("math-plain", None, "What is 23 + 45?"),
    ("math-role", "Role: math expert", "What is 23 + 45?"),
    ("math-mul", None, "Compute 7 * 8."),
    ("code", None, "Write a Python function square that returns the square of x."),
    ("code-role", "Role: Python programmer", "Write a Python function add that returns the sum of a and b."),
    ("prose", None, "Write two sentences about the sea."),
    ("prose-role", "Role: writer", "Describe the forest in a few words."),
]


def arith_accuracy(model, tok, items):
    """Exact-answer count at temperature 0 over (question, "Answer: N") pairs, asked as in the demo
    suite's plain variant (one user message, no system)."""
    correct = 0
    for q, a in items:
        p = tok.encode(corpus.chatml(None, q, "").rsplit("<|im_end|>", 1)[0])
        out, _ = greedy(model, tok, p, 8)
        text = tok.decode([i for i in out if i not in tok.special_ids.values()])
        correct += text.strip() == a
    return correct, len(items)


def think_accuracy(model, tok, items, max_tokens=64):
    """Held-out questions asked with the think cue: (replies with a closed <think> part, of which the
    answer after it is exact)."""
    closed = correct = 0
    for q, a in items:
        p = tok.encode(corpus.chatml(None, q + corpus.THINK_CUE, "").rsplit("<|im_end|>", 1)[0])
        out, _ = greedy(model, tok, p, max_tokens)
        text = tok.decode([i for i in out if i not in tok.special_ids.values()])
        if text.startswith("<think>") and "</think>" in text:
            closed += 1
            correct += text.split("</think>", 1)[1].strip() == a
    return closed, correct, len(items)


def _normalise_ws(s):
    # rubrics/README.md "Evidence rule": runs of ASCII whitespace become one space, ends trimmed.
    return " ".join(s.replace("\v", " ").replace("\f", " ").split())


def check_judge_reply(reply, output):
    """The C++ judge scorer's reading of a reply (src/scorer/judge.cpp, interpret_judge_reply), for
    pass/fail criteria without expect_missing: returns the verdict, or None when the grading would
    be a fault (malformed, hallucinated quote, or a fail without a quote)."""
    i, j = reply.find("{"), reply.rfind("}")
    if i < 0 or j < i:
        return None
    try:
        obj = json.loads(reply[i:j + 1])
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("verdict"), str):
        return None
    verdict = obj["verdict"].strip().lower()
    if verdict not in ("pass", "fail"):
        return None
    if "reason" in obj and not isinstance(obj["reason"], (str, type(None))):
        return None
    ev = obj.get("evidence")
    quotes = [] if ev is None else [ev] if isinstance(ev, str) else ev
    if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
        return None
    quoted = False
    for q in quotes:
        nq = _normalise_ws(q)
        if not nq:
            continue
        if nq not in _normalise_ws(output):
            return None
        quoted = True
    if verdict == "fail" and not quoted:
        return None
    return verdict


def judge_items(seed, n):
    """Held-out gradings (system, user, expected reply, output), drawn apart from training."""
    rng = random.Random(seed + 99)
    items = []
    while len(items) < n:
        system, user, reply, _ = corpus.judge_sample(rng)
        output = user.split("\n\nOutput:\n", 1)[1].rsplit("\n\nCriterion:\n", 1)[0]
        items.append((system, user, reply, output))
    return items


def judge_accuracy(model, tok, items, max_tokens=72):
    """Greedy gradings: how many replies the judge scorer would accept, and how many of those give
    the rule's verdict."""
    valid = agree = 0
    for system, user, reply, output in items:
        p = tok.encode(corpus.chatml(system, user, "").rsplit("<|im_end|>", 1)[0])
        out, _ = greedy(model, tok, p, max_tokens)
        text = tok.decode([i for i in out if i not in tok.special_ids.values()])
        v = check_judge_reply(text, output)
        valid += v is not None
        agree += v is not None and v == json.loads(reply)["verdict"]
    return valid, agree, len(items)


def routing_shares(model, tok, seed, n_per_domain=100):
    """Share of top-k slots per expert in the last layer over whole ChatML samples, per domain (in %):
    the routing structure the demo's routing report is expected to show. Samples come from a corpus
    drawn with a different seed than training."""
    texts, domains, _ = corpus.build(seed + 7, 3 * n_per_domain, 0, {"math": 1, "code": 1, "prose": 1})
    last = model.blocks[-1].moe
    counts = {d: torch.zeros(model.c.n_expert) for d in ("math", "code", "prose")}
    seen = {d: 0 for d in counts}
    captured = []
    hook = last.router.register_forward_hook(lambda m, i, o: captured.append(o.detach()))
    with torch.no_grad():
        for t, d in zip(texts, domains):
            if seen[d] >= n_per_domain:
                continue
            seen[d] += 1
            captured.clear()
            model(torch.tensor([tok.encode(t)[:model.c.ctx]]))
            idx = torch.topk(F.softmax(captured[0], dim=-1), model.c.k, dim=-1).indices.reshape(-1)
            counts[d] += torch.bincount(idx, minlength=model.c.n_expert).float()
    hook.remove()
    return {d: [round(float(100 * v / c.sum()), 1) for v in c] for d, c in counts.items()}


def verify_export(path, trained=None):
    """Reads the GGUF back: the independent numpy forward must equal torch on the stored weights,
    and the stored (F16) model must stay close to the trained one. Returns both max differences."""
    kv, t = gguf_read.read(path)
    stored, tok, _ = load_from_gguf(path)
    worst = [0.0, 0.0]
    for _, system, user in PROMPTS[:3]:
        ids = tok.encode(corpus.chatml(system, user, "Answer: 68"))
        with torch.no_grad():
            a = stored(torch.tensor([ids]))[0][0].double().numpy()
            b = trained(torch.tensor([ids]))[0][0].double().numpy() if trained is not None else a
        ref = numpy_ref.forward(kv, t, ids)
        worst[0] = max(worst[0], float(np.abs(ref - a).max()))
        worst[1] = max(worst[1], float(np.abs(a - b).max()))
    assert worst[0] < 1e-3, "numpy forward over the GGUF disagrees with torch: %g" % worst[0]
    # No bound on worst[1]: F16 rounding may flip a near-tied expert choice, which moves logits visibly.
    return worst


def write_expectations(model, tok, path, gguf_name):
    """Greedy continuations of PROMPTS from torch, using the weights exactly as exported."""
    exp = {"model": gguf_name, "steps": 32, "cases": []}
    for name, system, user in PROMPTS:
        text = corpus.chatml(system, user, "").rsplit("<|im_end|>", 1)[0]
        p = tok.encode(text)
        out, first = greedy(model, tok, p, 32)
        top = torch.topk(first, 5)
        exp["cases"].append({"name": name, "prompt": text, "prompt_ids": p, "greedy_ids": out,
                             "greedy_text": tok.decode(out), "top5_ids": [int(i) for i in top.indices],
                             "top5_logits": [float(v) for v in top.values]})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(exp, f, indent=1)


# Gradings the judge model's fixture pins: the judge-demo suite's questions (held out of training),
# right and wrong answers, both rubric texts of the worked example.
JUDGE_CASES = [
    ("pass-add", "What is 23 + 45?", "Answer: 68", "The answer is correct."),
    ("wrong-sub", "Compute 81 - 37.", "Answer: 45", "The answer is correct."),
    ("pass-mul", "Calculate 7 * 8.", "Answer: 56", "The answer is correct and written as Answer: N."),
    ("two-lines", "What is 58 + 27?", "Answer: 85\nAnswer: 86", "The answer is correct and written as Answer: N."),
]


def write_judge_expectations(model, tok, path, gguf_name, steps=72):
    """Greedy judge replies from torch for JUDGE_CASES, rendered exactly as the judge scorer asks
    (ChatML system + user, then the assistant header), with the verdict Wobble reads from each
    (None = a fault)."""
    exp = {"model": gguf_name, "steps": steps, "prompt_version": "judge-v1", "cases": []}
    for name, task, output, rubric in JUDGE_CASES:
        text = corpus.chatml(corpus.JUDGE_SYSTEM, corpus.judge_user(task, output, rubric), "").rsplit("<|im_end|>", 1)[0]
        p = tok.encode(text)
        out, _ = greedy(model, tok, p, min(steps, model.c.ctx - len(p)))  # the engine stops at its context
        reply = tok.decode([i for i in out if i not in tok.special_ids.values()])
        exp["cases"].append({"name": name, "task": task, "output": output, "rubric": rubric, "prompt": text,
                             "prompt_ids": p, "greedy_ids": out, "reply": reply,
                             "verdict": check_judge_reply(reply, output)})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(exp, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="engine/models/wobble-demo-moe.gguf")
    ap.add_argument("--expectations", default="tests/fixtures/demo/expectations.json")
    ap.add_argument("--samples", type=int, default=150000)
    ap.add_argument("--merges", type=int, default=800, help="at most; the corpus runs out of pairs first")
    ap.add_argument("--steps", type=int, default=4500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--math-share", type=float, default=corpus.DOMAIN_WEIGHTS["math"],
                    help="share of arithmetic samples; code and prose split the rest evenly")
    ap.add_argument("--stop-after-minutes", type=float, default=0,
                    help="end training early once this much wall time has passed (0 = never); the schedule "
                         "stays the one for --steps, and the card records the step reached")
    ap.add_argument("--stop-step", type=int, default=4036,
                    help="end training after this many steps of a --steps schedule (reproduces a time-stopped run; "
                         "the shipped model stopped at 4036 of 4500 on a 65-minute budget; 0 = run the whole schedule)")
    ap.add_argument("--answer-weight", type=float, default=5.0,
                    help="loss weight of the digits of arithmetic answers (every other token weighs 1)")
    ap.add_argument("--checkpoint", default="", help="also save the trained F32 state_dict here (torch.save)")
    ap.add_argument("--heldout", type=int, default=400, help="held-out two-digit additions and subtractions")
    ap.add_argument("--eval-every", type=int, default=100,
                    help="print held-out accuracy on the first 50 questions every N steps (0 = never)")
    ap.add_argument("--judge-share", type=float, default=0.0,
                    help="share of judge-v1 gradings in the corpus (issue 13's worked example); the other "
                         "domains keep their proportions in the rest")
    ap.add_argument("--think-share", type=float, default=0.0,
                    help="share of arithmetic answered after a short <think>...</think> part (the reasoning "
                         "demo model); the other domains keep their proportions in the rest")
    ap.add_argument("--prompt-weight", type=float, default=0.25,
                    help="loss weight of a judge sample's prompt tokens (its reply weighs 1)")
    ap.add_argument("--init-from", default="",
                    help="start from this GGUF's weights and tokenizer (fine-tuning; the vocabulary stays fixed)")
    ap.add_argument("--name", default="",
                    help="model name in the GGUF and the card (default: the --out file's stem)")
    ap.add_argument("--judge-eval", type=int, default=0,
                    help="held-out judge gradings to check at the end (and 20 at every --eval-every)")
    ap.add_argument("--judge-expectations", default="",
                    help="write greedy judge replies for the judge model's test fixture here")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--tiny", action="store_true", help="a seconds-long smoke run of the whole pipeline")
    ap.add_argument("--expectations-only", action="store_true",
                    help="read --out back and rewrite --expectations from the exported weights")
    args = ap.parse_args()
    if args.expectations_only:
        torch.set_num_threads(args.threads)
        worst = verify_export(args.out)
        print(f"export verified: max |logit diff| numpy(GGUF) vs torch(GGUF) {worst[0]:.2e}", flush=True)
        model, tok, _ = load_from_gguf(args.out)
        if args.expectations:
            write_expectations(model, tok, args.expectations, os.path.basename(args.out))
            print("expectations written to", args.expectations)
        if args.judge_expectations:
            write_judge_expectations(model, tok, args.judge_expectations, os.path.basename(args.out))
            print("judge expectations written to", args.judge_expectations)
        card_path = os.path.splitext(args.out)[0] + ".card.json"
        if os.path.exists(card_path):
            with open(card_path) as f:
                card = json.load(f)
            card["routing_share_last_layer_pct"] = routing_shares(model, tok, card.get("seed", args.seed))
            with open(card_path, "w") as f:
                json.dump(card, f, indent=1)
            print("routing shares written to", card_path, card["routing_share_last_layer_pct"])
        return
    if args.tiny:
        args.samples, args.merges, args.steps = 2000, 50, 5
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    rest = (1.0 - args.math_share) / 2
    weights = {"math": args.math_share, "code": rest, "prose": rest}
    for domain, share in (("judge", args.judge_share), ("think", args.think_share)):
        if share > 0:  # the domain takes this share; the others keep their proportions in the rest
            weights = {d: w * (1 - share) for d, w in weights.items()}
            weights[domain] = share
    texts, domains, heldout = corpus.build(args.seed, args.samples, args.heldout, weights)
    if args.init_from:
        model, tok, c = load_from_gguf(args.init_from)
        model.train()
    else:
        merges = bpe.train(texts[:8000], args.merges)
        tok = bpe.Tokenizer(merges)
    for t in texts[:200]:
        assert tok.decode(tok.encode(t)) == t
    stream, sample_starts, loss_w = [], [], []
    digit_ids = {tok.id[ch] for ch in "0123456789"}
    im_end = tok.special_ids["<|im_end|>"]
    per_domain = {d: 0 for d in weights}
    im_start = tok.special_ids["<|im_start|>"]
    eot = tok.special_ids["<|endoftext|>"]
    for t, d in zip(texts, domains):
        ids = tok.encode(t) + [eot]
        per_domain[d] += len(ids)
        sample_starts.append(len(stream))
        w = [1.0] * len(ids)
        if d == "think":
            # Every digit of the reply: the result inside the thinking and the answer after it.
            a = len(ids) - 1 - ids[::-1].index(im_start)
            for j in range(a, len(ids)):
                if ids[j] in digit_ids:
                    w[j] = args.answer_weight
        if d == "math":
            # The answer's digits are the only tokens that need arithmetic; everything else is
            # template. Weighting them spends more of each step on what is hard to learn.
            j = len(ids) - 1 - ids[::-1].index(im_end) - 1
            while j >= 0 and ids[j] in digit_ids:
                w[j] = args.answer_weight
                j -= 1
        if d == "judge":
            # The system prompt and most of the user message are fixed text; the grading is the reply.
            a = len(ids) - 1 - ids[::-1].index(im_start)
            w[:a] = [args.prompt_weight] * a
        loss_w.extend(w)
        stream.extend(ids)
    data = torch.tensor(stream, dtype=torch.long)
    wdata = torch.tensor(loss_w, dtype=torch.float32)
    if not args.init_from:
        c = Config(n_vocab=len(tok.tokens))
        model = Model(c)
    assert args.seq <= c.ctx, "--seq beyond the model's context"
    judge_eval = judge_items(args.seed, max(args.judge_eval, 20)) if args.judge_share > 0 else []
    n_params = sum(p.numel() for p in model.parameters())
    expert_params = sum(p.numel() for b in model.blocks for p in (b.moe.gate, b.moe.up, b.moe.down))
    n_active = n_params - expert_params + expert_params * c.k // c.n_expert
    print(f"vocab {c.n_vocab}, tokens {len(stream)} {per_domain}, params {n_params} (active {n_active})", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(args.seed)
    loss_val = float("nan")
    steps_done = 0
    for step in range(args.steps):
        if args.stop_step and step >= args.stop_step:
            break
        if args.stop_after_minutes and time.time() - t0 > 60 * args.stop_after_minutes:
            print(f"stopping at step {step} of {args.steps}: --stop-after-minutes {args.stop_after_minutes}", flush=True)
            break
        steps_done = step + 1
        # Linear warmup, then cosine from lr down to lr/10.
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        # Windows start at a sample's first token, so no window opens on an answer whose question
        # was cut off (an unlearnable target that wastes the step's few arithmetic answers).
        pick = torch.randint(0, len(sample_starts), (args.batch,), generator=g)
        starts = [min(sample_starts[int(i)], len(stream) - args.seq - 1) for i in pick]
        x = torch.stack([data[s:s + args.seq] for s in starts])
        y = torch.stack([data[s + 1:s + args.seq + 1] for s in starts])
        wy = torch.stack([wdata[s + 1:s + args.seq + 1] for s in starts]).reshape(-1)
        logits, aux = model(x)
        ce = F.cross_entropy(logits.reshape(-1, c.n_vocab), y.reshape(-1), reduction="none")
        loss = ce.mean()  # reported: plain cross-entropy per token
        ((ce * wy).sum() / wy.sum() + 0.01 * aux).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        loss_val = float(loss)
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss_val:.4f} aux {float(aux):.3f} lr {lr:.5f} t {time.time() - t0:.0f}s", flush=True)
        if args.eval_every and step and step % args.eval_every == 0:
            model.eval()
            k, n = arith_accuracy(model, tok, heldout[:50])
            print(f"step {step} held-out arithmetic {k}/{n} t {time.time() - t0:.0f}s", flush=True)
            if args.think_share > 0:
                cl, ok, n = think_accuracy(model, tok, heldout[:20])
                print(f"step {step} held-out think: closed {cl}/{n}, answer right {ok}/{n}", flush=True)
            if judge_eval:
                v, a, n = judge_accuracy(model, tok, judge_eval[:20])
                print(f"step {step} held-out judge gradings valid {v}/{n}, rule's verdict {a}/{n} t {time.time() - t0:.0f}s", flush=True)
            model.train()
    train_seconds = time.time() - t0
    model.eval()
    if args.checkpoint:
        torch.save(model.state_dict(), args.checkpoint)

    n_eval = min(len(heldout), 40 if args.tiny else args.heldout)
    correct, _ = arith_accuracy(model, tok, heldout[:n_eval])
    acc = correct / n_eval
    print(f"held-out arithmetic accuracy (trained F32 weights) {acc:.3f} ({correct}/{n_eval})", flush=True)
    think_card = {}
    if args.think_share > 0:
        cl, ok, n = think_accuracy(model, tok, heldout[:100])
        print(f"held-out think (trained F32 weights): closed {cl}/{n}, answer right {ok}/{n}", flush=True)
        think_card = {"think_share": args.think_share, "think_cue": corpus.THINK_CUE.strip(),
                      "heldout_think_closed_t0": cl / n, "heldout_think_answer_right_t0": ok / n, "heldout_think_n": n}

    name = args.name or os.path.splitext(os.path.basename(args.out))[0]
    gguf_export.write(args.out, model, tok, c, name)
    worst = verify_export(args.out, model)
    print(f"export verified: max |logit diff| numpy(GGUF) vs torch(GGUF) {worst[0]:.2e}, "
          f"torch(F16 GGUF) vs torch(F32 trained) {worst[1]:.2e}", flush=True)
    stored, tok, _ = load_from_gguf(args.out)
    stored_correct, _ = arith_accuracy(stored, tok, heldout[:n_eval])
    print(f"held-out arithmetic accuracy (exported F16 weights) {stored_correct / n_eval:.3f} "
          f"({stored_correct}/{n_eval})", flush=True)
    if args.expectations:
        write_expectations(stored, tok, args.expectations, os.path.basename(args.out))
    if args.judge_expectations:
        write_judge_expectations(stored, tok, args.judge_expectations, os.path.basename(args.out))
    judge_card = {}
    if args.judge_share > 0:
        n_j = max(args.judge_eval, 20)
        v, a, n = judge_accuracy(stored, tok, judge_eval[:n_j])
        print(f"held-out judge gradings (exported F16 weights, greedy): valid {v}/{n}, rule's verdict {a}/{n}", flush=True)
        judge_card = {"judge_share": args.judge_share, "prompt_weight": args.prompt_weight,
                      "judge_prompt": "judge-v1", "heldout_judge_valid_t0": v / n,
                      "heldout_judge_rule_verdict_t0": a / n, "heldout_judge_n": n}
    card = {"name": name, "architecture": "llama (Mixtral-style MoE)", "params_total": n_params,
            "params_active": n_active, "layers": c.n_layer, "d_model": c.d, "heads": c.n_head, "kv_heads": c.n_kv,
            "experts": c.n_expert, "experts_per_token": c.k, "expert_ffn": c.ff, "vocab": c.n_vocab, "context": c.ctx,
            "training_tokens": len(stream), "tokens_per_domain": per_domain, "steps": steps_done, "schedule_steps": args.steps,
            "batch": args.batch, "seq": args.seq, "final_loss": loss_val, "answer_weight": args.answer_weight, "lr": args.lr, "warmup": args.warmup,
            "math_share": args.math_share, "heldout_arith_accuracy_t0": stored_correct / n_eval,
            "heldout_arith_correct": stored_correct, "heldout_arith_n": n_eval,
            "heldout_arith_set": "two-digit additions and subtractions (operands 10..99), never trained on",
            "train_seconds": train_seconds, "total_seconds": time.time() - t0, "seed": args.seed,
            "torch": torch.__version__, "threads": args.threads,
            "routing_share_last_layer_pct": routing_shares(stored, tok, args.seed)}
    if args.init_from:
        card["init_from"] = os.path.basename(args.init_from)
    card.update(judge_card)
    card.update(think_card)
    with open(os.path.splitext(args.out)[0] + ".card.json", "w") as f:
        json.dump(card, f, indent=1)
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
