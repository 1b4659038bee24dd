"""Deterministic corpus for the demo MoE model: three domains in ChatML, some with role cues.

Domains (distinct on purpose, so experts can specialise and routing has structure):
  math   - arithmetic questions with answers ("Answer: 85"): mostly two-digit additions and
           subtractions, some multiplication tables; 70% of the samples by default
  code   - small Python functions generated from templates
  prose  - short English sentences about everyday topics from a small grammar
Roughly a third of the samples carry a system message with a role cue ("Role: math expert").
ASCII only, so Python's `re` and PCRE2 split text identically.
"""
import random

ROLE = {"math": "Role: math expert", "code": "Role: Python programmer", "prose": "Role: writer"}


def chatml(system, user, assistant):
    s = ""
    if system:
        s += "<|im_start|>system\n" + system + "<|im_end|>\n"
    s += "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n" + assistant + "<|im_end|>\n"
    return s


def _operand(rng):
    # Mostly two-digit operands (what the held-out set asks), some one-digit ones so small sums and
    # differences are seen too.
    return rng.randint(10, 99) if rng.random() < 0.85 else rng.randint(1, 9)


def math_question(rng, a, op, b):
    return rng.choice(["What is {a} {op} {b}?", "Compute {a} {op} {b}.", "Calculate {a} {op} {b}."]).format(a=a, op=op, b=b)


def math_sample(rng):
    op = rng.choices(["+", "-", "*"], weights=[0.42, 0.42, 0.16])[0]
    if op == "*":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        ans = a * b
    elif op == "-":
        a, b = _operand(rng), _operand(rng)
        if b > a:
            a, b = b, a
        ans = a - b
    else:
        a, b = _operand(rng), _operand(rng)
        ans = a + b
    return math_question(rng, a, op, b), "Answer: %d" % ans, (a, op, b, ans)


def heldout_sample(rng):
    """A two-digit addition or subtraction (non-negative result), the held-out distribution."""
    op = rng.choice(["+", "-"])
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    if op == "-" and b > a:
        a, b = b, a
    ans = a + b if op == "+" else a - b
    return math_question(rng, a, op, b), "Answer: %d" % ans, (a, op, b, ans)


# The demo suite's own arithmetic questions (suites/demo.yaml) are held out too, so its report shows
# what the model does on problems it has not memorised.
SUITE_HELDOUT = [(23, "+", 45, 68), (81, "-", 37, 44), (58, "+", 27, 85), (72, "-", 48, 24)]


NAMES = ["add", "total", "scale", "count_items", "first", "last", "double", "square", "is_even", "greet"]
CODE_TEMPLATES = [
    ("Write a Python function {n} that returns the sum of a and b.", "def {n}(a, b):\n    return a + b"),
    ("Write a Python function {n} that returns x times 2.", "def {n}(x):\n    return x * 2"),
    ("Write a Python function {n} that returns the square of x.", "def {n}(x):\n    return x * x"),
    ("Write a Python function {n} that returns True if n is even.", "def {n}(n):\n    return n % 2 == 0"),
    ("Write a Python function {n} that counts the items in xs.",
     "def {n}(xs):\n    count = 0\n    for x in xs:\n        count += 1\n    return count"),
    ("Write a Python function {n} that returns the first element of xs.",
     "def {n}(xs):\n    if not xs:\n        return None\n    return xs[0]"),
    ("Write a Python function {n} that greets a name.", "def {n}(name):\n    return \"Hello, \" + name + \"!\""),
    ("Write a Python function {n} that returns the largest of a and b.",
     "def {n}(a, b):\n    if a > b:\n        return a\n    return b"),
]

SUBJECTS = ["The cat", "My friend", "The old man", "A small bird", "The teacher", "Our neighbour", "The river", "The wind"]
VERBS = ["walked", "looked", "waited", "sang", "worked", "rested", "listened", "smiled"]
PLACES = ["by the sea", "in the garden", "near the station", "under the tree", "at the market", "in the quiet town"]
TIMES = ["in the morning", "at night", "after the rain", "before dinner", "all day", "on Sunday"]
TOPICS = ["the sea", "a garden", "the city", "winter", "a journey", "music", "friendship", "the forest"]


def prose_sample(rng):
    topic = rng.choice(TOPICS)
    q = rng.choice(["Write two sentences about {t}.", "Describe {t} in a few words.", "Tell a short story about {t}."]).format(t=topic)
    sents = []
    for _ in range(rng.randint(2, 3)):
        sents.append("%s %s %s %s." % (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(PLACES), rng.choice(TIMES)))
    return q, " ".join(sents)


DOMAIN_WEIGHTS = {"math": 0.7, "code": 0.15, "prose": 0.15}


def build(seed, n_samples, held_out, weights=None):
    """Returns (texts, domains, heldout_math); heldout_math are (question, answer) pairs of two-digit
    additions and subtractions whose (a, op, b) never occurs in training, under any wording."""
    weights = weights or DOMAIN_WEIGHTS
    rng = random.Random(seed)
    held = set(SUITE_HELDOUT)
    heldout = []
    hrng = random.Random(seed + 1)
    while len(heldout) < held_out:
        q, a, key = heldout_sample(hrng)
        if key not in held:
            held.add(key)
            heldout.append((q, a))
    doms = list(weights)
    texts, domains = [], []
    while len(texts) < n_samples:
        dom = rng.choices(doms, weights=[weights[d] for d in doms])[0]
        if dom == "math":
            q, a, key = math_sample(rng)
            if key in held:
                continue
        elif dom == "code":
            tq, ta = rng.choice(CODE_TEMPLATES)
            n = rng.choice(NAMES)
            q, a = tq.format(n=n), ta.format(n=n)
        else:
            q, a = prose_sample(rng)
        system = ROLE[dom] if rng.random() < 0.35 else None
        texts.append(chatml(system, q, a))
        domains.append(dom)
    return texts, domains, heldout
