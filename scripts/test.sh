#!/usr/bin/env bash
# Every test: the native Rust tests, the tests that need no worker (tests/node: the
# tools, the docs' links, the queue configuration, the console's files), then the built
# worker under wrangler dev (tests/e2e: each file starts its own, with fresh local KV and
# queues; console.test.mjs drives it in Chromium).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash scripts/setup.sh --browser)"
cargo test
bash scripts/build.sh
export WRANGLER_SEND_METRICS=false
# One file at a time: each runs wrangler dev, and the machine has two cores. A test that
# hangs fails after 20 minutes, and a file ends when its tests do, even if something it
# started still holds a handle open: a stuck test fails the run, never stalls it.
node --test --test-concurrency=1 --test-timeout=1200000 --test-force-exit tests/node/ tests/e2e/
