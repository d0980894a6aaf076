// The measuring worker of bench/d1.mjs: writes the event log's rows into a local D1
// database with the statements and batch shapes the worker uses
// (src/event_log/journal.rs, src/worker/journal.mjs, src/worker/delivery.mjs), and
// times them inside the worker, so wrangler dev's HTTP proxy is not what is measured.
//
// POST / {"phase": "events" | "attempts" | "size", "db": "EVENTS" | "LEAN", ...}

// The log's statements, as src/event_log/journal.rs writes them (keep in step).
const INSERT_EVENT = 'INSERT INTO events (id, event, message_id, timestamp, received_at, body, status) '
  + 'VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING';
const INSERT_DELIVERY = 'INSERT INTO deliveries (event_id, route, status) VALUES (?1, ?2, ?3) '
  + 'ON CONFLICT (event_id, route) DO NOTHING';
const SET_DELIVERY = 'INSERT INTO deliveries (event_id, route, status) VALUES (?1, ?2, ?3) '
  + 'ON CONFLICT (event_id, route) DO UPDATE SET status = excluded.status';
const INSERT_ATTEMPT = 'INSERT INTO attempts (event_id, route, attempt, at, duration_ms, outcome, status, headers, body, error) '
  + 'VALUES (?1, ?2, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE event_id = ?1 AND route = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)';
const EVENT_STATUS = 'UPDATE events SET status = CASE '
  + "WHEN NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1) THEN 'unrouted' "
  + "WHEN EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1 AND status = 'failed') THEN 'failed' "
  + "WHEN EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1 AND status = 'pending') THEN 'pending' "
  + "ELSE 'delivered' END WHERE id = ?1";
const COUNT = 'INSERT INTO counts (hour, name, count) VALUES (?1, ?2, ?3) '
  + 'ON CONFLICT (hour, name) DO UPDATE SET count = count + excluded.count';

// The retention purge's round, as src/event_log/journal.rs's purge() writes it; the
// driver runs rounds while any statement deleted a whole chunk.
const PURGE_CHUNK = 500;
const PURGE = [
  'DELETE FROM deliveries WHERE (event_id, route) IN (SELECT a.event_id, a.route FROM attempts a WHERE a.at < ?1 '
    + 'AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = a.event_id) LIMIT ?2)',
  'DELETE FROM attempts WHERE (event_id, route, attempt) IN (SELECT event_id, route, attempt FROM attempts WHERE at < ?1 LIMIT ?2)',
  'DELETE FROM redeliveries WHERE event_id IN (SELECT event_id FROM redeliveries WHERE last_at < ?1 LIMIT ?2)',
  'DELETE FROM deliveries WHERE event_id IN (SELECT id FROM events WHERE received_at < ?1 ORDER BY seq LIMIT ?2)',
  'DELETE FROM counts WHERE hour < ?1',
  'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE received_at < ?1 ORDER BY seq LIMIT ?2)',
];

const ROUTES = ['crm', 'analytics'];
const EVENTS = ['email.opened', 'email.clicked', 'email.delivered', 'sms.delivered', 'subscriber.updated'];

/** Event number `n`: its webhook-id, name, message_id, and how many routes it takes (1 or 2). */
function eventOf(n) {
  return {
    id: `msg_${n.toString(16).padStart(32, '0')}`,
    event: EVENTS[n % EVENTS.length],
    messageId: `msg_${(n * 2654435761 % 2 ** 32).toString(36)}${n.toString(36)}`,
    routes: ROUTES.slice(0, 1 + (n % 2)),
  };
}

/** A LeadNest-shaped body of `bytes` bytes (1 KB by default), different per event. */
function bodyOf(n, e, bytes, now) {
  const head = `{"event":"${e.event}","timestamp":"${new Date(now).toISOString()}","data":{"message_id":"${e.messageId}",`
    + `"campaign_id":"camp_${(n % 97).toString(36)}","email":"user${n}@example.com","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",`
    + '"note":"';
  const tail = '"}}';
  let filler = '';
  for (let i = 0; filler.length < bytes - head.length - tail.length; i++) filler += ((n * 31 + i * 7) % 36).toString(36);
  return head + filler.slice(0, Math.max(0, bytes - head.length - tail.length)) + tail;
}

/** A backend answer's headers as the log keeps them, about 300 bytes of JSON. */
function headersOf(n) {
  return JSON.stringify({
    'content-type': 'application/json; charset=utf-8',
    date: new Date(1_700_000_000_000 + n * 1000).toUTCString(),
    server: 'nginx/1.25.3',
    'x-request-id': `req_${n.toString(16).padStart(24, '0')}`,
    'cache-control': 'no-store',
    'strict-transport-security': 'max-age=63072000; includeSubDomains',
    vary: 'Accept-Encoding',
    'content-length': '2048',
  });
}

/** A response body as the log keeps it: its first `bytes` bytes. */
function responseOf(n, bytes) {
  const text = `{"ok":true,"id":"${n}","trace":"`;
  let filler = '';
  while (filler.length < bytes) filler += (n * 13 + filler.length).toString(36);
  return (text + filler).slice(0, bytes);
}

