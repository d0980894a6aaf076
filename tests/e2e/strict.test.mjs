// Strict dedup (DEDUP_MODE=durable) when LeadNest's connection is cut: the
// first request's claim must end in a record or a release whatever happens to
// the connection, and a redelivery says `duplicate` only for an event that was
// handed off. TEST_HANDOFF_DELAY_MS holds the hand-off open, so the test can cut
// the connection after the claim and redeliver while the first copy is at work.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { event, SECRET, sleep, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { startBackend } from '../../tools/backend.mjs';
import { sign } from '../../tools/lib/leadnest.mjs';

const cleanup = [];
after(async () => {
  for (const stop of cleanup.reverse()) await stop();
});

async function strictWorker(name, handoffDelayMs) {
  const backend = await startBackend({ port: 0, log: () => {} });
  cleanup.push(() => backend.close());
  const worker = await startWorker(name, {
    durable: true,
    vars: {
      TEST_HANDOFF_DELAY_MS: String(handoffDelayMs),
      ROUTES: [{ name: 'backend', url: backend.url, events: ['*'] }],
    },
  });
  cleanup.push(() => worker.stop());
  return { worker, backend };
}

/**
 * Posts a later event and waits for its delivery: the delivery queue hands out messages
 * in order, so a second delivery of an earlier event, had it been sent, would be ahead of it.
 */
async function deliveredPast(worker, backend) {
  const later = event('email.sent');
  assert.equal((await worker.post(later)).json.status, 'accepted');
  await waitFor(() => backend.received.some((r) => r.body.toString().includes(later.data.message_id)),
    { timeoutMs: 30_000, what: 'a later event delivered' });
}

/** Copies of `raw` the backend received. */
const copies = (backend, raw) => backend.received.filter((r) => r.body.toString() === raw).length;

/** Posts the event and cuts the connection after `cutAfterMs`, as a dropped link would. */
async function postAndCut(worker, raw, cutAfterMs) {
  const controller = new AbortController();
  const sent = fetch(`${worker.url}/webhooks/leadnest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-leadnest-signature': sign(raw, SECRET) },
    body: raw,
    signal: controller.signal,
  }).then(() => 'answered', () => 'cut');
  await sleep(cutAfterMs);
  controller.abort();
  return sent;
}

describe('strict dedup with a cut connection', () => {
  test('the redelivery waits for the first copy, answers duplicate once it was handed off, and the event is delivered once', async () => {
    const { worker, backend } = await strictWorker('strict-cut', 2000);
    const raw = JSON.stringify(event('email.clicked'));
    const firstSent = Date.now();
    assert.equal(await postAndCut(worker, raw, 500), 'cut');

    // LeadNest redelivers within the claim's lease.
    const redelivery = await worker.post(raw);
    const answeredAfter = Date.now() - firstSent;
    assert.equal(redelivery.status, 200, JSON.stringify(redelivery.json));
    assert.equal(redelivery.json.status, 'duplicate');
    // Not before the first copy's hand-off ended (2 s after it began).
    assert.ok(answeredAfter >= 1900, `duplicate after ${answeredAfter} ms`);

    await waitFor(() => backend.received.length >= 1, { what: 'the delivery' });
    await deliveredPast(worker, backend);
    assert.equal(copies(backend, raw), 1);
    // A later redelivery is still a duplicate, and the first request logged its 200.
    assert.equal((await worker.post(raw)).json.status, 'duplicate');
    assert.ok(worker.logs.some((l) => l.outcome === 'accepted' && l.event === 'email.clicked'));
  });

  test('a redelivery that cannot tell within a few seconds gets 503, never duplicate; the next one is a duplicate', async () => {
    const { worker, backend } = await strictWorker('strict-slow', 8000);
    const raw = JSON.stringify(event('sms.replied'));
    assert.equal(await postAndCut(worker, raw, 500), 'cut');

    const waiting = await worker.post(raw);
    assert.equal(waiting.status, 503);
    assert.equal(waiting.json.error, 'unavailable');
    assert.match(waiting.json.message, /still being handed off/);

    await waitFor(() => backend.received.length >= 1, { timeoutMs: 30_000, what: 'the delivery' });
    assert.equal((await worker.post(raw)).json.status, 'duplicate');
    await deliveredPast(worker, backend);
    assert.equal(copies(backend, raw), 1);
  });
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
