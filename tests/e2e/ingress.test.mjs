// SPEC sections 2 and 3 against the built worker in workerd (Miniflare's API).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRET, event, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { sign } from '../../tools/lib/leadnest.mjs';
import { startBackend } from '../../tools/backend.mjs';

const ROTATED = 'rotated_secret';
let worker;

before(async () => {
  worker = await startWorker('ingress', {
    deliveryQueue: false,
    vars: { MAX_BODY_BYTES: '2048' },
    secrets: { WEBHOOK_SECRET: ` ${SECRET} , ${ROTATED} ` },
  });
});
after(() => worker?.stop());

function assertError(answer, status, code) {
  assert.equal(answer.status, status, JSON.stringify(answer.json));
  assert.equal(answer.json.error, code);
  assert.equal(typeof answer.json.message, 'string');
  assert.ok(answer.json.message.length > 10);
  assert.equal(answer.headers.get('content-type'), 'application/json');
}

describe('endpoints', () => {
  test('GET /health answers ok', async () => {
    const answer = await worker.get('/health');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { status: 'ok' });
    assert.equal(answer.headers.get('content-type'), 'application/json');
  });

  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    test(`${method} on the ingress is 405 with Allow: POST`, async () => {
      const answer = await worker.get('/webhooks/leadnest', { method, body: method === 'GET' ? undefined : '{}' });
      assertError(answer, 405, 'method_not_allowed');
      assert.equal(answer.headers.get('allow'), 'POST');
    });
  }

  for (const path of ['/', '/nope', '/webhooks/leadnest/', '/webhooks/%6Ceadnest', '/WEBHOOKS/LEADNEST', '/health/x']) {
    test(`${path} is 404`, async () => {
      assertError(await worker.get(path), 404, 'not_found');
    });
  }

  test('a POST to another path is 404, and nothing is accepted', async () => {
    const answer = await worker.post(event(), { path: '/webhooks/other' });
    assertError(answer, 404, 'not_found');
  });
});

describe('signature', () => {
  test('a LeadNest-signed event is accepted with no routes', async () => {
    const body = event('email.opened', { messageId: 'msg_accept_1' });
    const answer = await worker.post(body);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { status: 'accepted', event: 'email.opened', message_id: 'msg_accept_1', routes: [] });
  });

  test('missing header is 401 missing_signature', async () => {
    assertError(await worker.post(event(), { signature: null }), 401, 'missing_signature');
  });

  test('each header form is accepted: uppercase, sha256= prefix', async () => {
    for (const form of [(s) => s.toUpperCase(), (s) => `sha256=${s}`, (s) => `SHA256=${s.toUpperCase()}`]) {
      const raw = JSON.stringify(event());
      const answer = await worker.post(raw, { signature: form(sign(raw, SECRET)) });
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.json.status, 'accepted');
    }
  });

  test('any rotated secret passes', async () => {
    const answer = await worker.post(event(), { secret: ROTATED });
    assert.equal(answer.status, 200);
  });

  test('wrong secret, wrong body, malformed headers are 401 invalid_signature', async () => {
    const raw = JSON.stringify(event());
    const good = sign(raw, SECRET);
    const cases = [
      sign(raw, 'not_the_secret'),
      sign(raw + ' ', SECRET),
      good.slice(0, 63),
      `${good}00`,
      `sha1=${good}`,
      Buffer.from(good, 'hex').toString('base64'),
      'not hex at all',
    ];
    for (const signature of cases) {
      assertError(await worker.post(raw, { signature }), 401, 'invalid_signature');
    }
  });

  test('nothing in the body is read before the signature passes', async () => {
    assertError(await worker.post('not json', { signature: sign('other', SECRET) }), 401, 'invalid_signature');
    assertError(await worker.post('x'.repeat(100), { signature: null }), 401, 'missing_signature');
  });
});

