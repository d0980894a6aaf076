#!/usr/bin/env bash
# Finds or installs every tool the build needs, then prints `export` lines naming
# them: wasm-bindgen from crates.io (at the Cargo.lock version), esbuild and
# wasm-opt from npm. Nothing is downloaded from GitHub.
# With --browser, also Debian's chromium for the console's browser tests.
# Usage: eval "$(scripts/setup.sh [--browser])"   (progress goes to stderr)
set -euo pipefail
browser=false
[ "${1:-}" = "--browser" ] && browser=true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf 'setup: %s\n' "$*" >&2; }

# Tools live in a per-user cache, keyed by version, so clones share one build of each.
tools="${LEADNEST_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leadnest-edge/tools}"
mkdir -p "$tools"

# The version of a package as resolved in Cargo.lock.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >&2
fi

# A cargo binary of an exact version, installed once into the cache.
cargo_tool() { # crate binary version
  local dir="$tools/$1-$3"
  if [ ! -x "$dir/bin/$2" ]; then
    say "building $1 $3 from crates.io (a few minutes, once)"
    # No --locked: the index here can lag the lock file a crate ships.
    cargo install --quiet "$1" --version "=$3" --root "$dir" >&2
  fi
  printf '%s\n' "$dir/bin/$2"
}

wasm_bindgen="$(cargo_tool wasm-bindgen-cli wasm-bindgen "$(locked_version wasm-bindgen)")"

if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# playwright-core brings no browser: the console's tests drive Debian's chromium
# rather than Playwright's own download, so everything comes from the usual registries.
chromium="${CHROMIUM_BIN:-/usr/bin/chromium}"
if $browser && [ ! -x "$chromium" ]; then
  say "installing Debian's chromium for the console's browser tests"
  as_root=(env DEBIAN_FRONTEND=noninteractive)
  [ "$(id -u)" -eq 0 ] || as_root=(sudo "${as_root[@]}")
  "${as_root[@]}" apt-get update -qq >&2
  "${as_root[@]}" apt-get install -y -qq chromium >&2
fi

printf 'export WASM_BINDGEN_BIN=%q\n' "$wasm_bindgen"
printf 'export ESBUILD_BIN=%q\n' "$root/node_modules/.bin/esbuild"
printf 'export WASM_OPT_BIN=%q\n' "$root/node_modules/.bin/wasm-opt"
if $browser; then printf 'export CHROMIUM_BIN=%q\n' "$chromium"; fi
