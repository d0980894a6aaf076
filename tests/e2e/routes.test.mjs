// SPEC §10, the admin API's routes: GET /admin/api/routes and POST
// /admin/api/routes/{name}/pause|resume against the built worker. Without the routes'
// state objects (ROUTE_HEALTH unbound: destination health off) every route is active
// and a pause or resume is 409; a worker with neither the delivery queue nor the event
// log lists its routes all the same. With a stand-in for the objects
// (route-health-stand-in.mjs), the worker asks each HTTP route's object by RPC and
// answers what it reported, a failed or garbled report as that route's state unknown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { everyLineWasJson, startWorker } from './harness.mjs';

const TOKEN = 'routes-e2e-admin-token-0123456789abcdef';
const ROUTES = [
  { name: 'crm', url: 'http://127.0.0.1:9/hooks/leadnest', events: ['email.*'] },
  { name: 'warehouse', queue: 'WAREHOUSE', events: ['*'] },
  { name: 'analytics', url: 'http://127.0.0.1:9/in', events: ['sms.*'] },
];
/** What every route is when no state is kept: active, nothing held, no counts. */
const UNTRACKED = { state: 'active', since: null, held: 0, delivered_1h: null, failed_1h: null, last_error: null };
const BREAKER = { failures: 10, probe_seconds: 60 };

