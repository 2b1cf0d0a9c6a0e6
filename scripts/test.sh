#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, the shape of the shipped
# crates, then every test (unit, integration against real redis-servers, doc examples).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-redis.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The shipped crates must stay publishable: no dependency on an unpublished crate, the
# metadata crates.io needs. --no-verify: the build is checked below anyway; --allow-dirty:
# a developer's uncommitted edits are what is being checked (a CI clone is clean anyway).
cargo package --quiet --no-verify --allow-dirty -p redlease -p redlease-testkit -p redlease-cli
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p redlease
cargo test --workspace
