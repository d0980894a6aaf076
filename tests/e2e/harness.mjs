// Runs the built worker (build/index.js + build/index_bg.wasm) in workerd through
// Miniflare's API — the engine under `wrangler dev`, without its proxy — with a
// configuration of the test's own (fresh local KV, queues and Durable Object event log,
// its own secrets), and talks to it over HTTP on workerd's own socket.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { ROOT, sign } from '../../tools/lib/leadnest.mjs';

export const SECRET = 'e2e_webhook_secret';
export const SIGNING_SECRET = 'whsec_ZTJlLXNpZ25pbmcta2V5LWZvci10ZXN0cw==';
const BUILD = join(ROOT, 'build');
/**
 * Where the test workers keep their local KV, queues and Durable Objects: in memory
 * (/dev/shm) where the machine has it, one folder per checkout. workerd syncs each local
 * KV write to disk, and on a machine whose disk is slow to sync that alone made a load
 * test crawl; in memory the tests measure the worker, not the disk.
 */
const STATE_ROOT = process.env.E2E_STATE_DIR
  ?? (existsSync('/dev/shm') ? join('/dev/shm', `leadnest-edge-e2e-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`)
    : join(ROOT, '.test', 'state'));
/** The cron of the test workers' trigger (any expression runs the scheduled handler). */
export const CRON = '17 * * * *';
/** How long a worker may take to answer its first /health. */
const START_TIMEOUT_MS = 60_000;

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The project's compatibility date and flags, as `wrangler.toml` states them (each on
// one line; a TOML string or array of strings reads as JSON): test workers run on the
// same runtime behaviour as the shipped one.
const COMPATIBILITY = Object.fromEntries(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').split('\n')
  .map((line) => /^compatibility_(date|flags)\s*=\s*(.*?)\s*$/.exec(line)).filter(Boolean)
  .map(([, key, value]) => {
    try {
      return [key, JSON.parse(value)];
    } catch {
      throw new Error(`wrangler.toml: expected compatibility_${key} on one line, as JSON reads it, got ${value}`);
    }
  }));
if (typeof COMPATIBILITY.date !== 'string') throw new Error('wrangler.toml: no compatibility_date');

/**
 * The bundle, read once per test file: a rebuild while tests run changes no worker of
 * theirs, and every worker of a file runs the same build.
 */
let bundle;
function modules() {
  if (!existsSync(join(BUILD, 'index.js'))) throw new Error('build/index.js is missing: run `npm run build` first');
  bundle ??= {
    modulesRoot: BUILD,
    modules: [
      { type: 'ESModule', path: join(BUILD, 'index.js'), contents: readFileSync(join(BUILD, 'index.js')) },
      { type: 'CompiledWasm', path: join(BUILD, 'index_bg.wasm'), contents: readFileSync(join(BUILD, 'index_bg.wasm')) },
    ],
  };
  return bundle;
}

/**
 * Miniflare's options for one worker of the bundle: what wrangler.toml's blocks become.
 * Options (those of startWorker, below):
 *   vars: { NAME: string | array | object }  (a string stays a string, as `--var` gives
 *         it; anything else arrives as a JSON value, as a JSON value in [vars] does)
 *   kv: bind DEDUP (default true)
 *   deliveryQueue: bind DELIVERY_QUEUE and consume it (default true)
 *   maxRetries, batchTimeout: the consumer's settings
 *   deadLetterConsumer: the worker also consumes the dead-letter queue, as docs/delivery.md's
 *         drain does: its own dead-letter queue is `<name>-parked`
 *   parkedRecorder: a second worker (parked-recorder.mjs) consumes `<name>-parked` and logs
 *         {"parked":{...}} per message: a local queue without a consumer drops what it gets
 *   consumerVars: the queues are consumed by a second worker of the same bundle with these
 *         vars instead (a deploy that changed the configuration while messages waited)
 *   queues: extra producer bindings, { BINDING: queueName }
 *   durable: strict dedup, DEDUP_MODE=durable with its Durable Object bound
 *   maxBatchSize: the delivery consumer's batch size (default 10)
 *   keepState: keep the local KV and Durable Objects of an earlier worker of the same name
 *   drain: DRAIN_REFUSED_BODIES, as `npm run dev` sets it (default true; false: production's early answers)
 *   events: bind the event log, the Durable Object class EventLog (SQLite) as EVENTS
 *         (default true; a consumer worker of consumerVars binds the main worker's, as a
 *         second script would)
 *   health: bind destination health, ROUTE_HEALTH and HELD_DELIVERIES (RouteHealth and
 *         HeldDeliveries, SQLite), as wrangler.toml does (default false: routes always active)
 *   adminToken: the ADMIN_TOKEN secret (enables the admin API); worker.admin() sends it
 *   assets: serve public/ (the console's files) as static assets, ASSETS with the worker
 *         first, as wrangler.toml does (default false: the other tests need none)
 *   secrets: { NAME: value } (as `wrangler secret put` would; WEBHOOK_SECRET defaults to
 *         SECRET unless given as null)
 * Whenever the delivery queue is bound, DEAD_LETTER_QUEUE names its dead-letter queue
 * `<name>-dead-letters`, as wrangler.toml does, unless vars give it. Every worker has the
 * cron handler; worker.scheduled() runs it as the cron trigger would.
 */
