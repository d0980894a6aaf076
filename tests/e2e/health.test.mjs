// SPEC section 10, destination health, against the built worker in workerd (Miniflare's
// API) with real local backends: a paused route gets nothing and gets every held event
// once, oldest first, after resume; a failing backend sees its breaker's failures and the
// probes, not a retry storm, and every event once when it heals; a rate-limited route
// never gets more than its limit in any second; alerts verify with a Standard Webhooks
// library.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { backend, counts, postEach, routesOf } from './health-kit.mjs';
import { event, startWorker, waitFor } from './harness.mjs';

const RUN = Date.now().toString(36);
const ALERT_SECRET = 'whsec_YWxlcnQtc2lnbmluZy1rZXktZm9yLXRlc3Rz';
const TOKEN = 'health-admin-token-0123456789abcdef0123456789';

/** The alerts a receiver got, each verified as a Standard Webhooks library does. */
function verifiedAlerts(receiver) {
  const webhook = new Webhook(ALERT_SECRET);
  return receiver.received.map((request) => webhook.verify(request.body, {
    'webhook-id': request.headers['webhook-id'],
    'webhook-timestamp': request.headers['webhook-timestamp'],
    'webhook-signature': request.headers['webhook-signature'],
  }));
}

/** Posts `count` email.opened events one after another; returns their message ids in order. */
const postEvents = (worker, label, count, gapMs = 0) => postEach(worker, 'email.opened',
  Array.from({ length: count }, (_, i) => `msg_${RUN}_${label}_${String(i).padStart(3, '0')}`), { gapMs });

