#!/usr/bin/env bash
# Times `wobble report` (md, html, json, junit), `gate` (alone and with --baseline), `compare` and `trend` over databases of
# 10k, 100k and 1M samples per run written by bench_report_scale, and prints per command the wall
# seconds, CPU seconds (user + system: what to compare on a loaded machine), peak RSS and output size.
# Usage (from the repository root, after building wobble and bench_report_scale):
#   nice -n 10 tests/bench/report_scale.sh [BUILD_DIR] [SIZES...]     (default: build 10000 100000 1000000)
# Databases go to ${SCALE_DIR:-/tmp/wobble-scale} and are kept for reruns (delete them to regenerate;
# an older database is upgraded in place with `wobble migrate`).
set -euo pipefail
build=${1:-build}
shift || true
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000 1000000)
dir=${SCALE_DIR:-/tmp/wobble-scale}
mkdir -p "$dir"
wobble="$build/wobble"
# What the figures depend on: the machine, the commit and how busy the machine was.
echo "# $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-14s %8s %8s %10s %10s %4s\n' samples command wall_s cpu_s peak_MiB out_KiB rc
for n in "${sizes[@]}"; do
  db="$dir/scale-$n.db"
  [ -f "$db" ] || "$build/bench_report_scale" --db "$db" --samples "$n" >&2
  "$wobble" migrate --db "$db" >&2
  run() {
    local name=$1; shift
    local out="$dir/out-$n-$name"
    local rc=0
    /usr/bin/time -f '%e %U %S %M' -o "$dir/time" "$wobble" "$@" >"$out" 2>"$out.err" || rc=$?
    local wall user sys rss
    read -r wall user sys rss < <(tail -1 "$dir/time")  # a failing command adds a line before the figures
    awk -v n="$n" -v c="$name" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v o="$(stat -c %s "$out")" -v rc="$rc" \
      'BEGIN { printf "%-9s %-14s %8.2f %8.2f %10.1f %10.1f %4s\n", n, c, w, u + s, m / 1024, o / 1024, rc }'
  }
  for f in md html json junit; do run "report-$f" report 2 --db "$db" --format "$f"; done
  run gate gate 2 --db "$db"
  run gate-baseline gate 2 --baseline 1 --db "$db"
  run compare compare 1 2 --db "$db"
  run trend trend --suite scale --db "$db"
  echo "# load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
