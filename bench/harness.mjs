// What bench.mjs and profile.mjs share: the backend sink, workers under workerd
// (Miniflare's API with direct sockets: no wrangler dev proxy, no Miniflare
// entry worker in front), the four measured paths, one bounded run.
import { Miniflare } from 'miniflare';
import { execFileSync, fork } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ROOT, samplePayload, sign } from '../tools/lib/leadnest.mjs';
import { load } from './load.mjs';

export const SECRET = 'bench_webhook_secret';
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString()) || 100;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The HTTP backend (bench/sink.mjs), in its own process; `call()` returns how many deliveries it has had. */
export async function startSink() {
  const child = fork(join(ROOT, 'bench', 'sink.mjs'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  let calls = 0;
  const call = () => {
    const id = ++calls;
    return new Promise((resolve) => {
      const on = (m) => { if (m.id === id) { child.off('message', on); resolve(m.received); } };
      child.on('message', on);
      child.send({ id });
    });
  };
  return { port, call, stop: () => child.disconnect() };
}

// The bundle is read once, so a rebuild during the run cannot mix two builds.
export const bundle = {
  js: readFileSync(join(ROOT, 'build', 'index.js')),
  wasm: readFileSync(join(ROOT, 'build', 'index_bg.wasm')),
};
export const SOURCES = {
  rust: {
    modulesRoot: join(ROOT, 'build'),
    modules: [
      { type: 'ESModule', path: join(ROOT, 'build', 'index.js'), contents: bundle.js },
      { type: 'CompiledWasm', path: join(ROOT, 'build', 'index_bg.wasm'), contents: bundle.wasm },
    ],
  },
  baseline: { modules: true, scriptPath: join(ROOT, 'bench', 'baseline', 'worker.mjs') },
  hello: { modules: true, scriptPath: join(ROOT, 'bench', 'hello', 'worker.mjs') },
};

const statFields = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' '); // [0] is field 3, "state"
};
const childWorkerds = () => new Set(readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
  try {
    return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'workerd' && statFields(p)[1] === String(process.pid);
  } catch { return false; }
}));
/** utime + stime of the whole workerd process (every thread), in seconds. */
export const cpuSeconds = (pid) => { const f = statFields(pid); return (Number(f[11]) + Number(f[12])) / CLK_TCK; };
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

/**
 * Starts one worker in a workerd of its own, so its CPU is its own. Waits for the
 * first 200 from /health. `queue: false` leaves DELIVERY_QUEUE unbound; `events: true`
 * binds the event log (EVENTS, the Durable Object class EventLog).
 */
