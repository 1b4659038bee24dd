#!/usr/bin/env bash
# Times `wobble report` (md, html, json, junit), `gate`, `compare` and `trend` over databases of
# 10k, 100k and 1M samples per run written by bench_report_scale, and prints wall seconds, peak RSS
# and output size per command. Usage (from the repository root, after building):
#   nice -n 10 tests/bench/report_scale.sh [BUILD_DIR] [SIZES...]     (default: build 10000 100000 1000000)
# Databases go to ${SCALE_DIR:-/tmp/wobble-scale} and are kept for reruns (delete them to regenerate).
set -euo pipefail
build=${1:-build}
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000 1000000)
dir=${SCALE_DIR:-/tmp/wobble-scale}
mkdir -p "$dir"
wobble="$build/wobble"
printf '%-9s %-14s %8s %10s %10s %4s\n' samples command wall_s peak_MiB out_KiB rc
for n in "${sizes[@]}"; do
  db="$dir/scale-$n.db"
  [ -f "$db" ] || "$build/bench_report_scale" --db "$db" --samples "$n" >&2
  run() {
    local name=$1; shift
    local out="$dir/out-$n-$name"
    local rc=0
    /usr/bin/time -f '%e %M' -o "$dir/time" "$wobble" "$@" >"$out" 2>"$out.err" || rc=$?
    read -r wall rss < <(tail -1 "$dir/time")  # a failing command adds a line before the figures
    printf '%-9s %-14s %8s %10.1f %10.1f %4s\n' "$n" "$name" "$wall" "$(echo "$rss/1024" | bc -l)" \
      "$(echo "$(stat -c %s "$out")/1024" | bc -l)" "$rc"
  }
  for f in md html json junit; do run "report-$f" report 2 --db "$db" --format "$f"; done
  run gate gate 2 --baseline 1 --db "$db"
  run compare compare 1 2 --db "$db"
  run trend trend --suite scale --db "$db"
done
