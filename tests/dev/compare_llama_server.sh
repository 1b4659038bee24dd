#!/usr/bin/env bash
# Development-time check (not part of .ci/run): the local provider and llama.cpp's llama-server
# return the same text for the same GGUF file at temperature 0.
#
#   LLAMA_SERVER=/path/to/llama-server tests/dev/compare_llama_server.sh [BUILD_DIR]
#
# For every vocabulary in ../shared/fixtures/vocab it writes a tiny random-weight llama MoE with
# that vocabulary (test_engine_runtime, VocabModels.*, WOBBLE_DUMP_VOCAB_MODELS), serves it with
# llama-server on 127.0.0.1, runs one small suite through `kind: local` and through `kind: openai`
# (endpoint: completions) against that server, and prints per family whether the outputs, the
# prompt tokens and the completion tokens are identical. Prompt ids come from the server's
# /tokenize, completion ids from its /completion with return_tokens; usage counts from both runs.
#
# LLAMA_SERVER names an existing binary; this script never fetches or builds llama.cpp. Without it
# the script says so and exits 0. Needs: sqlite3 (or python3), python3, curl.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
if [[ -z "${LLAMA_SERVER:-}" || ! -x "${LLAMA_SERVER:-}" ]]; then
  echo "compare_llama_server: skipped: set LLAMA_SERVER to an existing llama-server binary (got '${LLAMA_SERVER:-}')"
  exit 0
fi
for exe in "$build/wobble" "$build/test_engine_runtime"; do
  [[ -x "$exe" ]] || { echo "compare_llama_server: $exe not found; build first (cmake --build build)" >&2; exit 2; }