describe('a paused route holds every delivery and sends each once, oldest first, on resume', () => {
  let worker;
  let crm;
  let doomed;
  let alerts;

  before(async () => {
    [crm, doomed, alerts] = await Promise.all([backend(), backend({ healthy: false }), backend()]);
    worker = await startWorker('health-pause', {
      health: true,
      adminToken: TOKEN,
      deadLetterConsumer: true,
      maxRetries: 1,
      vars: {
        ROUTES: [
          { name: 'crm', url: `${crm.url}/hook`, events: ['email.*'] },
          { name: 'doomed', url: `${doomed.url}/hook`, events: ['sms.*'], breaker: false },
        ],
        ALERT_URL: `${alerts.url}/alerts`,
        DELIVERY_RETRY_BASE_SECONDS: '1',
      },
      secrets: { ALERT_SIGNING_SECRET: ALERT_SECRET },
    });
  });

  after(async () => {
    await worker?.stop();
    await Promise.all([crm?.close(), doomed?.close(), alerts?.close()]);
  });

  test('pause: nothing is attempted; every held delivery is listed held; resume sends each once, in order', async () => {
    const paused = await worker.admin('POST', '/admin/api/routes/crm/pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.json));
    assert.equal(paused.json.state, 'paused');

    const ids = await postEvents(worker, 'paused', 12, 30);
    await waitFor(() => worker.logs.filter((line) => line.route === 'crm' && line.outcome === 'held').length >= 12,
      { what: '12 held deliveries', timeoutMs: 30_000 });
    assert.equal(crm.received.length, 0, 'a paused route gets nothing');
    assert.equal((await routesOf(worker)).crm.held, 12);
    const listed = await waitFor(async () => {
      const { json } = await worker.admin('GET', '/admin/api/events?status=held&limit=50');
      return json.events.length >= 12 && json;
    }, { what: 'the held events listed' });
    assert.ok(listed.events.every((entry) => entry.status === 'pending'
      && entry.routes.find((route) => route.name === 'crm').status === 'held'), JSON.stringify(listed.events[0]));

    const resumed = await worker.admin('POST', '/admin/api/routes/crm/resume');
    assert.equal(resumed.status, 200);
    assert.equal(resumed.json.state, 'active');
    await waitFor(() => crm.delivered().length >= 12, { what: 'the held deliveries sent', timeoutMs: 30_000 });
    // Nothing more comes: each exactly once.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual([...counts(crm.received).values()], Array(12).fill(1));
    // Started oldest first, at most 6 at once (the drain's DRAIN_AT_ONCE): each arrives
    // within that window of its place.
    const arrived = crm.received.map((request) => ids.indexOf(request.messageId));
    assert.ok(arrived.every((place, i) => Math.abs(place - i) < 6), `oldest first, 6 at a time: ${arrived}`);
    assert.equal((await routesOf(worker)).crm.held, 0);
    const { json } = await worker.admin('GET', '/admin/api/events?status=held');
    assert.equal(json.events.length, 0);

    const told = await waitFor(() => verifiedAlerts(alerts).length >= 2 && verifiedAlerts(alerts),
      { what: 'the pause and resume alerts' });
    assert.deepEqual(told.map((alert) => [alert.type, alert.route]),
      [['route.paused', 'crm'], ['route.resumed', 'crm']]);
    assert.equal(told[0].held, 0);
    assert.match(told[0].at, /^\d{4}-\d\d-\d\dT/);
  });

  test('a dead-lettered delivery raises delivery.failed, at most once a route in five minutes', async () => {
    const sent = alerts.received.length;
    for (let i = 0; i < 3; i++) {
      assert.equal((await worker.post(event('sms.failed', { messageId: `msg_${RUN}_doomed_${i}` }))).status, 200);
    }
    const failed = await waitFor(() => {
      const got = verifiedAlerts({ received: alerts.received.slice(sent) }).filter((alert) => alert.type === 'delivery.failed');
      return got.length > 0 && got;
    }, { what: 'a delivery.failed alert', timeoutMs: 40_000 });
    assert.equal(failed[0].route, 'doomed');
    assert.ok(failed[0].count >= 1);
    // All three dead-lettered: the rest are told later, never in a second alert now.
    await waitFor(() => worker.logs.filter((line) => line.route === 'doomed' && line.error === 'retries exhausted').length >= 3,
      { what: 'three dead letters', timeoutMs: 40_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(verifiedAlerts({ received: alerts.received.slice(sent) })
      .filter((alert) => alert.type === 'delivery.failed').length, 1);
    assert.ok(alerts.received.every((request) => !request.body.includes('"data"')), 'an alert never holds an event body');
  });
});

describe('the breaker: a failing backend sees its failures and the probes, and every event once when it heals', () => {
  let worker;
  let crm;
  let alerts;

  before(async () => {
    [crm, alerts] = await Promise.all([backend({ healthy: false }), backend()]);
    worker = await startWorker('health-breaker', {
      health: true,
      adminToken: TOKEN,
      maxBatchSize: 1,
      maxRetries: 10,
      vars: {
        ROUTES: [{ name: 'crm', url: `${crm.url}/hook`, breaker: { failures: 3, probe_seconds: 1 } }],
        ALERT_URL: `${alerts.url}/alerts`,
        DELIVERY_RETRY_BASE_SECONDS: '1',
      },
      secrets: { ALERT_SIGNING_SECRET: ALERT_SECRET },
    });
  });

  after(async () => {
    await worker?.stop();
    await Promise.all([crm?.close(), alerts?.close()]);
  });

  test('trips after 3 failures, probes 1 s doubling, recovers by itself; none counted failed', async () => {
    const ids = await postEvents(worker, 'breaker', 8, 150);
    const tripped = await waitFor(async () => {
      const route = (await routesOf(worker)).crm;
      return route.state === 'tripped' && route;
    }, { what: 'the route tripped', timeoutMs: 30_000 });
    const trippedAt = Date.now();
    assert.ok(tripped.last_error?.includes('500'), tripped.last_error);
    // While tripped, retries and new events are held: the backend sees probes only.
    await waitFor(async () => (await routesOf(worker)).crm.held >= 8, { what: 'all 8 held', timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const beforeHeal = crm.received.length;
    const probeWindow = (Date.now() - trippedAt) / 1000 + 1;
    // Probes at 1, 3, 7, 15 … s after the trip: at most log2(window + 1) + 1 of them.
    const probesAtMost = Math.floor(Math.log2(probeWindow + 1)) + 1;
    assert.ok(beforeHeal <= 3 + probesAtMost, `${beforeHeal} attempts reached a failing backend, at most ${3 + probesAtMost} expected`);
    assert.ok(beforeHeal >= 4, 'probed at least once');
    // A failed probe leaves its delivery held in the log, as the rest.
    const held = await waitFor(async () => {
      const { json } = await worker.admin('GET', '/admin/api/events?status=held&limit=50');
      return json.events.length === 8 && json;
    }, { what: 'the 8 events listed held' });
    assert.ok(held.events.every((entry) => entry.routes[0].status === 'held'));

    crm.setHealthy(true);
    await waitFor(() => new Set(crm.delivered().map((request) => request.messageId)).size >= 8,
      { what: 'every event delivered', timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const delivered = counts(crm.delivered());
    assert.deepEqual(ids.map((id) => delivered.get(id)), Array(8).fill(1), 'each delivered exactly once');
    const route = (await routesOf(worker)).crm;
    assert.equal(route.state, 'active');
    assert.equal(route.held, 0);
    const failed = await worker.admin('GET', '/admin/api/events?status=failed');
    assert.equal(failed.json.events.length, 0, 'none counted failed');

    const told = await waitFor(() => {
      const got = verifiedAlerts(alerts);
      return got.some((alert) => alert.type === 'route.recovered') && got;
    }, { what: 'the recovered alert' });
    assert.deepEqual(told.map((alert) => alert.type), ['route.tripped', 'route.recovered']);
    assert.match(told[0].reason, /3 consecutive/);
  });
});

describe('a tripped route recovers though the backend always refuses its oldest held delivery', () => {
  let worker;
  let crm;
  const refused = `msg_${RUN}_refused`;

  before(async () => {
    crm = await backend({ healthy: false, refuses: new Set([refused]) });
    worker = await startWorker('health-poison', {
      health: true,
      adminToken: TOKEN,
      maxBatchSize: 1,
      maxRetries: 2,
      vars: {
        ROUTES: [{ name: 'crm', url: `${crm.url}/hook`, breaker: { failures: 2, probe_seconds: 1 } }],
        DELIVERY_RETRY_BASE_SECONDS: '1',
      },
    });
  });

  after(async () => {
    await worker?.stop();
    await crm?.close();
  });

  test('a failed probe goes to the back of the line: the next probe is another delivery', async () => {
    const tripping = await postEvents(worker, 'tripping', 2, 100);
    await waitFor(async () => (await routesOf(worker)).crm.state === 'tripped',
      { what: 'the route tripped', timeoutMs: 30_000 });
    // Held first, so the oldest held delivery: the first to be probed.
    await postEach(worker, 'email.opened', [refused]);
    const later = await postEvents(worker, 'later', 2, 100);
    await waitFor(async () => (await routesOf(worker)).crm.held >= 5,
      { what: 'all 5 held', timeoutMs: 30_000 });
    // Healthy now but for that delivery, which it answers 400 forever.
    crm.setHealthy(true);
    await waitFor(async () => (await routesOf(worker)).crm.state === 'active',
      { what: 'the route recovered by a probe', timeoutMs: 60_000 });
    const others = [...tripping, ...later];
    await waitFor(() => new Set(crm.delivered().map((request) => request.messageId)).size >= others.length,
      { what: 'the other four delivered', timeoutMs: 30_000 });
    const delivered = counts(crm.delivered());
    assert.deepEqual(others.map((id) => delivered.get(id)), [1, 1, 1, 1], 'each delivered exactly once');
    assert.ok(crm.received.some((request) => request.messageId === refused && request.status === 400),
      'the refused delivery was probed');
  });
});

describe('a rate-limited route never gets more than its limit in any second', () => {
  let worker;
  let crm;

  before(async () => {
    crm = await backend();
    worker = await startWorker('health-rate', {
      health: true,
      adminToken: TOKEN,
      vars: { ROUTES: [{ name: 'crm', url: `${crm.url}/hook`, rate_limit: { per_second: 4 } }] },
    });
  });

  after(async () => {
    await worker?.stop();
    await crm?.close();
  });

  test('30 events at once arrive at 4 a second, each once, none failed', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => {
      const messageId = `msg_${RUN}_rate_${i}`;
      return worker.post(event('email.opened', { messageId })).then((answer) => {
        assert.equal(answer.status, 200);
        return messageId;
      });
    }));
    await waitFor(() => crm.delivered().length >= 30, { what: '30 deliveries', timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const times = crm.received.map((request) => request.at).sort((a, b) => a - b);
    for (const start of times) {
      const within = times.filter((at) => at >= start && at < start + 1000).length;
      assert.ok(within <= 4, `${within} requests in the second from ${start - times[0]} ms: ${times.map((at) => at - times[0])}`);
    }
    const delivered = counts(crm.delivered());
    assert.deepEqual(ids.map((id) => delivered.get(id)), Array(30).fill(1));
    assert.equal((await worker.admin('GET', '/admin/api/events?status=failed')).json.events.length, 0);
  });
});
