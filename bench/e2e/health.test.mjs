// `npm run bench` (bench/run.sh), after the table: what destination health (SPEC section
// 10) costs, against the built worker in workerd through the end-to-end harness (local
// queues and Durable Objects, a real local backend). Two figures, each a line marked ℹ:
// - the cost of the state check per queued delivery: the same events through one HTTP
//   route with health on and off, workerd's CPU per delivery (its Durable Objects run in
//   the same process) and the objects' calls per delivery;
// - the drain rate: a paused route holds HEALTH_EVENTS deliveries, then is resumed; held
//   deliveries sent a second.
// Each run also checks what it measures: every event delivered exactly once.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { event, startWorker, waitFor } from '../../tests/e2e/harness.mjs';
import { cpuSeconds } from '../harness.mjs';

const EVENTS = Number(process.env.HEALTH_EVENTS ?? 2_000);
const CONCURRENCY = 20;
const TOKEN = 'bench-health-admin-token-0123456789abcdef';
const RUN = Date.now().toString(36);

/** A backend that answers 200 at once and counts each event it gets. */
async function sink() {
  const seen = new Map();
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const id = req.headers['webhook-id'] ?? JSON.parse(Buffer.concat(chunks).toString()).data?.message_id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    res.writeHead(200).end('{}');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    seen,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Posts EVENTS events, CONCURRENCY at a time. */
async function post(worker, tag) {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < EVENTS) {
      const i = next++;
      const answer = await worker.post(event('email.opened', { messageId: `msg_${RUN}_${tag}_${i}` }));
      assert.equal(answer.status, 200);
    }
  }));
}

const everyOnce = (seen) => seen.size === EVENTS && [...seen.values()].every((count) => count === 1);

describe('destination health: the state check per delivery, and the drain', { timeout: 600_000 }, () => {
  const open = [];
  after(async () => {
    for (const item of open) await item.close?.() ?? await item.stop?.();
  });

  test('the state check per queued delivery: CPU with health on and off, and calls', async (t) => {
    const perDelivery = {};
    for (const health of [false, true]) {
      const backend = await sink();
      open.push(backend);
      const worker = await startWorker(`bench-health-${health ? 'on' : 'off'}`, {
        health, events: false, maxRetries: 3, vars: { ROUTES: [{ name: 'crm', url: backend.url }] },
      });
      open.push(worker);
      const before = cpuSeconds(worker.pid);
      await post(worker, health ? 'on' : 'off');
      await waitFor(() => backend.seen.size >= EVENTS, { timeoutMs: 300_000, what: 'every delivery' });
      perDelivery[health] = ((cpuSeconds(worker.pid) - before) / EVENTS) * 1e6;
      assert.ok(everyOnce(backend.seen), 'each event delivered exactly once');
      if (health) {
        // One admit and one settle a batch and route.
        const batches = worker.batches().length;
        t.diagnostic(`health: ${(2 * batches / EVENTS).toFixed(2)} Durable Object calls per delivery (${batches} batches of ${EVENTS} deliveries)`);
      }
      await worker.stop();
    }
    t.diagnostic(`health: workerd CPU per delivery (ingress, queue, attempt): off ${perDelivery.false.toFixed(0)} µs, on ${perDelivery.true.toFixed(0)} µs (+${(perDelivery.true - perDelivery.false).toFixed(0)} µs, ${(perDelivery.true / perDelivery.false).toFixed(2)}×)`);
  });

  test('the drain: held deliveries sent a second once a paused route resumes', async (t) => {
    const backend = await sink();
    open.push(backend);
    const worker = await startWorker('bench-health-drain', {
      health: true, adminToken: TOKEN, maxRetries: 3,
      vars: { ROUTES: [{ name: 'crm', url: backend.url }] },
    });
    open.push(worker);
    assert.equal((await worker.admin('POST', '/admin/api/routes/crm/pause')).status, 200);
    await post(worker, 'drain');
    await waitFor(async () => (await worker.admin('GET', '/admin/api/routes')).json.routes[0].held >= EVENTS,
      { timeoutMs: 300_000, intervalMs: 500, what: 'every delivery held' });
    assert.equal(backend.seen.size, 0);
    const started = Date.now();
    const cpuBefore = cpuSeconds(worker.pid);
    assert.equal((await worker.admin('POST', '/admin/api/routes/crm/resume')).status, 200);
    await waitFor(() => backend.seen.size >= EVENTS, { timeoutMs: 300_000, intervalMs: 50, what: 'the drain' });
    const seconds = (Date.now() - started) / 1000;
    assert.ok(everyOnce(backend.seen), 'each held delivery sent exactly once');
    t.diagnostic(`health: drain of ${EVENTS} held deliveries in ${seconds.toFixed(1)} s: ${(EVENTS / seconds).toFixed(0)} a second, ${(((cpuSeconds(worker.pid) - cpuBefore) / EVENTS) * 1e6).toFixed(0)} µs of workerd CPU each`);
  });
});
