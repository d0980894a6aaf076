// `npm run dev`'s own path, once, end to end: scripts/dev.sh builds the worker and serves
// it with `wrangler dev` (its proxy, its local KV, queues and Durable Objects, the
// project's wrangler.toml), with the local secrets of .dev.vars.example; a real local
// backend (tools/backend.mjs) receives and verifies the delivery. The other end-to-end
// files drive the bundle through Miniflare's API, the engine under wrangler dev.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, parseDevVars, sign } from '../../tools/lib/leadnest.mjs';
import { startBackend } from '../../tools/backend.mjs';
import { event, freePort, waitFor } from './harness.mjs';

const DIR = join(ROOT, '.test', 'dev-smoke');
/**
 * wrangler dev runs wrangler.toml's [build] command twice as it starts (wrangler 4.86: once
 * for its first bundle, again when its watcher of src/ is ready), about 20 s each here,
 * then serves: its start may take minutes on a busy two-core machine.
 */
const START_TIMEOUT_MS = 150_000;
const EXAMPLE = readFileSync(join(ROOT, '.dev.vars.example'), 'utf8');
const { WEBHOOK_SECRET: SECRET, LOCAL_BACKEND_SIGNING_SECRET: SIGNING_SECRET } = parseDevVars(EXAMPLE);

let dev;
let output = '';
let url;
let backend;

/** Sends `signal` to every process of the dev server's group (bash, wrangler, workerd, esbuild). */
function signalGroup(signal) {
  try { process.kill(-dev.pid, signal); } catch { /* none left */ }
}

before(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  backend = await startBackend({ port: 0, secret: SIGNING_SECRET, log: () => {} });
  // .dev.vars.example as `npm run dev` copies it, its route pointed at this backend's port.
  const vars = EXAMPLE.replace('http://127.0.0.1:8788/', `${backend.url}/`);
  assert.notEqual(vars, EXAMPLE, '.dev.vars.example routes to the local backend on 127.0.0.1:8788');
  writeFileSync(join(DIR, 'dev.vars'), vars);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  dev = spawn('bash', [join(ROOT, 'scripts', 'dev.sh'), '--port', String(port), '--inspector-port', String(await freePort()),
    '--persist-to', join(DIR, 'state'), '--env-file', join(DIR, 'dev.vars'), '--show-interactive-dev-session=false'], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: stopped whole, whatever it started.
    detached: true,
  });
  for (const stream of [dev.stdout, dev.stderr]) stream.setEncoding('utf8').on('data', (chunk) => { output += chunk; });
  let exited = false;
  dev.on('exit', () => { exited = true; });
  await waitFor(async () => {
    if (exited) throw new Error(`npm run dev exited:\n${output.slice(-3000)}`);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      return true;
    } catch { return false; }
  }, { timeoutMs: START_TIMEOUT_MS, intervalMs: 250, what: 'npm run dev to serve /health' })
    .catch((error) => { throw new Error(`${error.message}:\n${output.slice(-2000)}`); });
}, { timeout: START_TIMEOUT_MS + 10_000 });

after(async () => {
  if (dev) {
    const exited = dev.exitCode === null && dev.signalCode === null ? new Promise((resolve) => dev.once('exit', resolve)) : null;
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    signalGroup('SIGKILL');
    dev.stdout.destroy();
    dev.stderr.destroy();
    writeFileSync(join(DIR, 'output.log'), output);
  }
  await backend?.close();
});
// However the file ends, nothing of the dev server outlives it.
process.on('exit', () => { if (dev) signalGroup('SIGKILL'); });

const post = async (raw, signature) => {
  const response = await fetch(`${url}/webhooks/leadnest`, {
    method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'x-leadnest-signature': signature },
  });
  return { status: response.status, json: await response.json() };
};

test('it serves: /health answers ok', async () => {
  const response = await fetch(`${url}/health`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: 'ok' });
});

test('a signed event is accepted and delivered to the local backend, Standard Webhooks-signed', async () => {
  const body = event('email.opened');
  const raw = JSON.stringify(body);
  const answer = await post(raw, sign(raw, SECRET));
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  assert.deepEqual(answer.json, { status: 'accepted', event: 'email.opened', message_id: body.data.message_id, routes: ['local-backend'] });
  // Through the delivery queue of wrangler.toml (a batch waits up to 1 s).
  const [delivery] = await waitFor(() => backend.received.length > 0 && backend.received, { timeoutMs: 30_000, what: 'the delivery' });
  assert.equal(delivery.body.toString(), raw);
  assert.equal(delivery.verified, true);
});

test('a bad signature is refused', async () => {
  const raw = JSON.stringify(event('email.opened'));
  const answer = await post(raw, sign(raw, 'not_the_secret'));
  assert.equal(answer.status, 401);
  assert.equal(answer.json.error, 'invalid_signature');
});

test('--test-scheduled: /__scheduled runs the cron handler', async () => {
  const response = await fetch(`${url}/__scheduled?cron=${encodeURIComponent('17 * * * *')}`);
  assert.equal(response.status, 200, await response.text());
});
