// Starts the built worker under `wrangler dev` with a configuration of the test's
// own (fresh local KV, queues and Durable Object event log, its own secrets), and talks to
// it over HTTP.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, sign } from '../../tools/lib/leadnest.mjs';

export const SECRET = 'e2e_webhook_secret';
export const SIGNING_SECRET = 'whsec_ZTJlLXNpZ25pbmcta2V5LWZvci10ZXN0cw==';
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const BUNDLE = join(ROOT, 'build', 'index.js');
/**
 * Where the test workers keep their local KV, queues and Durable Objects: in memory
 * (/dev/shm) where the machine has it, one folder per checkout. workerd syncs each local
 * KV write to disk, and on a machine whose disk is slow to sync that alone made a load
 * test crawl; in memory the tests measure the worker, not the disk.
 */
const STATE_ROOT = process.env.E2E_STATE_DIR
  ?? (existsSync('/dev/shm') ? join('/dev/shm', `leadnest-edge-e2e-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`)
    : join(ROOT, '.test', 'state'));
/** The environment of every wrangler command the harness runs: no metrics, no colour, no prompts. */
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' };
/** The cron of the test workers' trigger (any expression runs the scheduled handler). */
export const CRON = '17 * * * *';

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
// one line): test workers run on the same runtime behaviour as the shipped one.
const COMPATIBILITY = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').split('\n')
  .filter((line) => /^compatibility_(date|flags)\s*=/.test(line));
if (!COMPATIBILITY.some((line) => line.startsWith('compatibility_date'))
  || COMPATIBILITY.some((line) => line.includes('[') && !line.includes(']'))) {
  throw new Error(`wrangler.toml: expected compatibility_date and compatibility_flags on one line each, got ${JSON.stringify(COMPATIBILITY)}`);
}

