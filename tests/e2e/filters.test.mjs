// SPEC section 5, `filter`: a route takes an event only when its `events` and its
// `filter` both match. Against the built worker in workerd (Miniflare's API), real local HTTP
// backends (deliveries after the answer, no DELIVERY_QUEUE) and LeadNest's samples.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRET, event, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { EVENTS, samplePayload } from '../../tools/lib/leadnest.mjs';
import { startBackend } from '../../tools/backend.mjs';
import { main as send } from '../../tools/send.mjs';

const RUN = Date.now().toString(36);
const quiet = () => {};

// docs/filters.md's three examples, on the fields the samples carry.
const FILTERED_ROUTES = [
  { name: 'hard_bounces', events: ['email.bounced'], filter: { data: { bounce_type: 'hard' } } },
  { name: 'campaign_replies', events: ['sms.replied', 'whatsapp.replied'], filter: { data: { campaign_id: 'camp_spring' } } },
  { name: 'all_but_test', events: ['*'], filter: { $not: { data: { list_id: 'list_test' } } } },
];

/** A bare value in a filter: the field equals it, or is an array that contains it. */
const is = (field, value) => field === value || (Array.isArray(field) && field.includes(value));

/** The routes that should take `payload`: the test's own reading of SPEC section 5. */
function expectedRoutes({ event: name, data }) {
  const routes = [];
  if (name === 'email.bounced' && is(data.bounce_type, 'hard')) routes.push('hard_bounces');
  if (['sms.replied', 'whatsapp.replied'].includes(name) && is(data.campaign_id, 'camp_spring')) routes.push('campaign_replies');
  if (!is(data.list_id, 'list_test')) routes.push('all_but_test');
  return routes;
}

/** The `data.probe` labels a backend received, with the event header of each. */
const probes = (backend) => backend.received.map((request) => {
  const { event: name, data } = JSON.parse(request.body.toString('utf8'));
  assert.equal(request.headers['x-leadnest-event'], name);
  return data.probe;
}).sort();