done
for tool in python3 curl; do
  command -v "$tool" >/dev/null || { echo "compare_llama_server: $tool is required" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/wobble-vs-llama.XXXXXX")
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "${KEEP:-}" ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir -p "$work/models"
WOBBLE_DUMP_VOCAB_MODELS="$work/models" "$build/test_engine_runtime" --gtest_filter='VocabModels.*' \
  >"$work/models.log" 2>&1 || { cat "$work/models.log" >&2; exit 3; }
grep '^\[ vocab model \]' "$work/models.log" >&2 || true

port=${PORT:-18473}
max_tokens=${MAX_TOKENS:-16}

# One suite, two providers. Plain prompts (completions endpoint): the server tokenizes the text
# itself, so the prompt-token comparison covers the tokenizer too.
write_suite() {  # $1 = provider line, $2 = file
  cat >"$2" <<EOF
name: vs-llama-server
provider: $1
sampling: {temperature: 0, max_tokens: $max_tokens, seed: 7}
repeats: 1
rubric: {criteria: [{id: any, scorer: contains, args: {value: " "}}]}
variants:
  - {id: plain, prompt: "{{p}}"}
cases:
  - {id: hello, vars: {p: "Hello world"}}
  - {id: capital, vars: {p: "The capital of France is"}}
  - {id: story, vars: {p: "Once upon a time, there was"}}
  - {id: digits, vars: {p: "1, 2, 3,"}}
  - {id: code, vars: {p: "def add(a, b):\\n    return"}}
  - {id: unicode, vars: {p: "Überraschung: 日本語のテキスト"}}
  - {id: newline-stop, vars: {p: "Hello world"}, sampling: {stop: ["\\n"]}}
  - {id: space-stop, vars: {p: "The capital of France is"}, sampling: {stop: [" "]}}
EOF
}

rows=()
for model in "$work"/models/*.gguf; do
  family=$(basename "$model" .gguf)
  log="$work/$family.server.log"
  "$LLAMA_SERVER" -m "$model" --host 127.0.0.1 --port "$port" -c 128 -np 1 -t 2 >"$log" 2>&1 &
  server_pid=$!
  up=
  for _ in $(seq 1 120); do
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
  done
  if [[ -z "$up" ]]; then
    why=$(grep -m1 -iE "error|failed|unknown" "$log" | cut -c1-100 || true)
    rows+=("$family|llama.cpp refuses the file: ${why:-no /health}")
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    continue
  fi
  write_suite "{kind: local, model_path: \"$model\", threads: 1, chat_template: raw}" "$work/$family.local.yaml"
  write_suite "{kind: openai, base_url: \"http://127.0.0.1:$port/v1\", model: tiny, endpoint: completions, max_concurrency: 1, max_attempts: 1}" \
    "$work/$family.remote.yaml"
  db="$work/$family.db"
  if ! local_run=$("$build/wobble" run "$work/$family.local.yaml" --db "$db" --quiet 2>"$work/$family.local.err"); then
    rows+=("$family|the engine refuses the file: $(head -c 100 "$work/$family.local.err")")
  elif ! remote_run=$("$build/wobble" run "$work/$family.remote.yaml" --db "$db" --quiet 2>"$work/$family.remote.err"); then
    rows+=("$family|wobble run against llama-server failed: $(head -c 100 "$work/$family.remote.err")")
  else
    row=$(python3 - "$db" "$local_run" "$remote_run" "$port" "$family" "$max_tokens" <<'PY'
import json, sqlite3, struct, sys, urllib.request
db, local_run, remote_run, port, family, max_tokens = sys.argv[1:]
con = sqlite3.connect(db)
con.text_factory = bytes  # outputs are compared as bytes; a server may return invalid UTF-8
def rows(run):
    q = ("select case_id, ok, output, prompt_tokens, completion_tokens, prompt, token_ids, finish_reason, error "
         "from samples where run_id = ? order by case_id")
    return {r[0].decode(): r for r in con.execute(q, (int(run),))}
def post(path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())
suite_stops = {"newline-stop": ["\n"], "space-stop": [" "]}
L, R = rows(local_run), rows(remote_run)
n = len(L)
out_same = ptok_same = ctok_same = 0
notes = []
for case, l in sorted(L.items()):
    r = R.get(case)
    if r is None or not l[1] or not r[1]:
        notes.append(f"{case}: failed sample ({l[8] if not l[1] else (r[8] if r else 'missing')!r})")
        continue
    if l[2] == r[2]:
        out_same += 1
    else:
        notes.append(f"{case}: local {l[2]!r} / server {r[2]!r}")
    # Prompt tokens: usage counts, and the ids the server's tokenizer gives for the same text.
    prompt = l[5].decode("utf-8")
    server_ids = post("/tokenize", {"content": prompt, "add_special": True})["tokens"]
    local_ids = list(struct.unpack(f"<{len(l[6] or b'') // 4}i", l[6] or b""))  # generated ids
    con2 = con.execute("select prompt_token_ids from samples where run_id = ? and case_id = ?", (int(local_run), case))
    blob = con2.fetchone()[0] or b""
    local_prompt = list(struct.unpack(f"<{len(blob) // 4}i", blob))
    if l[3] == r[3] and local_prompt == server_ids:
        ptok_same += 1
    else:
        notes.append(f"{case}: prompt tokens local {l[3]} {local_prompt[:12]} / server {r[3]} {server_ids[:12]}")
    # Completion tokens: usage counts, and the generated ids (the server's list includes the
    # end-of-generation token, which the local provider counts but does not store).
    comp = post("/completion", {"prompt": prompt, "n_predict": int(max_tokens), "temperature": 0,
                                "return_tokens": True, "cache_prompt": False, "stop": suite_stops.get(case, [])})
    s_ids = comp.get("tokens", [])
    ids_ok = s_ids[:len(local_ids)] == local_ids and len(s_ids) - len(local_ids) in (0, 1)
    if l[4] == r[4] and ids_ok:
        ctok_same += 1
    else:
        notes.append(f"{case}: completion tokens local {l[4]} {local_ids} / server {r[4]} {s_ids}")
print(f"{family}|{out_same}/{n}|{ptok_same}/{n}|{ctok_same}/{n}")
for x in notes[:6]:
    print("  " + x, file=sys.stderr)
PY
) || row="$family|the comparison failed (see above)"
    rows+=("$row")
  fi
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done

echo
echo "| family | outputs identical | prompt tokens identical | completion tokens identical |"
echo "|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r f a b c <<<"$row"
  if [[ -z "$b" ]]; then
    echo "| $f | $a | | |"
  else
    echo "| $f | $a | $b | $c |"
  fi
done
