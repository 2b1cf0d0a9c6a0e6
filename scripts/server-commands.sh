#!/usr/bin/env bash
# Commands and server time per acquire+release on the redis-servers, from INFO
# commandstats: how many commands (scripts and the commands they call) each pair costs
# the servers, a count that does not move with the machine's load, and the servers' own
# time spent executing them (which does, somewhat; I/O is not in it).
#
# Starts NODES throwaway redis-servers on free loopback ports (killed by pid at the end),
# runs the distinct-keys scenario for each implementation (the raw redis-rs floor,
# redlease with and without fencing: with several nodes also its token minted at
# acquisition and never asked for; rslock 0.10) with RESETSTAT before each,
# and prints per pair (summed over all nodes): commands, microseconds, and each command.
# SCENARIO=contended counts per critical section of 8 workers on one key instead (the
# section's own read and write of a counter included, the same for every implementation;
# the floor's and rslock's polling depends on timing, redlease's queue does not).
# Commands called inside a script are counted as commands too, and their time is inside
# the EVALSHA's as well as their own. Usage:
#
#   scripts/server-commands.sh             # 1 node
#   NODES=5 scripts/server-commands.sh     # 5 nodes
#   SCENARIO=contended scripts/server-commands.sh
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-1}
PAIRS=${PAIRS:-10000}
SCENARIO=${SCENARIO:-distinct}
command -v redis-server >/dev/null || {
  echo "server-commands.sh: redis-server is missing: apt-get install -y redis-server" >&2
  exit 1
}
cargo build --quiet --release -p redlease-bench --bin redlease-bench --features rslock
bin=$PWD/target/release/redlease-bench
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

ports=()
for _ in $(seq "$NODES"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work" --dbfilename "dump-$port.rdb" >"$work/redis-$port.log" 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 50); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
done
urls=$(printf 'redis://127.0.0.1:%s,' "${ports[@]}")
urls=${urls%,}

# $1 = label, $2 = implementations the run covers, the rest = the bench's flags.
measure() {
  local label=$1 runs=$2
  shift 2
  for port in "${ports[@]}"; do
    redis-cli -p "$port" FLUSHALL >/dev/null
    redis-cli -p "$port" CONFIG RESETSTAT >/dev/null
  done
  "$bin" --servers "$urls" --markers-ready --scenario "$SCENARIO" --ops "$PAIRS" --rounds 1 --warmup 0 \
    --no-progress "$@" >"$work/bench.out" 2>&1 || {
    echo "server-commands.sh: the bench failed ($label):" >&2
    tail -5 "$work/bench.out" >&2
    exit 1
  }
  for port in "${ports[@]}"; do redis-cli -p "$port" INFO commandstats; done |
    PAIRS=$((PAIRS * runs)) LABEL=$label python3 -c '
import os, re, sys
pairs = int(os.environ["PAIRS"])
calls, usec, per = 0, 0, {}
for line in sys.stdin:
    m = re.match(r"cmdstat_([\w|]+):calls=(\d+),usec=(\d+)", line)
    if m:
        c, u = int(m.group(2)), int(m.group(3))
        calls, usec = calls + c, usec + u
        per[m.group(1)] = per.get(m.group(1), 0) + c
each = " ".join(f"{k}={v / pairs:.2f}" for k, v in sorted(per.items()) if v >= pairs // 100)
label = os.environ["LABEL"]
print(f"{label:<22} {calls / pairs:6.2f} commands  {usec / pairs:6.2f} µs   {each}")
'
}

echo "per acquire+release, $SCENARIO, $NODES node(s), $PAIRS pairs (all nodes summed):"
# With several nodes the floor runs twice (waiting for all, returning at majority).
floors=1
[ "$NODES" -gt 1 ] && floors=2
measure "floor" "$floors" --no-redlease
measure "redlease, no fencing" 1 --no-floor --fencing off
measure "redlease, token asked" 1 --no-floor --fencing on
if [ "$NODES" -gt 1 ]; then
  measure "redlease, at acquire" 1 --no-floor --fencing at-acquire
  measure "redlease, unasked" 1 --no-floor --fencing unasked
fi
measure "rslock 0.10" 1 --no-floor --no-redlease --rslock
