// A worker started with invalid configuration answers 500 misconfigured on the
// ingress and 503 on /health, naming each problem and no secret's value.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { event, startWorker, everyLineWasJson } from './harness.mjs';

const workers = [];
after(() => Promise.all(workers.map((w) => w.stop())));

test('missing WEBHOOK_SECRET and DEDUP binding', async () => {
  const worker = await startWorker('misconfigured-missing', {
    kv: false, deliveryQueue: false, secrets: { WEBHOOK_SECRET: null },
  });
  workers.push(worker);
  const health = await worker.get('/health');
  assert.equal(health.status, 503);
  assert.equal(health.json.status, 'misconfigured');
  assert.equal(health.json.problems.length, 2);
  assert.match(health.json.problems[0], /WEBHOOK_SECRET/);
  assert.match(health.json.problems[1], /DEDUP/);

  const answer = await worker.post(event());
  assert.equal(answer.status, 500);
  assert.equal(answer.json.error, 'misconfigured');
  assert.match(answer.json.message, /WEBHOOK_SECRET/);
  assert.match(answer.json.message, /DEDUP/);
});

test('invalid ROUTES and numbers, named without secret values', async () => {
  const worker = await startWorker('misconfigured-routes', {
    deliveryQueue: false,
    vars: {
      MAX_BODY_BYTES: '500000',
      DEDUP_TTL_SECONDS: '30',
      ROUTES: [
        { name: 'crm', url: 'http://crm.example.com/hook', signing_secret: 'CRM_SIGNING_SECRET' },
        { name: 'analytics', queue: 'ANALYTICS_QUEUE' },
      ],
    },
    secrets: { CRM_SIGNING_SECRET: 'not-a-whsec-value-123' },
  });
  workers.push(worker);
  const health = await worker.get('/health');
  assert.equal(health.status, 503);
  const problems = health.json.problems.join('\n');
  for (const expected of ['MAX_BODY_BYTES', 'DEDUP_TTL_SECONDS', 'ROUTES[0] ("crm").url', 'ROUTES[0] ("crm").signing_secret', 'ROUTES[1] ("analytics").queue']) {
    assert.ok(problems.includes(expected), `${expected} not in:\n${problems}`);
  }
  assert.ok(!problems.includes('not-a-whsec-value-123'));
  const answer = await worker.post(event());
  assert.equal(answer.status, 500);
  assert.equal(answer.json.error, 'misconfigured');
  assert.ok(!answer.json.message.includes('not-a-whsec-value-123'));
});

test('a secret put where a name belongs, and URL credentials, are never repeated', async () => {
  // /health is unauthenticated: its problems must not publish what ROUTES holds.
  const whsec = 'whsec_ZTJlLWxlYWtlZC1zaWduaW5nLWtleS12YWx1ZQ==';
  const hidden = [whsec, 'ZTJlLWxlYWtlZC1zaWduaW5nLWtleS12YWx1ZQ', 'billing-user', 'billing-pass-4321',
    'tok-8765zyxw', 'audit-user', 'audit-pass-9876', 'tok-1234abcd'];
  const worker = await startWorker('misconfigured-leaks', {
    deliveryQueue: false,
    vars: {
      ROUTES: [
        { name: 'crm', url: 'https://crm.example.com/hook', signing_secret: whsec },
        // Does not parse (a space in the host), and carries credentials and a token.
        { name: 'billing', url: 'https://billing-user:billing-pass-4321@billing example.com/in?token=tok-8765zyxw' },
        // Parses, but plain http to another machine.
        { name: 'audit', url: 'http://audit-user:audit-pass-9876@audit.example.com/in?token=tok-1234abcd' },
      ],
    },
  });
  workers.push(worker);
  const health = await worker.get('/health');
  assert.equal(health.status, 503);
  assert.equal(health.json.status, 'misconfigured');
  const answer = await worker.post(event());
  assert.equal(answer.status, 500);
  assert.equal(answer.json.error, 'misconfigured');
  const said = [JSON.stringify(health.json), JSON.stringify(answer.json),
    ...worker.logs.filter((line) => line.outcome).map((line) => JSON.stringify(line))].join('\n');
  for (const value of hidden) assert.ok(!said.includes(value), `${value} repeated in:\n${said}`);

  // Each problem is still named, on /health and in the ingress answer.
  for (const expected of ['ROUTES[0] ("crm").signing_secret: does not look like a secret\'s name',
    'ROUTES[1] ("billing").url: is not an absolute URL', 'ROUTES[2] ("audit").url: must use https']) {
    assert.ok(health.json.problems.some((problem) => problem.startsWith(expected)),
      `${expected} not in:\n${health.json.problems.join('\n')}`);
    assert.ok(answer.json.message.includes(expected), answer.json.message);
  }
});

test('ROUTES given as a JSON string works like the JSON value form', async () => {
  const worker = await startWorker('routes-string', {
    deliveryQueue: false,
    vars: { ROUTES: JSON.stringify([{ name: 'a', url: 'http://127.0.0.1:9/x', events: ['sms.*'] }]) },
  });
  workers.push(worker);
  assert.equal((await worker.get('/health')).status, 200);
  const answer = await worker.post(event('sms.sent'));
  assert.deepEqual(answer.json.routes, ['a']);
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
