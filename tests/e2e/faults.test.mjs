// Faults between the worker and its backends, and a restarted worker: the event
// is delivered once the fault clears, or LeadNest is told to retry.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { event, freePort, startWorker, waitFor, sleep, everyLineWasJson } from './harness.mjs';
import { startBackend } from '../../tools/backend.mjs';

const quiet = () => {};
const cleanup = [];
after(async () => {
  for (const stop of cleanup.reverse()) await stop();
});

/** A backend whose answer the test switches: 'ok', 'fail' (503) or a delay in ms. */
async function switchableBackend() {
  const state = { mode: 'ok', received: [] };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      state.received.push({ headers: req.headers, body: Buffer.concat(chunks), mode: state.mode });
      if (typeof state.mode === 'number') await sleep(state.mode);
      res.writeHead(state.mode === 'fail' ? 503 : 200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${server.address().port}/hook`;
  state.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  cleanup.push(state.close);
  return state;
}

async function queueWorker(name, url, vars = {}) {
  const worker = await startWorker(name, {
    maxRetries: 8,
    vars: { DELIVERY_RETRY_BASE_SECONDS: '1', ROUTES: [{ name: 'backend', url, events: ['*'] }], ...vars },
  });
  cleanup.push(() => worker.stop());
  return worker;
}

const outcomes = (worker, id) => worker.deliveries(id).map((l) => [l.attempt, l.outcome, l.status ?? l.error]);

describe('backend faults, with DELIVERY_QUEUE', () => {
  test('connection refused until the backend starts: delivered', async () => {
    const port = await freePort();
    const worker = await queueWorker('fault-refused', `http://127.0.0.1:${port}/hook`);
    const answer = await worker.post(event('email.sent'));
    assert.equal(answer.status, 200);
    const first = await waitFor(() => worker.deliveries()[0], { what: 'a first attempt' });
    assert.equal(first.error, 'network error');
    const backend = await startBackend({ port, log: quiet });
    cleanup.push(() => backend.close());
    await waitFor(() => worker.deliveries().find((l) => l.outcome === 'delivered'), { what: 'the delivery' });
    assert.equal(backend.received.length, 1);
    const lines = outcomes(worker, first.webhook_id);
    assert.ok(lines.length >= 2 && lines.at(-1)[1] === 'delivered', JSON.stringify(lines));
  });

  test('a backend that does not answer in time: the attempt times out and is retried', async () => {
    const backend = await switchableBackend();
    const worker = await queueWorker('fault-timeout', backend.url, { DELIVERY_TIMEOUT_SECONDS: '1' });
    backend.mode = 3000;
    const answer = await worker.post(event('sms.sent'));
    assert.equal(answer.status, 200);
    const first = await waitFor(() => worker.deliveries()[0], { what: 'the first attempt' });
    assert.equal(first.error, 'timeout');
    assert.ok(first.duration_ms < 2500, `gave up after ${first.duration_ms} ms`);
    backend.mode = 'ok';
    await waitFor(() => worker.deliveries().find((l) => l.outcome === 'delivered'), { what: 'the delivery' });
    assert.deepEqual(new Set(backend.received.map((r) => r.headers['x-leadnest-event'])), new Set(['sms.sent']));
  });

  test('a backend down for a long outage (backoff compressed to 1 s doubling): delivered when it is back', async () => {
    const backend = await switchableBackend();
    backend.mode = 'fail';
    const worker = await queueWorker('fault-outage', backend.url);
    const bodies = [event('whatsapp.read'), event('subscriber.deleted', { messageId: null })];
    for (const body of bodies) assert.equal((await worker.post(body)).status, 200);
    // Attempts at about 0, 1, 3, 7 s: let a few fail, then recover.
    await waitFor(() => worker.deliveries().filter((l) => l.attempt === 3).length === 2, { timeoutMs: 30_000, what: 'third attempts' });
    backend.mode = 'ok';
    await waitFor(() => worker.deliveries().filter((l) => l.outcome === 'delivered').length === 2, { timeoutMs: 30_000, what: 'both deliveries' });
    const delivered = backend.received.filter((r) => r.mode === 'ok').map((r) => JSON.parse(r.body).event).sort();
    assert.deepEqual(delivered, ['subscriber.deleted', 'whatsapp.read']);
    for (const line of worker.deliveries().filter((l) => l.outcome === 'retry')) {
      assert.equal(line.retry_in_seconds, 2 ** (line.attempt - 1));
    }
  });
});

/**
 * A backend that records each request and connection, and answers with `respond(req, res, state)`.
 * `closedAfterMs` per request: how long after its arrival its connection closed.
 */
