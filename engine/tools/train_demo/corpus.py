"""Deterministic corpus for the demo MoE model: three domains in ChatML, some with role cues.

Domains (distinct on purpose, so experts can specialise and routing has structure):
  math   - arithmetic questions with answers ("Answer: 85"): mostly two-digit additions and
           subtractions, some multiplication tables; 85% of the samples by default
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


DOMAIN_WEIGHTS = {"math": 0.85, "code": 0.075, "prose": 0.075}

# The judge domain (issue 13's worked example): the exact exchange Wobble's judge scorer builds with
# prompt judge-v1 (src/scorer/judge.cpp, build_judge_prompt; rubrics/README.md "Judge"), asked about
# demo-style arithmetic outputs, and a strict-JSON grading whose verdict, quote and reason are
# computed by rule here. Keep JUDGE_SYSTEM and judge_user byte-identical to the C++ prompt.
JUDGE_SYSTEM = ('You are a strict grader. Reply with JSON only: {"verdict": "pass" or "fail", '
                '"evidence": ["exact quote from the output"], "reason": "short reason"}')
# Criterion texts (rubric args) and what each one requires: "value" = the first "Answer: N" number
# is right; "format" = the whole output is one "Answer: N" line; both = both.
JUDGE_CRITERIA = [
    ("The answer is correct.", ("value",)),
    ("The answer is correct and written as Answer: N.", ("value", "format")),
    ("The output is a single line Answer: N.", ("format",)),
]


def judge_user(task, output, rubric):
    return "Task:\n" + task + "\n\nOutput:\n" + output + "\n\nCriterion:\n" + rubric


def _json_str(s):
    # json.dumps escaping for the ASCII the corpus uses, without importing json's choices of spacing.
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def judge_reply(verdict, quote, reason):
    return '{"verdict": "%s", "evidence": [%s], "reason": %s}' % (verdict, _json_str(quote), _json_str(reason))


def _demo_output(rng, ans):
    """An output as the demo model writes one at temperature 0.8: mostly "Answer: N" with N right or
    near it, sometimes off-format. Returns (text, first number after "Answer:" or None, one-line?)."""
    r = rng.random()
    if r < 0.45:
        n = ans
    elif r < 0.85:
        n = ans + rng.choice([-1, 1]) * rng.choice([1, 1, 2, 2, 3, 4, 5, 9, 10, 11, 20])
    else:
        n = None
    if n is not None:
        form = rng.random()
        if form < 0.85:
            return "Answer: %d" % n, n, True
        if form < 0.95:
            return "Answer: %d\nAnswer: %d" % (n, n + rng.choice([-1, 1])), n, False
        return "Answer: %d." % n, n, False
    junk = rng.choice(["Answer:", "The answer is %d." % (ans + rng.randint(-3, 3)), "def add(a, b):\n    return a + b",
                       "%s %s %s." % (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(PLACES))])
    return junk, None, False


def judge_sample(rng):
    """(system, user, reply, (a, op, b, ans)) for one grading, the verdict by rule."""
    _, _, key = math_sample(rng)
    a, op, b, ans = key
    task = math_question(rng, a, op, b)
    output, n, one_line = _demo_output(rng, ans)
    rubric, needs = rng.choice(JUDGE_CRITERIA)
    ok_value = n == ans
    ok_format = one_line
    passed = ("value" not in needs or ok_value) and ("format" not in needs or ok_format)
    lines = output.split("\n")
    quote = lines[0]
    truth = "%d %s %d = %d" % (a, op, b, ans)
    if passed:
        reason = truth if "value" in needs else "one Answer: N line"
    elif "value" in needs and n is None:
        reason = "no Answer: N with a number"
    elif "value" in needs and not ok_value:
        reason = "%s, not %d" % (truth, n)
    else:
        reason = "not a single Answer: N line"
        if len(lines) > 1 and n is not None:
            quote = lines[1]  # the extra line is what breaks the format
    return JUDGE_SYSTEM, judge_user(task, output, rubric), judge_reply("pass" if passed else "fail", quote, reason), key


# The think domain (issue 16's reasoning demo): an arithmetic question with a cue to think first,
# answered after a short <think>…</think> part that works the sum out. The thinking comes in a few
# wordings, so at a sampling temperature repeats tend to reach the same answer by differently
# worded thinking: the "same answer, different reasoning" a report should show.
THINK_CUE = " Think first."
THINK_FORMS = ["{c}, working digit by digit.", "{c}. Quick mental math.", "{c}; I checked the ones column.",
               "{c}, I am fairly sure.", "{c}. Tens first, then ones."]


def think_sample(rng):
    """The result comes first in the thinking (one token later than a plain answer, so the sum the
    model already knows carries over), then a wording drawn at random, then the answer is repeated
    after </think>: repeats agree on the answer and differ in their reasoning."""
    while True:
        q, a, key = math_sample(rng)
        if key[1] in "+-":
            break
    c = key[3]
    return q + THINK_CUE, "<think>" + rng.choice(THINK_FORMS).format(c=c) + "</think>\n" + a, key


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
        elif dom == "think":
            q, a, key = think_sample(rng)
            if key in held:
                continue
        elif dom == "judge":
            system, q, a, key = judge_sample(rng)
            if key in held:  # the grading's reason spells out the sum: keep held-out sums out of it too
                continue
            texts.append(chatml(system, q, a))
            domains.append(dom)
            continue
        else:
            q, a = prose_sample(rng)
        system = ROLE["math" if dom == "think" else dom] if rng.random() < 0.35 else None
        texts.append(chatml(system, q, a))
        domains.append(dom)
    return texts, domains, heldout