describe('the routes of the admin API (SPEC §10), destination health off', () => {
  let worker;
  let bare;

  before(async () => {
    [worker, bare] = await Promise.all([
      startWorker('routes', { adminToken: TOKEN, vars: { ROUTES }, queues: { WAREHOUSE: 'routes-warehouse' } }),
      startWorker('routes-bare', {
        adminToken: TOKEN, deliveryQueue: false, events: false, vars: { ROUTES }, queues: { WAREHOUSE: 'routes-bare-warehouse' },
      }),
    ]);
  }, { timeout: 120_000 });

  after(() => Promise.all([worker?.stop(), bare?.stop()]));

  test('GET /admin/api/routes lists every route in configuration order, each active', async () => {
    for (const w of [worker, bare]) {
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
    // HEAD answers as GET does, without a body.
    const head = await fetch(`${worker.url}/admin/api/routes`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('pause or resume without the routes\' state objects is 409 conflict, naming what to bind', async () => {
    for (const action of ['pause', 'resume']) {
      const { status, json } = await worker.admin('POST', `/admin/api/routes/crm/${action}`);
      assert.equal(status, 409);
      assert.equal(json.error, 'conflict');
      assert.match(json.message, /ROUTE_HEALTH is not bound/);
    }
    const { status, json } = await bare.admin('POST', '/admin/api/routes/analytics/pause');
    assert.equal(status, 409);
    assert.match(json.message, /DELIVERY_QUEUE is not bound/);
    // The list is unchanged: nothing was paused.
    const listed = (await worker.admin('GET', '/admin/api/routes')).json.routes;
    assert.ok(listed.every((route) => route.state === 'active'));
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

  test('401 without the token or with another, before anything else', async () => {
    for (const [method, path] of [['GET', '/admin/api/routes'], ['POST', '/admin/api/routes/crm/pause'],
      ['POST', '/admin/api/routes/nope/resume'], ['GET', '/admin/api/routes/crm/pause']]) {
      for (const token of [null, 'not-the-admin-token-but-long-enough-0000']) {
        const { status, json } = await worker.admin(method, path, undefined, { token });
        assert.equal(status, 401, `${method} ${path}`);
        assert.equal(json.error, 'unauthorized');
      }
    }
  });

  test('a pause needs no body: one sent is let go of, one over 64 KiB is 413', async () => {
    const small = await worker.admin('POST', '/admin/api/routes/crm/pause', { please: true });
    assert.equal(small.status, 409);
    const large = await worker.admin('POST', '/admin/api/routes/crm/pause', JSON.stringify({ pad: 'x'.repeat(70_000) }));
    assert.equal(large.status, 413);
    assert.equal(large.json.error, 'payload_too_large');
    // The worker answers the next call as usual.
    assert.equal((await worker.admin('GET', '/admin/api/routes')).status, 200);
  });

});

describe('the routes of the admin API with the routes\' state objects (a stand-in)', () => {
  let worker;
  const routes = [
    { name: 'crm', url: 'http://127.0.0.1:9/hooks/leadnest', events: ['email.*'] },
    { name: 'warehouse', queue: 'WAREHOUSE', events: ['*'] },
    { name: 'tripped-billing', url: 'http://127.0.0.1:9/billing', events: ['sms.*'] },
    { name: 'broken-analytics', url: 'http://127.0.0.1:9/in', events: ['sms.*'] },
    { name: 'garbled-audit', url: 'http://127.0.0.1:9/audit', events: ['sms.*'] },
  ];
  const UNKNOWN = { state: 'unknown', since: null, held: null, delivered_1h: null, failed_1h: null, last_error: null };

  before(async () => {
    worker = await startWorker('routes-health', {
      adminToken: TOKEN, vars: { ROUTES: routes }, queues: { WAREHOUSE: 'routes-health-warehouse' }, routeHealth: 'stand-in',
    });
  }, { timeout: 120_000 });

  after(() => worker?.stop());

  const recent = (text, from) => {
    const at = Date.parse(text);
    return at >= from - 1000 && at <= Date.now() + 1000;
  };

  test('each HTTP route\'s object reports its state; one that fails or garbles is unknown, the rest stand', async () => {
    const before = Date.now();
    const { status, json } = await worker.admin('GET', '/admin/api/routes');
    assert.equal(status, 200);
    assert.deepEqual(json.routes.map((r) => r.name), routes.map((r) => r.name), 'configuration order');
    const [crm, warehouse, tripped, broken, garbled] = json.routes;
    assert.deepEqual(crm, { name: 'crm', kind: 'http', state: 'active', since: null, held: 0, delivered_1h: 18, failed_1h: 2,
      last_error: null, breaker: BREAKER, rate_limit: null });
    assert.deepEqual(warehouse, { name: 'warehouse', kind: 'queue', ...UNTRACKED, breaker: false, rate_limit: null });
    assert.equal(tripped.state, 'tripped');
    assert.ok(recent(tripped.since, before - 90_000), tripped.since);
    assert.equal(tripped.last_error, 'HTTP 503 <img src=x onerror=alert(1)>');
    assert.deepEqual([tripped.held, tripped.delivered_1h, tripped.failed_1h], [7, 0, 10]);
    assert.deepEqual(broken, { name: 'broken-analytics', kind: 'http', ...UNKNOWN, breaker: BREAKER, rate_limit: null });
    assert.deepEqual(garbled, { name: 'garbled-audit', kind: 'http', ...UNKNOWN, breaker: BREAKER, rate_limit: null });
  });

  test('pause and resume: 200 with the route\'s entry as its object left it, and the list agrees', async () => {
    const before = Date.now();
    const paused = await worker.admin('POST', '/admin/api/routes/crm/pause');
    assert.equal(paused.status, 200);
    assert.equal(paused.json.name, 'crm');
    assert.equal(paused.json.state, 'paused');
    assert.ok(recent(paused.json.since, before), paused.json.since);
    assert.equal(paused.json.held, 7);
    assert.deepEqual(paused.json.breaker, BREAKER);
    assert.equal((await worker.admin('GET', '/admin/api/routes')).json.routes[0].state, 'paused');
    // Pausing again changes nothing.
    const again = await worker.admin('POST', '/admin/api/routes/crm/pause');
    assert.deepEqual(again.json, paused.json);
    const resumed = await worker.admin('POST', '/admin/api/routes/tripped-billing/resume');
    assert.equal(resumed.status, 200);
    assert.equal(resumed.json.state, 'active');
    const crm = await worker.admin('POST', '/admin/api/routes/crm/resume');
    assert.deepEqual([crm.json.state, crm.json.held], ['active', 0]);
  });

  test('a pause whose object fails or answers garbage is 503 unavailable; a queue route still 409', async () => {
    for (const name of ['broken-analytics', 'garbled-audit']) {
      const { status, json } = await worker.admin('POST', `/admin/api/routes/${name}/pause`);
      assert.equal(status, 503, name);
      assert.equal(json.error, 'unavailable');
      assert.doesNotMatch(json.message, /stand-in|Bad Gateway/, 'what the object said is not repeated');
    }
    assert.equal((await worker.admin('POST', '/admin/api/routes/warehouse/pause')).status, 409);
    assert.equal((await worker.admin('POST', '/admin/api/routes/nope/pause')).status, 404);
  });

  test('every line the workers printed is one JSON object', () => everyLineWasJson());
});
