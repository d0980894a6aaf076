// `npm run bench:log`: the event log's figures, measured black-box on the built worker
// (build/index.js + build/index_bg.wasm) in workerd, through Miniflare's API with a
// direct socket as bench/harness.mjs runs it. Not part of `npm test` or `npm run bench`.
//
// The worker runs with wrangler.toml's [vars], its queues and their consumers (the
// delivery queue and the dead-letter consumer), the event log (`EVENTS`, the Durable
// Object class EventLog: SQLite shards, a day and 8 shards an object) and ADMIN_TOKEN. Two HTTP routes go to local backends answering
// 200 {"ok":true}: `crm` takes every event, `analytics` email.* (56 % of this mix), so an
// event makes 1.56 deliveries, each delivered at the first attempt.
//
// 1. bytes stored an event: LOG_BENCH_EVENTS events of LOG_BENCH_BODY_BYTES are sent, and
//    once /admin/api/stats counts every delivery delivered (polled, no fixed wait), the
//    bytes the shards hold (each shard's `ctx.storage.sql.databaseSize`, the platform's
//    meter) less an empty shard's schema, / events. Again with LOG_RESPONSES=all.
// 2. rows written an event: storage.rows_written_per_event from /stats (the sum of
//    every write's `cursor.rowsWritten`, the platform's meter, index entries included).
// 3. admin query latency: the first worker's log is filled to LOG_BENCH_STORED events
//    with SQL, each shard's own (rows shaped as the worker writes them: the same bodies,
//    1.56 deliveries an event, 3 % failed after 11 attempts, 2 % delivered at a retry,
//    over 7 days), then each query is timed through the worker's HTTP.
// 4. capacity on paper: what one shard holds over its day at the target volume, from
//    the bytes an event measured and a Durable Object's storage limit.
//
// This is workerd's local SQLite on this machine, not Cloudflare's storage service.
//
// Knobs (environment):
//   LOG_BENCH_EVENTS       events sent to each worker (2000)
//   LOG_BENCH_STORED       events stored when the queries are timed (200000)
//   LOG_BENCH_SAMPLES      timed calls of each query (20)
//   LOG_BENCH_BODY_BYTES   bytes of an event's body (1024)
//   LOG_BENCH_CONCURRENCY  requests in flight while sending (8)
//   LOG_BENCH_ALL=0        no second worker (LOG_RESPONSES=all)
//   LOG_BENCH_DIR          where the databases live (the OS's temporary directory: on disk)
//   LOG_BENCH_KEEP=1       keep the databases afterwards
// Table on stdout (Markdown), progress on stderr.
import { Miniflare } from 'miniflare';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ROOT, EVENTS, samplePayload, sign } from '../tools/lib/leadnest.mjs';
import { SOURCES, sleep } from './harness.mjs';
import { load } from './load.mjs';

// A SQLite-backed Durable Object's storage limit: "10 GB" an object
// (https://developers.cloudflare.com/durable-objects/platform/limits/); 10^9 bytes a GB.
const OBJECT_BYTES = 10e9;
// The log's shards a day (src/event_log/shard.rs SHARDS), and the target volume.
const SHARDS = 8;
const TARGET_PER_SECOND = 100;
// The default retention: EVENT_RETENTION_DAYS in wrangler.toml (SPEC section 8).
const RETENTION_DAYS = 7;
// The workload's families, in percent of events: `analytics` takes email.*, so 1.56
// deliveries an event; sms.* is the rare family the queries look for.
const MIX = { email: 56, whatsapp: 20, subscriber: 20, sms: 4 };
const FAILED_PER_MILLE = 30; // seeded events with a failed delivery
const RETRIED_PER_MILLE = 20; // seeded deliveries delivered at the second attempt
const REDELIVERED_PER_CENT = 1; // seeded events LeadNest sent twice

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${value}"`);
  return n;
};
const N = env('LOG_BENCH_EVENTS', 2000);
const STORED = env('LOG_BENCH_STORED', 200_000);
const SAMPLES = env('LOG_BENCH_SAMPLES', 20);
const BODY_BYTES = env('LOG_BENCH_BODY_BYTES', 1024);
const CONCURRENCY = env('LOG_BENCH_CONCURRENCY', 8);
const WITH_ALL = process.env.LOG_BENCH_ALL !== '0';
if (N < 1 || SAMPLES < 1) throw new Error('LOG_BENCH_EVENTS and LOG_BENCH_SAMPLES must be at least 1');
const SECRET = 'bench_webhook_secret';
const ADMIN_TOKEN = randomBytes(24).toString('base64url'); // 32 characters
const began = performance.now();
const say = (...parts) => console.error(`bench:log ${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s:`, ...parts);