describe('payload', () => {
  const cases = [
    ['not JSON', 'this is not json', 'body'],
    ['an array', '[1,2]', 'body'],
    ['no event', JSON.stringify({ timestamp: new Date().toISOString(), data: {} }), '`event`'],
    ['empty event', JSON.stringify({ ...event(), event: '' }), '`event`'],
    ['event without a dot', JSON.stringify({ ...event(), event: 'opened' }), '`event`'],
    ['event a number', JSON.stringify({ ...event(), event: 42 }), '`event`'],
    ['no timestamp', JSON.stringify({ event: 'email.sent', data: {} }), '`timestamp`'],
    ['bare date', JSON.stringify({ ...event(), timestamp: '2024-01-15' }), '`timestamp`'],
    ['number timestamp', JSON.stringify({ ...event(), timestamp: 1705314600 }), '`timestamp`'],
    ['impossible date', JSON.stringify({ ...event(), timestamp: '2024-02-30T10:30:00Z' }), '`timestamp`'],
    ['no offset', JSON.stringify({ ...event(), timestamp: '2024-01-15T10:30:00' }), '`timestamp`'],
    ['no data', JSON.stringify({ event: 'email.sent', timestamp: new Date().toISOString() }), '`data`'],
    ['data an array', JSON.stringify({ ...event(), data: [] }), '`data`'],
    ['data a string', JSON.stringify({ ...event(), data: 'x' }), '`data`'],
  ];
  for (const [name, raw, field] of cases) {
    test(`${name} is 400 invalid_payload naming ${field}`, async () => {
      const answer = await worker.post(raw);
      assertError(answer, 400, 'invalid_payload');
      assert.ok(answer.json.message.includes(field), answer.json.message);
    });
  }

  test('non-UTF-8 body is 400 invalid_payload', async () => {
    const raw = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const answer = await worker.post(raw);
    assertError(answer, 400, 'invalid_payload');
    assert.match(answer.json.message, /UTF-8/);
  });

  test('fractional seconds and offsets are accepted', async () => {
    const now = new Date();
    const offset = new Date(now.getTime() + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    for (const timestamp of [now.toISOString(), offset]) {
      const answer = await worker.post({ ...event(), timestamp });
      assert.equal(answer.status, 200, `${timestamp}: ${JSON.stringify(answer.json)}`);
    }
  });

  test('an unknown but well-formed event is accepted', async () => {
    const answer = await worker.post(event('push.delivered'));
    assert.equal(answer.status, 200);
    assert.equal(answer.json.event, 'push.delivered');
    assert.deepEqual(answer.json.routes, []);
  });
});

describe('freshness', () => {
  test('a timestamp just inside the window is accepted', async () => {
    assert.equal((await worker.post(event('email.sent', { ageSeconds: 290 }))).status, 200);
    assert.equal((await worker.post(event('email.sent', { ageSeconds: -290 }))).status, 200);
  });

  test('too old is 401 stale_timestamp', async () => {
    const answer = await worker.post(event('email.sent', { ageSeconds: 3600 }));
    assertError(answer, 401, 'stale_timestamp');
    assert.match(answer.json.message, /past/);
  });

  test('too far in the future is 401 stale_timestamp', async () => {
    const answer = await worker.post(event('email.sent', { ageSeconds: -3600 }));
    assertError(answer, 401, 'stale_timestamp');
    assert.match(answer.json.message, /future/);
  });
});

describe('late retries', () => {
  // LeadNest retries with the event's original timestamp: after an outage longer than
  // the tolerance, only a wider TIMESTAMP_TOLERANCE_SECONDS lets the retry in, and
  // dedup (DEDUP_TTL_SECONDS >= the tolerance) still stops a replay.
  let tolerant;
  let backend;
  before(async () => {
    backend = await startBackend({ port: 0, log: () => {} });
    tolerant = await startWorker('ingress-late', {
      deliveryQueue: false,
      vars: { TIMESTAMP_TOLERANCE_SECONDS: '3600', ROUTES: [{ name: 'late', url: `${backend.url}/hook` }] },
    });
  });
  after(async () => {
    await tolerant?.stop();
    await backend?.close();
  });

  test('an event 20 minutes old: stale by default, accepted once with a 3600 s tolerance', async () => {
    const raw = JSON.stringify(event('email.bounced', { messageId: 'msg_late_retry', ageSeconds: 20 * 60 }));
    const stale = await worker.post(raw);
    assertError(stale, 401, 'stale_timestamp');
    assert.match(stale.json.message, /TIMESTAMP_TOLERANCE_SECONDS \(300 s\)/);

    const accepted = await tolerant.post(raw);
    assert.deepEqual(accepted.json,
      { status: 'accepted', event: 'email.bounced', message_id: 'msg_late_retry', routes: ['late'] });
    const again = await tolerant.post(raw);
    assert.deepEqual(again.json, { status: 'duplicate', event: 'email.bounced', message_id: 'msg_late_retry' });
    await waitFor(() => backend.received.length >= 1, { what: 'the delivery' });
    // A delivery of the duplicate would have begun when it was answered: a later event,
    // delivered, shows the worker has moved past it.
    const later = event('email.bounced', { messageId: 'msg_late_after' });
    assert.equal((await tolerant.post(later)).json.status, 'accepted');
    await waitFor(() => backend.received.some((r) => r.body.toString().includes('msg_late_after')), { what: 'the later delivery' });
    assert.equal(backend.received.filter((r) => r.body.toString().includes('msg_late_retry')).length, 1, 'delivered once');
  });
});

describe('dedup', () => {
  test('a redelivery is a duplicate', async () => {
    const raw = JSON.stringify(event('email.clicked', { messageId: 'msg_dup_1' }));
    assert.equal((await worker.post(raw)).json.status, 'accepted');
    const again = await worker.post(raw);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, { status: 'duplicate', event: 'email.clicked', message_id: 'msg_dup_1' });
  });

  test('a redelivery with other formatting is still a duplicate', async () => {
    const body = event('email.delivered', { messageId: 'msg_dup_2' });
    assert.equal((await worker.post(JSON.stringify(body))).json.status, 'accepted');
    assert.equal((await worker.post(JSON.stringify(body, null, 2))).json.status, 'duplicate');
  });

  test('email.sent then email.opened of one message are both accepted', async () => {
    const timestamp = new Date().toISOString();
    const sent = { event: 'email.sent', timestamp, data: { message_id: 'msg_two_events' } };
    const opened = { ...sent, event: 'email.opened' };
    assert.equal((await worker.post(sent)).json.status, 'accepted');
    assert.equal((await worker.post(opened)).json.status, 'accepted');
    assert.equal((await worker.post(opened)).json.status, 'duplicate');
  });

  test('a subscriber event without message_id, sent twice, is a duplicate the second time', async () => {
    const body = event('subscriber.created', { messageId: null, data: { subscriber_id: 'sub_e2e_1' } });
    const first = await worker.post(body);
    assert.deepEqual(first.json, { status: 'accepted', event: 'subscriber.created', message_id: null, routes: [] });
    const second = await worker.post(body);
    assert.deepEqual(second.json, { status: 'duplicate', event: 'subscriber.created', message_id: null });
    // Another subscriber is another event.
    const other = await worker.post({ ...body, data: { subscriber_id: 'sub_e2e_2' } });
    assert.equal(other.json.status, 'accepted');
  });

  test('a rejected event is not recorded', async () => {
    const body = event('sms.sent', { messageId: 'msg_rejected_first' });
    assert.equal((await worker.post(body, { secret: 'wrong' })).status, 401);
    assert.equal((await worker.post(body)).json.status, 'accepted');
  });
});
describe('dedup memory of the isolate (DEDUP_MEMORY_KEYS)', () => {
  let forgetful;
  before(async () => {
    forgetful = await startWorker('ingress-no-memory', { deliveryQueue: false, vars: { DEDUP_MEMORY_KEYS: '0' } });
  });
  after(() => forgetful?.stop());

  test('an event this isolate recorded stays a duplicate without a KV read; with 0 the KV decides', async () => {
    for (const [w, afterForgetting] of [[worker, 'duplicate'], [forgetful, 'accepted']]) {
      const body = JSON.stringify(event('sms.delivered', { messageId: `msg_memory_${w.name}` }));
      assert.equal((await w.post(body)).json.status, 'accepted');
      assert.equal((await w.post(body)).json.status, 'duplicate');
      assert.ok(await w.forgetDedupKeys() >= 1);
      assert.equal((await w.post(body)).json.status, afterForgetting, w.name);
    }
  });
});


