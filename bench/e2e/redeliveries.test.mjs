// `npm run bench` (bench/run.sh), after the table: load with redeliveries, against the
// built worker in workerd through the end-to-end harness (Miniflare's API, its local KV,
// queues and Durable Objects, a real local HTTP backend). Every distinct event reaches
// the backend at least once, and the redeliveries that got through dedup are counted, in
// both dedup modes. KV's check-then-write is not atomic, so a redelivery that races its
// original can pass it — but one sent after its original was answered must not; the
// Durable Object mode claims atomically and must let none through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRET, event, sleep, startWorker, waitFor, everyLineWasJson } from '../../tests/e2e/harness.mjs';
import { sign } from '../../tools/lib/leadnest.mjs';
import { startBackend } from '../../tools/backend.mjs';

// 3,000 by default (LOAD_EVENTS for more).
const TOTAL = Number(process.env.LOAD_EVENTS ?? 3_000);
const REDELIVERED = Math.round(TOTAL * 0.2);
/** The redeliveries sent right after their original, racing it (plan() below). */
const RACING = Math.ceil(REDELIVERED / 2);
const CONCURRENCY = 50;

/**
 * TOTAL requests: TOTAL − REDELIVERED distinct events, REDELIVERED of them sent twice.
 * Half the redeliveries follow their original at once (so they race it), half come later.
 */
function plan(tag) {
  const distinct = TOTAL - REDELIVERED;
  const bodies = Array.from({ length: distinct }, (_, i) =>
    JSON.stringify(event(i % 5 === 0 ? 'subscriber.updated' : 'email.delivered',
      { messageId: i % 5 === 0 ? null : `msg_${tag}_${i}`, data: { subscriber_id: `sub_${tag}_${i}` } })));
  const requests = [];
  const late = [];
  bodies.forEach((body, i) => {
    requests.push(body);
    if (i < REDELIVERED) (i % 2 === 0 ? requests : late).push(body);
  });
  return { distinct, requests: requests.concat(late) };
}

const ATTEMPTS = 6;

/** Posts one event as LeadNest does: a connection error or a 5xx is retried, backing off. */
async function deliver(worker, body, counts) {
  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) await sleep(250 * 2 ** (attempt - 2));
    let reason;
    try {
      const response = await fetch(`${worker.url}/webhooks/leadnest`, {
        method: 'POST', body, headers: { 'x-leadnest-signature': sign(body, SECRET) },
      });
      const text = await response.text();
      if (response.status === 200) return JSON.parse(text).status;
      if (response.status < 500 || attempt === ATTEMPTS) return `${response.status} ${text.slice(0, 60)}`;
      reason = `${response.status} ${text.slice(0, 60)}`;
    } catch (error) {
      if (attempt === ATTEMPTS) return String(error.cause ?? error);
      reason = String(error.cause ?? error);
    }
    counts.retried += 1;
    counts.retries[reason] = (counts.retries[reason] ?? 0) + 1;
  }
}

async function run(worker, requests) {
  const counts = { accepted: 0, duplicate: 0, retried: 0, retries: {}, other: {} };
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < requests.length) {
      const status = await deliver(worker, requests[next++], counts);
      if (status === 'accepted' || status === 'duplicate') counts[status] += 1;
      else counts.other[status] = (counts.other[status] ?? 0) + 1;
    }
  }));
  counts.seconds = (performance.now() - started) / 1000;
  return counts;
}

for (const mode of ['kv', 'durable']) {
  describe(`${TOTAL} events, 20% redelivered, concurrency ${CONCURRENCY}, ${mode} dedup`, () => {
    let worker;
    let backend;
    before(async () => {
      backend = await startBackend({ port: 0, log: () => {} });
      worker = await startWorker(`load-${mode}`, {
        durable: mode === 'durable',
        // Dedup and delivery under load, as measured before the event log: with it, local
        // The event log shares the machine (15 % fewer requests a second here); its cost is the
        // bench's to measure (bench/ab.mjs AB_EVENTS), its behaviour event-log.test.mjs's.
        events: false,
        maxBatchSize: 100,
        // The bodies are signed up front: on a slow machine the last are sent minutes
        // later, and must not be refused as stale.
        vars: { ROUTES: [{ name: 'sink', url: `${backend.url}/sink`, events: ['*'] }], TIMESTAMP_TOLERANCE_SECONDS: '3600' },
      });
    });
    after(async () => {
      await worker?.stop();
      await backend?.close();
    });

    test('every distinct event reaches the backend; redeliveries that got through are counted', { timeout: 600_000 }, async (t) => {
      const { distinct, requests } = plan(mode);
      const counts = await run(worker, requests);
      assert.deepEqual(counts.other, {}, 'every event is answered 200, retried as LeadNest would');
      assert.equal(counts.accepted + counts.duplicate, TOTAL);
      // A retried request whose first try was processed can count as a leak too (KV).
      const leaked = counts.accepted - distinct;
      t.diagnostic(`${mode}: ${counts.accepted} accepted, ${counts.duplicate} duplicate, ${leaked} redeliveries leaked, ${counts.retried} requests retried after a connection error or 5xx ${JSON.stringify(counts.retries)}, ${(TOTAL / counts.seconds).toFixed(0)} req/s`);
      assert.ok(leaked >= 0);
      if (mode === 'durable') assert.equal(leaked, 0, 'strict dedup lets no redelivery through');
      // KV: only the half of the redeliveries that race their original may pass (measured
      // here: 279 of those 300 did); a late one found the original's key, or dedup is broken.
      else assert.ok(leaked <= RACING, `${leaked} redeliveries leaked, more than the ${RACING} that raced their original`);

      const delivered = () => new Set(backend.received.map((r) => r.body.toString())).size;
      await waitFor(() => delivered() === distinct, { timeoutMs: 120_000, intervalMs: 500, what: `${distinct} distinct deliveries (have ${delivered()})` });
      t.diagnostic(`${mode}: ${backend.received.length} deliveries for ${distinct} distinct events`);
    });
  });
}

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