// ---------------------------------------------------------------- wrangler.toml
/** The tables of wrangler.toml this needs: [vars] and every [[queues.consumers]]. */
function readWranglerToml() {
  const text = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const top = {};
  const vars = {};
  const consumers = [];
  let table = top;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\[)?\s*([\w.]+)\s*\]?\]$/.exec(line);
    if (header) {
      table = header[2] === 'vars' ? vars : header[2] === 'queues.consumers' ? {} : null;
      if (header[2] === 'queues.consumers') consumers.push(table);
      continue;
    }
    const pair = /^([\w-]+)\s*=\s*(.+)$/.exec(line);
    if (pair && table) table[pair[1]] = JSON.parse(pair[2]); // the values used here are JSON too
  }
  return { top, vars, consumers };
}
const toml = readWranglerToml();

// ---------------------------------------------------------------- events
/** 100 slots of event names, the families in MIX's shares, each family's names in turn. */
const SLOTS = Object.entries(MIX).flatMap(([family, share]) => {
  const names = EVENTS.filter((e) => e.startsWith(`${family}.`));
  return Array.from({ length: share }, (_, k) => names[k % names.length]);
});
if (SLOTS.length !== 100) throw new Error('MIX must add up to 100');
/** The event of the i-th event sent or seeded: 37 is prime to 100, so every 100 in a row hold the mix exactly. */
const slotOf = (i) => (i * 37) % 100;
const FILLER = 'Lead scored by the spring campaign workflow; follow-up scheduled with the account owner. ';

// Markers of the same length as what replaces them, so a seeded body is as long as a sent one.
const MID = 'msg_MMMMMMMMMMMMMMMM'; // msg_ + 16 hex digits
const TS = 'TTTT-TT-TTTTT:TT:TT.TTTZ'; // toISOString()
const RID = 'req_RRRRRRRRRRRR'; // req_ + 12 hex digits
/** An event's body with markers, padded to BODY_BYTES: LeadNest's sample of it plus custom fields. */
function template(event) {
  const payload = samplePayload(event, { timestamp: TS, messageId: MID });
  payload.data.custom_fields = { request_id: RID, source: 'web_form', owner: 'sales-emea', note: '' };
  const room = BODY_BYTES - Buffer.byteLength(JSON.stringify(payload));
  if (room < 0) throw new Error(`LOG_BENCH_BODY_BYTES=${BODY_BYTES} is smaller than a ${event} event`);
  payload.data.custom_fields.note = FILLER.repeat(Math.ceil(room / FILLER.length)).slice(0, room);
  return JSON.stringify(payload);
}
const TEMPLATES = new Map(EVENTS.map((e) => [e, template(e)]));
const hex = (bytes) => randomBytes(bytes).toString('hex');

let sent = 0;
/** The next event to send: its signed request, its name. */
function nextEvent() {
  const event = SLOTS[slotOf(sent++)];
  const body = TEMPLATES.get(event).replace(MID, `msg_${hex(8)}`).replaceAll(TS, new Date().toISOString())
    .replace(RID, `req_${hex(6)}`);
  return { body, headers: { 'content-type': 'application/json', 'x-leadnest-signature': sign(body, SECRET) } };
}
const deliveriesOf = (count) => Array.from({ length: count }, (_, i) => (SLOTS[slotOf(i)].startsWith('email.') ? 2 : 1))
  .reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------- backends and workers