describe('body size', () => {
  test('a declared Content-Length over MAX_BODY_BYTES is 413', async () => {
    const big = JSON.stringify(event('email.sent', { data: { pad: 'x'.repeat(4000) } }));
    assertError(await worker.post(big), 413, 'payload_too_large');
    // The next request still works.
    assert.equal((await worker.post(event())).status, 200);
  });

  test('a streamed body without Content-Length is limited on the bytes read', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(1024));
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent++ < 4) controller.enqueue(chunk); else controller.close();
      },
    });
    const response = await fetch(`${worker.url}/webhooks/leadnest`, {
      method: 'POST', body: stream, duplex: 'half',
      headers: { 'content-type': 'application/json', 'x-leadnest-signature': '0'.repeat(64) },
    });
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error, 'payload_too_large');
    assert.equal((await worker.post(event())).status, 200);
  });

  test('a body of exactly MAX_BODY_BYTES is accepted', async () => {
    const base = JSON.stringify(event('email.sent', { data: { pad: '' } }));
    const raw = base.replace('"pad":""', `"pad":"${'y'.repeat(2048 - base.length)}"`);
    assert.equal(Buffer.byteLength(raw), 2048);
    assert.equal((await worker.post(raw)).status, 200);
  });
});

describe('logs', () => {
  test('one JSON line per ingress request, without secrets, signatures or personal data', async () => {
    const raw = JSON.stringify(event('email.opened', {
      messageId: 'msg_log_check', data: { email: 'person@example.com', phone: '+15550001111', ip_address: '203.0.113.9' },
    }));
    const signature = sign(raw, SECRET);
    await worker.post(raw, { signature });
    const line = await waitForLog((l) => l.message_id === 'msg_log_check');
    assert.equal(line.outcome, 'accepted');
    assert.equal(line.event, 'email.opened');
    assert.deepEqual(line.routes, []);
    assert.equal(line.unrouted, true);
    assert.equal(typeof line.duration_ms, 'number');
    const rejected = worker.logs.filter((l) => l.outcome === 'rejected');
    assert.ok(rejected.some((l) => l.reason === 'invalid_signature'));
    for (const secret of [SECRET, ROTATED, signature, 'person@example.com', '+15550001111', '203.0.113.9']) {
      assert.ok(!worker.output.includes(secret), `log output holds ${secret}`);
    }
  });
});

async function waitForLog(match) {
  for (let i = 0; i < 50; i++) {
    const line = worker.logs.find(match);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('log line not found');
}

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
