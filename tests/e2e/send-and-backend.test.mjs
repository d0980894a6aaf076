// The local tools against the real worker: `npm run send` posts every fixture
// through it, and `npm run backend` receives and verifies each delivery.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SECRET, SIGNING_SECRET, startWorker, waitFor, everyLineWasJson } from './harness.mjs';
import { EVENTS } from '../../tools/lib/leadnest.mjs';
import { main as send } from '../../tools/send.mjs';
import { startBackend } from '../../tools/backend.mjs';

let worker;
let backend;
const printed = [];

before(async () => {
  backend = await startBackend({ port: 0, secret: SIGNING_SECRET, log: (line) => printed.push(line) });
  worker = await startWorker('send-and-backend', {
    vars: { ROUTES: [{ name: 'local-backend', url: `${backend.url}/hooks/leadnest`, events: ['*'], signing_secret: 'LOCAL_BACKEND_SIGNING_SECRET' }] },
    secrets: { LOCAL_BACKEND_SIGNING_SECRET: SIGNING_SECRET },
  });
});
after(async () => {
  await worker?.stop();
  await backend?.close();
});

const url = () => `${worker.url}/webhooks/leadnest`;

test('send --all: every event is accepted, delivered and verified at the backend', async () => {
  const lines = [];
  assert.equal(await send(['--all', '--url', url(), '--secret', SECRET], (l) => lines.push(l)), 0);
  assert.equal(lines.length, EVENTS.length);
  for (const [i, name] of EVENTS.entries()) {
    assert.match(lines[i], new RegExp(`^${name.replace('.', '\\.')}\\s+200 .*"status":"accepted"`));
  }
  await waitFor(() => backend.received.length === EVENTS.length, { what: 'all deliveries' });
  assert.deepEqual(backend.received.map((r) => r.headers['x-leadnest-event']).sort(), [...EVENTS].sort());
  assert.ok(backend.received.every((r) => r.verified === true));
  assert.ok(printed.filter((l) => / verified /.test(l)).length >= EVENTS.length);
});

test('send --duplicate: the second answer is duplicate', async () => {
  const lines = [];
  assert.equal(await send(['subscriber.updated', '--duplicate', '--url', url(), '--secret', SECRET], (l) => lines.push(l)), 0);
  assert.match(lines[0], /"status":"accepted"/);
  assert.match(lines[1], /"status":"duplicate"/);
});

test('send --stale and --bad-signature: refused as expected', async () => {
  const lines = [];
  assert.equal(await send(['sms.failed', '--stale', '--url', url(), '--secret', SECRET], (l) => lines.push(l)), 0);
  assert.equal(await send(['sms.failed', '--bad-signature', '--url', url(), '--secret', SECRET], (l) => lines.push(l)), 0);
  assert.match(lines[0], /401 .*stale_timestamp/);
  assert.match(lines[1], /401 .*invalid_signature/);
});

test('send with the wrong secret exits 1', async () => {
  const lines = [];
  assert.equal(await send(['email.sent', '--url', url(), '--secret', 'wrong'], (l) => lines.push(l)), 1);
  assert.match(lines[0], /401 .*invalid_signature/);
});

test('every line its workers printed is one JSON object (SPEC section 6)', everyLineWasJson);
