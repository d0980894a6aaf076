// Tests of the local tools (tools/send.mjs, tools/backend.mjs and their shared lib),
// without the worker: a throwaway node:http server stands in for it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startBackend } from '../../tools/backend.mjs';
import { EVENTS, FIXTURES_DIR, ROOT, defaultSecret, samplePayload, sign } from '../../tools/lib/leadnest.mjs';
import { main as send } from '../../tools/send.mjs';

const SECRET = 'whsec_test';
const family = (event) => event.split('.')[0];

/** A stand-in for the worker: records raw requests and answers like the ingress would. */
async function startFakeWorker(secret = SECRET) {
  const requests = [];
  const seen = new Set();
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    requests.push({ headers: req.headers, body });
    const reply = (status, answer) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    };
    if (req.headers['x-leadnest-signature'] !== sign(body, secret)) return reply(401, { error: 'invalid_signature' });
    const { event, timestamp } = JSON.parse(body);
    if (Math.abs(Date.now() - Date.parse(timestamp)) > 300_000) return reply(401, { error: 'stale_timestamp' });
    const key = body.toString('hex');
    if (seen.has(key)) return reply(200, { status: 'duplicate', event });
    seen.add(key);
    return reply(200, { status: 'accepted', event, routes: [] });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/webhooks/leadnest`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Runs send.mjs's main in-process; resolves to { code, lines } or rejects with its CliError. */
async function runSend(args) {
  const lines = [];
  const code = await send(args, (line) => lines.push(line));
  return { code, lines };
}

describe('lib', () => {
  test('sign matches a known-answer vector', () => {
    const body = '{"event":"email.opened"}';
    const expected = '3a55ba525bace984d17aca377dfb87f39dd64a069bb2ae7c2a7754e7ec396298';
    assert.equal(sign(body, SECRET), expected);
    assert.equal(sign(Buffer.from(body), SECRET), expected);
  });

  test('one valid fixture per event', () => {
    const files = readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('.json')).sort();
    assert.deepEqual(files, EVENTS.map((e) => `${e}.json`).sort());
    assert.equal(files.length, 18);
    for (const event of EVENTS) {
      const fixture = JSON.parse(readFileSync(join(FIXTURES_DIR, `${event}.json`), 'utf8'));
      assert.equal(fixture.event, event);
      assert.equal(typeof fixture.timestamp, 'string');
      assert.ok(!Number.isNaN(Date.parse(fixture.timestamp)), `${event}: timestamp`);
      assert.equal(typeof fixture.data, 'object');
      assert.equal('message_id' in fixture.data, family(event) !== 'subscriber', `${event}: message_id`);
    }
  });

  test('samplePayload: fresh message_id except for subscriber events, current timestamp', () => {
    for (const event of EVENTS) {
      const a = samplePayload(event);
      const b = samplePayload(event);
      assert.equal(a.event, event);
      assert.ok(Math.abs(Date.now() - Date.parse(a.timestamp)) < 5_000);
      if (family(event) === 'subscriber') {
        assert.equal(a.data.message_id, undefined);
      } else {
        assert.match(a.data.message_id, /^msg_[0-9a-f]+$/);
        assert.notEqual(a.data.message_id, b.data.message_id);
      }
    }
    const fixed = samplePayload('sms.sent', { timestamp: '2024-02-01T00:00:00Z', messageId: 'msg_1' });
    assert.equal(fixed.timestamp, '2024-02-01T00:00:00Z');
    assert.equal(fixed.data.message_id, 'msg_1');
  });

  test('defaultSecret reads .dev.vars (first of several), else .dev.vars.example', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leadnest-'));
    try {
      assert.equal(defaultSecret(dir), undefined);
      writeFileSync(join(dir, '.dev.vars.example'), '# comment\nWEBHOOK_SECRET=example_secret\n');
      assert.equal(defaultSecret(dir), 'example_secret');
      writeFileSync(join(dir, '.dev.vars'), 'OTHER=1\nWEBHOOK_SECRET="new_secret,old_secret"\n');
      assert.equal(defaultSecret(dir), 'new_secret');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('send', () => {
  let worker;
  before(async () => { worker = await startFakeWorker(); });
  after(() => worker.close());

  test('signs the exact bytes it posts, as LeadNest does', async () => {
    const start = worker.requests.length;
    const { code, lines } = await runSend(['email.opened', '--url', worker.url, '--secret', SECRET, '--count', '3']);
    assert.equal(code, 0);
    const sent = worker.requests.slice(start);
    assert.equal(sent.length, 3);
    assert.equal(new Set(sent.map((r) => r.body.toString())).size, 3);
    for (const { headers, body } of sent) {
      assert.equal(headers['x-leadnest-signature'], sign(body, SECRET));
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(JSON.parse(body).event, 'email.opened');
    }
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^email\.opened\s+200 \{"status":"accepted"/);
    assert.ok(lines.every((l) => !l.includes(SECRET)));
  });

  test('--duplicate sends identical bytes twice and expects "duplicate"', async () => {
    const start = worker.requests.length;
    const { code, lines } = await runSend(['subscriber.created', '--url', worker.url, '--secret', SECRET, '--duplicate']);
    assert.equal(code, 0);
    const [first, second] = worker.requests.slice(start);
    assert.ok(first.body.equals(second.body));
    assert.match(lines[1], /"status":"duplicate"/);
  });

  test('--stale uses a timestamp at least an hour old and expects 401', async () => {
    const start = worker.requests.length;
    const { code, lines } = await runSend(['sms.sent', '--url', worker.url, '--secret', SECRET, '--stale']);
    assert.equal(code, 0);
    const { timestamp } = JSON.parse(worker.requests[start].body);
    assert.ok(Date.now() - Date.parse(timestamp) >= 3600_000);
    assert.match(lines[0], /401/);
  });

  test('--bad-signature does not verify and expects 401', async () => {
    const start = worker.requests.length;
    const { code } = await runSend(['whatsapp.read', '--url', worker.url, '--secret', SECRET, '--bad-signature']);
    assert.equal(code, 0);
    const { headers, body } = worker.requests[start];
    assert.match(headers['x-leadnest-signature'], /^[0-9a-f]{64}$/);
    assert.notEqual(headers['x-leadnest-signature'], sign(body, SECRET));
  });

  test('--all sends every event; a wrong secret makes the exit code 1', async () => {
    const start = worker.requests.length;
    assert.equal((await runSend(['--all', '--url', worker.url, '--secret', SECRET])).code, 0);
    assert.deepEqual(worker.requests.slice(start).map((r) => JSON.parse(r.body).event), EVENTS);
    const { code, lines } = await runSend(['email.sent', '--url', worker.url, '--secret', 'not_it']);
    assert.equal(code, 1);
    assert.match(lines[0], /401 .*expected accepted/);
  });

  test('--set sets nested fields before signing, creating the objects a path lacks', async () => {
    const start = worker.requests.length;
    const { code } = await runSend(['email.bounced', '--url', worker.url, '--secret', SECRET,
      '--set', 'data.bounce_type=soft', '--set', 'data.crm.owner.id=7', '--set', 'data.crm.owner.team=sales']);
    assert.equal(code, 0);
    const [{ headers, body }] = worker.requests.slice(start);
    assert.equal(headers['x-leadnest-signature'], sign(body, SECRET));
    const posted = JSON.parse(body);
    assert.equal(posted.event, 'email.bounced');
    assert.equal(posted.data.bounce_type, 'soft');
    assert.deepEqual(posted.data.crm, { owner: { id: 7, team: 'sales' } });
    // Everything else is the sample's: the fixture's fields, a fresh message_id.
    assert.equal(posted.data.email, 'no-such-user@example.com');
    assert.match(posted.data.message_id, /^msg_[0-9a-f]+$/);
  });

  test('--set takes a value that parses as JSON as JSON, anything else as a string', async () => {
    const start = worker.requests.length;
    const sets = ['amount=150', 'quoted="150"', 'word=hard', 'yes=true', 'none=null', 'list=[1,"a"]',
      'object={"k":{"v":2}}', 'empty=', 'spaced=two words', 'eq=a=b', 'decimal=1.5e2'];
    const { code } = await runSend(['sms.replied', '--url', worker.url, '--secret', SECRET,
      ...sets.flatMap((set) => ['--set', `data.${set}`])]);
    assert.equal(code, 0);
    const { data } = JSON.parse(worker.requests[start].body);
    assert.equal(data.amount, 150);
    assert.equal(data.quoted, '150');
    assert.equal(data.word, 'hard');
    assert.equal(data.yes, true);
    assert.equal(data.none, null);
    assert.deepEqual(data.list, [1, 'a']);
    assert.deepEqual(data.object, { k: { v: 2 } });
    assert.equal(data.empty, '');
    assert.equal(data.spaced, 'two words');
    assert.equal(data.eq, 'a=b');
    assert.equal(data.decimal, 150);
  });

  test('--set with every event of --all and --count sets each body', async () => {
    const start = worker.requests.length;
    assert.equal((await runSend(['--all', '--url', worker.url, '--secret', SECRET, '--set', 'data.list_id=list_test'])).code, 0);
    const sent = worker.requests.slice(start).map((r) => JSON.parse(r.body));
    assert.equal(sent.length, EVENTS.length);
    assert.ok(sent.every((payload) => payload.data.list_id === 'list_test'));
  });

  test('a bad --set path is a clear error (exit 1) and nothing is sent', async () => {
    const start = worker.requests.length;
    for (const [set, message] of [
      ['data..bounce_type=hard', /--set "data\.\.bounce_type=hard": the path has an empty segment/],
      ['.data=1', /empty segment/],
      ['data.=1', /empty segment/],
      ['=1', /empty segment/],
      ['data.bounce_type', /expected PATH=VALUE/],
      ['data.email.domain=x', /--set data\.email\.domain: data\.email is a string, not an object/],
    ]) {
      await assert.rejects(runSend(['email.bounced', '--url', worker.url, '--secret', SECRET, '--set', set]), (err) => {
        assert.equal(err.exitCode, 1, set);
        assert.match(err.message, message);
        return true;
      });
    }
    assert.equal(worker.requests.length, start);
  });

  test('an unknown event lists the known ones (exit 2)', async () => {
    await assert.rejects(runSend(['email.exploded', '--secret', SECRET]), (err) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /unknown event "email\.exploded"/);
      for (const event of EVENTS) assert.ok(err.message.includes(event));
      return true;
    });
  });

  test('a refused connection says to start the worker (exit 1)', async () => {
    const probe = createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${probe.address().port}/webhooks/leadnest`;
    await new Promise((resolve) => probe.close(resolve));
    await assert.rejects(runSend(['email.sent', '--url', url, '--secret', SECRET]), (err) => {
      assert.equal(err.exitCode, 1);
      assert.equal(err.message, `cannot reach ${url}: start the worker with "npm run dev"`);
      return true;
    });
  });

  test('the CLI runs as a script', () => {
    const out = execFileSync(process.execPath, [join(ROOT, 'tools/send.mjs'), '--help'], { encoding: 'utf8' });
    assert.match(out, /^Usage: npm run send/);
    assert.match(out, /--set PATH=VALUE/);
    const bad = spawnSync(process.execPath, [join(ROOT, 'tools/send.mjs'), 'email.bounced', '--secret', SECRET,
      '--set', 'data..bounce_type=hard'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^--set "data\.\.bounce_type=hard": the path has an empty segment/);
  });
});