export async function startWorker(name, { sinkPort, queue = true, inspectorPort, source = name, vars = {}, events = false } = {}) {
  const before = childWorkerds();
  const started = performance.now();
  const stdio = { errors: 0, hung: 0, tail: [] };
  const mf = new Miniflare({
    ...SOURCES[source],
    compatibilityDate: '2025-09-01',
    bindings: {
      WEBHOOK_SECRET: SECRET, TIMESTAMP_TOLERANCE_SECONDS: '300', DEDUP_TTL_SECONDS: '86400',
      MAX_BODY_BYTES: '65536', DELIVERY_RETRY_BASE_SECONDS: '5',
      ROUTES: JSON.stringify([{ name: 'sink', url: `http://127.0.0.1:${sinkPort ?? 9}/deliveries`, events: ['email.*'] }]),
      ...vars,
    },
    kvNamespaces: { DEDUP: 'dedup' },
    ...(events && { durableObjects: { EVENTS: { className: 'EventLog', useSQLite: true } } }),
    ...(queue && {
      queueProducers: { DELIVERY_QUEUE: 'deliveries' },
      queueConsumers: { deliveries: { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 10, deadLetterQueue: 'dead' } },
    }),
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...(inspectorPort !== undefined && { inspectorPort }),
    // Log lines are read and dropped; runtime errors are counted and the last kept.
    handleRuntimeStdio: (...streams) => streams.forEach((s) => s.setEncoding('utf8').on('data', (chunk) => {
      for (const line of chunk.split('\n')) {
        if (!/error|hung|uncaught|cancel/i.test(line) || line.startsWith('{')) continue;
        stdio.errors++;
        if (/hung/.test(line)) stdio.hung++;
        stdio.tail = [...stdio.tail.slice(-4), line.slice(0, 400)];
      }
    })),
  });
  const base = await mf.unsafeGetDirectURL();
  for (;;) {
    try {
      const res = await fetch(new URL('/health', base));
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    await sleep(2);
  }
  const readyMs = performance.now() - started;
  const pid = [...childWorkerds()].find((p) => !before.has(p));
  // From workerd's own start (its /proc start time, in CLK_TCK ticks) to the first 200.
  const fromSpawnMs = (uptime() - Number(statFields(pid)[19]) / CLK_TCK) * 1000;
  return { name, mf, pid, url: new URL('/webhooks/leadnest', base).href, readyMs, fromSpawnMs, stdio };
}

// ---------------------------------------------------------------- requests
const runTag = randomBytes(3).toString('hex');
let counter = 0;
const newId = () => `msg_${runTag}${(counter++).toString(16).padStart(10, '0')}`; // 20 chars
const PLACEHOLDER = 'msg_0000000000000000';

/** (id) => a LeadNest sample event of exactly `size` bytes, timestamped now, `extra` in its data. */
function template(event, size, extra = {}) {
  const payload = samplePayload(event, { messageId: PLACEHOLDER });
  Object.assign(payload.data, extra, { note: '' });
  payload.data.note = 'x'.repeat(size - Buffer.byteLength(JSON.stringify(payload)));
  const [head, tail] = JSON.stringify(payload).split(PLACEHOLDER);
  return (id) => head + id + tail;
}
const headers = (signature) => ({ 'content-type': 'application/json', 'x-leadnest-signature': signature });
/** () => a new signed event each call. */
export const fresh = (event, size, extra) => {
  const body = template(event, size, extra);
  return () => { const b = body(newId()); return { body: b, headers: headers(sign(b, SECRET)) }; };
};

/** The four measured paths: how to make a request, and the answer expected. */
export const PATHS = {
  'bad signature': {
    setup: (w, size) => {
      const body = template('email.opened', size)(newId());
      const h = headers(sign(body, 'not_the_secret'));
      return () => ({ body, headers: h });
    },
    check: (s, t) => s === 401 && t.includes('"invalid_signature"'),
  },
  duplicate: {
    setup: async (w, size) => {
      const body = template('sms.delivered', size)(newId());
      const h = headers(sign(body, SECRET));
      const res = await fetch(w.url, { method: 'POST', body, headers: h });
      if (!(await res.text()).includes('"accepted"')) throw new Error(`${w.name}: the event to duplicate was not accepted`);
      return () => ({ body, headers: h });
    },
    check: (s, t) => s === 200 && t.includes('"status":"duplicate"'),
  },
  'new, no route': {
    setup: (w, size) => fresh('sms.delivered', size),
    check: (s, t) => s === 200 && t.includes('"status":"accepted"') && t.includes('"routes":[]'),
  },
  'new, 1 HTTP route': {
    setup: (w, size) => fresh('email.opened', size),
    check: (s, t) => s === 200 && t.includes('"routes":["sink"]'),
    delivers: true,
  },
};
/** The fixed cost of an answer: no body, no KV, no log line. */
export const HEALTH = { setup: () => () => ({ method: 'GET', path: '/health', headers: {} }), check: (s) => s === 200 };
/** The hello-world floor: any body, a 200. */
export const FLOOR = { setup: (w, size) => fresh('sms.delivered', size), check: (s) => s === 200 };

/**
 * One bounded run. CPU is counted until every delivery the run caused has reached
 * the sink, so the queue consumer's work is part of the routed path's cost.
 */
export async function run(w, path, size, { sink, requests, seconds, concurrency }) {
  const make = await path.setup(w, size);
  const sunk = path.delivers ? await sink.call() : 0;
  const cpu0 = cpuSeconds(w.pid);
  const r = await load(w.url, { make, check: path.check, concurrency, maxRequests: requests, maxSeconds: seconds });
  const cpuLoad = cpuSeconds(w.pid) - cpu0;
  const bad = [...r.unexpected.values()].reduce((n, u) => n + u.count, 0);
  let undelivered = 0;
  if (path.delivers) {
    const want = sunk + r.answered - bad;
    const deadline = Date.now() + 60_000;
    while ((undelivered = want - (await sink.call())) > 0 && Date.now() < deadline) await sleep(25);
  }
  const cpu = cpuSeconds(w.pid) - cpu0;
  return { ...r, bad, undelivered, cpuUs: (cpu * 1e6) / r.answered, core: cpuLoad / r.seconds };
}
