// SPEC section 8: the event log and the admin API, against the built worker in
// workerd (Miniflare's API), its local Durable Objects, its local queues and real local
// HTTP backends.
//
// One worker with the delivery queue (max_retries 2: three attempts, 1 s then 2 s apart)
// and its dead-letter queue consumed as wrangler.toml does, so a delivery whose retries
// are spent is recorded as failed; routes:
//   ok        email.opened      answers 200 with headers and a body of its own
//   flaky     sms.failed        500 twice, then 200
//   down      sms.delivered     500 until it is made healthy
//   pair_a/b  subscriber.created two routes of one event
//   echo      email.clicked     answers with the request's headers in its body and headers
// and unknown events (paging.*) that no route takes. A second worker runs without
// ADMIN_TOKEN.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { CRON, SECRET, SIGNING_SECRET, event, sleep, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { sign } from '../../tools/lib/leadnest.mjs';

const RUN = Date.now().toString(36);
const id = (label) => `msg_${RUN}_${label}`;
const TOKEN = `e2e-admin-token-${'0123456789abcdef'.repeat(3)}`;
const DAY_MS = 86_400_000;

/**
 * A backend whose answer to each request is `answer(request, n)` (n counts from 1):
 * { status, headers, body }. Records { headers, body, status } per request.
 */
async function backend(answer = () => ({ status: 200 })) {
  const received = [];
  const self = { delay: 0 };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = { headers: req.headers, body: Buffer.concat(chunks) };
    const { status = 200, headers = { 'content-type': 'application/json' }, body = '{"ok":true}' } = answer(request, received.length + 1);
    // A slow backend answers after `delay` ms.
    if (self.delay > 0) await sleep(self.delay);
    received.push({ ...request, status });
    res.writeHead(status, headers);
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(self, {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  });
}

const messageIdOf = (request) => {
  try {
    return JSON.parse(request.body.toString('utf8')).data?.message_id;
  } catch {
    return undefined;
  }
};

