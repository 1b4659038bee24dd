#!/usr/bin/env python3
"""A scripted OpenAI-compatible server for suites/reasoning-demo.yaml (stdlib only, no model).

Answers POST /v1/chat/completions the way reasoning models behind common servers do, chosen by the
question and the request's seed, so a run shows known variance:
  "17 + 25"  the thinking in message.reasoning_content (vLLM --reasoning-parser, llama-server --jinja):
             the answer never changes, the thinking takes one of three paths
  "30 + 12"  <think>...</think> left in the content (a server without a reasoning parser); one seed
             in six answers 41
  "40 + 2"   gpt-oss harmony channels left in the content
  "21 + 21"  one seed in three runs out of tokens while still thinking (finish_reason "length")
Usage: python3 tests/dev/reasoning_fake_server.py [--port 8765]
"""
import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATHS = [
    "Add the tens first: {a} + {b}. Tens and ones separately give {s}.",
    "Count up from {a} by {b}: that lands on {s}.",
    "{b} + {a} is the same sum; {s}.",
]


def reply(question, seed):
    numbers = [int(t) for t in question.replace("?", " ").replace(".", " ").split() if t.isdigit()]
    a, b = (numbers + [0, 0])[:2]
    s = a + b
    thinking = PATHS[(seed // 7) % len(PATHS)].format(a=a, b=b, s=s)
    if a == 17:
        return {"content": "\n\nAnswer: %d" % s, "reasoning_content": thinking}, "stop"
    if a == 30:
        answer = s - 1 if seed % 6 == 0 else s
        return {"content": "<think>\n%s\n</think>\n\nAnswer: %d" % (thinking, answer)}, "stop"
    if a == 40:
        return {"content": "<|channel|>analysis<|message|>%s<|end|><|start|>assistant<|channel|>final"
                           "<|message|>Answer: %d<|return|>" % (thinking, s)}, "stop"
    if seed % 3 == 0:
        return {"content": "<think>\nLet me add %d and %d very carefully, digit by digit, checking each" % (a, b)}, "length"
    return {"content": "<think>\n%s\n</think>\n\nAnswer: %d" % (thinking, s)}, "stop"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [{"id": "reasoning-fake", "object": "model"}]})
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
        try:
            req = json.loads(self.rfile.read(length))
            question = [m for m in req["messages"] if m.get("role") == "user"][-1]["content"]
            seed = int(req.get("seed", 0))
        except (ValueError, KeyError, IndexError, TypeError):
            return self.send_json(400, {"error": {"message": "expected a chat request with a user message"}})
        message, finish = reply(question, seed)
        message["role"] = "assistant"
        self.send_json(200, {"object": "chat.completion", "model": req.get("model", "reasoning-fake"),
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}]})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
