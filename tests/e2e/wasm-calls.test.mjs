// The boundary between the driver and the core: one call into wasm a step,
// counted on the built bundle in workerd (bench/calls.mjs wraps the module's
// exports). An accepted event at most 12 calls before its answer, a bad
// signature at most 6, and each path answers as expected (checked there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countCalls } from '../../bench/calls.mjs';

test('each request crosses into wasm once a step', { timeout: 120_000 }, async () => {
  const calls = Object.fromEntries((await countCalls()).map((row) => [row.path, row]));
  assert.ok(calls['bad signature'].calls <= 6, calls['bad signature'].names);
  assert.ok(calls.duplicate.calls <= 6, calls.duplicate.names);
  for (const path of ['new, no route', 'new, 1 HTTP route']) {
    assert.ok(calls[path].calls <= 12, `${path}: ${calls[path].names}`);
  }
  assert.ok(calls.health.calls <= 2, calls.health.names);
  // The task each request starts is freed before its answer.
  assert.match(calls['bad signature'].names, /ingresstask_free/);
});