/** The statements of one accepted event, as the ingress's flush writes them. */
function eventStatements(db, n, bodyBytes, now) {
  const e = eventOf(n);
  const hour = Math.floor(now / 3_600_000) * 3600;
  return [
    db.prepare(INSERT_EVENT).bind(e.id, e.event, e.messageId, new Date(now).toISOString(), now,
      bodyOf(n, e, bodyBytes, now), 'pending'),
    ...e.routes.map((route) => db.prepare(INSERT_DELIVERY).bind(e.id, route, 'pending')),
    db.prepare(EVENT_STATUS).bind(e.id),
    db.prepare(COUNT).bind(hour, 'accepted', 1),
  ];
}

/** Every delivery of events [start, start + count): [event number, route]. */
function deliveriesOf(start, count) {
  const list = [];
  for (let n = start; n < start + count; n++) for (const route of eventOf(n).routes) list.push([n, route]);
  return list;
}

/** The statements of one delivered attempt, as the queue consumer writes them. */
function attemptStatements(db, n, route, responseBytes, now) {
  const id = eventOf(n).id;
  const hour = Math.floor(now / 3_600_000) * 3600;
  return [
    db.prepare(INSERT_ATTEMPT).bind(id, route, now, 40 + (n % 200), 'delivered', 200, headersOf(n),
      responseBytes > 0 ? responseOf(n, responseBytes) : null, null),
    db.prepare(SET_DELIVERY).bind(id, route, 'delivered'),
    db.prepare(EVENT_STATUS).bind(id),
    db.prepare(COUNT).bind(hour, 'delivered', 1),
  ];
}

/** Runs `batches` (functions returning statement lists) on `concurrency` chains; times the whole. */
async function run(db, batches, concurrency) {
  let next = 0;
  let statements = 0;
  let rowsWritten = 0;
  const latencies = [];
  const chain = async () => {
    while (next < batches.length) {
      const make = batches[next++];
      const list = make();
      statements += list.length;
      const t = performance.now();
      const results = await db.batch(list);
      latencies.push(performance.now() - t);
      for (const result of results) rowsWritten += result.meta?.rows_written ?? 0;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, chain));
  const ms = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { ms, batches: batches.length, statements, rowsWritten, p50: at(0.5), p99: at(0.99) };
}

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return Response.json({ ready: true });
    const job = await request.json();
    const db = env[job.db ?? 'EVENTS'];
    const now = Date.now();
    if (job.phase === 'events') {
      // perBatch events per D1 batch: 1 when every request flushes alone, up to 40 when
      // an isolate's once-a-second flush gathers them (200 statements, ~5 per event).
      const { start, count, perBatch = 1, concurrency = 1, bodyBytes = 1024 } = job;
      const batches = [];
      for (let first = start; first < start + count; first += perBatch) {
        const last = Math.min(start + count, first + perBatch);
        batches.push(() => {
          const list = [];
          for (let n = first; n < last; n++) list.push(...eventStatements(db, n, bodyBytes, now));
          return list;
        });
      }
      return Response.json(await run(db, batches, concurrency));
    }
    if (job.phase === 'attempts') {
      // One D1 batch per queue batch of 10 messages: 10 attempts with their updates.
      const { start, count, perBatch = 10, concurrency = 1, responseBytes = 2048 } = job;
      const deliveries = deliveriesOf(start, count);
      const batches = [];
      for (let i = 0; i < deliveries.length; i += perBatch) {
        const slice = deliveries.slice(i, i + perBatch);
        batches.push(() => slice.flatMap(([n, route]) => attemptStatements(db, n, route, responseBytes, now)));
      }
      return Response.json({ ...(await run(db, batches, concurrency)), attempts: deliveries.length });
    }
    if (job.phase === 'purge') {
      // Rounds of the purge (everything older than now), until one deletes less than a chunk.
      const cutoff = now + 1;
      const hour = Math.floor(cutoff / 3_600_000) * 3600;
      let rounds = 0;
      let purged = 0;
      let rowsWritten = 0;
      const started = performance.now();
      for (;;) {
        const results = await db.batch(PURGE.map((sql) => (sql.includes('counts') ? db.prepare(sql).bind(hour) : db.prepare(sql).bind(cutoff, PURGE_CHUNK))));
        rounds += 1;
        for (const result of results) rowsWritten += result.meta?.rows_written ?? 0;
        const deleted = results.map((result) => result.meta?.changes ?? 0);
        purged += deleted.at(-1);
        if (deleted.every((n) => n < PURGE_CHUNK)) break;
      }
      return Response.json({ ms: performance.now() - started, rounds, purged, rowsWritten });
    }
    if (job.phase === 'size') {
      // What D1 reports as the database's size (pages in use and free), as it counts it.
      const result = await db.prepare('SELECT count(*) AS events FROM events').first();
      const meta = (await db.prepare('SELECT 1').run()).meta;
      return Response.json({ events: result.events, sizeAfter: meta.size_after ?? null });
    }
    return Response.json({ error: 'unknown phase' }, { status: 400 });
  },
};
