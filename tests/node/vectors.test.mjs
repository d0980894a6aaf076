// The JS baseline (bench/baseline/worker.mjs) against the dedup-key and webhook-id
// vector the Rust worker is held to too (src/dedup.rs, dedup_vectors): the benchmark
// compares like with like only while both compute the same keys.
// And the sample events: the tools' builder against fixtures/vectors/samples.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { dedupKey, messageIdOf, webhookId } from '../../bench/baseline/worker.mjs';
import { samplePayload } from '../../tools/lib/leadnest.mjs';

const { cases } = JSON.parse(readFileSync(new URL('../../fixtures/vectors/dedup.json', import.meta.url), 'utf8'));

/** The baseline's steps from the raw body to the key, as its ingress takes them. */
async function baselineKey(text) {
  const body = await new Response(text).arrayBuffer();
  const { event, timestamp, data } = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  return dedupKey(event, messageIdOf(data), timestamp, body);
}

test('the vector has cases of both kinds of key', () => {
  for (const kind of ['m1:', 'b1:']) assert.ok(cases.some((c) => c.dedup_key.startsWith(kind)), `no ${kind} case`);
});

for (const c of cases) {
  test(`dedup vector: ${c.name}`, async () => {
    const key = await baselineKey(c.body);
    assert.equal(key, c.dedup_key, 'dedup_key');
    assert.equal(await webhookId(key), c.webhook_id, 'webhook_id');
  });
}

// The tools' sample builder against the vectors the admin API's is held to too
// (src/admin/sample.rs, samples_match_the_shared_vectors): one rule for every sample.
const samples = JSON.parse(readFileSync(new URL('../../fixtures/vectors/samples.json', import.meta.url), 'utf8'));
for (const vector of samples) {
  test(`sample vector: ${vector.event}`, () => {
    const built = samplePayload(vector.event, { timestamp: new Date(vector.now_ms), messageId: vector.message_id });
    assert.deepEqual(built, vector.sample);
  });
}
