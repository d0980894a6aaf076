#!/usr/bin/env bash
# Every test: the native Rust tests, the local tools' tests, then the built worker
# under wrangler dev (each test file starts its own, with fresh local KV and queues).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash scripts/setup.sh)"
cargo test
bash scripts/build.sh
export WRANGLER_SEND_METRICS=false
# One file at a time: each runs wrangler dev, and the machine has two cores.
node --test --test-concurrency=1 tests/node/ tests/e2e/
