#!/usr/bin/env bash
# The demo: starts five throwaway redis-servers and several workers contending for one
# resource, then prints what happened. Needs only cargo; installs redis-server if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
cargo run --release --quiet -p redlease-cli -- demo "$@"
