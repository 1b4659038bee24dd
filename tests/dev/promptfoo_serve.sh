#!/usr/bin/env bash
# Development-time check (not part of .ci/run): promptfoo, a third-party eval tool, runs a small
# eval against `wobble serve` on the demo model through its stock OpenAI provider.
#
#   tests/dev/promptfoo_serve.sh [BUILD_DIR]
#
# Installs nothing. It needs Node >= 22.22 and promptfoo already there: `node` on PATH (or $NODE),
# and promptfoo as $PROMPTFOO (a path to its CLI), `promptfoo` on PATH, or an npx cache entry
# (`npx --no-install promptfoo`). Without them it says what is missing and exits 0. To get them
# once, by hand (the npm registry only):
#   npm install --prefix ~/.wobble-node node@22 && export PATH=~/.wobble-node/node_modules/.bin:$PATH
#   npm install --prefix ~/.wobble-promptfoo promptfoo && export PROMPTFOO=~/.wobble-promptfoo/node_modules/.bin/promptfoo
# The eval: 4 prompts at temperature 0 with fixed seeds, each checked by a promptfoo assertion on
# the demo model's known answer; exit 1 when any fails.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
model=$here/engine/models/wobble-demo-moe.gguf
skip() { echo "promptfoo_serve: skipped: $*"; exit 0; }

node=${NODE:-$(command -v node || true)}
[[ -n "$node" && -x "$node" ]] || skip "node not found (set NODE or put Node >= 22.22 on PATH)"
node_version=$("$node" -p 'process.versions.node' 2>/dev/null || echo 0)
IFS=. read -r major minor _ <<<"$node_version"
if (( major < 22 || (major == 22 && minor < 22) )); then
  skip "node $node_version is older than 22.22, which promptfoo needs (npm install node@22 gives a newer one)"
fi
export PATH="$(dirname "$node"):$PATH"
if [[ -n "${PROMPTFOO:-}" ]]; then
  [[ -x "$PROMPTFOO" ]] || skip "PROMPTFOO=$PROMPTFOO is not executable"
  pf=("$PROMPTFOO")
elif command -v promptfoo >/dev/null; then
  pf=(promptfoo)
elif npx --no-install promptfoo --version >/dev/null 2>&1; then
  pf=(npx --no-install promptfoo)
else
  skip "promptfoo not found (set PROMPTFOO, put it on PATH, or have it in the npx cache)"
fi
[[ -x "$build/wobble" ]] || { echo "promptfoo_serve: $build/wobble not found; build first" >&2; exit 2; }
[[ -f "$model" ]] || { echo "promptfoo_serve: demo model $model not found" >&2; exit 2; }

work=$(mktemp -d)
serve_pid=""
cleanup() {
  if [[ -n "$serve_pid" ]] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$build/wobble" serve -m "$model" --port 0 --parallel 2 --threads 1 2>"$work/serve.log" &
serve_pid=$!
port=""
for _ in $(seq 1 500); do
  port=$(sed -n 's|.*on http://127\.0\.0\.1:\([0-9]*\)/v1.*|\1|p' "$work/serve.log" | head -n1)
  [[ -n "$port" ]] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 3; }
  sleep 0.02
done
[[ -n "$port" ]] || { echo "promptfoo_serve: the server did not start" >&2; cat "$work/serve.log" >&2; exit 3; }

# The expected answers are the demo model's greedy outputs (the same at any seed at temperature 0).
cat >"$work/promptfooconfig.yaml" <<EOF
description: wobble serve through promptfoo's OpenAI provider
prompts:
  - "{{question}}"
providers:
  - id: openai:chat:wobble-demo-moe
    config:
      apiBaseUrl: http://127.0.0.1:$port/v1
      apiKey: not-needed
      temperature: 0
      max_tokens: 24
      seed: 7
tests:
  - vars: {question: "What is 23 + 45?"}
    assert: [{type: regex, value: "^Answer: \\\\d+$"}]
  - vars: {question: "Calculate 7 * 8."}
    assert: [{type: starts-with, value: "Answer:"}]
  - vars: {question: "Write a Python function square that returns the square of x."}
    assert: [{type: contains, value: "def "}]
  - vars: {question: "Describe music in a few words."}
    assert: [{type: javascript, value: "output.length > 0 && output.length < 400"}]
EOF

export PROMPTFOO_CONFIG_DIR="$work/promptfoo-home" PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 \
  PROMPTFOO_DISABLE_SHARING=1 OPENAI_API_KEY=not-needed
rc=0
(cd "$work" && "${pf[@]}" eval -c promptfooconfig.yaml --no-cache --no-progress-bar --output "$work/out.json") \
  >"$work/eval.log" 2>&1 || rc=$?
tail -n 25 "$work/eval.log"
if [[ ! -s "$work/out.json" ]]; then
  echo "promptfoo_serve: promptfoo wrote no results (exit $rc)" >&2
  sed -n '1,40p' "$work/serve.log" >&2
  exit 3
fi
summary=$("$node" -e '
  const r = require(process.argv[1]).results;
  const s = r.stats || {};
  const outs = (r.results || []).map(x => JSON.stringify((x.response || {}).output));
  console.log(`successes ${s.successes} failures ${s.failures} errors ${s.errors || 0}`);
  for (const o of outs) console.log(`  output ${o}`);
' "$work/out.json")
echo "promptfoo_serve: $summary"
echo "promptfoo_serve: requests the server answered:"
grep -c ' 200 ' "$work/serve.log" | sed 's/^/  /'
case "$summary" in
  "successes 4 failures 0 errors 0"*) echo "promptfoo_serve: ok"; exit 0 ;;
  *) echo "promptfoo_serve: FAILED (exit $rc)"; exit 1 ;;
esac
