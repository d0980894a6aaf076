// Hostile and broken HTTP against the running worker: each gets its SPEC code,
// and nothing is forwarded or recorded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { SECRET, event, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { sign } from '../../tools/lib/leadnest.mjs';
import { startBackend } from '../../tools/backend.mjs';

let worker;
let backend;

before(async () => {
  backend = await startBackend({ port: 0, log: () => {} });
  worker = await startWorker('hostile', {
    deliveryQueue: false,
    vars: { ROUTES: [{ name: 'sink', url: `${backend.url}/hook`, events: ['*'] }] },
  });
});
after(async () => {
  await worker?.stop();
  await backend?.close();
});

/** Posts a raw body with a valid signature and expects `status` and `code`. */
async function expectRefused(raw, status, code, options = {}) {
  const answer = await worker.post(raw, options);
  assert.equal(answer.status, status, `${String(raw).slice(0, 80)}: ${JSON.stringify(answer.json)}`);
  assert.equal(answer.json.error, code);
  return answer;
}

const ts = () => new Date().toISOString();

describe('bodies', () => {
  test('empty', () => expectRefused('', 400, 'invalid_payload'));
  test('whitespace only', () => expectRefused('   \n', 400, 'invalid_payload'));
  test('huge (1 MB)', () => expectRefused('x'.repeat(1 << 20), 413, 'payload_too_large', { signature: null }));
  test('not UTF-8', () => expectRefused(Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), 400, 'invalid_payload'));
  test('deeply nested envelope field', () =>
    expectRefused(`{"event":${'['.repeat(5000)}${']'.repeat(5000)},"timestamp":"${ts()}","data":{}}`, 400, 'invalid_payload'));
  test('duplicate keys', () =>
    expectRefused(`{"event":"email.sent","event":"email.opened","timestamp":"${ts()}","data":{}}`, 400, 'invalid_payload'));
  test('numbers where strings belong', async () => {
    await expectRefused(JSON.stringify({ event: 1, timestamp: ts(), data: {} }), 400, 'invalid_payload');
    await expectRefused(JSON.stringify({ event: 'email.sent', timestamp: 1e300, data: {} }), 400, 'invalid_payload');
  });
  test('NaN and Infinity are not JSON', async () => {
    await expectRefused(`{"event":"email.sent","timestamp":NaN,"data":{}}`, 400, 'invalid_payload');
    await expectRefused(`{"event":"email.sent","timestamp":"${ts()}","data":{"n":Infinity}}`, 400, 'invalid_payload');
  });
  test('trailing garbage', () =>
    expectRefused(`${JSON.stringify(event())} trailing`, 400, 'invalid_payload'));
});

describe('timestamps', () => {
  test('out of range', () => expectRefused(JSON.stringify({ ...event(), timestamp: '+275760-09-13T00:00:00Z' }), 400, 'invalid_payload'));
  test('year 0 and negative offsets beyond a day', async () => {
    await expectRefused(JSON.stringify({ ...event(), timestamp: '0000-01-01T00:00:00Z' }), 401, 'stale_timestamp');
    await expectRefused(JSON.stringify({ ...event(), timestamp: '2024-01-15T10:30:00+25:00' }), 400, 'invalid_payload');
  });
  test('a leap second is a valid time, and an old one is stale', () =>
    expectRefused(JSON.stringify({ ...event(), timestamp: '2016-12-31T23:59:60Z' }), 401, 'stale_timestamp'));
  test('far future', () => expectRefused(JSON.stringify({ ...event(), timestamp: '9999-12-31T23:59:59Z' }), 401, 'stale_timestamp'));
  test('the string "NaN"', () => expectRefused(JSON.stringify({ ...event(), timestamp: 'NaN' }), 400, 'invalid_payload'));
});

