// SPEC §10, the admin API's routes: GET /admin/api/routes and POST
// /admin/api/routes/{name}/pause|resume against the built worker, its routes' state
// objects the real ones (RouteHealth and HeldDeliveries, harness option `health`). Every
// state the list shows comes from real behaviour: a pause or resume through the admin
// API, a real local backend that fails until the breaker trips its route (probe_seconds
// 900: no probe comes while the test runs, so it stays tripped), counts of the
// deliveries the backends really answered, and held counts of deliveries really held.
// Without the objects (destination health off) every route is active and a pause or
// resume is 409; a worker with neither the delivery queue nor the event log lists its
// routes all the same.
//
// What only a broken object could show (one that throws or answers a garbled report: that
// route's state `unknown`, the rest of the list standing; a pause it fails: 503
// unavailable, what it said not repeated) is covered by the native tests of the admin
// call (src/admin/call.rs: a_report_unreadable_or_missing_makes_that_route_unknown_only,
// a_pause_that_fails_or_answers_what_cannot_be_read_is_503_unavailable) and of the
// report's reading (src/admin/route_state.rs: a_report_with_any_field_wrong_is_unknown).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backend, counts, postEach, routesOf } from './health-kit.mjs';
import { everyLineWasJson, startWorker, waitFor } from './harness.mjs';

const TOKEN = 'routes-e2e-admin-token-0123456789abcdef';
const RUN = Date.now().toString(36);
/** What every route is when no state is kept: active, nothing held, no counts. */
const UNTRACKED = { state: 'active', since: null, held: 0, delivered_1h: null, failed_1h: null, last_error: null };
/** What a route's object reports before anything happened to the route. */
const FRESH = { state: 'active', since: null, held: 0, delivered_1h: 0, failed_1h: 0, last_error: null };
const BREAKER = { failures: 10, probe_seconds: 60 };

/** Whether an RFC 3339 time is between `from` (unix ms, less a second) and a second from now. */
const recent = (text, from) => {
  const at = Date.parse(text);
  return at >= from - 1000 && at <= Date.now() + 1000;
};


/** Posts one `name` event per label, one after another; returns their message ids. */
const post = (worker, name, labels) => postEach(worker, name, labels.map((label) => `msg_${RUN}_${label}`));

describe('the routes of the admin API (SPEC §10), destination health off', () => {
  const ROUTES = [
    { name: 'crm', url: 'http://127.0.0.1:9/hooks/leadnest', events: ['email.*'] },
    { name: 'warehouse', queue: 'WAREHOUSE', events: ['*'] },
    { name: 'analytics', url: 'http://127.0.0.1:9/in', events: ['sms.*'] },
  ];
  let off;
  let bare;

  before(async () => {
    [off, bare] = await Promise.all([
      startWorker('routes-off', { adminToken: TOKEN, vars: { ROUTES }, queues: { WAREHOUSE: 'routes-off-warehouse' } }),
      startWorker('routes-bare', {
        adminToken: TOKEN, deliveryQueue: false, events: false, vars: { ROUTES }, queues: { WAREHOUSE: 'routes-bare-warehouse' },
      }),
    ]);
  }, { timeout: 120_000 });

  after(() => Promise.all([off?.stop(), bare?.stop()]));

  test('GET /admin/api/routes lists every route in configuration order, each active', async () => {
    for (const w of [off, bare]) {
      const { status, headers, json } = await w.admin('GET', '/admin/api/routes');
      assert.equal(status, 200);
      assert.match(headers.get('content-type'), /application\/json/);
      assert.deepEqual(json, {
        routes: [
          { name: 'crm', kind: 'http', ...UNTRACKED, breaker: BREAKER, rate_limit: null },
          { name: 'warehouse', kind: 'queue', ...UNTRACKED, breaker: false, rate_limit: null },
          { name: 'analytics', kind: 'http', ...UNTRACKED, breaker: BREAKER, rate_limit: null },
        ],
      }, w.name);
    }
  });

  test('pause or resume without the routes\' state objects is 409 conflict, naming what to bind', async () => {
    for (const action of ['pause', 'resume']) {
      const { status, json } = await off.admin('POST', `/admin/api/routes/crm/${action}`);
      assert.equal(status, 409);
      assert.equal(json.error, 'conflict');
      assert.match(json.message, /ROUTE_HEALTH or HELD_DELIVERIES is not bound/);
    }
    const { status, json } = await bare.admin('POST', '/admin/api/routes/analytics/pause');
    assert.equal(status, 409);
    assert.match(json.message, /DELIVERY_QUEUE is not bound/);
    // An unknown route is looked up first; a queue route is never paused.
    assert.equal((await off.admin('POST', '/admin/api/routes/nope/pause')).status, 404);
    assert.match((await off.admin('POST', '/admin/api/routes/warehouse/pause')).json.message, /only HTTP routes/);
    // The list is unchanged: nothing was paused.
    const listed = (await off.admin('GET', '/admin/api/routes')).json.routes;
    assert.ok(listed.every((route) => route.state === 'active'));
  });

  test('every line the workers printed is one JSON object', () => everyLineWasJson());
});