describe('the event log and the admin API', () => {
  let worker;
  let disabled;
  const backends = {};
  let downHealthy = false;
  const started = Date.now();
  /** Every admin answer's text, and every X-LeadNest-Signature sent: checked for secrets at the end. */
  const answers = [];
  const signatures = [];
  /** What the ingress answered, tallied for the stats. */
  const tally = { accepted: 0, duplicate: 0, rejected: {} };

  before(async () => {
    backends.ok = await backend(() => ({
      status: 200,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-backend': 'crm-7' },
      body: 'stored: thank you',
    }));
    backends.flaky = await backend((request, n) => (n <= 2 ? { status: 500, body: `{"error":"try ${n}"}` } : { status: 200 }));
    backends.down = await backend(() => (downHealthy ? { status: 200 } : { status: 500 }));
    backends.pair_a = await backend();
    backends.pair_b = await backend();
    backends.echo = await backend((request) => ({
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-echo-a': request.headers['x-leadnest-signature'] ?? '',
        'x-echo-b': request.headers['webhook-signature'] ?? '',
      },
      // Echoed as-is, upper-cased, and JSON-escaped as some encoders write a `/`.
      body: JSON.stringify({
        received_headers: request.headers,
        loud: (request.headers['x-leadnest-signature'] ?? '').toUpperCase(),
      }).replace('"loud"', `"escaped":"${(request.headers['webhook-signature'] ?? '').replaceAll('/', '\\/')}","loud"`),
    }));
    const route = (name, events) => ({ name, url: backends[name].url, events, signing_secret: 'CRM_SIGNING_SECRET' });
    worker = await startWorker('event-log', {
      scheduled: true,
      maxRetries: 2,
      deadLetterConsumer: true,
      adminToken: TOKEN,
      secrets: { CRM_SIGNING_SECRET: SIGNING_SECRET },
      vars: {
        DELIVERY_RETRY_BASE_SECONDS: '1',
        // Delivered attempts keep what the backend answered too: the tests below read it.
        LOG_RESPONSES: 'all',
        ROUTES: [
          route('ok', ['email.opened']),
          route('flaky', ['sms.failed']),
          route('down', ['sms.delivered']),
          route('pair_a', ['subscriber.created']),
          route('pair_b', ['subscriber.created']),
          route('echo', ['email.clicked']),
        ],
      },
    });
    disabled = await startWorker('event-log-disabled', { deliveryQueue: false });
  });
  after(async () => {
    await Promise.all([worker?.stop(), disabled?.stop()]);
    await Promise.all(Object.values(backends).map((b) => b.close()));
  });

  /** Posts an event (or raw text) to the ingress and tallies the answer. */
  async function post(body, options) {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    if (options?.signature === undefined) signatures.push(sign(raw, SECRET));
    const answer = await worker.post(raw, options);
    if (answer.json.status === 'accepted') tally.accepted += 1;
    else if (answer.json.status === 'duplicate') tally.duplicate += 1;
    else if (answer.status >= 400) tally.rejected[answer.json.error] = (tally.rejected[answer.json.error] ?? 0) + 1;
    return { ...answer, raw };
  }

  async function admin(method, path, body, options) {
    const answer = await worker.admin(method, path, body, options);
    answers.push(JSON.stringify(answer.json));
    return answer;
  }

  /** The listed event with this message_id, once the log has it. */
  async function listed(messageId, predicate = () => true, what = `the event ${messageId} in the log`) {
    return waitFor(async () => {
      const { status, json } = await admin('GET', `/admin/api/events?message_id=${encodeURIComponent(messageId)}`);
      assert.equal(status, 200, JSON.stringify(json));
      return json.events.length > 0 && predicate(json.events[0]) && json.events[0];
    }, { timeoutMs: 45_000, intervalMs: 200, what });
  }

  async function detail(eventId) {
    const { status, json } = await admin('GET', `/admin/api/events/${encodeURIComponent(eventId)}`);
    assert.equal(status, 200, JSON.stringify(json));
    return json;
  }

  const attemptsOf = (event, route) => event.deliveries.find((d) => d.route === route)?.attempts ?? [];

  test('an event delivered at the first try: listed delivered, with one attempt holding the backend\'s answer', async () => {
    const sent = await post(event('email.opened', { messageId: id('first') }));
    assert.deepEqual(sent.json.routes, ['ok']);
    const listedEvent = await listed(id('first'), (e) => e.status === 'delivered');
    assert.equal(listedEvent.event, 'email.opened');
    assert.equal(listedEvent.message_id, id('first'));
    assert.equal(listedEvent.redeliveries, 0);
    assert.deepEqual(listedEvent.routes, [{ name: 'ok', status: 'delivered', attempts: 1 }]);
    const [request] = backends.ok.received.filter((r) => messageIdOf(r) === id('first'));
    assert.equal(listedEvent.id, request.headers['webhook-id']);

    const full = await detail(listedEvent.id);
    assert.equal(full.body, sent.raw);
    assert.equal(full.timestamp, JSON.parse(sent.raw).timestamp);
    assert.ok(Date.parse(full.received_at) >= started && Date.parse(full.received_at) <= Date.now());
    assert.equal(full.deliveries.length, 1);
    assert.equal(full.deliveries[0].status, 'delivered');
    const [attempt, ...more] = attemptsOf(full, 'ok');
    assert.equal(more.length, 0);
    assert.equal(attempt.attempt, 1);
    assert.equal(attempt.outcome, 'delivered');
    assert.equal(attempt.status, 200);
    assert.equal(attempt.headers['x-backend'], 'crm-7');
    assert.equal(attempt.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(attempt.body, 'stored: thank you');
    assert.equal(attempt.error, null);
    assert.ok(Number.isInteger(attempt.duration_ms) && attempt.duration_ms >= 0);
    assert.ok(Date.parse(attempt.at) >= Date.parse(full.received_at) - 1000);
  });

  test('a backend failing twice then answering: pending while it retries, then delivered with three attempts', async () => {
    const sent = await post(event('sms.failed', { messageId: id('flaky') }));
    assert.deepEqual(sent.json.routes, ['flaky']);
    // Between the first failure and the third attempt (1 s, then 2 s later).
    const pending = await listed(id('flaky'), (e) => e.routes[0]?.attempts >= 1, 'the first failed attempt in the log');
    assert.equal(pending.status, 'pending');
    assert.equal(pending.routes[0].status, 'pending');
    const early = await detail(pending.id);
    assert.deepEqual(attemptsOf(early, 'flaky')[0].outcome, 'retry');
    assert.equal(attemptsOf(early, 'flaky')[0].status, 500);
    assert.equal(attemptsOf(early, 'flaky')[0].body, '{"error":"try 1"}');

    const done = await listed(id('flaky'), (e) => e.status === 'delivered', 'the delivery after two failures');
    assert.deepEqual(done.routes, [{ name: 'flaky', status: 'delivered', attempts: 3 }]);
    const attempts = attemptsOf(await detail(done.id), 'flaky');
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.status]),
      [[1, 'retry', 500], [2, 'retry', 500], [3, 'delivered', 200]]);
    assert.deepEqual(backends.flaky.received.map((r) => r.headers['webhook-id']), Array(3).fill(done.id));
  });

  let failedId;
  test('a backend down past the retries: failed, and listed by status=failed', async () => {
    const sent = await post(event('sms.delivered', { messageId: id('down') }));
    assert.deepEqual(sent.json.routes, ['down']);
    const failed = await listed(id('down'), (e) => e.status === 'failed', 'the delivery recorded as failed');
    failedId = failed.id;
    assert.deepEqual(failed.routes, [{ name: 'down', status: 'failed', attempts: 3 }]);
    const attempts = attemptsOf(await detail(failed.id), 'down');
    assert.deepEqual(attempts.map((a) => [a.attempt, a.status]), [[1, 500], [2, 500], [3, 500]]);
    const { json } = await admin('GET', '/admin/api/events?status=failed');
    assert.deepEqual(json.events.map((e) => e.id), [failed.id]);
    assert.equal(backends.down.received.length, 3);
  });

  test('the backend fixed, a bulk replay of the window delivers it: same webhook-id, the body byte for byte', async () => {
    assert.ok(failedId, 'needs the failed event of the test before');
    downHealthy = true;
    const { status, json } = await admin('POST', '/admin/api/replay',
      { status: 'failed', route: 'down', since: new Date(started).toISOString(), until: Math.ceil(Date.now() / 1000) + 60 });
    assert.equal(status, 202, JSON.stringify(json));
    assert.equal(json.replayed, 1);
    assert.equal(json.next_cursor, null);
    const delivered = await listed(id('down'), (e) => e.status === 'delivered', 'the replayed delivery');
    assert.equal(delivered.id, failedId);
    assert.deepEqual(delivered.routes, [{ name: 'down', status: 'delivered', attempts: 4 }]);
    const attempts = attemptsOf(await detail(failedId), 'down');
    assert.deepEqual(attempts.map((a) => [a.attempt, a.outcome, a.status]).at(-1), [4, 'delivered', 200]);
    const [first, ...rest] = backends.down.received;
    const replayed = backends.down.received.at(-1);
    assert.equal(replayed.status, 200);
    assert.equal(replayed.headers['webhook-id'], failedId);
    assert.ok(replayed.body.equals(first.body), 'the replayed body differs from the original');
    assert.ok(rest.every((r) => r.headers['webhook-id'] === failedId));
    assert.equal((await admin('GET', '/admin/api/events?status=failed')).json.events.length, 0);
  });

  let pairId;
  test('a replay of one route of a two-route event reaches that route only', async () => {
    const sent = await post(event('subscriber.created', { messageId: id('pair') }));
    assert.deepEqual(sent.json.routes, ['pair_a', 'pair_b']);
    const both = await listed(id('pair'), (e) => e.status === 'delivered', 'both deliveries');
    pairId = both.id;
    assert.deepEqual(both.routes.map((r) => [r.name, r.status, r.attempts]).sort(),
      [['pair_a', 'delivered', 1], ['pair_b', 'delivered', 1]]);
    const batched = worker.batched('e2e-event-log-deliveries');
    const { status, json } = await admin('POST', `/admin/api/events/${pairId}/replay`, { routes: ['pair_b'] });
    assert.equal(status, 202, JSON.stringify(json));
    assert.deepEqual(json, { replayed: ['pair_b'] });
    await waitFor(() => backends.pair_b.received.length === 2, { what: 'the replay at pair_b' });
    const again = await listed(id('pair'), (e) => e.routes.find((r) => r.name === 'pair_b')?.attempts === 2
      && e.status === 'delivered', 'the replayed attempt in the log');
    assert.deepEqual(again.routes.map((r) => [r.name, r.attempts]).sort(), [['pair_a', 1], ['pair_b', 2]]);
    // The replay's messages go to the queue in one send: once a batch has carried the
    // one to pair_b, one to pair_a would have been delivered with it.
    await waitFor(() => worker.batched('e2e-event-log-deliveries') > batched, { what: 'the replay\'s batch' });
    assert.equal(backends.pair_a.received.length, 1);
    assert.equal(backends.pair_b.received.length, 2);
    assert.ok(backends.pair_b.received[1].body.equals(backends.pair_b.received[0].body));
    assert.equal(backends.pair_b.received[1].headers['webhook-id'], pairId);
    // A route the event never went to is refused.
    const wrong = await admin('POST', `/admin/api/events/${pairId}/replay`, { routes: ['ok'] });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_request');
  });

  test('an unknown event id is 404 not_found', async () => {
    for (const [method, path] of [['GET', '/admin/api/events/msg_00000000000000000000000000000000'],
      ['POST', '/admin/api/events/msg_00000000000000000000000000000000/replay']]) {
      const { status, json } = await admin(method, path);
      assert.equal(status, 404, `${method} ${path}`);
      assert.equal(json.error, 'not_found');
    }
  });

  // The token's rules (every call, each near miss: empty, one character off, longer,
  // shorter, not Bearer) are the core's, tested natively in tests/it/admin.rs
  // `every_call_needs_the_exact_token_before_any_query`; here, the wiring: the
  // ADMIN_TOKEN secret and the Authorization header reach them.
  test('no token or a token one character off: 401 unauthorized, and the refused call does nothing', async () => {
    const oneOff = TOKEN.slice(0, -1) + (TOKEN.at(-1) === 'f' ? 'e' : 'f');
    const tokens = { none: null, 'one character off': oneOff };
    const calls = [['GET', '/admin/api/events'], ['POST', '/admin/api/test', { event: 'email.opened' }]];
    for (const [label, token] of Object.entries(tokens)) {
      for (const [method, path, body] of calls) {
        const { status, json } = await admin(method, path, body, { token });
        assert.equal(status, 401, `${label}: ${method} ${path} answered ${status}`);
        assert.equal(json.error, 'unauthorized', `${label}: ${method} ${path}`);
        assert.equal(typeof json.message, 'string');
      }
    }
    // Not a bearer token at all.
    const basic = await admin('GET', '/admin/api/events', undefined,
      { token: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    // Refused calls changed nothing: the test call sent no event.
    assert.equal(backends.ok.received.filter((r) => messageIdOf(r) !== id('first')).length, 0);
  });

  test('without ADMIN_TOKEN every /admin path answers 404', async () => {
    for (const [method, path] of [['GET', '/admin/api/events'], ['GET', '/admin/api/stats'],
      ['POST', '/admin/api/replay'], ['POST', '/admin/api/test'], ['GET', '/admin'], ['GET', '/admin/'],
      ['GET', '/admin/index.html']]) {
      for (const token of [TOKEN, null]) {
        const response = await fetch(`${disabled.url}${path}`, {
          method, headers: token ? { authorization: `Bearer ${token}` } : {}, body: method === 'POST' ? '{}' : undefined,
        });
        await response.arrayBuffer();
        assert.equal(response.status, 404, `${method} ${path} answered ${response.status}`);
      }
    }
  });

  test('filters and the cursor return every event exactly once across pages while new events arrive', async () => {
    const first = [];
    for (let i = 0; i < 23; i++) {
      const name = i % 3 === 0 ? 'paging.first' : 'paging.second';
      const sent = await post(event(name, { messageId: id(`page_${i}`) }));
      assert.deepEqual(sent.json.routes, []);
      first.push({ messageId: id(`page_${i}`), name });
    }
    const all = await waitFor(async () => {
      const { json } = await admin('GET', '/admin/api/events?event=paging.*&limit=200');
      return json.events.length === first.length && json.events;
    }, { what: 'the paging events in the log' });
    assert.deepEqual(new Set(all.map((e) => e.message_id)), new Set(first.map((e) => e.messageId)));
    assert.ok(all.every((e) => e.status === 'unrouted' && e.routes.length === 0));
    // Newest first.
    const received = all.map((e) => Date.parse(e.received_at));
    assert.deepEqual(received, [...received].sort((a, b) => b - a));

    const seen = [];
    let cursor = null;
    let pages = 0;
    let later = 0;
    do {
      const query = `/admin/api/events?event=paging.*&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const { status, json } = await admin('GET', query);
      assert.equal(status, 200, JSON.stringify(json));
      assert.ok(json.events.length <= 5);
      seen.push(...json.events.map((e) => e.message_id));
      cursor = json.next_cursor;
      pages += 1;
      // New events arrive between pages (and reach the log before the next page).
      await post(event('paging.first', { messageId: id(`later_${later++}`) }));
      await post(event('paging.second', { messageId: id(`later_${later++}`) }));
      await listed(id(`later_${later - 1}`));
      await listed(id(`later_${later - 2}`));
    } while (cursor !== null && pages < 20);
    assert.equal(cursor, null, 'more than 20 pages');
    assert.deepEqual(seen.filter((m) => !m.includes('_later_')).sort(), first.map((e) => e.messageId).sort());
    assert.equal(new Set(seen).size, seen.length, 'an event was listed twice');
    assert.deepEqual(seen.filter((m) => m.includes('_later_')), [], 'an event newer than the first page showed on a later one');

    // Each filter, against what the full list says.
    const everything = (await admin('GET', '/admin/api/events?event=paging.*&limit=200')).json.events;
    const exact = (await admin('GET', '/admin/api/events?event=paging.first&limit=200')).json.events;
    assert.deepEqual(exact.map((e) => e.id), everything.filter((e) => e.event === 'paging.first').map((e) => e.id));
    const unrouted = (await admin('GET', '/admin/api/events?status=unrouted&event=paging.second&limit=200')).json.events;
    assert.deepEqual(unrouted.map((e) => e.id), everything.filter((e) => e.event === 'paging.second').map((e) => e.id));
    const byRoute = (await admin('GET', '/admin/api/events?route=pair_a')).json.events;
    assert.deepEqual(byRoute.map((e) => e.message_id), [id('pair')]);
    const delivered = (await admin('GET', '/admin/api/events?status=delivered&event=sms.*')).json.events;
    assert.deepEqual(delivered.map((e) => e.message_id), [id('down'), id('flaky')]);
    // since and until, as RFC 3339 and as unix seconds.
    const middle = everything[Math.floor(everything.length / 2)];
    const at = Date.parse(middle.received_at);
    const since = (await admin('GET', `/admin/api/events?event=paging.*&limit=200&since=${encodeURIComponent(middle.received_at)}`)).json.events;
    assert.deepEqual(since.map((e) => e.id), everything.filter((e) => Date.parse(e.received_at) >= at).map((e) => e.id));
    // The second after the middle one's: it and every older event, none newer (the
    // events may all have come within one second).
    const untilSeconds = Math.floor(at / 1000) + 1;
    const until = (await admin('GET', `/admin/api/events?event=paging.*&limit=200&until=${untilSeconds}`)).json.events;
    assert.ok(until.some((e) => e.id === middle.id));
    assert.deepEqual(until.map((e) => e.id),
      everything.filter((e) => Date.parse(e.received_at) < untilSeconds * 1000).map((e) => e.id));
    // A limit over 200, or a status that is not one, is refused.
    assert.equal((await admin('GET', '/admin/api/events?limit=201')).status, 400);
    assert.equal((await admin('GET', '/admin/api/events?status=lost')).status, 400);
  });

  let redeliveredId;
  test('a redelivery increments redeliveries and creates no second event', async () => {
    const sent = await post(event('subscriber.created', { messageId: id('redelivered') }));
    assert.equal(sent.json.status, 'accepted');
    const again = await post(sent.raw);
    assert.equal(again.json.status, 'duplicate');
    const listedEvent = await listed(id('redelivered'), (e) => e.redeliveries === 1, 'the redelivery counted');
    redeliveredId = listedEvent.id;
    const { json } = await admin('GET', `/admin/api/events?message_id=${id('redelivered')}`);
    assert.equal(json.events.length, 1);
    const rows = await worker.sql(`SELECT id FROM events WHERE message_id = '${id('redelivered')}'`);
    assert.deepEqual(rows, [{ id: listedEvent.id }]);
    const delivered = () => backends.pair_a.received.filter((r) => messageIdOf(r) === id('redelivered')).length;
    await waitFor(() => delivered() > 0, { what: 'the delivery' });
    assert.equal(delivered(), 1);
  });

  test('POST /admin/api/test runs a sample event through the ingress', async () => {
    const { status, json } = await admin('POST', '/admin/api/test', { event: 'email.opened' });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.status, 'accepted');
    assert.equal(json.event, 'email.opened');
    assert.deepEqual(json.routes, ['ok']);
    tally.accepted += 1;
    await waitFor(() => backends.ok.received.some((r) => messageIdOf(r) === json.message_id), { what: 'the test event at the backend' });
    const request = backends.ok.received.find((r) => messageIdOf(r) === json.message_id);
    // Signed as LeadNest signs, with the first WEBHOOK_SECRET.
    assert.equal(request.headers['x-leadnest-signature'], sign(request.body, SECRET));
    signatures.push(request.headers['x-leadnest-signature']);
    const logged = await listed(json.message_id, (e) => e.status === 'delivered');
    assert.equal((await detail(logged.id)).body, request.body.toString('utf8'));
    const unknown = await admin('POST', '/admin/api/test', { event: 'email.teleported' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error, 'invalid_request');
  });

  test('stats count accepted, duplicate, rejected per code, delivered and failed', async () => {
    assert.equal((await post(event('email.opened', { messageId: id('forged') }), { signature: 'f'.repeat(64) })).status, 401);
    assert.equal((await post(event('email.opened', { messageId: id('unsigned') }), { signature: null })).status, 401);
    // A refusal before the ingress proper runs (another method) is counted too.
    const put = await fetch(`${worker.url}/webhooks/leadnest`, { method: 'PUT', body: '{}' });
    assert.equal(put.status, 405);
    tally.rejected[(await put.json()).error] = 1;
    // Rejection counts alone wait up to 20 s for verified traffic: an event no
    // route takes brings them along within a second.
    assert.equal((await post(event('unrouted.stats', { messageId: id('stats_carrier') }))).json.status, 'accepted');
    const hours = async () => {
      const { status, json } = await admin('GET', `/admin/api/stats?since=${Math.floor(started / 1000) - 3600}`);
      assert.equal(status, 200, JSON.stringify(json));
      const sum = { accepted: 0, duplicate: 0, rejected: {}, delivered: 0, failed: 0 };
      for (const hour of json.hours) {
        assert.ok(!Number.isNaN(Date.parse(hour.hour)));
        for (const key of ['accepted', 'duplicate', 'delivered', 'failed']) sum[key] += hour[key] ?? 0;
        for (const [code, n] of Object.entries(hour.rejected ?? {})) sum.rejected[code] = (sum.rejected[code] ?? 0) + n;
      }
      return sum;
    };
    const ingress = (sum) => ({ accepted: sum.accepted, duplicate: sum.duplicate, rejected: sum.rejected });
    let sum;
    try {
      await waitFor(async () => {
        sum = await hours();
        return isDeepStrictEqual(ingress(sum), tally);
      }, { timeoutMs: 15_000, intervalMs: 250, what: 'the ingress counts' });
    } catch {
      // Say what the worker warned of meanwhile (a failed write to the log, say).
      assert.deepEqual(ingress(sum), tally, `worker warnings: ${JSON.stringify(worker.logs.filter((l) => l.warning).slice(-5))}`);
    }
    // Every delivered attempt counts once; the one dead letter is the one failure.
    const delivered = (await worker.sql("SELECT count(*) AS n FROM attempts WHERE outcome = 'delivered'"))
      .reduce((sum, shard) => sum + shard.n, 0);
    assert.deepEqual({ delivered: sum.delivered, failed: sum.failed }, { delivered, failed: 1 });
    assert.deepEqual(tally.rejected, { invalid_signature: 1, missing_signature: 1, method_not_allowed: 1 });
  });

  /** Every secret and every signature this file's workers saw, and the stored rows. */
  async function secretsAndRows() {
    const forwarded = Object.values(backends).flatMap((b) => b.received);
    const webhookSignatures = forwarded.map((r) => r.headers['webhook-signature']).filter(Boolean)
      .flatMap((value) => value.split(' ').map((part) => part.replace(/^v1,/, '')));
    assert.ok(webhookSignatures.length > 0);
    const secrets = [SECRET, SIGNING_SECRET, SIGNING_SECRET.slice('whsec_'.length), TOKEN];
    const stored = {};
    for (const table of ['events', 'deliveries', 'attempts', 'redeliveries', 'counts']) stored[table] = await worker.sql(`SELECT * FROM ${table}`);
    assert.ok(stored.attempts.length > 0);
    // In any case and with `/` escaped: a backend may echo a signature so.
    const found = (raw) => {
      const text = raw.replace(/\\+\//g, '/').toLowerCase();
      return [...secrets, ...signatures, ...webhookSignatures].filter((value) => text.includes(value.toLowerCase()))
        .map((value) => (secrets.includes(value) ? `secret ${value.slice(0, 6)}…` : `signature ${value.slice(0, 12)}…`));
    };
    return { stored, found };
  }

  test('nothing stored or answered holds a secret or a signature', async () => {
    const { stored, found } = await secretsAndRows();
    for (const [where, text] of Object.entries({ stored: JSON.stringify(stored), answered: answers.join('\n') })) {
      assert.deepEqual(found(text), [], `${where}: holds a secret or a signature`);
      assert.doesNotMatch(text, /x-leadnest-signature|webhook-signature/i, `${where}: names a signature header`);
    }
  });

  test('a backend that echoes the request\'s headers in its answer: the attempt stored holds no signature either', async () => {
    const sent = await post(event('email.clicked', { messageId: id('echo') }));
    assert.deepEqual(sent.json.routes, ['echo']);
    const logged = await listed(id('echo'), (e) => e.status === 'delivered');
    const attempt = attemptsOf(await detail(logged.id), 'echo')[0];
    assert.equal(attempt.status, 200);
    const { stored, found } = await secretsAndRows();
    assert.deepEqual(found(JSON.stringify(stored.attempts)), [], 'the stored attempts hold a signature');
    assert.deepEqual(found(JSON.stringify(attempt)), [], 'GET /admin/api/events/{id} answers a signature');
  });

  test('retention drops each day past EVENT_RETENTION_DAYS whole, keeps its failed events until FAILED_RETENTION_DAYS', async () => {
    // A failure to keep: the backend down again, past the retries.
    downHealthy = false;
    await post(event('sms.delivered', { messageId: id('kept_failure') }));
    const failure = await listed(id('kept_failure'), (e) => e.status === 'failed', 'the delivery recorded as failed');
    const count = async (sql) => (await worker.sql(sql)).reduce((sum, shard) => sum + shard.n, 0);
    const events = await count('SELECT count(*) AS n FROM events');
    assert.ok(events > 10, `${events} events`);
    // The cron on the clock the test sets: a day short of the retention, nothing goes
    // (scheduled() returns once the run, its waitUntil work included, has ended).
    await worker.scheduled(CRON, Date.now() + 6 * DAY_MS);
    assert.equal(await count('SELECT count(*) AS n FROM events'), events);
    // Past it: every shard of today goes whole but the failure's, which keeps only it.
    await worker.scheduled(CRON, Date.now() + 8 * DAY_MS);
    await waitFor(async () => (await count('SELECT count(*) AS n FROM events')) === 1, { what: 'the retention' });
    assert.deepEqual((await worker.sql('SELECT id FROM events')).map((r) => r.id), [failure.id]);
    assert.equal(await count('SELECT count(*) AS n FROM deliveries'), 1);
    assert.equal(await count('SELECT count(*) AS n FROM attempts'), 3);
    const { json: listing } = await admin('GET', '/admin/api/events');
    assert.deepEqual(listing.events.map((e) => e.id), [failure.id]);
    assert.equal((await admin('GET', `/admin/api/events/${failedId}`)).status, 404);
    assert.equal((await detail(failure.id)).status, 'failed');
    const { json: stats } = await admin('GET', '/admin/api/stats');
    assert.equal(stats.storage.shards, 1);
    assert.equal(stats.storage.events_kept, 1);
    // Past FAILED_RETENTION_DAYS the last shard goes too: dropped whole (deleteAll).
    await worker.scheduled(CRON, Date.now() + 32 * DAY_MS);
    await waitFor(async () => (await admin('GET', '/admin/api/events')).json.events?.length === 0, { what: 'the last shard dropped' });
    assert.equal(await count('SELECT count(*) AS n FROM events'), 0);
    assert.equal((await admin('GET', '/admin/api/stats')).json.storage.shards, 0);
    downHealthy = true;
  });

  test('a held delivery (SPEC §10): its event pending, listed by status=held, kept by the retention whatever its age', async () => {
    const body = event('paging.held', { messageId: id('held') });
    await post(body);
    const logged = await listed(id('held'));
    const count = async (sql) => (await worker.sql(sql)).reduce((sum, shard) => sum + shard.n, 0);
    // The row a held delivery's record leaves (src/event_log/records.rs, run on SQLite by
    // tests/it/event_log.rs), as if the route `ok` took it and was paused before its first
    // attempt; a redelivery then writes the shard, which reports to the directory.
    const set = async (routes) => {
      await worker.sql(`UPDATE events SET routes = ${routes} WHERE message_id = '${id('held')}'`);
      assert.equal((await post(body)).json.status, 'duplicate');
    };
    await set("json_object('ok', json_object('status', 'pending', 'held', json('true'), 'attempts', json_array()))");
    const heldIds = async () => (await admin('GET', '/admin/api/events?status=held')).json.events.map((e) => e.id);
    await waitFor(async () => isDeepStrictEqual(await heldIds(), [logged.id]), { what: 'the held event listed by status=held' });
    const [entry] = (await admin('GET', '/admin/api/events?status=held')).json.events;
    assert.equal(entry.status, 'pending');
    assert.deepEqual(entry.routes, [{ name: 'ok', status: 'held', attempts: 0 }]);
    const held = await detail(logged.id);
    assert.equal(held.status, 'pending');
    assert.deepEqual(held.deliveries, [{ route: 'ok', status: 'held', attempts: [] }]);
    assert.deepEqual((await admin('GET', '/admin/api/events?status=pending')).json.events.map((e) => e.id), [logged.id]);
    assert.deepEqual((await admin('GET', '/admin/api/events?status=delivered')).json.events, []);
    // workerd's SQLite made the index in every shard.
    const indexed = await worker.sql("SELECT count(*) AS n FROM sqlite_master WHERE name = 'events_held'");
    assert.ok(indexed.length > 0 && indexed.every((shard) => shard.n === 1), JSON.stringify(indexed));

    // Past EVENT_RETENTION_DAYS, FAILED_RETENTION_DAYS and a year on: kept, its shard too.
    for (const days of [8, 32, 400]) {
      await worker.scheduled(CRON, Date.now() + days * DAY_MS);
      assert.deepEqual(await heldIds(), [logged.id], `${days} days on`);
      assert.equal((await detail(logged.id)).redeliveries, 1);
    }
    assert.equal((await admin('GET', '/admin/api/stats')).json.storage.shards, 1);

    // Sent at last (as an attempt's record leaves it): the next run drops its shard whole.
    await set(`json_object('ok', json_object('status', 'delivered', 'attempts', json_array(json_object('at', ${Date.now()}, 'ms', 4, 'outcome', 'delivered', 'status', 200))))`);
    assert.deepEqual(await heldIds(), []);
    await worker.scheduled(CRON, Date.now() + 400 * DAY_MS);
    await waitFor(async () => (await count('SELECT count(*) AS n FROM events')) === 0, { what: 'the shard dropped' });
    assert.equal((await admin('GET', '/admin/api/stats')).json.storage.shards, 0);
  });
});

// Without DELIVERY_QUEUE a replay runs after the answer, within what one invocation
// may do: a bulk call takes at most 12 deliveries, each one final attempt, and a
// delivery is never set to pending, so a run the platform cuts off leaves it failed.
describe('replays without a delivery queue', () => {
  const EVENTS = 20;
  let worker;
  let target;
  let healthy = false;
  before(async () => {
    // Down (fast) until healthy; then slow (target.delay).
    target = await backend(() => (healthy ? { status: 200 } : { status: 500 }));
    worker = await startWorker('event-log-direct', {
      deliveryQueue: false,
      adminToken: TOKEN,
      vars: { ROUTES: [{ name: 'slow', url: target.url, events: ['email.sent'] }] },
    });
  });
  after(async () => {
    await worker?.stop();
    await target?.close();
  });

  const api = (method, path, body) => worker.admin(method, path, body);
  const failedCount = async () => (await api('POST', '/admin/api/replay', { status: 'failed', dry_run: true })).json.would_replay;
  const pendingCount = async () => (await api('GET', '/admin/api/events?status=pending&limit=200')).json.events.length;

  test('a bulk replay takes one invocation\'s worth, leaves the rest failed with a cursor, and nothing pending', async () => {
    for (let i = 0; i < EVENTS; i++) {
      const answer = await worker.post(JSON.stringify(event('email.sent', { messageId: id(`direct-${i}`) })));
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
    }
    await waitFor(async () => (await failedCount()) === EVENTS, { timeoutMs: 60_000, intervalMs: 500, what: `${EVENTS} failed events` });
    const before = target.received.length;
    healthy = true;
    target.delay = 1500;
    const first = await api('POST', '/admin/api/replay', { status: 'failed' });
    assert.equal(first.status, 202, JSON.stringify(first.json));
    assert.equal(first.json.replayed, 12);
    assert.ok(first.json.next_cursor, 'a cursor for the rest');
    // While the slow attempts run: nothing is pending, ever.
    await waitFor(async () => {
      assert.equal(await pendingCount(), 0, 'a replayed delivery was set to pending');
      return (await failedCount()) === EVENTS - 12;
    }, { timeoutMs: 45_000, intervalMs: 300, what: '12 replays delivered' });
    const rest = await api('POST', '/admin/api/replay', { status: 'failed', cursor: first.json.next_cursor });
    assert.deepEqual(rest.json, { replayed: EVENTS - 12, next_cursor: null });
    await waitFor(async () => (await failedCount()) === 0, { timeoutMs: 45_000, intervalMs: 300, what: 'every replay delivered' });
    assert.equal(await pendingCount(), 0);
    // Each event reached the backend once more, exactly once.
    const replayed = target.received.slice(before).map(messageIdOf);
    assert.equal(replayed.length, EVENTS);
    assert.equal(new Set(replayed).size, EVENTS);
    // By default (LOG_RESPONSES unset) an attempt that did not deliver keeps the
    // backend's answer and a delivered one only its status and duration.
    const [one] = (await api('GET', `/admin/api/events?message_id=${id('direct-0')}`)).json.events;
    const attempts = (await api('GET', `/admin/api/events/${one.id}`)).json.deliveries[0].attempts;
    const [delivered, ...failed] = [attempts.at(-1), ...attempts.slice(0, -1)];
    assert.deepEqual([delivered.outcome, delivered.status, delivered.headers, delivered.body], ['delivered', 200, null, null]);
    assert.ok(failed.length >= 3 && failed.every((a) => a.status === 500 && a.headers !== null && a.body !== null), JSON.stringify(failed));
  });
});

// The store refusing writes for a while, under traffic: another process holds the write
// lock of every local shard's SQLite file (SQLite answers the worker SQLITE_BUSY). Every accepted event is
// listed afterwards or counted as lost, never dropped unsaid.
describe('the event log refusing writes for a while', () => {
  let worker;
  before(async () => {
    worker = await startWorker('event-log-fault', { deliveryQueue: false, adminToken: TOKEN });
  });
  after(() => worker?.stop());

  /** Holds an exclusive lock on each of the worker's local shard files for `seconds`; once held, `{ released }` (a promise). */
  async function lockDatabase(seconds) {
    const dir = join(worker.state, 'v3', 'do', 'e2e-event-log-fault-EventLog');
    const files = readdirSync(dir).filter((name) => name.endsWith('.sqlite')).map((name) => join(dir, name));
    const holder = spawn('python3', ['-c', [
      'import sqlite3, sys, time',
      'dbs = [sqlite3.connect(f, isolation_level=None, timeout=30) for f in sys.argv[2:]]',
      "[db.execute('BEGIN EXCLUSIVE') for db in dbs]; print('locked', flush=True)",
      "time.sleep(float(sys.argv[1])); [db.execute('COMMIT') for db in dbs]",
    ].join('\n'), String(seconds), ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      holder.stdout.once('data', resolve);
      holder.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
    });
    // Wrapped: an async function's returned promise would be awaited with it.
    return { released: new Promise((resolve) => holder.once('exit', resolve)) };
  }

  test('every accepted event is listed afterwards or counted lost', async () => {
    const send = async (label, n) => {
      for (let i = 0; i < n; i++) {
        const answer = await worker.post(JSON.stringify(event('email.opened', { messageId: id(`fault-${label}-${i}`) })));
        assert.equal(answer.status, 200, JSON.stringify(answer.json));
      }
    };
    await send('before', 5);
    await waitFor(async () => (await worker.admin('GET', '/admin/api/events?limit=200')).json.events.length === 5,
      { what: 'the first events logged' });
    const { released } = await lockDatabase(8);
    await send('during', 20);
    await released;
    await send('after', 5);
    // Listed, page by page, or counted lost: 30 in all, once the log has caught up.
    const listedIds = async () => {
      const ids = [];
      for (let cursor = null, first = true; first || cursor; first = false) {
        const { json } = await worker.admin('GET', `/admin/api/events?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
        if (json.events === undefined) return [];
        ids.push(...json.events.map((e) => e.id));
        cursor = json.next_cursor;
      }
      return ids;
    };
    let storage;
    let listed;
    await waitFor(async () => {
      ({ storage } = (await worker.admin('GET', '/admin/api/stats')).json);
      listed = (await listedIds()).length;
      return storage?.events_accepted === 30 && listed + storage.log_writes_lost === 30;
    }, { timeoutMs: 30_000, intervalMs: 500, what: 'every accepted event listed or counted lost' })
      .catch((error) => assert.fail(`${error.message}: ${listed} listed, ${JSON.stringify(storage)}; warnings ${JSON.stringify(worker.logs.filter((l) => l.warning).slice(-4))}`));
    assert.ok(storage.log_writes_lost > 0, `the lock made no write fail: ${JSON.stringify(storage)}`);
    assert.ok(storage.lost_since, 'the loss is dated');
    const failures = worker.logs.filter((line) => line.warning === 'event_log_write_failed');
    assert.ok(failures.some((line) => /SQLITE_BUSY|locked/.test(line.error)), JSON.stringify(failures.slice(0, 3)));
  });
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
