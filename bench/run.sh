#!/usr/bin/env bash
# `npm run bench`: native micro-benchmarks (criterion), then the end-to-end run
# under workerd (bench/bench.mjs), which prints the one table on stdout, then the
# measured runs with a bound each (bench/e2e/: the load with redeliveries in both dedup
# modes, the console's time to first list in Chromium), which fail the bench when the
# bound is crossed. Progress goes to stderr. Knobs (env): BENCH_QUICK=1, BENCH_ROUNDS,
# BENCH_SECONDS, BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_WARMUP, BENCH_STARTUPS,
# BENCH_ACK_REQUESTS, BENCH_NATIVE=0 (skip criterion), BENCH_WASM=0 (skip the
# wasm probe), BENCH_E2E=0 (skip bench/e2e/), LOAD_EVENTS. See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -d node_modules/miniflare ] && [ -d node_modules/undici ] || npm ci --no-audit --no-fund --loglevel=error >&2
# The bench measures the bundle as built; it builds only when there is none.
[ -f build/index.js ] && [ -f build/index_bg.wasm ] || bash scripts/build.sh >&2

# Its own target dir: no lock contention with a concurrent `cargo test`/build.
export CARGO_TARGET_DIR="$(realpath -m "${BENCH_TARGET_DIR:-target/bench}")"
export CRITERION_DIR="$CARGO_TARGET_DIR/criterion"
rm -rf "$CRITERION_DIR" "$CARGO_TARGET_DIR/wasm_probe.wasm"
if [ "${BENCH_NATIVE:-1}" != 0 ]; then
  if [ "${BENCH_QUICK:-0}" = 1 ]; then
    timing=(--warm-up-time 0.3 --measurement-time 0.7 --sample-size 20)
  else
    timing=(--warm-up-time 1 --measurement-time 2)
  fi
  echo "bench: native (cargo bench; the first build takes a few minutes)" >&2
  # A crate of its own (bench/native, its own lock): `cargo test` never builds criterion.
  cargo bench --quiet --manifest-path bench/native/Cargo.toml --bench pure -- --quiet "${timing[@]}" >&2
fi

if [ "${BENCH_WASM:-1}" != 0 ]; then
  # The pure path as wasm, built like the worker (same lock, opt-level, wasm-opt -Oz).
  echo "bench: wasm probe (cargo build --target wasm32-unknown-unknown)" >&2
  cp Cargo.lock bench/wasm-probe/Cargo.lock
  cargo build --quiet --release --target wasm32-unknown-unknown --manifest-path bench/wasm-probe/Cargo.toml >&2
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/wasm_probe.wasm" -o "$CARGO_TARGET_DIR/wasm_probe.wasm"
  export WASM_PROBE="$CARGO_TARGET_DIR/wasm_probe.wasm"
fi

# Miniflare keeps local KV and queue state under TMPDIR: keep it in memory, so the
# runs measure the workers rather than this machine's disk.
if [ -z "${BENCH_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then BENCH_TMPDIR=/dev/shm; fi
export TMPDIR="${BENCH_TMPDIR:-${TMPDIR:-/tmp}}"
node bench/bench.mjs
if [ "${BENCH_E2E:-1}" != 0 ]; then
  echo "bench: load with redeliveries, and the console's time to first list (bench/e2e/)" >&2
  # Each run has 10 minutes; its figures are the tests' diagnostics (the lines marked ℹ).
  node --test --test-concurrency=1 --test-timeout=600000 --test-force-exit --test-reporter=spec bench/e2e/ >&2
fi