describe('the routes of the admin API with the routes\' state objects (SPEC §10)', () => {
  let worker;
  let crm;
  let billing;
  let ledger;
  const ROUTES = [];

  before(async () => {
    [crm, billing, ledger] = await Promise.all([backend(), backend({ healthy: false }), backend({ healthy: false })]);
    ROUTES.push(
      { name: 'crm', url: `${crm.url}/hooks/leadnest`, events: ['email.*'] },
      { name: 'warehouse', queue: 'WAREHOUSE', events: ['subscriber.*'] },
      { name: 'billing', url: `${billing.url}/billing`, events: ['sms.*'], breaker: { failures: 3, probe_seconds: 900 } },
      { name: 'analytics', url: `${crm.url}/analytics`, events: ['whatsapp.read'], breaker: false, rate_limit: { per_second: 5 } },
      { name: 'ledger', url: `${ledger.url}/ledger`, events: ['whatsapp.sent'], breaker: false },
    );
    worker = await startWorker('routes-health', {
      health: true,
      adminToken: TOKEN,
      // max_retries 2: 3 attempts in all; the dead letters are recorded as failed.
      maxRetries: 2,
      deadLetterConsumer: true,
      vars: { ROUTES, DELIVERY_RETRY_BASE_SECONDS: '1' },
      queues: { WAREHOUSE: 'routes-health-warehouse' },
    });
  }, { timeout: 120_000 });

  after(async () => {
    await worker?.stop();
    await Promise.all([crm?.close(), billing?.close(), ledger?.close()]);
  });

  test('before any delivery: each HTTP route\'s object reports it active with nothing counted; a queue route keeps no state', async () => {
    const { status, headers, json } = await worker.admin('GET', '/admin/api/routes');
    assert.equal(status, 200);
    assert.match(headers.get('content-type'), /application\/json/);
    assert.deepEqual(json, {
      routes: [
        { name: 'crm', kind: 'http', ...FRESH, breaker: BREAKER, rate_limit: null },
        { name: 'warehouse', kind: 'queue', ...UNTRACKED, breaker: false, rate_limit: null },
        { name: 'billing', kind: 'http', ...FRESH, breaker: { failures: 3, probe_seconds: 900 }, rate_limit: null },
        { name: 'analytics', kind: 'http', ...FRESH, breaker: false, rate_limit: { per_second: 5 } },
        { name: 'ledger', kind: 'http', ...FRESH, breaker: false, rate_limit: null },
      ],
    });
    // HEAD answers as GET does, without a body.
    const head = await fetch(`${worker.url}/admin/api/routes`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('a queue route is 409 conflict: only HTTP routes are paused', async () => {
    for (const action of ['pause', 'resume']) {
      const { status, json } = await worker.admin('POST', `/admin/api/routes/warehouse/${action}`);
      assert.equal(status, 409);
      assert.equal(json.error, 'conflict');
      assert.match(json.message, /only HTTP routes/);
    }
  });

  test('an unknown route is 404 not_found, and its name is not repeated', async () => {
    for (const name of ['nope', 'CRM', encodeURIComponent('<b>crm</b>')]) {
      const { status, json } = await worker.admin('POST', `/admin/api/routes/${name}/pause`);
      assert.equal(status, 404, name);
      assert.deepEqual(json, { error: 'not_found', message: 'No such route.' });
    }
    for (const path of ['/admin/api/routes/crm', '/admin/api/routes/crm/stop', '/admin/api/routes/']) {
      const { status, json } = await worker.admin('POST', path);
      assert.equal(status, 404, path);
      assert.equal(json.error, 'not_found');
    }
  });

  test('another method is 405 with Allow', async () => {
    for (const [method, path, allow] of [
      ['POST', '/admin/api/routes', 'GET'],
      ['DELETE', '/admin/api/routes', 'GET'],
      ['GET', '/admin/api/routes/crm/pause', 'POST'],
      ['PUT', '/admin/api/routes/crm/resume', 'POST'],
    ]) {
      const { status, headers, json } = await worker.admin(method, path);
      assert.equal(status, 405, `${method} ${path}`);
      assert.equal(headers.get('allow'), allow, `${method} ${path}`);
      assert.equal(json.error, 'method_not_allowed');
    }
  });

  test('401 without the token or with another, before anything else: nothing is paused', async () => {
    for (const [method, path] of [['GET', '/admin/api/routes'], ['POST', '/admin/api/routes/crm/pause'],
      ['POST', '/admin/api/routes/nope/resume'], ['GET', '/admin/api/routes/crm/pause']]) {
      for (const token of [null, 'not-the-admin-token-but-long-enough-0000']) {
        const { status, json } = await worker.admin(method, path, undefined, { token });
        assert.equal(status, 401, `${method} ${path}`);
        assert.equal(json.error, 'unauthorized');
      }
    }
    assert.deepEqual((await routesOf(worker)).crm, { name: 'crm', kind: 'http', ...FRESH, breaker: BREAKER, rate_limit: null });
  });

  test('a pause needs no body: one sent is let go of, one over 64 KiB is 413 and pauses nothing', async () => {
    const small = await worker.admin('POST', '/admin/api/routes/analytics/pause', { please: true });
    assert.equal(small.status, 200, JSON.stringify(small.json));
    assert.equal(small.json.state, 'paused');
    const resumed = await worker.admin('POST', '/admin/api/routes/analytics/resume', { please: true });
    assert.equal(resumed.json.state, 'active');
    const large = await worker.admin('POST', '/admin/api/routes/analytics/pause', JSON.stringify({ pad: 'x'.repeat(70_000) }));
    assert.equal(large.status, 413);
    assert.equal(large.json.error, 'payload_too_large');
    // The worker answers the next call as usual, the route as the resume left it.
    assert.deepEqual((await routesOf(worker)).analytics, resumed.json);
  });

  test('the last hour\'s counts are the deliveries the backends answered; 3 failures trip billing, and what follows is held', async () => {
    const sent = await post(worker, 'email.opened', ['crm_1', 'crm_2', 'crm_3']);
    const crmListed = await waitFor(async () => {
      const route = (await routesOf(worker)).crm;
      return route.delivered_1h === 3 && route;
    }, { what: 'crm\'s 3 deliveries counted' });
    assert.equal(crm.received.length, 3);
    assert.deepEqual(sent.map((id) => counts(crm.delivered()).get(id)), [1, 1, 1], 'each delivered once');
    assert.deepEqual(crmListed, { name: 'crm', kind: 'http', ...FRESH, delivered_1h: 3, breaker: BREAKER, rate_limit: null });

    const from = Date.now();
    await post(worker, 'sms.sent', ['billing_1', 'billing_2', 'billing_3']);
    const tripped = await waitFor(async () => {
      const route = (await routesOf(worker)).billing;
      return route.state === 'tripped' && route;
    }, { what: 'billing tripped' });
    assert.ok(recent(tripped.since, from), tripped.since);
    assert.equal(tripped.last_error, 'HTTP 500');
    // Their retries come back to a tripped route: held, no retry spent, no attempt made.
    const held = await waitFor(async () => {
      const route = (await routesOf(worker)).billing;
      return route.held === 3 && route;
    }, { what: 'billing\'s 3 retries held' });
    assert.deepEqual({ ...held, since: tripped.since }, held, 'tripped since the trip');
    assert.deepEqual([held.delivered_1h, held.failed_1h], [0, 3]);
    assert.equal(billing.received.length, 3, 'the breaker\'s 3 failures reached the backend, nothing more');
    // A new delivery to the tripped route is held at once.
    await post(worker, 'sms.sent', ['billing_4', 'billing_5']);
    await waitFor(async () => (await routesOf(worker)).billing.held === 5, { what: '5 held' });
    assert.equal(billing.received.length, 3);
    const listed = await waitFor(async () => {
      const { json } = await worker.admin('GET', '/admin/api/events?status=held&limit=50');
      return json.events.length >= 5 && json.events;
    }, { what: 'the held events listed' });
    assert.equal(listed.length, 5);
    assert.ok(listed.every((entry) => entry.routes.find((route) => route.name === 'billing').status === 'held'),
      JSON.stringify(listed[0]));
  });

  test('pause and resume: 200 with the route\'s entry as its object left it; a paused route holds, a resumed one sends', async () => {
    const from = Date.now();
    const paused = await worker.admin('POST', '/admin/api/routes/crm/pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.json));
    assert.ok(recent(paused.json.since, from), paused.json.since);
    assert.deepEqual(paused.json, { name: 'crm', kind: 'http', ...FRESH, state: 'paused', since: paused.json.since,
      delivered_1h: 3, breaker: BREAKER, rate_limit: null });
    assert.deepEqual((await routesOf(worker)).crm, paused.json, 'the list agrees');
    // Pausing again changes nothing.
    const again = await worker.admin('POST', '/admin/api/routes/crm/pause');
    assert.deepEqual([again.status, again.json], [200, paused.json]);

    const ids = await post(worker, 'email.clicked', ['paused_1', 'paused_2']);
    await waitFor(async () => (await routesOf(worker)).crm.held === 2, { what: 'crm holding 2' });
    assert.equal(crm.received.length, 3, 'a paused route gets nothing');

    const resumed = await worker.admin('POST', '/admin/api/routes/crm/resume');
    assert.equal(resumed.status, 200);
    assert.equal(resumed.json.state, 'active');
    assert.ok(Date.parse(resumed.json.since) >= Date.parse(paused.json.since), resumed.json.since);
    assert.equal(resumed.json.held, 2, 'held until sent');
    const drained = await waitFor(async () => {
      const route = (await routesOf(worker)).crm;
      return route.held === 0 && route.delivered_1h === 5 && route;
    }, { what: 'crm\'s held deliveries sent' });
    assert.deepEqual(drained, { ...resumed.json, held: 0, delivered_1h: 5 });
    assert.deepEqual(ids.map((id) => counts(crm.delivered()).get(id)), [1, 1], 'each held delivery sent once');
    // Resuming an active route changes nothing.
    const twice = await worker.admin('POST', '/admin/api/routes/crm/resume');
    assert.deepEqual([twice.status, twice.json], [200, drained]);
  });

  test('resuming the tripped route: active; its held deliveries go, and it trips again while its backend fails', async () => {
    const resumed = await worker.admin('POST', '/admin/api/routes/billing/resume');
    assert.equal(resumed.status, 200);
    assert.deepEqual([resumed.json.state, resumed.json.held], ['active', 5]);
    const again = await waitFor(async () => {
      const route = (await routesOf(worker)).billing;
      return route.state === 'tripped' && route;
    }, { what: 'billing tripped again' });
    assert.ok(Date.parse(again.since) >= Date.parse(resumed.json.since));
    assert.ok(billing.received.length > 3, 'the drain attempted its held deliveries');
    // Every delivery is kept: those the drain failed come back to the tripped route, held.
    await waitFor(async () => (await routesOf(worker)).billing.held === 5, { what: 'all 5 held again', timeoutMs: 30_000 });
    assert.equal((await worker.admin('GET', '/admin/api/events?status=failed')).json.events.length, 0, 'none counted failed');

    billing.setHealthy(true);
    assert.equal((await worker.admin('POST', '/admin/api/routes/billing/resume')).json.state, 'active');
    await waitFor(() => new Set(billing.delivered().map((request) => request.messageId)).size === 5,
      { what: 'billing\'s 5 delivered' });
    const route = await waitFor(async () => {
      const listed = (await routesOf(worker)).billing;
      return listed.held === 0 && listed.delivered_1h === 5 && listed;
    }, { what: 'billing drained' });
    assert.equal(route.state, 'active');
    assert.equal(route.failed_1h, billing.failed().length, 'each failed attempt counted');
    assert.deepEqual([...counts(billing.delivered()).values()], [1, 1, 1, 1, 1], 'each delivered once');
  });

  // Last: its dead letter is an event counted failed.
  test('a held delivery whose drain fails counts on: its attempts numbered once, in order, then max_retries from its release', async () => {
    assert.equal((await worker.admin('POST', '/admin/api/routes/ledger/pause')).status, 200);
    await post(worker, 'whatsapp.sent', ['ledger_1']);
    await waitFor(async () => (await routesOf(worker)).ledger.held === 1, { what: 'ledger holding 1' });
    assert.equal((await worker.admin('POST', '/admin/api/routes/ledger/resume')).status, 200);
    await waitFor(() => worker.logs.some((line) => line.route === 'ledger' && line.error === 'retries exhausted'),
      { what: 'the dead letter', timeoutMs: 30_000 });
    const failed = worker.logs.filter((line) => line.route === 'ledger' && line.status === 500);
    // The drain's attempt (1), then the queue's message carrying its count on (2, 3, 4),
    // the backoff going on (1 s doubling), dead-lettered once that message's max_retries
    // (2) is spent.
    assert.deepEqual(failed.map((line) => line.attempt), [1, 2, 3, 4], 'each attempt numbered once, in order');
    assert.deepEqual(failed.map((line) => line.retry_in_seconds), [1, 2, 4, 8]);
    assert.equal(ledger.received.length, 4);
  });

  test('every line the workers printed is one JSON object', () => everyLineWasJson());
});
