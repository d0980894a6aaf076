#!/usr/bin/env bash
# Every test: the native Rust tests, the tests that need no worker (tests/node: the
# tools, the docs' links, the queue configuration, the console's files), then the built
# worker end to end (tests/e2e). Each e2e file runs the bundle in workerd through
# Miniflare's API, a workerd of its own per worker, with fresh local KV, queues and
# Durable Objects and real local HTTP backends (console.test.mjs drives it in Chromium);
# dev-smoke.test.mjs runs `npm run dev`'s own path (scripts/dev.sh, wrangler dev) once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash scripts/setup.sh --browser)"
cargo test
bash scripts/build.sh
export WRANGLER_SEND_METRICS=false
# Files run side by side (E2E_CONCURRENCY, 4 by default): most of a file's time is spent
# waiting on its queues' batch windows and retry delays, not on the two cores. Every test
# fails after 3 minutes (TEST_TIMEOUT_MS; the slowest takes well under one), and a file
# ends when its tests do, even if something it started still holds a handle open: a
# stuck test fails the run, never stalls it.
node --test --test-concurrency="${E2E_CONCURRENCY:-4}" --test-timeout="${TEST_TIMEOUT_MS:-180000}" --test-force-exit \
  tests/node/ tests/e2e/