function workerOptions(name, options) {
  const { vars = {}, kv = true, deliveryQueue = true, maxRetries = 2, batchTimeout = 1,
    deadLetterConsumer = false, queues = {}, durable = false, maxBatchSize = 10,
    consume = true, queuePrefix = name, events = true, secrets = {} } = options;
  const bindings = { ...(options.drain === false ? {} : { DRAIN_REFUSED_BODIES: 'true' }), ...vars };
  if (deliveryQueue && bindings.DEAD_LETTER_QUEUE === undefined) bindings.DEAD_LETTER_QUEUE = `${queuePrefix}-dead-letters`;
  if (durable) bindings.DEDUP_MODE = 'durable';
  for (const [key, value] of Object.entries(secrets)) if (value !== null) bindings[key] = value;
  const durableObjects = {};
  if (durable) durableObjects.DEDUP_OBJECTS = { className: 'DedupObject', useSQLite: true };
  // A consumer companion uses the main worker's objects, as one more script bound to them.
  const own = queuePrefix === name ? {} : { scriptName: queuePrefix };
  if (events) durableObjects.EVENTS = { className: 'EventLog', useSQLite: true, ...own };
  if (options.health) {
    durableObjects.ROUTE_HEALTH = { className: 'RouteHealth', useSQLite: true, ...own };
    durableObjects.HELD_DELIVERIES = { className: 'HeldDeliveries', useSQLite: true, ...own };
  }
  const queueProducers = { ...queues };
  if (deliveryQueue) queueProducers.DELIVERY_QUEUE = `${queuePrefix}-deliveries`;
  const queueConsumers = {};
  if (deliveryQueue && consume) {
    queueConsumers[`${queuePrefix}-deliveries`] = { maxBatchSize, maxBatchTimeout: batchTimeout, maxRetries,
      deadLetterQueue: `${queuePrefix}-dead-letters` };
    if (deadLetterConsumer) {
      queueConsumers[`${queuePrefix}-dead-letters`] = { maxBatchSize: 10, maxBatchTimeout: batchTimeout,
        maxRetries: maxRetries + 3, deadLetterQueue: `${queuePrefix}-parked` };
    }
  }
  return {
    name,
    ...modules(),
    compatibilityDate: COMPATIBILITY.date,
    compatibilityFlags: COMPATIBILITY.flags ?? [],
    bindings,
    ...(kv && { kvNamespaces: { DEDUP: 'e2e' } }),
    durableObjects,
    queueProducers,
    queueConsumers,
    ...(options.assets && {
      assets: { directory: join(ROOT, 'public'), binding: 'ASSETS',
        routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } },
    }),
  };
}

/** Every worker a test worker runs with, its own first. */
function workersOf(name, options) {
  const secrets = { WEBHOOK_SECRET: SECRET, ...options.secrets };
  if (options.adminToken !== undefined) secrets.ADMIN_TOKEN = options.adminToken;
  const own = { ...options, secrets, ...(options.consumerVars && { consume: false }) };
  const workers = [{ ...workerOptions(name, own), unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] }];
  if (options.consumerVars) {
    workers.push(workerOptions(`${name}-consumer`, { ...own, consume: true, vars: options.consumerVars,
      durable: false, queuePrefix: name, queues: {} }));
  }
  if (options.parkedRecorder) {
    // It acks what it records, so it needs no dead-letter queue.
    workers.push({
      name: `${name}-parked-recorder`, modules: true, scriptPath: join(ROOT, 'tests', 'e2e', 'parked-recorder.mjs'),
      compatibilityDate: '2025-09-01',
      queueConsumers: { [`${name}-parked`]: { maxBatchSize: 10, maxBatchTimeout: options.batchTimeout ?? 1 } },
    });
  }
  return workers;
}

/** Miniflare's own lines (queue batches, dead-lettered messages), into the worker's output. */
class OutputLog extends Log {
  constructor(worker) {
    super(LogLevel.INFO);
    this.worker = worker;
  }