describe('three routes, three filters', () => {
  let worker;
  const backends = {};
  /** Every case posted: { probe, payload, routes } (routes: what the worker answered). */
  const posted = [];

  before(async () => {
    for (const { name } of FILTERED_ROUTES) backends[name] = await startBackend({ port: 0, log: quiet });
    worker = await startWorker('filters', {
      deliveryQueue: false,
      vars: { ROUTES: FILTERED_ROUTES.map((route) => ({ ...route, url: backends[route.name].url })) },
    });
  });
  after(async () => {
    await worker?.stop();
    await Promise.all(Object.values(backends).map((backend) => backend.close()));
  });

  /** Posts the sample of `name` with `data` merged in; asserts the answer's routes. */
  async function post(name, data = {}) {
    const probe = `${RUN}_${posted.length}`;
    const payload = samplePayload(name);
    Object.assign(payload.data, data, { probe });
    const answer = await worker.post(payload);
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.equal(answer.json.status, 'accepted');
    const routes = expectedRoutes(payload);
    assert.deepEqual(answer.json.routes, routes, `${name} ${JSON.stringify(data)}`);
    posted.push({ probe, payload, routes });
    return answer;
  }

  test('every event as LeadNest samples it: the catch-all takes each, the hard bounce goes to the CRM too', async () => {
    for (const name of EVENTS) await post(name);
    const taken = posted.filter((c) => c.routes.includes('hard_bounces')).map((c) => c.payload.event);
    assert.deepEqual(taken, ['email.bounced']);
    assert.ok(posted.every((c) => c.routes.includes('all_but_test')));
    // The samples' replies are of other campaigns.
    assert.ok(posted.every((c) => !c.routes.includes('campaign_replies')));
  });

  test('the fields decide: bounce type, campaign, list', async () => {
    await post('email.bounced', { bounce_type: 'soft' });
    await post('email.bounced', { bounce_type: 'hard', list_id: 'list_test' });
    await post('email.bounced', { bounce_type: 'HARD' });
    await post('sms.replied', { campaign_id: 'camp_spring' });
    await post('whatsapp.replied', { campaign_id: 'camp_spring' });
    await post('whatsapp.replied', { campaign_id: 'camp_spring', list_id: 'list_test' });
    await post('sms.replied', { campaign_id: ['camp_1', 'camp_spring'] }); // an array field containing it matches
    await post('subscriber.updated', { list_id: ['list_main01', 'list_test'] }); // on the test list too: not taken
    await post('whatsapp.replied', { campaign_id: 'camp_spring_2' });
    await post('sms.sent', { campaign_id: 'camp_spring' }); // the filter matches, the events do not
    await post('email.bounced', { bounce_type: undefined }); // no bounce_type at all (JSON drops it)
    for (const name of ['subscriber.created', 'subscriber.updated', 'subscriber.deleted', 'email.unsubscribed', 'email.opened']) {
      await post(name, { list_id: 'list_test' });
    }
    await post('subscriber.created', { list_id: 'list_main01' });
    // Nothing took these: accepted with no routes.
    assert.ok(posted.filter((c) => c.routes.length === 0).length >= 5);
    // Each route took something and left something.
    for (const { name } of FILTERED_ROUTES) {
      assert.ok(posted.some((c) => c.routes.includes(name)), `${name} took nothing`);
      assert.ok(posted.some((c) => !c.routes.includes(name)), `${name} took everything`);
    }
  });

  test('each backend received exactly the events its route took, once each', async () => {
    const total = posted.reduce((n, c) => n + c.routes.length, 0);
    // Each delivery began when its event was answered, before this test; the worker logs
    // every attempt it makes: once each expected one is logged, a stray one would be too.
    await waitFor(() => Object.values(backends).reduce((n, b) => n + b.received.length, 0) >= total
      && worker.deliveries().length >= total, { timeoutMs: 30_000, what: `${total} deliveries` });
    for (const { name } of FILTERED_ROUTES) {
      const expected = posted.filter((c) => c.routes.includes(name)).map((c) => c.probe).sort();
      assert.deepEqual(probes(backends[name]), expected, name);
    }
    const delivered = worker.deliveries().filter((line) => line.outcome === 'delivered');
    assert.equal(delivered.length, total);
  });

  test('npm run send --set tries a filter against the worker', async () => {
    const lines = [];
    const code = await send(['email.bounced', '--url', `${worker.url}/webhooks/leadnest`, '--secret', SECRET,
      '--set', 'data.bounce_type=soft', '--set', `data.probe=${RUN}_send`], (line) => lines.push(line));
    assert.equal(code, 0);
    assert.match(lines[0], /"routes":\["all_but_test"\]/);
    const again = [];
    assert.equal(await send(['sms.replied', '--url', `${worker.url}/webhooks/leadnest`, '--secret', SECRET,
      '--set', 'data.campaign_id=camp_spring', '--set', 'data.list_id=list_test'], (line) => again.push(line)), 0);
    assert.match(again[0], /"routes":\["campaign_replies"\]/);
  });
});

test('a malformed filter: /health names the route and the place in the filter, the ingress answers 500', async () => {
  const backend = await startBackend({ port: 0, log: quiet });
  const worker = await startWorker('filters-malformed', {
    deliveryQueue: false,
    vars: {
      ROUTES: [
        { name: 'crm', url: backend.url, events: ['email.*'], filter: { data: { amount: { $gt: {} } } } },
        { name: 'audit', url: backend.url, filter: { $or: [{ data: { email: { $regex: '.*@example\\.com' } } }] } },
        { name: 'fine', url: backend.url, filter: {} },
      ],
    },
  });
  try {
    const health = await worker.get('/health');
    assert.equal(health.status, 503);
    assert.equal(health.json.status, 'misconfigured');
    const { problems } = health.json;
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0], /^ROUTES\[0\] \("crm"\)\.filter: at \/data\/amount\/\$gt: takes a number or a string/);
    assert.match(problems[1], /^ROUTES\[1\] \("audit"\)\.filter: at \/\$or\/0\/data\/email\/\*: is not an operator/);
    // /health is public: the filter's values are not repeated.
    assert.ok(!JSON.stringify(health.json).includes('example'));

    const answer = await worker.post(event('email.bounced', { data: { amount: 5 } }));
    assert.equal(answer.status, 500);
    assert.equal(answer.json.error, 'misconfigured');
    assert.match(answer.json.message, /ROUTES\[0\] \("crm"\)\.filter/);
    // Refused before any route is looked at: nothing was handed to a delivery, and the
    // worker logged the refusal.
    await waitFor(() => worker.logs.some((l) => l.outcome === 'rejected'), { what: 'the refusal logged' });
    assert.equal(worker.deliveries().length, 0);
    assert.equal(backend.received.length, 0);
  } finally {
    await worker.stop();
    await backend.close();
  }
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
