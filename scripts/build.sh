#!/usr/bin/env bash
# Builds the worker bundle under build/. Also wrangler's [build] command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash scripts/setup.sh)"
"$WORKER_BUILD_BIN" --release