describe('backend', () => {
  const secret = `whsec_${Buffer.from('a local test signing key 32 byte').toString('base64')}`;
  const post = (url, body, headers) => fetch(url, { method: 'POST', body, headers });

  function signedHeaders(body, id = 'msg_2abc') {
    const now = new Date();
    return {
      'content-type': 'application/json',
      'x-leadnest-event': 'email.opened',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, now, body),
    };
  }

  test('records signatures as verified, INVALID or unsigned', async () => {
    const lines = [];
    const backend = await startBackend({ port: 0, secret, log: (l) => lines.push(l) });
    try {
      const body = JSON.stringify(samplePayload('email.opened'));
      assert.equal((await post(backend.url, body, signedHeaders(body))).status, 200);
      assert.equal((await post(backend.url, body.replace('email', 'EMAIL'), signedHeaders(body))).status, 200);
      assert.equal((await post(`${backend.url}/hook`, body, { 'content-type': 'application/json' })).status, 200);
      assert.deepEqual(backend.received.map((r) => r.verified), [true, false, null]);
      assert.match(lines[0], /email\.opened {2}msg_2abc {2}verified/);
      assert.match(lines[1], /INVALID/);
      assert.match(lines[2], /unsigned/);
      const [first, , third] = backend.received;
      assert.ok(Buffer.isBuffer(first.body) && first.body.toString() === body);
      assert.equal(first.method, 'POST');
      assert.equal(third.path, '/hook');
      assert.equal(first.headers['x-leadnest-event'], 'email.opened');
      assert.ok(lines.every((l) => !l.includes(secret) && !l.includes(body)));
    } finally {
      await backend.close();
    }
  });

  test('--fail-first 2 answers 503, 503, then 200', async () => {
    const backend = await startBackend({ port: 0, failFirst: 2, log: () => {} });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(backend.url, '{}')).status);
      assert.deepEqual(statuses, [503, 503, 200]);
    } finally {
      await backend.close();
    }
  });

  test('--status alone fails every request with it', async () => {
    const backend = await startBackend({ port: 0, status: 500, log: () => {} });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await post(backend.url, '{}')).status, 500);
    } finally {
      await backend.close();
    }
  });
});