// A TOML value: JSON's strings, numbers, booleans and arrays are TOML too;
// objects become inline tables.
function toml(value) {
  if (Array.isArray(value)) return `[${value.map(toml).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} = ${toml(v)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

/**
 * The wrangler.toml of one test worker. Options:
 *   vars: { NAME: string | array | object }  ([vars]: a string stays a string, as
 *         `--var` gives it; anything else is written as a JSON value in TOML form)
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
 *   keepState: keep the local KV of an earlier worker of the same name
 *   drain: DRAIN_REFUSED_BODIES, as `npm run dev` sets it (default true; false: production's early answers)
 *   events: bind the event log, the Durable Object class EventLog as EVENTS (default true;
 *         a consumer worker of consumerVars binds the main worker's, as a second script would)
 *   adminToken: the ADMIN_TOKEN secret (enables the admin API); worker.admin() sends it
 *   assets: serve public/ (the console's files) as static assets, ASSETS with the worker
 *         first, as wrangler.toml does (default false: the other tests need none, and
 *         wrangler dev puts its assets router in front of a worker that has them)
 * Whenever the delivery queue is bound, DEAD_LETTER_QUEUE names its dead-letter queue
 * `<name>-dead-letters`, as wrangler.toml does, unless vars give it.
 * scheduled: run wrangler dev with --test-scheduled, so worker.scheduled() runs its cron
 *         handler (only where a test needs it: it slows wrangler's proxy under load).
 */
function workerToml(name, bundle, options) {
  const { vars = {}, kv = true, deliveryQueue = true, maxRetries = 2, batchTimeout = 1,
    deadLetterConsumer = false, queues = {}, durable = false, maxBatchSize = 10,
    consume = true, queuePrefix = name, events = true } = options;
  const allVars = { ...vars };
  if (deliveryQueue && allVars.DEAD_LETTER_QUEUE === undefined) allVars.DEAD_LETTER_QUEUE = `${queuePrefix}-dead-letters`;
  if (durable) allVars.DEDUP_MODE = 'durable';
  const lines = [
    `name = ${toml(name)}`,
    `main = ${toml(bundle)}`,
    ...COMPATIBILITY,
    '',
    '[vars]',
    ...(options.drain === false ? [] : ['DRAIN_REFUSED_BODIES = "true"']),
    ...Object.entries(allVars).map(([key, value]) => `${key} = ${toml(value)}`),
  ];
  const classes = [];
  if (durable) {
    lines.push('', '[[durable_objects.bindings]]', 'name = "DEDUP_OBJECTS"', 'class_name = "DedupObject"');
    classes.push('DedupObject');
  }
  if (events) {
    // A consumer companion uses the main worker's objects, as one more script bound to them.
    const own = queuePrefix === name;
    lines.push('', '[[durable_objects.bindings]]', 'name = "EVENTS"', 'class_name = "EventLog"',
      ...(own ? [] : [`script_name = ${toml(queuePrefix)}`]));
    if (own) classes.push('EventLog');
  }
  if (classes.length > 0) lines.push('', '[[migrations]]', 'tag = "v1"', `new_sqlite_classes = ${toml(classes)}`);
  if (kv) lines.push('', '[[kv_namespaces]]', 'binding = "DEDUP"', 'id = "e2e"');
  lines.push('', '[triggers]', `crons = [${toml(CRON)}]`);
  if (options.assets) {
    lines.push('', '[assets]', `directory = ${toml(join(ROOT, 'public'))}`, 'binding = "ASSETS"', 'run_worker_first = true');
  }
  const producers = { ...queues };
  if (deliveryQueue) producers.DELIVERY_QUEUE = `${queuePrefix}-deliveries`;
  for (const [binding, queue] of Object.entries(producers)) {
    lines.push('', '[[queues.producers]]', `binding = ${toml(binding)}`, `queue = ${toml(queue)}`);
  }
  if (deliveryQueue && consume) {
    lines.push('', '[[queues.consumers]]', `queue = ${toml(`${queuePrefix}-deliveries`)}`,
      `max_batch_size = ${maxBatchSize}`, `max_batch_timeout = ${batchTimeout}`, `max_retries = ${maxRetries}`,
      `dead_letter_queue = ${toml(`${queuePrefix}-dead-letters`)}`);
    if (deadLetterConsumer) {
      lines.push('', '[[queues.consumers]]', `queue = ${toml(`${queuePrefix}-dead-letters`)}`,
        'max_batch_size = 10', `max_batch_timeout = ${batchTimeout}`, `max_retries = ${maxRetries + 3}`,
        `dead_letter_queue = ${toml(`${queuePrefix}-parked`)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The configurations a test worker runs with, beside its own: [file name, TOML]. */
function companionTomls(name, bundle, options) {
  const tomls = [];
  if (options.consumerVars) {
    tomls.push(['consumer.toml', workerToml(`${name}-consumer`, bundle,
      { ...options, vars: options.consumerVars, durable: false, queuePrefix: name })]);
  }
  if (options.parkedRecorder) {
    // It acks what it records, so it needs no dead-letter queue.
    tomls.push(['recorder.toml', [`name = ${toml(`${name}-parked-recorder`)}`,
      `main = ${toml(join(ROOT, 'tests', 'e2e', 'parked-recorder.mjs'))}`, 'compatibility_date = "2025-09-01"',
      '', '[[queues.consumers]]', `queue = ${toml(`${name}-parked`)}`, 'max_batch_size = 10',
      `max_batch_timeout = ${options.batchTimeout ?? 1}`].join('\n') + '\n']);
  }
  return tomls;
}

/**
 * Starts a worker. `secrets` go to an env file (as `wrangler secret put` would);
 * WEBHOOK_SECRET defaults to SECRET unless given as null.
 */
export async function startWorker(name, options = {}) {
  if (!existsSync(BUNDLE)) throw new Error('build/index.js is missing: run `npm run build` first');
  const dir = join(ROOT, '.test', name);
  const state = join(STATE_ROOT, name);
  // keepState: start again on the previous run's local KV (a restarted worker).
  if (!options.keepState) {
    rmSync(dir, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  mkdirSync(state, { recursive: true });
  const secrets = { WEBHOOK_SECRET: SECRET, ...options.secrets };
  if (options.adminToken !== undefined) secrets.ADMIN_TOKEN = options.adminToken;
  const envFile = Object.entries(secrets)
    .filter(([, value]) => value !== null)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join('\n');
  // A copy of the bundle: wrangler dev reloads a worker whose files change, so a
  // rebuild while tests run must not restart their workers.
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle, { recursive: true });
  for (const file of ['index.js', 'index_bg.wasm']) copyFileSync(join(ROOT, 'build', file), join(bundle, file));
  const own = options.consumerVars ? { ...options, consume: false } : options;
  writeFileSync(join(dir, 'wrangler.toml'), workerToml(`e2e-${name}`, join(bundle, 'index.js'), own));
  // More workers in the same wrangler dev share its local queues; the first serves HTTP.
  const companions = companionTomls(`e2e-${name}`, join(bundle, 'index.js'), options).map(([file, text]) => {
    writeFileSync(join(dir, file), text);
    return ['--config', join(dir, file)];
  });
  writeFileSync(join(dir, '.env'), envFile + '\n');
  // A port found free can be taken before wrangler binds it (by another worker's own
  // ports): such a start is tried again on new ports.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const inspectorPort = await freePort();
    const child = spawn(WRANGLER, [
      'dev', '--config', join(dir, 'wrangler.toml'), ...companions.flat(), '--ip', '127.0.0.1', '--port', String(port),
      '--inspector-port', String(inspectorPort), '--persist-to', state,
      '--env-file', join(dir, '.env'), '--show-interactive-dev-session=false',
      ...(options.scheduled ? ['--test-scheduled'] : []),
    ], {
      cwd: dir,
      env: WRANGLER_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const worker = new Worker(name, child, `http://127.0.0.1:${port}`);
    worker.dir = dir;
    worker.state = state;
    worker.adminToken = options.adminToken;
    started.push(worker);
    try {
      await worker.ready();
      return worker;
    } catch (error) {
      if (attempt === 3 || !/Address already in use/.test(worker.output)) throw error;
      await worker.stop();
      started.splice(started.indexOf(worker), 1);
    }
  }
}

/** `deliveries` and `attempts` as rows, read from each event's `routes` (as tests/it/store.rs). */
const VIEWS = `CREATE TEMP VIEW deliveries AS SELECT e.id AS event_id, d.key AS route,
json_extract(d.value, '$.status') AS status FROM events e, json_each(e.routes) d;
CREATE TEMP VIEW attempts AS SELECT e.id AS event_id, d.key AS route,
a.key + 1 AS attempt, json_extract(a.value, '$.at') AS at,
json_extract(a.value, '$.ms') AS duration_ms, json_extract(a.value, '$.outcome') AS outcome,
json_extract(a.value, '$.status') AS status, json_extract(a.value, '$.headers') AS headers,
json_extract(a.value, '$.body') AS body, json_extract(a.value, '$.error') AS error
FROM events e, json_each(e.routes) d, json_each(d.value, '$.attempts') a;`;

export class Worker {
  constructor(name, child, url) {
    this.name = name;
    this.child = child;
    this.url = url;
    this.output = '';
    /** The worker's JSON log lines, parsed. */
    this.logs = [];
    let pending = '';
    const collect = (raw) => {
      // wrangler colours console.error lines even with NO_COLOR.
      const chunk = raw.replace(/\x1b\[[0-9;]*m/g, '');
      this.output += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const start = line.indexOf('{');
        if (start < 0) continue;
        try { this.logs.push(JSON.parse(line.slice(start))); } catch { /* not a log line */ }
      }
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    this.exited = new Promise((resolve) => child.on('exit', resolve));
  }

  async ready(timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.exited.then(() => { exited = true; });
    while (Date.now() < deadline && !exited) {
      try {
        const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
        await response.arrayBuffer();
        return;
      } catch { await sleep(250); }
    }
    throw new Error(`worker ${this.name} did not start:\n${this.output.slice(-3000)}`);
  }

  /**
   * Deletes every dedup key from the worker's local KV, behind the running
   * worker's back (as a key expiring or a write from elsewhere would).
   */
  async forgetDedupKeys() {
    const kv = (...args) => promisify(execFile)(WRANGLER, ['kv', ...args, '--binding', 'DEDUP', '--local',
      '--persist-to', this.state, '--config', join(this.dir, 'wrangler.toml')],
    { cwd: this.dir, env: WRANGLER_ENV });
    const { stdout } = await kv('key', 'list');
    const keys = JSON.parse(stdout.slice(stdout.indexOf('['))).map((k) => k.name);
    for (const key of keys) await kv('key', 'delete', key);
    return keys.length;
  }

  /**
   * Runs one SQL command on every shard of the worker's local event log (each a Durable
   * Object's SQLite file; `{ one: true }`: on the first only), behind the running
   * worker's back, and returns the rows of all.
   */
  async sql(command, { one = false } = {}) {
    const dir = join(this.state, 'v3', 'do', `e2e-${this.name}-EventLog`);
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

  /**
   * Runs the worker's scheduled handler as its cron would, at `timeMs` (unix ms; by
   * default now): the platform's local trigger takes the time the handler is told.
   */
  async scheduled(cron = CRON, timeMs = Date.now()) {
    const response = await fetch(`${this.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}&time=${timeMs}`);
    const text = await response.text();
    if (!response.ok) throw new Error(`/__scheduled answered ${response.status}: ${text.slice(0, 300)}`);
    return text;
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

  /** Log lines of delivery attempts. */
  deliveries(webhookId) {
    return this.logs.filter((line) => line.route !== undefined && line.attempt !== undefined
      && (webhookId === undefined || line.webhook_id === webhookId));
  }

  /**
   * Stops wrangler and everything it started: the whole process group, even when wrangler
   * itself is already gone (a workerd it left behind would hold this file's pipes open,
   * and with them the test run). What the worker printed stays in `.test/<name>/output.log`.
   */
  async stop() {
    const signal = (name) => killGroup(this.child, name);
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 5000);
    if (this.child.exitCode === null && this.child.signalCode === null) await this.exited;
    clearTimeout(timer);
    signal('SIGKILL');
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    try { writeFileSync(join(this.dir, 'output.log'), this.output); } catch { /* the directory is gone */ }
  }
}

/** Sends `signal` to every process of `child`'s group (wrangler, its workerd). */
function killGroup(child, signal) {
  try { process.kill(-child.pid, signal); } catch { /* none left */ }
}

/** Every worker this test file started. */
const started = [];
// However the file ends, no wrangler or workerd of its own outlives it.
process.on('exit', () => {
  for (const worker of started) killGroup(worker.child, 'SIGKILL');
});

// What wrangler and workerd print themselves, around the worker's own lines.
const PLATFORM_LINE = [
  /^\s*$/, // blank
  /^\s/, // continuation: stack frames, indented notes, tables
  /^\[wrangler[:\]]/,
  /^[\u2500-\u257f\u2190-\u21ff\u2300-\u23ff\u25a0-\u27bf\u2b00-\u2bff]/u, // box drawing and symbols (⛅ ⎔ ▲ ✘ ─ ╭)
  /^\p{Extended_Pictographic}/u,
  /^(Using (secrets|vars) defined in|Your Worker (has access|and resources)|Binding\s|env\.|No bindings)/,
  /^[\w.-]+ has access to the following bindings:$/,
  /^Error: getaddrinfo ENOTFOUND/,
  /^(workerd|kj)\//,
  // workerd's own trace of a Durable Object's SQLite refusing it (the fault test's
  // external lock on a shard's file), and its note on the alarm that failed with it.
  /^exception = workerd\/util\/sqlite\.c\+\+:\d+: failed: SENTRY_DO SQLite failed; NOSENTRY database is locked: SQLITE_BUSY$/,
  /^stack: (\S+workerd@[0-9a-f]+ ?)+$/,
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
 * lines of this file's workers that are neither one JSON object nor wrangler's
 * or workerd's own, and every line showing a fault of the worker.
 */
export function strayLines() {
  const stray = [];
  for (const worker of started) {
    // With several workers in one wrangler dev, each line of theirs is prefixed `[name] `.
    for (const line of worker.output.split('\n').map((l) => l.replace(/^\[(?!wrangler)[\w.-]+\] /, ''))) {
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
