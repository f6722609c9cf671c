#!/usr/bin/env bash
# Runs every Vigil benchmark (see each script's docstring), prints the summary table and writes
# it, with each benchmark's details, to bench/results.md. Figures are ratios against a baseline
# measured in the same harness, since absolute numbers depend on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

command -v wrk >/dev/null \
  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
: "${WASM_FEATURES:?run me through \`make bench\`: it builds Vigil and sets the tool variables}"
# The baseline gets exactly Vigil's build: same profile, same wasm-opt passes (see Makefile).
(cd bench/baseline && worker-build --release)
"$WASM_OPT_BIN" $WASM_FEATURES --strip-debug --strip-producers \
  bench/baseline/build/index_bg.wasm -o bench/baseline/build/index_bg.wasm

work=$(mktemp -d)
export BENCH_SUMMARY="$work/summary"
child=
# Each benchmark kills its own wrangler process groups on SIGTERM; pass ours on, then clean up.
trap '[[ -n $child ]] && kill -TERM "$child" 2>/dev/null; wait; rm -rf "$work"; exit 130' INT TERM
trap 'rm -rf "$work"' EXIT

failed=()
for bench in size readiness throughput embedded tail probes d1_writes cron_cost d1_reads status routing day cpu; do
  echo "== $bench"
  python3 -u "bench/$bench.py" > >(tee "$work/$bench.log") 2>&1 &
  child=$!
  wait "$child" || failed+=("$bench")
  child=
done
wait  # for the last tee

table=$(printf '| benchmark | figure | value | goal |\n|---|---|---|---|\n'; cat "$BENCH_SUMMARY" 2>/dev/null)
{
  echo "# Vigil benchmarks"
  echo
  revision="$(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
  echo "$(date -u +%FT%TZ), $revision, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "$table"
  ((${#failed[@]})) && { echo; echo "Failed: ${failed[*]}"; }
  for bench in size readiness throughput embedded tail probes d1_writes cron_cost d1_reads status routing day cpu; do
    printf '\n## %s\n\n```\n%s\n```\n' "$bench" "$(cat "$work/$bench.log")"
  done
} > bench/results.md
echo
echo "$table"
((${#failed[@]} == 0)) || { echo "failed: ${failed[*]}" >&2; exit 1; }
