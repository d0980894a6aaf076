#!/usr/bin/env bash
# Builds the worker bundle under build/: the crate compiled to wasm32,
# wasm-bindgen's glue, wasm-opt, and the JavaScript driver (src/worker/) bundled by esbuild.
# Also wrangler's [build] command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(bash scripts/setup.sh)"
ROOT_BIN=node_modules/.bin

stage="build/.staging"
rm -rf "$stage"
mkdir -p "$stage/glue"

cargo build --quiet --lib --release --target wasm32-unknown-unknown

# Nothing to do when nothing that goes into the bundle changed: `wrangler dev`
# runs this again as soon as its watcher is ready, right after its first build.
inputs=$( {
  echo "KEEP_NAMES=${KEEP_NAMES:-0} $WASM_BINDGEN_BIN $WASM_OPT_BIN $ESBUILD_BIN"
  sha256sum target/wasm32-unknown-unknown/release/leadnest_edge.wasm src/worker/*.mjs \
    src/wasm/needs.js src/wasm/needs.d.ts scripts/build.sh tsconfig.json package-lock.json
} | sha256sum)
if [ -f build/index.js ] && [ -f build/index_bg.wasm ] && [ -f build/types/glue/index.d.ts ] &&
  [ "$(cat build/.inputs 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi

# reset-state and abort-handler: after a trap the glue re-instantiates the module
# on the next call instead of leaving the isolate broken.
"$WASM_BINDGEN_BIN" target/wasm32-unknown-unknown/release/leadnest_edge.wasm \
  --out-dir "$stage/glue" --out-name index --target module \
  --experimental-reset-state-function --force-enable-abort-handler

# -Oz (twice: the second round finds what the first opened up) and no name section:
# the bundle is what each cold start loads.
# KEEP_NAMES=1 keeps function names, for profiles (bench/profile.mjs).
strip=(--strip-debug --strip-producers)
[ "${KEEP_NAMES:-0}" = 1 ] && strip=(--debuginfo)
# The function table is exported for closures passed to JS and for the abort
# hook's handler. The glue passes no closure, and the handler is the no-op
# (set_on_abort does nothing under panic = "abort"; the hook calls it inside a
# try/catch): so the table stays private, and wasm-opt turns calls through it
# into direct calls and inlines them (-3.8 KB raw). It stays exported as soon
# as the glue reads it anywhere else.
private=()
grep -v 'if (idx) wasm.__wbindgen_export.get(idx)();' "$stage/glue/index.js" |
  grep -q '__wbindgen_export\b' ||
  private=(--remove-exports --pass-arg=remove-exports@__wbindgen_export)
"$WASM_OPT_BIN" "$stage/glue/index_bg.wasm" -o "$stage/index_bg.wasm" "${private[@]}" -Oz -Oz "${strip[@]}" \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

# The glue's types, for the driver's type check (tsconfig.json).
mkdir -p build/types/glue
cp "$stage/glue/index.d.ts" build/types/glue/index.d.ts
"$ROOT_BIN/tsc" -p tsconfig.json

# workerd imports a .wasm module with a plain import, not a source-phase one.
sed -i 's/^import source /import /' "$stage/glue/index.js"
cp src/worker/*.mjs "$stage/"
"$ESBUILD_BIN" "$stage/entry.mjs" --bundle --format=esm --minify --log-level=warning \
  --external:./index_bg.wasm --external:cloudflare:workers --outfile="$stage/index.js"

# Swap in whole, so a running `wrangler dev` never sees half a build.
mv "$stage/index_bg.wasm" build/index_bg.wasm.new
mv "$stage/index.js" build/index.js.new
mv build/index_bg.wasm.new build/index_bg.wasm
mv build/index.js.new build/index.js
rm -rf "$stage" build/worker build/package.json
echo "$inputs" > build/.inputs
