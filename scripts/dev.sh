#!/usr/bin/env bash
# Builds the worker and serves it with wrangler dev on http://127.0.0.1:8787,
# with local KV and queues. Extra arguments go to wrangler dev.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "dev: created .dev.vars from .dev.vars.example (local secrets and routes)"
fi
eval "$(bash scripts/setup.sh)"
export WRANGLER_SEND_METRICS=false
# wrangler dev's proxy breaks the next request after an answer given before the
# body ended, so refused bodies are read out here (bounded); deployed, they are not.
exec node_modules/.bin/wrangler dev --var DRAIN_REFUSED_BODIES:true "$@"