describe('signature headers', () => {
  test('over-long', () => expectRefused(JSON.stringify(event()), 401, 'invalid_signature', { signature: 'a'.repeat(8000) }));
  test('base64 of the right digest', () => {
    const raw = JSON.stringify(event());
    const b64 = Buffer.from(sign(raw, SECRET), 'hex').toString('base64');
    return expectRefused(raw, 401, 'invalid_signature', { signature: b64 });
  });
  test('repeated: two headers are refused even when one is right', async () => {
    const raw = JSON.stringify(event());
    const response = await fetch(`${worker.url}/webhooks/leadnest`, {
      method: 'POST',
      body: raw,
      headers: [['x-leadnest-signature', sign(raw, SECRET)], ['x-leadnest-signature', sign(raw, SECRET)]],
    });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error, 'invalid_signature');
  });
  test('surrounding whitespace is ignored, as HTTP does', async () => {
    const raw = JSON.stringify(event());
    const answer = await worker.post(raw, { signature: `  ${sign(raw, SECRET)}  ` });
    assert.equal(answer.status, 200);
  });
  test('empty', () => expectRefused(JSON.stringify(event()), 401, 'invalid_signature', { signature: '' }));
});

describe('requests', () => {
  test('a wrong content type does not matter: the signature does', async () => {
    const answer = await worker.post(event(), { headers: { 'content-type': 'text/plain' } });
    assert.equal(answer.status, 200);
  });

  test('a Content-Length shorter than the body: only the declared bytes are read', async () => {
    const raw = JSON.stringify(event());
    const head = [
      'POST /webhooks/leadnest HTTP/1.1', `Host: ${new URL(worker.url).host}`, 'Connection: close',
      'Content-Type: application/json', `X-LeadNest-Signature: ${sign(raw, SECRET)}`,
      `Content-Length: ${raw.length - 10}`, '', '',
    ].join('\r\n');
    // The extra bytes follow as a garbage next request, so the connection may stay open.
    const answer = await rawRequest(head + raw, { endAfterMs: 1500 });
    assert.match(answer, /^HTTP\/1\.1 401/);
    assert.match(answer, /invalid_signature/);
  });

  test('a Content-Length longer than the body: no answer is accepted', async () => {
    const raw = JSON.stringify(event('email.sent', { messageId: 'msg_cl_long' }));
    const head = [
      'POST /webhooks/leadnest HTTP/1.1', `Host: ${new URL(worker.url).host}`,
      'Content-Type: application/json', `X-LeadNest-Signature: ${sign(raw, SECRET)}`,
      `Content-Length: ${raw.length + 100}`, '', '',
    ].join('\r\n');
    const answer = await rawRequest(head + raw, { endAfterMs: 300 });
    assert.doesNotMatch(answer, /accepted/);
    // The event was not recorded: sent properly, it is accepted.
    assert.equal((await worker.post(raw)).json.status, 'accepted');
  });

  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    test(`${method} is 405`, async () => {
      const response = await fetch(`${worker.url}/webhooks/leadnest`, { method, body: ['GET'].includes(method) ? undefined : '{}' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'POST');
      await response.arrayBuffer();
    });
  }

  for (const path of ['/webhooks/leadnest%2F', '/webhooks%2Fleadnest', '/webhooks/leadnest/..', '/webhooks//leadnest', '/webhooks/leadnest;x', '/%77ebhooks/leadnest']) {
    test(`path ${path} is 404`, async () => {
      const answer = await worker.post(event(), { path });
      assert.equal(answer.status, 404, JSON.stringify(answer.json));
    });
  }
});