  log(message) {
    this.worker.collect(`${message}\n`);
  }
}

/** The workerd processes this process started, by pid. */
function childWorkerds() {
  const pids = new Set();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (parent === String(process.pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd') pids.add(pid);
    } catch { /* gone */ }
  }
  return pids;
}

/** Starts run one after another, so each worker knows its own workerd's pid. */
let starting = Promise.resolve();

/** Starts a worker (and its companions) in a workerd of its own. */
export async function startWorker(name, options = {}) {
  const worker = new Worker(name, join(STATE_ROOT, name), options.adminToken);
  worker.dir = join(ROOT, '.test', name);
  // keepState: start again on the previous run's local KV and Durable Objects (a restarted worker).
  if (!options.keepState) {
    rmSync(worker.dir, { recursive: true, force: true });
    rmSync(worker.state, { recursive: true, force: true });
  }
  mkdirSync(worker.dir, { recursive: true });
  mkdirSync(worker.state, { recursive: true });
  started.push(worker);
  const start = starting.then(() => worker.start(workersOf(worker.script, options)));
  starting = start.catch(() => {});
  await start;
  return worker;
}
/** `deliveries` and `attempts` as rows, read from each event's `routes` (as tests/it/store.rs). */
const VIEWS = `CREATE TEMP VIEW deliveries AS SELECT e.id AS event_id, d.key AS route,
iif(json_extract(d.value, '$.held'), 'held', json_extract(d.value, '$.status')) AS status
FROM events e, json_each(e.routes) d;
CREATE TEMP VIEW attempts AS SELECT e.id AS event_id, d.key AS route,
a.key + 1 AS attempt, json_extract(a.value, '$.at') AS at,
json_extract(a.value, '$.ms') AS duration_ms, json_extract(a.value, '$.outcome') AS outcome,
json_extract(a.value, '$.status') AS status, json_extract(a.value, '$.headers') AS headers,
json_extract(a.value, '$.body') AS body, json_extract(a.value, '$.error') AS error
FROM events e, json_each(e.routes) d, json_each(d.value, '$.attempts') a;`;


export class Worker {
  constructor(name, state, adminToken) {
    this.name = name;
    /** The main worker's script name: its Durable Objects' folders are named after it. */
    this.script = `e2e-${name}`;
    this.state = state;
    this.adminToken = adminToken;
    this.output = '';
    /** The worker's JSON log lines, parsed. */
    this.logs = [];
    this.pending = '';
  }

