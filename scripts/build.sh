#!/usr/bin/env bash
# Builds the worker bundle under build/. Also wrangler's [build] command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash scripts/setup.sh)"
"$WORKER_BUILD_BIN" --release
# worker-build keeps the wasm name section (about 100 KB) for readable stack
# traces; the deployed bundle is smaller and starts faster without it.
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm --strip-debug --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
