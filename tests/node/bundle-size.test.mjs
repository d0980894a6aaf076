// The bundle's size, per build: what each cold start loads (build/index_bg.wasm and
// build/index.js), gzip'd as `npm run bench` measures it (node's zlib at its default
// level). It may not grow past its budget; the target, 100 KiB, is reported until met.
// docs/performance.md keeps the figures and what each cut bought.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ROOT } from '../../tools/lib/leadnest.mjs';

/** The target: the wasm and the JS together, gzip'd. */
export const TARGET_GZIP_BYTES = 100 * 1024;
/**
 * What the bundle may weigh, gzip'd: its size after the last cut (157,843 bytes),
 * and a little room. Lower it with each cut; raise it only with a reason written here.
 * Raised to 158,000: destination health (SPEC §10) took 149,301 to 170,782 bytes, cut
 * back to 157,843 (docs/performance.md, "The bundle's size"). Raised to 158,500: a held
 * delivery whose drain fails carries its attempts into the queue message that sends it
 * again (Delivery's `spent`, DeliveryTask.requeued), 158,403 bytes. Raised to 159,600: a
 * route's health call and its troubles decided in the core (`src/health/call.rs`, tested
 * natively), not in `src/wasm/health.rs`, 159,505 bytes. Raised to 159,700: held
 * deliveries no longer lost to a hold racing its store's end, a failed probe sent to the
 * back of the line, a removed route's held deliveries drained, 159,678 bytes. Raised to
 * 160,400: filters comparing numbers by value, a flush loop that follows one past its start
 * window, a lost claim given up, the log's lookups by the id's index, 160,363 bytes; and
 * a replay under way kept through the retention, 160,440 bytes.
 */
export const BUDGET_GZIP_BYTES = 160_500;

const WASM = join(ROOT, 'build', 'index_bg.wasm');
const JS = join(ROOT, 'build', 'index.js');

/** Raw and gzip'd bytes of each part, and their gzip'd total. */
export function bundleSize() {
  const part = (path) => {
    const bytes = readFileSync(path);
    return { raw: bytes.length, gzip: gzipSync(bytes).length };
  };
  const wasm = part(WASM);
  const js = part(JS);
  return { wasm, js, gzip: wasm.gzip + js.gzip };
}

const built = existsSync(WASM) && existsSync(JS);
const size = built ? bundleSize() : null;
const n = (bytes) => bytes.toLocaleString('en');

test('the bundle is built (npm run build)', () => {
  assert.ok(built, 'no build/index_bg.wasm or build/index.js: run `npm run build` first');
});

test('the bundle stays within its budget', { skip: !built && 'not built' }, (t) => {
  t.diagnostic(
    `bundle: wasm ${n(size.wasm.raw)} B (${n(size.wasm.gzip)} gzip) + JS ${n(size.js.raw)} B ` +
      `(${n(size.js.gzip)} gzip) = ${n(size.gzip)} B gzip; budget ${n(BUDGET_GZIP_BYTES)}, ` +
      `target ${n(TARGET_GZIP_BYTES)}`,
  );
  assert.ok(
    size.gzip <= BUDGET_GZIP_BYTES,
    `the bundle is ${n(size.gzip)} bytes gzip'd, over its budget of ${n(BUDGET_GZIP_BYTES)}`,
  );
});

// Reported, not enforced, while the bundle is over it (a todo test's failure does
// not fail the run); once met, it holds like any other test.
const met = built && size.gzip <= TARGET_GZIP_BYTES;
test('the bundle is at most 100 KiB gzip', { todo: built && !met && 'not met yet' }, () => {
  assert.ok(met, `the bundle is ${n(size?.gzip ?? 0)} bytes gzip'd, over ${n(TARGET_GZIP_BYTES)}`);
});