/** The two backends: 200 {"ok":true} at once, deliveries counted per path. */
async function startBackends() {
  const received = new Map();
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      received.set(req.url, (received.get(req.url) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, received, stop: () => new Promise((resolve) => server.close(resolve)) };
}

const dir = mkdtempSync(join(process.env.LOG_BENCH_DIR ?? tmpdir(), 'leadnest-log-bench-'));

/** The built worker as wrangler.toml configures it, with the event log, in a workerd of its own. */
async function startWorker(name, backendPort, vars = {}) {
  const errors = [];
  const queue = (consumer) => ({
    maxBatchSize: consumer.max_batch_size, maxBatchTimeout: consumer.max_batch_timeout,
    maxRetries: consumer.max_retries, deadLetterQueue: consumer.dead_letter_queue,
  });
  const url = (route) => `http://127.0.0.1:${backendPort}/${route}`;
  const mf = new Miniflare({
    ...SOURCES.rust,
    compatibilityDate: toml.top.compatibility_date,
    compatibilityFlags: toml.top.compatibility_flags,
    bindings: {
      ...toml.vars,
      WEBHOOK_SECRET: SECRET,
      ADMIN_TOKEN,
      ROUTES: JSON.stringify([
        { name: 'crm', url: url('crm'), events: ['*'] },
        { name: 'analytics', url: url('analytics'), events: ['email.*'] },
      ]),
      ...vars,
    },
    kvNamespaces: { DEDUP: `dedup-${name}` },
    durableObjects: { EVENTS: { className: 'EventLog', useSQLite: true } },
    durableObjectsPersist: join(dir, `do-${name}`),
    queueProducers: { DELIVERY_QUEUE: toml.consumers[0].queue },
    queueConsumers: Object.fromEntries(toml.consumers.map((c) => [c.queue, queue(c)])),
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    handleRuntimeStdio: (...streams) => streams.forEach((s) => s.setEncoding('utf8').on('data', (chunk) => {
      for (const line of chunk.split('\n')) {
        if (/error|uncaught|hung/i.test(line) && !line.startsWith('{')) errors.push(line.slice(0, 300));
      }
    })),
  });
  const base = await mf.unsafeGetDirectURL();
  const namespace = await mf.getDurableObjectNamespace('EVENTS');
  /** Runs statements ([sql, ...params]) on the log's object `shard`, as the worker does. */
  const db = async (shard, statements) => {
    const out = await namespace.get(namespace.idFromName(shard)).batch(shard, statements);
    if (out.error !== undefined) throw new Error(`${name}: shard ${shard}: ${out.error}`);
    return out.results;
  };
  const admin = async (path) => {
    const res = await fetch(new URL(`/admin/api/${path}`, base), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${name}: GET /admin/api/${path}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  await admin('stats');
  return { name, mf, db, base, admin, errors, ingress: new URL('/webhooks/leadnest', base).href };
}

/** /stats summed over its window (the last 24 hours). */
async function stats(w) {
  const { hours, storage } = await w.admin('stats');
  const sum = (key) => hours.reduce((n, h) => n + (h[key] ?? 0), 0);
  return { accepted: sum('accepted'), delivered: sum('delivered'), failed: sum('failed'), lost: sum('log_writes_lost'), storage };
}

/** Sends N events, then polls /stats until every delivery is logged delivered. */
async function fill(w) {
  say(`${w.name}: sending ${N} events, ${CONCURRENCY} at a time`);
  sent = 0;
  const r = await load(w.ingress, {
    make: nextEvent, check: (status, text) => status === 200 && text.includes('"accepted"'),
    concurrency: CONCURRENCY, maxRequests: N, maxSeconds: 3600,
  });
  const bad = [...r.unexpected.values()].reduce((n, u) => n + u.count, 0);
  if (bad > 0) throw new Error(`${w.name}: unexpected answers: ${JSON.stringify([...r.unexpected])}`);
  const want = deliveriesOf(N);
  say(`${w.name}: sent in ${r.seconds.toFixed(1)} s (${r.rps.toFixed(0)}/s); waiting for ${want} deliveries to be logged`);
  const deadline = Date.now() + 120_000 + N * 100;
  let s;
  for (;;) {
    s = await stats(w);
    const pending = (await w.admin('events?status=pending&limit=1')).events.length;
    if (s.failed > 0 || s.lost > 0) throw new Error(`${w.name}: ${s.failed} deliveries failed, ${s.lost} log writes lost`);
    if (s.accepted === N && s.delivered === want && pending === 0) break;
    if (Date.now() > deadline) throw new Error(`${w.name}: after the wait: ${JSON.stringify(s)}, ${pending} pending`);
    await sleep(250);
  }
  say(`${w.name}: all ${want} deliveries logged`);
  // The rows a flush wrote are counted with the next one: one more event brings the
  // last flush's along.
  const carrier = nextEvent();
  await fetch(w.ingress, { method: 'POST', headers: carrier.headers, body: carrier.body }).then((res) => res.arrayBuffer());
  const written = s.storage.rows_written;
  for (let k = 0; k < 40 && (await stats(w)).storage.rows_written === written; k++) await sleep(250);
  s = await stats(w);
  return { ...s.storage, deliveries: want, send_seconds: r.seconds };
}

// ---------------------------------------------------------------- seeding
const q = (text) => `'${text.replaceAll("'", "''")}'`;
const FAMILY_OF_EMAIL = "e.event >= 'email.' AND e.event < 'email/'";
const FAILED_HEADERS = JSON.stringify({ 'content-type': 'text/html', 'content-length': '162', server: 'nginx', date: 'Sun, 06 Dec 2026 08:00:00 GMT', connection: 'keep-alive' });
const FAILED_BODY = '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n';

/** The log's shard of an event id: FNV-1a, as src/event_log/shard.rs. */
function shardOf(id) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(id)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash % SHARDS;
}
/** `count` random event ids of the shard `k`. */
function idsOf(k, count) {
  const ids = [];
  while (ids.length < count) {
    const id = `msg_${hex(16)}`;
    if (shardOf(id) === k) ids.push(id);
  }
  return ids;
}

/** One attempt's JSON, as the worker writes it, at `at` (an SQL expression). */
function attemptJson(at, delivered) {
  const answer = delivered ? "',\"outcome\":\"delivered\",\"status\":200}'"
    : `',"outcome":"retry","status":503,"headers":' || json_quote(${q(FAILED_HEADERS)}) || ',"body":' || json_quote(${q(FAILED_BODY)}) || '}'`;
  return `'{"at":' || (${at}) || ',"ms":' || (20 + abs(random() % 250)) || ${answer}`;
}
/** The attempts of a delivery received at `r`: delivered at once, after one 503, or 11 503s (max_retries 10, 5 s doubling). */
const ATTEMPTS = {
  delivered: `'[' || ${attemptJson('r + 40 + abs(random() % 300)', true)} || ']'`,
  retried: `'[' || ${attemptJson('r + 40', false)} || ',' || ${attemptJson('r + 5040', true)} || ']'`,
  failed: `(SELECT json_group_array(json(${attemptJson('r + 40 + 5000 * ((1 << (k.n - 1)) - 1)', false)})) FROM k)`,
};

/**
 * Events numbered `from`..`to`, received from `start` `step` ms apart, each one row
 * with its deliveries and their attempts as the worker writes them, and their
 * redeliveries and counts: statements for one shard (its day beginning at `dayStart`),
 * whose ids are the shard's, keyed by arrival (ties at random). Their names follow the
 * mix; the bodies are the sent events' with random ids.
 */
function seedStatements(ids, from, to, start, step, dayStart) {
  const slots = SLOTS.map((event, slot) => `(${slot}, ${q(event)})`).join(', ');
  const templates = [...TEMPLATES].map(([event, body]) => `(${q(event)}, ${q(body)})`).join(', ');
  const delivery = (status, attempts) => `json_object('status', '${status}', 'attempts', json(${attempts.replaceAll('r +', 'x.at +')}))`;
  const events = `WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?),
k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 11),
ids(k, id) AS (SELECT key, value FROM json_each(?)),
slots(slot, event) AS (VALUES ${slots}),
templates(event, body) AS (VALUES ${templates}),
r AS MATERIALIZED (SELECT i, ids.id, s.event, t.body AS tpl, ? + (i - ?) * ? AS at,
  CASE WHEN s.event >= 'subscriber.' AND s.event < 'subscriber/' THEN NULL ELSE 'msg_' || lower(hex(randomblob(8))) END AS mid,
  (i * 7919) % 1000 < ${FAILED_PER_MILLE} AS failed, (i * 31) % 1000 < ${RETRIED_PER_MILLE} AS retried
  FROM n JOIN ids ON ids.k = i - ? JOIN slots s ON s.slot = (i * 37) % 100 JOIN templates t ON t.event = s.event),
x AS MATERIALIZED (SELECT *, strftime('%Y-%m-%dT%H:%M:%fZ', at / 1000.0, 'unixepoch') AS ts FROM r)
INSERT INTO events (seq, id_key, message_id, received_at, body, routes)
SELECT ((at - ?) << 35) | (abs(random()) % (1 << 35)), unhex(substr(id, 5)), mid, at,
  replace(replace(replace(tpl, ${q(MID)}, COALESCE(mid, '')), ${q(TS)}, ts), ${q(RID)}, 'req_' || lower(hex(randomblob(6)))),
  CASE WHEN ${FAMILY_OF_EMAIL.replaceAll('e.event', 'x.event')}
    THEN json_object('analytics', ${delivery('delivered', ATTEMPTS.delivered)}, 'crm', CASE WHEN failed THEN ${delivery('failed', ATTEMPTS.failed)}
      WHEN retried THEN ${delivery('delivered', ATTEMPTS.retried)} ELSE ${delivery('delivered', ATTEMPTS.delivered)} END)
    ELSE json_object('crm', CASE WHEN failed THEN ${delivery('failed', ATTEMPTS.failed)}
      WHEN retried THEN ${delivery('delivered', ATTEMPTS.retried)} ELSE ${delivery('delivered', ATTEMPTS.delivered)} END) END
FROM x ORDER BY i`;
  const seeded = 'SELECT value FROM json_each(?)';
  const redeliveries = `INSERT INTO redeliveries (event_id, count, last_at)
SELECT id, 1, received_at + 30000 FROM events WHERE id IN (${seeded}) AND abs(random() % 100) < ${REDELIVERED_PER_CENT}`;
  const hour = '(e.received_at / 3600000) * 3600';
  const counts = `INSERT INTO counts (hour, name, count) SELECT * FROM (
SELECT ${hour}, 'accepted', COUNT(*) FROM events e WHERE e.id IN (${seeded}) GROUP BY 1
UNION ALL SELECT ${hour}, json_extract(d.value, '$.status'), COUNT(*) FROM events e, json_each(e.routes) d WHERE e.id IN (${seeded}) GROUP BY 1, 2
) WHERE true ON CONFLICT (hour, name) DO UPDATE SET count = count + excluded.count`;
  const list = JSON.stringify(ids);
  return [
    [events, from, to, list, start, from, step, from, dayStart],
    [redeliveries, list],
    [counts, list, list],
  ];
}

/** Fills the log to STORED events over the 7 days before `now`, each day's 8 shards alike. */
async function seed(w, now) {
  const have = (await stats(w)).storage.events_kept;
  const total = Math.max(0, STORED - have);
  const t0 = performance.now();
  const DAY = 86_400_000;
  const today = Math.floor(now / DAY);
  const perShard = Math.ceil(total / (RETENTION_DAYS * SHARDS));
  let done = 0;
  for (let d = RETENTION_DAYS - 1; d >= 0 && done < total; d--) {
    const start = (today - d) * DAY;
    // Spread over the day, and never past now.
    const span = Math.min(DAY, now - start) - 60_000;
    for (let k = 0; k < SHARDS && done < total; k++) {
      const count = Math.min(perShard, total - done);
      const shard = `${new Date(start).toISOString().slice(0, 10)}/${k}`;
      for (let from = 0; from < count; from += 5_000) {
        const to = Math.min(count, from + 5_000) - 1;
        await w.db(shard, seedStatements(idsOf(k, to - from + 1), from, to, start + 30_000, Math.max(1, Math.floor(span / count)), start));
      }
      done += count;
    }
    say(`seeded ${done + have} events`);
  }
  return { seeded: total, seconds: (performance.now() - t0) / 1000 };
}

// ---------------------------------------------------------------- queries
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
/** SAMPLES timed calls of `path` (after one untimed), each one at a time: median and p90 in ms. */
async function time(w, path) {
  const answer = await w.admin(path);
  const ms = [];
  for (let k = 0; k < SAMPLES; k++) {
    const t0 = performance.now();
    await w.admin(path);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const n = (count, what) => `${count} ${what}${count === 1 ? '' : 's'}`;
  const found = answer.events ? n(answer.events.length, 'event') : answer.deliveries ? `${answer.deliveries.length} ${answer.deliveries.length === 1 ? 'delivery' : 'deliveries'}`
    : answer.hours ? n(answer.hours.length, 'hour') : '';
  return { p50: pct(ms, 0.5), p90: pct(ms, 0.9), found };
}

// ---------------------------------------------------------------- the run
const f = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const backends = await startBackends();
const workers = [];
try {
  const rows = [];
  const row = (figure, value, how = '') => rows.push(`| ${figure} | ${value} | ${how} |`);

  const main = await startWorker('failures', backends.port);
  workers.push(main);
  // An empty shard's bytes (its schema's pages), to leave out of a byte an event.
  await main.db('1970-01-01/0', [['DELETE FROM counts WHERE 0']]);
  const emptyShard = (await stats(main)).storage.bytes_stored;
  const lean = await fill(main);
  let all;
  if (WITH_ALL) {
    const w = await startWorker('all', backends.port, { LOG_RESPONSES: 'all' });
    workers.push(w);
    await w.db('1970-01-01/0', [['DELETE FROM counts WHERE 0']]);
    all = await fill(w);
    await w.mf.dispose();
    workers.pop();
  }
  // The shards that hold the events (not the empty one), their schema left out.
  const perEvent = (st) => (st.bytes_stored - st.shards * emptyShard) / (st.events_kept);

  say(`seeding ${STORED} events`);
  const seeded = await seed(main, Date.now());
  // The shards report their figures within a second of their last write.
  await sleep(1_500);
  const big = (await stats(main)).storage;
  const page = await main.admin('events?limit=200');
  const pick = page.events.find((e) => e.message_id !== null);
  const QUERIES = [
    ['newest 50: `events`', 'events'],
    ['`events?status=failed`', 'events?status=failed'],
    ['`events?event=sms.*` (4 % of events)', 'events?event=sms.*'],
    ['`events?event=email.*` (56 %)', 'events?event=email.*'],
    ['`events?route=analytics` (56 %)', 'events?route=analytics'],
    ['`events?route=crm` (every event)', 'events?route=crm'],
    ['`events?message_id=…`', `events?message_id=${pick.message_id}`],
    ['one event: `events/{id}`', `events/${pick.id}`],
    ['`stats` (the last 24 h)', 'stats'],
  ];
  const timed = [];
  for (const [label, path] of QUERIES) {
    say(`timing ${path}`);
    timed.push([label, await time(main, path)]);
  }

  const deliveries = lean.deliveries / N;
  row('events sent to each worker; deliveries an event', `${f(N)}; ${f(deliveries, 2)}`,
    `${BODY_BYTES}-byte bodies, routes crm (every event) and analytics (email.*), each delivered at the first attempt`);
  row('**bytes stored an event**', `**${f(perEvent(lean))}**`,
    `/stats \`storage.bytes_stored\` ${f(lean.bytes_stored)} in ${lean.shards} shards, less ${f(emptyShard)} a shard's empty schema, / \`events_kept\` ${f(lean.events_kept)}`);
  if (all) {
    row('bytes stored an event, `LOG_RESPONSES=all`', f(perEvent(all)),
      `${f(all.bytes_stored)} in ${all.shards} shards / ${f(all.events_kept)}; every delivered attempt keeps the backend's headers and \`{"ok":true}\``);
  }
  row('**rows written an event**', lean.rows_written > 0 ? `**${f(lean.rows_written_per_event, 2)}**` : 'not metered (`rows_written` 0)',
    '/stats `storage.rows_written_per_event`: every write\'s `cursor.rowsWritten` (index entries included, the platform\'s meter) / events accepted');
  row(`bytes stored an event at ${f(big.events_kept)} events`, f(perEvent(big)),
    `after seeding ${f(seeded.seeded)} events over ${RETENTION_DAYS} days × ${SHARDS} shards with SQL in ${f(seeded.seconds, 1)} s (${FAILED_PER_MILLE / 10} % failed after 11 attempts, ${RETRIED_PER_MILLE / 10} % of deliveries retried once)`);
  for (const [label, t] of timed) {
    row(`${label}, ${f(big.events_kept)} stored`, `${f(t.p50, 1)} ms (p90 ${f(t.p90, 1)})`, `median of ${SAMPLES}; ${t.found}`);
  }
  const shardBytes = (bytes) => (TARGET_PER_SECOND * 86_400 / SHARDS) * bytes;
  row(`**a shard's day at ${TARGET_PER_SECOND} events a second**`, `**${f(shardBytes(perEvent(lean)) / 1e9, 2)} GB**`
    + (all ? ` (${f(shardBytes(perEvent(all)) / 1e9, 2)} GB with \`LOG_RESPONSES=all\`)` : ''),
  `${f(TARGET_PER_SECOND * 86_400 / SHARDS)} events × bytes an event; an object holds ${f(OBJECT_BYTES / 1e9)} GB, `
    + `so ${f(OBJECT_BYTES / shardBytes(perEvent(lean)), 1)}× headroom; the log holds ${RETENTION_DAYS} days × ${SHARDS} shards, however many events`);

  console.log('| figure | measured | how |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(r);
  const errors = workers.flatMap((w) => w.errors);
  console.log(`\nworkerd's local SQLite (Miniflare ${JSON.parse(readFileSync(join(ROOT, 'node_modules', 'miniflare', 'package.json'), 'utf8')).version}), not Cloudflare's storage service; whole run ${f((performance.now() - began) / 1000)} s.`
    + (errors.length ? ` Runtime errors: ${errors.length}, last: ${errors.at(-1)}` : ''));
} finally {
  await Promise.all(workers.map((w) => w.mf.dispose()));
  await backends.stop();
  if (process.env.LOG_BENCH_KEEP === '1') say(`databases kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
