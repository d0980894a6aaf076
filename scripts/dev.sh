#!/usr/bin/env bash
# Builds the worker and serves it with wrangler dev on http://127.0.0.1:8787,
# with local KV, queues and Durable Objects (the event log's among them: each
# shard makes its own tables). Extra arguments go to wrangler dev.
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
# --test-scheduled: GET /__scheduled?cron=... runs the event log's retention now.
exec node_modules/.bin/wrangler dev --test-scheduled --var DRAIN_REFUSED_BODIES:true "$@"
