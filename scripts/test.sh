#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, then every test
# (unit, integration against real redis-servers, doc examples).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p redlease
cargo test --workspace
