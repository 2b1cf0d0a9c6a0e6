#!/usr/bin/env bash
# Instructions per acquire+release in the client, counted by callgrind: a figure that does
# not move with whatever else the machine runs, unlike ops/s and CPU time.
#
# Each implementation runs the uncontended scenario twice under valgrind, with SMALL and
# LARGE pairs; (Ir(LARGE) - Ir(SMALL)) / (LARGE - SMALL) is the client's instructions per
# pair: start-up, connecting, script loading and warm-up are the same in both runs and
# cancel out. The redis-servers are separate processes and are not counted (valgrind does
# not follow children here). Usage:
#
#   scripts/callgrind.sh            # 1 node
#   NODES=5 scripts/callgrind.sh    # 5 nodes
#   SCENARIO=distinct scripts/callgrind.sh   # 32 workers on distinct keys (1,000 vs 5,000 pairs)
#
# Prints one line per implementation: name, instructions per pair, ratio to the floor.
# rslock 0.10, the Rust Redlock crate, is counted too (the bench is built with its feature).
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-1}
SCENARIO=${SCENARIO:-uncontended}
if [ "$SCENARIO" = distinct ]; then
  SMALL=${SMALL:-1000}
  LARGE=${LARGE:-5000}
else
  SMALL=${SMALL:-200}
  LARGE=${LARGE:-1200}
fi
cargo build --quiet --release -p redlease-bench --bin redlease-bench --features rslock
bin=target/release/redlease-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Total instructions of one run: $1 = pairs, the rest = the implementation's flags.
instructions() {
  local pairs=$1
  shift
  # Generous node timeout: under valgrind the client runs ~50x slower, and a timed-out
  # call would add retries that are not part of a normal pair.
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
    "$bin" --scenario "$SCENARIO" --nodes "$NODES" --rounds 1 --warmup 20 \
    --ops "$pairs" --no-progress --node-timeout 5s "$@" >"$work/stdout" 2>"$work/stderr" || {
    echo "callgrind.sh: run failed ($*):" >&2
    tail -5 "$work/stderr" >&2
    exit 1
  }
  awk '/^(summary|totals):/ { print $2; exit }' "$work/cg.out"
}

per_pair() {
  local small large
  small=$(instructions "$SMALL" "$@")
  large=$(instructions "$LARGE" "$@")
  echo $(((large - small) / (LARGE - SMALL)))
}

floor=$(per_pair --no-redlease)
# redlease: every token asked for (on several nodes minted on demand), and with several
# nodes also minted at acquisition and never asked for; then fencing off.
rows=("floor $floor" "redlease $(per_pair --no-floor --fencing on)")
if [ "$NODES" -gt 1 ]; then
  rows+=("redlease-at-acquire $(per_pair --no-floor --fencing at-acquire)")
  rows+=("redlease-unasked $(per_pair --no-floor --fencing unasked)")
fi
rows+=("redlease-nofence $(per_pair --no-floor --fencing off)")
rows+=("rslock $(per_pair --no-floor --no-redlease --rslock)")
echo "client instructions per acquire+release, $SCENARIO, $NODES node(s) ($SMALL vs $LARGE pairs):"
for row in "${rows[@]}"; do
  set -- $row
  awk -v name="$1" -v n="$2" -v f="$floor" 'BEGIN { printf "%-20s %10d  %.2fx the floor\n", name, n, n / f }'
done
