#!/usr/bin/env bash
# Builds the worker and serves it with wrangler dev on http://127.0.0.1:8787,
# with local KV, queues and D1. Extra arguments go to wrangler dev.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "dev: created .dev.vars from .dev.vars.example (local secrets and routes)"
fi
eval "$(bash scripts/setup.sh)"
export WRANGLER_SEND_METRICS=false

# The event log's schema, into the same local database wrangler dev will open (its
# --persist-to, when one is given). Applied migrations are skipped; CI=1 answers
# wrangler's "continue?" itself.
persist=()
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --persist-to) persist=(--persist-to "${args[$((i + 1))]:-}") ;;
    --persist-to=*) persist=(--persist-to "${args[$i]#--persist-to=}") ;;
  esac
done
CI=1 node_modules/.bin/wrangler d1 migrations apply EVENTS --local "${persist[@]}" >/dev/null \
  || { echo "dev: applying migrations/ to the local EVENTS database failed (run: npx wrangler d1 migrations apply EVENTS --local)" >&2; exit 1; }
echo "dev: local EVENTS database up to date (migrations/)"

# wrangler dev's proxy breaks the next request after an answer given before the
# body ended, so refused bodies are read out here (bounded); deployed, they are not.
# --test-scheduled: GET /__scheduled?cron=... runs the retention purge now.
exec node_modules/.bin/wrangler dev --test-scheduled --var DRAIN_REFUSED_BODIES:true "$@"