// As deployed (no DRAIN_REFUSED_BODIES): a refusal is answered without reading
// the body on, while the client is still sending it. workerd's own socket (no proxy in
// front, as in production) sends the answer of a worker that cancels the body at once.
describe('early answers, as deployed', () => {
  let early;
  let misconfigured;
  before(async () => {
    early = await startWorker('hostile-early', { deliveryQueue: false, drain: false });
    misconfigured = await startWorker('hostile-early-misconfigured', {
      kv: false, deliveryQueue: false, drain: false, secrets: { WEBHOOK_SECRET: null },
    });
  });
  after(() => Promise.all([early?.stop(), misconfigured?.stop()]));

  test('a declared Content-Length over MAX_BODY_BYTES is 413 with 1 KB of 10 MB sent', async () => {
    const { answer } = await earlyAnswer(early, 'POST /webhooks/leadnest', ['Content-Length: 10000000'], { body: 'x'.repeat(1024) });
    assert.match(answer, /^HTTP\/1\.1 413 /, `no early answer: ${JSON.stringify(answer)}`);
    assert.match(answer, /"error":"payload_too_large"/);
  });

  for (const [request, status, code] of [
    ['POST /nowhere', 404, 'not_found'],
    ['PUT /webhooks/leadnest', 405, 'method_not_allowed'],
    ['POST /health', 405, 'method_not_allowed'],
  ]) {
    test(`${request} is ${status} before any of a 10 MB body is sent`, async () => {
      const { answer } = await earlyAnswer(early, request, ['Content-Length: 10000000']);
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `no early answer: ${JSON.stringify(answer)}`);
      assert.match(answer, new RegExp(`"error":"${code}"`));
    });
  }

  test('misconfigured is 500 before any of a 10 MB body is sent', async () => {
    const { answer } = await earlyAnswer(misconfigured, 'POST /webhooks/leadnest', ['Content-Length: 10000000']);
    assert.match(answer, /^HTTP\/1\.1 500 /, `no early answer: ${JSON.stringify(answer)}`);
    assert.match(answer, /"error":"misconfigured"/);
  });

  // Last: under wrangler dev (`npm run dev`), the request after one whose half-read
  // body the worker cancelled gets a 503 from its proxy; kept last here too.
  test('a chunked body that never ends is 413 once past MAX_BODY_BYTES', async () => {
    const { answer, sent } = await earlyAnswer(early, 'POST /webhooks/leadnest', ['Transfer-Encoding: chunked'], { chunk: 'x'.repeat(4096) });
    assert.match(answer, /^HTTP\/1\.1 413 /, `no answer while streaming: ${JSON.stringify(answer)}`);
    assert.match(answer, /"error":"payload_too_large"/);
    assert.ok(sent > 65_536, `answered after ${sent} bytes, before the cap was passed`);
  });
});

// The admin API, as deployed: who may call, which call it is and a declared
// length are settled before any of the body is read (SPEC section 8).
describe('the admin API refuses before it reads, as deployed', () => {
  const TOKEN = `hostile-admin-token-${'0123456789abcdef'.repeat(2)}`;
  let admin;
  before(async () => {
    admin = await startWorker('hostile-admin', { deliveryQueue: false, drain: false, adminToken: TOKEN, assets: true });
  });
  after(() => admin?.stop());

  const bearer = `Authorization: Bearer ${TOKEN}`;
  for (const [what, request, headers, status, code] of [
    ['anonymous, a declared 50 MB', 'POST /admin/api/replay', ['Content-Length: 50000000'], 401, 'unauthorized'],
    ['a wrong token, a declared 50 MB', 'POST /admin/api/events/msg_00/replay', ['Content-Length: 50000000', `${bearer}x`], 401, 'unauthorized'],
    ['the token, a declared 50 MB', 'POST /admin/api/replay', ['Content-Length: 50000000', bearer], 413, 'payload_too_large'],
    ['the token, 64 KiB and one byte declared', 'POST /admin/api/test', ['Content-Length: 65537', bearer], 413, 'payload_too_large'],
    ['DELETE of an event', 'DELETE /admin/api/events/msg_00', ['Content-Length: 50000000', bearer], 405, 'method_not_allowed'],
  ]) {
    test(`${what}: ${status} before any more of the body is sent`, async () => {
      const { answer } = await earlyAnswer(admin, request, headers, { body: 'x'.repeat(1024) });
      assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `no early answer: ${JSON.stringify(answer)}`);
      // The server closes on the unsent rest, and the reset that follows can
      // drop the body's segment before this client reads it: the status and
      // headers are the early answer; the body, when it arrives, names the code.
      const body = answer.split('\r\n\r\n')[1];
      if (body) assert.match(body, new RegExp(`"error":"${code}"`));
      if (status === 405) assert.match(answer, /\r\nallow: GET\r\n/i);
    });
  }

  test('a console file is served with a declared 50 MB body never read', async () => {
    const { answer } = await earlyAnswer(admin, 'GET /admin/', ['Content-Length: 50000000', 'Accept: text/html'],
      { body: 'x'.repeat(1024), until: /<\/html>/ });
    assert.match(answer, /^HTTP\/1\.1 200 /, `no early answer: ${JSON.stringify(answer.slice(0, 200))}`);
    assert.match(answer, /content-security-policy/i);
  });

  // Last, as the chunked test above.
  test('the token, a chunked body that never ends: 413 once past 64 KiB', async () => {
    const { answer, sent } = await earlyAnswer(admin, 'POST /admin/api/replay', ['Transfer-Encoding: chunked', bearer],
      { chunk: 'x'.repeat(4096) });
    assert.match(answer, /^HTTP\/1\.1 413 /, `no answer while streaming: ${JSON.stringify(answer)}`);
    assert.match(answer, /"error":"payload_too_large"/);
    assert.ok(sent > 65_536, `answered after ${sent} bytes, before the cap was passed`);
  });
});