  /** Takes a chunk of what the runtime or Miniflare printed. */
  collect(raw) {
    const chunk = raw.replace(/\x1b\[[0-9;]*m/g, '');
    this.output += chunk;
    this.pending += chunk;
    const lines = this.pending.split('\n');
    this.pending = lines.pop();
    for (const line of lines) {
      const start = line.indexOf('{');
      if (start < 0) continue;
      try { this.logs.push(JSON.parse(line.slice(start))); } catch { /* not a log line */ }
    }
  }

  async start(workers) {
    const before = childWorkerds();
    this.mf = new Miniflare({
      workers,
      defaultPersistRoot: join(this.state, 'v3'),
      // No network here: the placeholder `Request.cf`, without trying to fetch the real one.
      cf: false,
      log: new OutputLog(this),
      handleRuntimeStdio: (stdout, stderr) => {
        for (const stream of [stdout, stderr]) stream.setEncoding('utf8').on('data', (chunk) => this.collect(chunk));
      },
    });
    let timer;
    try {
      const direct = await Promise.race([
        this.mf.unsafeGetDirectURL(this.script),
        new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error('timed out')), START_TIMEOUT_MS); }),
      ]);
      this.url = direct.origin;
      this.pid = [...childWorkerds()].find((pid) => !before.has(pid));
      const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(START_TIMEOUT_MS) });
      await response.arrayBuffer();
    } catch (error) {
      throw new Error(`worker ${this.name} did not start: ${error.message}\n${this.output.slice(-3000)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Deletes every dedup key from the worker's local KV, behind the running
   * worker's back (as a key expiring or a write from elsewhere would).
   */
  async forgetDedupKeys() {
    const kv = await this.mf.getKVNamespace('DEDUP', this.script);
    let count = 0;
    for (let cursor; ;) {
      const page = await kv.list({ cursor });
      for (const { name } of page.keys) await kv.delete(name);
      count += page.keys.length;
      if (page.list_complete) return count;
      cursor = page.cursor;
    }
  }

  /**
   * Runs one SQL command on every shard of the worker's local event log (each a Durable
   * Object's SQLite file, where Miniflare keeps it: `<persist root>/do/<script>-<class>/`;
   * `{ one: true }`: on the first only), behind the running worker's back, and returns
   * the rows of all.
   */
  async sql(command, { one = false } = {}) {
    const dir = this.objectsDir('EventLog');
    // A second process on the running worker's SQLite files: one is busy now and then
    // (SQLITE_BUSY) while the worker writes; wait, as SQLite's own callers do.
    const script = [
      'import glob, json, sqlite3, sys',
      'rows = []',
      'for path in sorted(glob.glob(sys.argv[1] + "/*.sqlite")):',
      '    db = sqlite3.connect(path, timeout=10)',
      '    db.row_factory = sqlite3.Row',
      '    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = \'events\'").fetchall(): continue',
      '    db.executescript(sys.argv[4])',
      '    rows += [dict(row) for row in db.execute(sys.argv[2]).fetchall()]',
      '    db.commit()',
      '    if sys.argv[3] == "one": break',
      'print(json.dumps(rows, default=lambda b: b.hex()))',
    ].join('\n');
    try {
      const { stdout } = await promisify(execFile)('python3', ['-c', script, dir, command, one ? 'one' : 'all', VIEWS],
        { maxBuffer: 64 * 1024 * 1024 });
      return JSON.parse(stdout);
    } catch (error) {
      throw new Error(`sql failed: ${command}\n${error.stdout}\n${error.stderr}`);
    }
  }

  /** The folder of the SQLite files of the main worker's Durable Objects of `className`. */
  objectsDir(className) {
    return join(this.state, 'v3', 'do', `${this.script}-${className}`);
  }

  /**
   * Runs the worker's scheduled handler as its cron would, at `timeMs` (unix ms; by
   * default now), and returns once the run, its waitUntil work included, has ended.
   */
  async scheduled(cron = CRON, timeMs = Date.now()) {
    const fetcher = await this.mf.getWorker(this.script);
    const result = await fetcher.scheduled({ cron, scheduledTime: new Date(timeMs) });
    if (result.outcome !== 'ok') throw new Error(`the scheduled handler ended ${JSON.stringify(result)}`);
    return result;
  }

  /**
   * Calls the admin API with `Authorization: Bearer <token>` (the worker's adminToken
   * unless `token` says otherwise; null sends no Authorization header). `body`, when
   * given, is sent as JSON (a string as it is).
   */
  async admin(method, path, body, { token = this.adminToken, headers = {} } = {}) {
    const allHeaders = { ...headers };
    if (token !== null && token !== undefined) allHeaders.authorization = `Bearer ${token}`;
    const init = { method, headers: allHeaders };
    if (body !== undefined) {
      allHeaders['content-type'] = 'application/json';
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await fetch(`${this.url}${path}`, init);
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw new Error(`${method} ${path}: ${response.status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 300))}`);
    }
    return { status: response.status, headers: response.headers, json };
  }
  /** Posts `body` (a string, Buffer or object) to the ingress, signed unless told otherwise. */
  async post(body, { secret = SECRET, signature, headers = {}, path = '/webhooks/leadnest', method = 'POST' } = {}) {
    const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const allHeaders = { 'content-type': 'application/json', ...headers };
    const sig = signature === undefined ? sign(raw, secret) : signature;
    if (sig !== null) allHeaders['x-leadnest-signature'] = sig;
    const response = await fetch(`${this.url}${path}`, { method, headers: allHeaders, body: raw });
    const text = await response.text();
    try {
      return { status: response.status, headers: response.headers, json: JSON.parse(text) };
    } catch {
      // Say what came back, with the worker's last output, rather than only "not JSON".
      throw new Error(`${response.status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 300))}\n`
        + `worker output:\n${this.output.slice(-1500)}`);
    }
  }
  async get(path, init = {}) {
    const response = await fetch(`${this.url}${path}`, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : null };
  }
  /**
   * Miniflare's account of each queue batch the worker's consumers ran, in order
   * ({ queue, acked, total }; of `queue` only, when given): a batch is logged once every
   * message of it was settled.
   */
  batches(queue) {
    return [...this.output.matchAll(/QUEUE (\S+) (\d+)\/(\d+)/g)]
      .map(([, name, acked, total]) => ({ queue: name, acked: Number(acked), total: Number(total) }))
      .filter((batch) => queue === undefined || batch.queue === queue);
  }

  /** How many messages the batches of `queue` held, all told. */
  batched(queue) {
    return this.batches(queue).reduce((sum, batch) => sum + batch.total, 0);
  }

  /** Log lines of delivery attempts. */
  deliveries(webhookId) {
    return this.logs.filter((line) => line.route !== undefined && line.attempt !== undefined
      && (webhookId === undefined || line.webhook_id === webhookId));
  }

  /**
   * Kills the worker's workerd at once, as a crash or an eviction would (no clean
   * shutdown), then lets Miniflare go.
   */
  async crash() {
    try { process.kill(Number(this.pid), 'SIGKILL'); } catch { /* already gone */ }
    await waitFor(() => !existsSync(`/proc/${this.pid}`) || /^Z/.test(procState(this.pid)),
      { timeoutMs: 10_000, what: `workerd ${this.pid} to die` });
    await this.stop();
  }

  /**
   * Stops the worker's workerd and its companions. What they printed stays in
   * `.test/<name>/output.log`.
   */
  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await this.mf?.dispose().catch(() => {});
    try { writeFileSync(join(this.dir, 'output.log'), this.output); } catch { /* the directory is gone */ }
  }
}

/** The state letter of a process (R, S, Z...). */
function procState(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2);
  } catch { return ''; }
}

/** Every worker this test file started. */
const started = [];
// Last of the file: a worker a failed test left running is stopped, so the file ends.
after(() => Promise.all(started.map((worker) => worker.stop())));
// However the file ends, no workerd of its own outlives it (Miniflare also kills its
// runtime on exit; this covers a file that ends before a start finished).
process.on('exit', () => {
  for (const worker of started) if (worker.pid) try { process.kill(Number(worker.pid), 'SIGKILL'); } catch { /* gone */ }
});

// What workerd and Miniflare print themselves, around the worker's own lines.
const PLATFORM_LINE = [
  /^\s*$/, // blank
  /^\s/, // continuation: stack frames, indented notes, tables
  /^\[mf:(error|warn|info|debug|verbose)\] /, // Miniflare's own: queue batches, dead-lettered messages
  /^(workerd|kj)\//,
  // workerd's own trace of a Durable Object's SQLite refusing it (the fault test's
  // external lock on a shard's file), and its note on the alarm that failed with it.
  /^exception = workerd\/util\/sqlite\.c\+\+:\d+: failed: SENTRY_DO SQLite failed; NOSENTRY database is locked: SQLITE_BUSY$/,
  /^stack: (\S+workerd@[0-9a-f]+ ?)+(; \w+ = \w+)*$/,
  /^expected previous alarm handler to be cleaned up$/,
  /^NOSENTRY SQLite alarm overdue, running despite AlarmManager mismatch; /,
  /^\*\*/,
  // workerd's own note of a backend's failed TLS upload (see faults.test.mjs).
  /Uncaught Error: internal error; reference = \w+\s*$/,
  // workerd's own note of an answer whose client left while waitUntil kept the
  // request running (a plain JS worker that catches every error prints it too).
  /Uncaught Error: Network connection lost\.\s*$/,
];
// Signs of a worker fault wherever they appear: a wasm trap, a panic, a throw.
const FAULT = /panicked at|RuntimeError|unreachable executed|Uncaught (?!Error: (internal error; reference|Network connection lost\.))/;

/**
 * SPEC section 6: every line the worker prints is one JSON object. Returns the
 * lines of this file's workers that are neither one JSON object nor workerd's
 * or Miniflare's own, and every line showing a fault of the worker.
 */
export function strayLines() {
  const stray = [];
  for (const worker of started) {
    for (const line of worker.output.split('\n')) {
      if (FAULT.test(line)) {
        stray.push(`${worker.name}: ${line}`);
      } else if (line.startsWith('{')) {
        let value;
        try { value = JSON.parse(line); } catch { /* not JSON */ }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) stray.push(`${worker.name}: ${line}`);
      } else if (!PLATFORM_LINE.some((pattern) => pattern.test(line))) {
        stray.push(`${worker.name}: ${line}`);
      }
    }
  }
  return stray;
}

/** The closing test of an end-to-end file: its workers printed nothing but JSON lines. */
export function everyLineWasJson() {
  const stray = strayLines();
  if (stray.length > 0) {
    throw new Error(`lines that are not one JSON object:\n${stray.slice(0, 20).join('\n')}`);
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(check, { timeoutMs = 20_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A LeadNest-shaped event with a fresh timestamp (or `ageSeconds` old; negative is future). */
export function event(name = 'email.opened', { messageId = `msg_${Math.random().toString(36).slice(2)}`, ageSeconds = 0, data = {} } = {}) {
  const timestamp = new Date(Date.now() - ageSeconds * 1000).toISOString();
  const payloadData = messageId === null ? { ...data } : { message_id: messageId, ...data };
  return { event: name, timestamp, data: payloadData };
}