async function recordingBackend(respond) {
  const state = { received: [], connections: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      state.received.push(request);
      req.socket.once('close', () => { request.closedAfterMs = Date.now() - request.at; });
      respond(req, res, state);
    });
  });
  server.on('connection', () => { state.connections += 1; });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${server.address().port}`;
  state.port = server.address().port;
  state.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  cleanup.push(state.close);
  return state;
}

describe('redirects and response bodies, with DELIVERY_QUEUE', () => {
  test('a 302, 307 or 308 is a failed attempt, retried with its status; the redirect is never followed', async () => {
    // Where the redirects point: it answers 200 to anything, so a followed redirect would look delivered.
    const elsewhere = await recordingBackend((req, res) => res.writeHead(200).end());
    const targets = {
      302: `${elsewhere.url}/login`,
      307: `${elsewhere.url}/moved`,
      // https to the same server: following it would open a connection there.
      308: `https://127.0.0.1:${elsewhere.port}/secure`,
    };
    const redirecting = await recordingBackend((req, res) => {
      const status = Number(req.url.slice(1));
      res.writeHead(status, { location: targets[status] }).end();
    });
    const worker = await startWorker('fault-redirect', {
      maxRetries: 1,
      vars: {
        DELIVERY_RETRY_BASE_SECONDS: '1',
        ROUTES: Object.keys(targets).map((status) => ({ name: `r${status}`, url: `${redirecting.url}/${status}`, events: ['*'] })),
      },
    });
    cleanup.push(() => worker.stop());
    const answer = await worker.post(event('email.clicked'));
    assert.deepEqual(answer.json.routes, ['r302', 'r307', 'r308']);
    // max_retries 1: two attempts per route, both failed with the redirect's status.
    await waitFor(() => worker.deliveries().filter((l) => l.attempt === 2).length === 3,
      { timeoutMs: 20_000, what: 'second attempts' });
    // Each message then leaves the delivery queue for its dead-letter queue (which nothing
    // consumes here): no attempt can follow.
    await waitFor(() => (worker.output.match(/to dead letter queue/g) ?? []).length === 3, { what: 'three dead-lettered messages' });
    for (const status of Object.keys(targets)) {
      const lines = worker.deliveries().filter((l) => l.route === `r${status}`).map((l) => [l.attempt, l.outcome, l.status ?? l.error]);
      assert.deepEqual(lines, [[1, 'retry', Number(status)], [2, 'retry', Number(status)]], `route r${status}`);
    }
    assert.equal(redirecting.received.length, 6);
    assert.deepEqual(elsewhere.received.map((r) => [r.method, r.path]), []);
    assert.equal(elsewhere.connections, 0, 'a connection was opened to the redirect target');
  });

  test('every response is read and released: a body held open does not hold the connection', async () => {
    // Answers 200 and 4 KiB of body, then never ends it; the worker needs only the first 2 KiB.
    const held = await recordingBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': 'held' });
      res.write('x'.repeat(4096));
    });
    const slow = await recordingBackend((req, res) => { setTimeout(() => res.writeHead(200).end('ok'), 3000); });
    const worker = await startWorker('fault-held-body', {
      vars: {
        ROUTES: [{ name: 'held', url: held.url, events: ['*'] }, { name: 'slow', url: slow.url, events: ['*'] }],
      },
    });
    cleanup.push(() => worker.stop());
    // One event, two routes: two messages in one batch.
    assert.deepEqual((await worker.post(event('sms.delivered'))).json.routes, ['held', 'slow']);
    await waitFor(() => worker.deliveries().filter((l) => l.outcome === 'delivered').length === 2,
      { timeoutMs: 20_000, what: 'both deliveries' });
    const [request] = held.received;
    await waitFor(() => request.closedAfterMs !== undefined, { timeoutMs: 10_000, what: 'the held connection to close' });
    assert.ok(request.closedAfterMs < 1500, `the held connection closed after ${request.closedAfterMs} ms`);
    assert.deepEqual(worker.deliveries().map((l) => [l.route, l.attempt, l.outcome, l.status]).sort(),
      [['held', 1, 'delivered', 200], ['slow', 1, 'delivered', 200]]);
  });

  test('a body that never ends, one cut off and none at all: delivered, the read bounded by the timeout', async () => {
    const trickle = await recordingBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ok":');
    });
    const cut = await recordingBackend((req, res) => {
      res.writeHead(200, { 'content-length': '4096' });
      res.write('x'.repeat(100), () => res.destroy());
    });
    const empty = await recordingBackend((req, res) => res.writeHead(204).end());
    const worker = await startWorker('fault-odd-bodies', {
      vars: {
        DELIVERY_TIMEOUT_SECONDS: '2',
        ROUTES: [trickle, cut, empty].map((backend, n) => ({ name: ['trickle', 'cut', 'empty'][n], url: backend.url, events: ['*'] })),
      },
    });
    cleanup.push(() => worker.stop());
    assert.deepEqual((await worker.post(event('email.delivered'))).json.routes, ['trickle', 'cut', 'empty']);
    await waitFor(() => worker.deliveries().filter((l) => l.outcome === 'delivered').length === 3,
      { timeoutMs: 20_000, what: 'three deliveries' });
    const lines = Object.fromEntries(worker.deliveries().map((l) => [l.route, [l.attempt, l.outcome, l.status]]));
    assert.deepEqual(lines, { trickle: [1, 'delivered', 200], cut: [1, 'delivered', 200], empty: [1, 'delivered', 204] });
    // The stalled body is given up at the attempt's timeout, and its connection closed then.
    const stalled = worker.deliveries().find((l) => l.route === 'trickle');
    assert.ok(stalled.duration_ms >= 1900 && stalled.duration_ms < 3000, `attempt took ${stalled.duration_ms} ms`);
    const [request] = trickle.received;
    await waitFor(() => request.closedAfterMs !== undefined, { timeoutMs: 5000, what: 'the stalled connection to close' });
    assert.ok(request.closedAfterMs < 3000, `closed after ${request.closedAfterMs} ms`);
    assert.ok(!/Uncaught|panicked/.test(worker.output), worker.output.slice(-2000));
  });
});

