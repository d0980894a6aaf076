#!/usr/bin/env bash
# Fuzzes the pure core with cargo-fuzz (libFuzzer): each target in fuzz/ runs for
# FUZZ_SECONDS (default 300), starting from fuzz/corpus/<target>/ (committed
# seed-* files plus whatever earlier runs found). Prints executions and crashes
# per target; exits non-zero if any target crashed.
# Usage: scripts/fuzz.sh [target...]        (default: every target)
#   FUZZ_SECONDS=60        time per target
#   FUZZ_SANITIZER=address also catch memory errors (in dependencies' unsafe code;
#                          the crate has none), at about a tenth of the executions
#                          (default: none, as the hunt is for panics)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf 'fuzz: %s\n' "$*" >&2; }

seconds="${FUZZ_SECONDS:-300}"
sanitizer="${FUZZ_SANITIZER:-none}"
version=0.13.2

# Same per-user tool cache as scripts/setup.sh, keyed by version.
tools="${LEADNEST_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/leadnest-edge/tools}"
dir="$tools/cargo-fuzz-$version"
if [ ! -x "$dir/bin/cargo-fuzz" ]; then
  say "building cargo-fuzz $version from crates.io (a minute or two, once)"
  cargo install --quiet cargo-fuzz --version "=$version" --root "$dir" >&2
fi
export PATH="$dir/bin:$PATH"
# cargo-fuzz passes -Z flags (sanitizers, with address); this lets stable rustc take them.
export RUSTC_BOOTSTRAP=1

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

say "building the targets (sanitizer: $sanitizer)"
if ! cargo fuzz build --sanitizer "$sanitizer" >&2; then
  say "build failed: nothing was fuzzed"
  exit 2
fi
# The binaries just built run directly, so every target fuzzes the same code
# (cargo fuzz run would rebuild each time, picking up edits made meanwhile).
bin="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

logs="fuzz/target/logs"
mkdir -p "$logs"
failed=0
printf '%-20s %12s  %s\n' target executions crashes
for target in "${targets[@]}"; do
  log="$logs/$target.log"
  [ -x "$bin/$target" ] || { say "no target $target (cargo fuzz list)"; exit 2; }
  mkdir -p "fuzz/artifacts/$target" "fuzz/corpus/$target"
  say "running $target for ${seconds}s (log: $log)"
  status=0
  # -timeout: an input that takes seconds would exhaust a Worker's CPU limit, so
  # it counts as a crash too.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}" "$bin/$target" \
    -artifact_prefix="fuzz/artifacts/$target/" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 "fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p; s/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
  artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
  if [ "$status" -eq 0 ]; then
    printf '%-20s %12s  %s\n' "$target" "${execs:-?}" 0
  else
    failed=1
    printf '%-20s %12s  %s\n' "$target" "${execs:-?}" "1: ${artifact:-see $log}"
    # The panic message or sanitizer report, then how to look closer.
    if grep -q -E 'panicked at|ERROR: ' "$log"; then
      grep -m 1 -A 1 'panicked at' "$log" >&2 || grep -m 1 'ERROR: ' "$log" >&2
    else
      tail -n 20 "$log" >&2
    fi
    if [ -n "$artifact" ]; then
      say "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $artifact"
      say "minimize:  RUSTC_BOOTSTRAP=1 cargo fuzz tmin $target $artifact"
    fi
  fi
done
exit "$failed"