test('nothing refused was forwarded', async () => {
  // Every accepted request above was forwarded when it was answered, and a refused one
  // would have been then too, long before now: wait for the accepted ones, then compare.
  const accepted = () => worker.logs.filter((l) => l.outcome === 'accepted').length;
  await waitFor(() => backend.received.length === accepted(), { what: 'one delivery for each accepted event' })
    .catch(() => assert.equal(backend.received.length, accepted()));
  const rejected = worker.logs.filter((l) => l.outcome === 'rejected').length;
  assert.ok(rejected >= 20, `only ${rejected} rejections logged`);
});

/** Sends raw bytes over TCP and returns what came back (at most until close or `endAfterMs`). */
function rawRequest(bytes, { endAfterMs } = {}) {
  const { hostname, port } = new URL(worker.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    socket.setEncoding('utf8').on('data', (d) => { answer += d; });
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    if (endAfterMs) setTimeout(() => socket.destroy(), endAfterMs);
    setTimeout(() => { socket.destroy(); reject(new Error('no answer')); }, 10_000).unref();
  });
}

// Last: the worker gives up on the connection (under wrangler dev, its proxy then
// answered the next request with a 503).
test('with the drain on, an endless body is read at most 16 MiB, then the worker stops', async () => {
  const { ended, sent } = await earlyAnswer(worker, 'POST /webhooks/leadnest', ['Transfer-Encoding: chunked'],
    { chunk: 'x'.repeat(65_536), everyMs: 1, withinMs: 10_000 });
  // What reaches the client then varies (the 413, or a reset while it still sends);
  // what matters is that the worker stopped reading.
  assert.notEqual(ended, 'timeout', `still reading after ${sent} bytes`);
  assert.ok(sent >= 16 << 20, `ended after ${sent} bytes: was the body drained?`);
});

/**
 * Sends `request` ("METHOD /path") with `headers` and `body` over TCP, then (with
 * `chunk`) keeps sending a chunk every `everyMs` of a chunked body that never
 * ends. Returns what came back within `withinMs` without the client ever
 * finishing its body, how it ended (`answer`: a whole JSON answer; `closed`: by
 * the other side; `timeout`) and how many body bytes were written by then.
 */
function earlyAnswer(target, request, headers, { body = '', chunk, everyMs = 5, withinMs = 2000, until = /\r\n\r\n[^]*\}$/ } = {}) {
  const { hostname, port, host } = new URL(target.url);
  const head = [`${request} HTTP/1.1`, `Host: ${host}`, 'Content-Type: application/json', ...headers, '', ''].join('\r\n');
  const framed = chunk && Buffer.from(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  return new Promise((resolve) => {
    let answer = '';
    let sent = 0;
    let ended;
    const socket = connect(Number(port), hostname, () => {
      socket.write(head + body);
      sent += Buffer.byteLength(body);
      pump();
    });
    // Paced: a flood makes the server's close a reset that can destroy the
    // answer before the client reads it.
    function pump() {
      if (!framed || ended) return;
      socket.write(framed);
      sent += chunk.length;
      setTimeout(pump, everyMs);
    }
    const finish = (how) => {
      if (ended) return;
      ended = how;
      socket.destroy();
      resolve({ answer, sent, ended });
    };
    socket.setEncoding('utf8').on('data', (data) => {
      answer += data;
      if (until.test(answer)) finish('answer');
    });
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    setTimeout(() => finish('timeout'), withinMs);
  });
}

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