describe('a TLS failure to one backend, with DELIVERY_QUEUE', () => {
  test('does not fail its batch: the other route gets the event once, the failed one is retried alone', async () => {
    const healthy = await recordingBackend((req, res) => res.writeHead(200).end());
    // https to a plain-http port: the TLS handshake fails (wrong version number).
    const plain = await recordingBackend((req, res) => res.writeHead(200).end());
    const worker = await startWorker('fault-tls', {
      // Two attempts per message, so the second batch is the failed route's retry and
      // its last: a failed batch would retry and then dead-letter the delivered message too.
      maxRetries: 1,
      vars: {
        DELIVERY_RETRY_BASE_SECONDS: '1',
        ROUTES: [{ name: 'healthy', url: `${healthy.url}/hook`, events: ['*'] },
          { name: 'tls', url: `https://localhost:${plain.port}/hook`, events: ['*'] }],
      },
    });
    cleanup.push(() => worker.stop());
    // One event, two routes: two messages in one batch.
    assert.deepEqual((await worker.post(event('email.bounced'))).json.routes, ['healthy', 'tls']);
    await waitFor(() => /Moving message .* to dead letter queue/.test(worker.output),
      { timeoutMs: 20_000, what: 'the TLS route to be dead-lettered' });
    // The second batch is the TLS route's retry, and would hold the healthy message too
    // were the first batch failed: once it has ended, a redelivery would have arrived.
    await waitFor(() => worker.batches('e2e-fault-tls-deliveries').length >= 2, { what: 'the second batch' });
    const lines = (route) => worker.deliveries().filter((l) => l.route === route)
      .map((l) => [l.attempt, l.outcome, l.status ?? l.error]);
    assert.deepEqual(lines('healthy'), [[1, 'delivered', 200]]);
    assert.equal(healthy.received.length, 1);
    assert.deepEqual(lines('tls'), [[1, 'retry', 'network error'], [2, 'retry', 'network error']]);
    assert.equal(plain.received.length, 0);
    // Miniflare's account of each batch: the delivered message acked, only the TLS one retried.
    const batches = worker.batches('e2e-fault-tls-deliveries').map((b) => `${b.acked}/${b.total}`);
    assert.deepEqual(batches, ['1/2', '0/1'], worker.output.slice(-3000));
    assert.equal(worker.output.match(/to dead letter queue/g).length, 1);
    // workerd logs its own failed request-body upload as "Uncaught Error: internal error"
    // (api/http.c++ rethrows any non-DISCONNECTED error of that pump); the worker itself
    // leaves no rejection unhandled and does not panic.
    const uncaught = worker.output.split('\n').filter((line) => /Uncaught|panicked/.test(line));
    for (const line of uncaught) assert.match(line, /Uncaught Error: internal error; reference = \w+\s*$/);
  });
});

describe('a restarted worker', () => {
  test('keeps its dedup records, and an event it never answered is accepted on retry', async () => {
    const backend = await startBackend({ port: 0, log: quiet });
    cleanup.push(() => backend.close());
    const options = { deliveryQueue: false, vars: { ROUTES: [{ name: 'b', url: backend.url, events: ['*'] }] } };
    const accepted = event('email.opened');
    let worker = await startWorker('fault-restart', options);
    assert.equal((await worker.post(accepted)).json.status, 'accepted');
    await waitFor(() => backend.received.length === 1, { what: 'the first delivery' });
    // The isolate and its process die at once, as on a crash or an eviction.
    await worker.crash();

    worker = await startWorker('fault-restart', { ...options, keepState: true });
    cleanup.push(() => worker.stop());
    // LeadNest redelivers the answered event: still a duplicate after the restart.
    assert.equal((await worker.post(accepted)).json.status, 'duplicate');
    // An event whose request died with the old worker got no 200, so LeadNest retries it.
    const unanswered = event('email.clicked');
    assert.equal((await worker.post(unanswered)).json.status, 'accepted');
    await waitFor(() => backend.received.length === 2, { what: 'the second delivery' });
  });
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
