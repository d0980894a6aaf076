// `npm run bench:d1`: how fast local D1 takes the event log's writes, and how many
// bytes an event costs in the database; then what that means at 1, 10 and 100 events
// per second under the default retention. Not part of `npm test` or `npm run bench`.
//
// A measuring worker of its own (bench/d1/worker.mjs) runs under `wrangler dev` with two
// local databases that have the project's migrations: EVENTS, written as the worker
// writes (response bodies of 2 KiB, the most an attempt keeps), and LEAN, the same
// without response bodies. The worker times its D1 batches itself, so wrangler dev's
// HTTP proxy is not what is measured. This is workerd's local SQLite, not the D1
// service: read the rates as what the statements cost, not as D1's throughput.
//
// Knobs (environment): D1_BENCH_EVENTS (events written to each database for the size,
// default 20000), D1_BENCH_RUN (events per timed run, 3000), D1_BENCH_DIR (where the databases live; the OS's temporary directory
// by default, so on disk), D1_BENCH_RETENTION_DAYS (7).
// Table on stdout (Markdown), progress on stderr.
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../tools/lib/leadnest.mjs';

const run = promisify(execFile);
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1' };
const TOTAL = Number(process.env.D1_BENCH_EVENTS ?? 20_000);
const RUN = Number(process.env.D1_BENCH_RUN ?? 3000);
const RETENTION_DAYS = Number(process.env.D1_BENCH_RETENTION_DAYS ?? 7);
const say = (...parts) => console.error('bench:d1:', ...parts);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

if (!existsSync(WRANGLER)) throw new Error('wrangler is missing: run `npm ci` first');
const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'))[1];
const dir = mkdtempSync(join(process.env.D1_BENCH_DIR ?? tmpdir(), 'leadnest-d1-bench-'));
const state = join(dir, 'state');
const config = join(dir, 'wrangler.toml');
const DATABASES = ['EVENTS', 'LEAN'];
writeFileSync(config, [
  'name = "leadnest-d1-bench"',
  `main = ${JSON.stringify(join(ROOT, 'bench', 'd1', 'worker.mjs'))}`,
  `compatibility_date = "${compatibilityDate}"`,
  ...DATABASES.flatMap((binding) => ['', '[[d1_databases]]', `binding = "${binding}"`,
    `database_name = "bench-${binding.toLowerCase()}"`, `database_id = "bench-${binding.toLowerCase()}"`,
    `migrations_dir = ${JSON.stringify(join(ROOT, 'migrations'))}`]),
].join('\n') + '\n');

let child;
/** Starts wrangler dev on the databases; returns a function that posts one job to the worker. */
async function startDev() {
  const port = await freePort();
  const inspector = await freePort();
  child = spawn(WRANGLER, ['dev', '--config', config, '--persist-to', state, '--ip', '127.0.0.1',
    '--port', String(port), '--inspector-port', String(inspector), '--show-interactive-dev-session=false'],
  { cwd: dir, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`wrangler dev did not start:\n${output.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const job = async (body) => {
    const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${JSON.stringify(body)}: ${response.status} ${text.slice(0, 500)}\n${output.slice(-2000)}`);
    return JSON.parse(text);
  };
  return job;
}

async function main() {
  for (const binding of DATABASES) {
    say(`applying migrations to ${binding}`);
    await run(WRANGLER, ['d1', 'migrations', 'apply', binding, '--local', '--persist-to', state, '--config', config],
      { cwd: dir, env: ENV });
  }
  let job = await startDev();
  const sizes = async () => Object.fromEntries(await Promise.all(DATABASES.map(async (db) => [db, await job({ phase: 'size', db })])));
  const empty = await sizes();
  let next = 0;
  /**
   * Writes `count` new events to `db`, then their attempts; sums the timings. A call
   * makes at most 100 D1 batches, well under the platform's 1000 subrequests an invocation.
   */
  async function write(db, count, { perBatch = 1, concurrency = 1, responseBytes = 2048 } = {}) {
    const sum = (a, b) => ({ ms: a.ms + b.ms, batches: a.batches + b.batches, statements: a.statements + b.statements,
      rowsWritten: a.rowsWritten + b.rowsWritten, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99), attempts: (a.attempts ?? 0) + (b.attempts ?? 0) });
    const zero = { ms: 0, batches: 0, statements: 0, rowsWritten: 0, p50: 0, p99: 0, attempts: 0 };
    let events = zero;
    let attempts = zero;
    const start = next;
    const chunk = Math.min(2000, 100 * perBatch);
    for (let done = 0; done < count; done += chunk) {
      const n = Math.min(chunk, count - done);
      events = sum(events, await job({ phase: 'events', db, start: start + done, count: n, perBatch, concurrency }));
    }
    for (let done = 0; done < count; done += 500) {
      const n = Math.min(500, count - done);
      attempts = sum(attempts, await job({ phase: 'attempts', db, start: start + done, count: n, concurrency, responseBytes }));
    }
    next += count;
    return { events, attempts };
  }

  say('warming up');
  await write('EVENTS', 300);
  const runs = [];
  for (const [label, perBatch, concurrency] of [
    ['1 event a batch, one at a time', 1, 1],
    ['1 event a batch, 6 at once', 1, 6],
    ['40 events a batch (the ingress\'s flush under load)', 40, 1],
  ]) {
    say(label);
    runs.push({ label, perBatch, concurrency, ...(await write('EVENTS', RUN, { perBatch, concurrency })) });
  }
  const filled = next;
  if (TOTAL > filled) {
    say(`filling EVENTS to ${TOTAL} events`);
    await write('EVENTS', TOTAL - filled, { perBatch: 40 });
  }
  const written = next;
  say(`writing ${written} events to LEAN (no response bodies)`);
  next = 0;
  await write('LEAN', written, { perBatch: 40, responseBytes: 0 });
  const full = await sizes();
  await stop();

  // The same files packed (VACUUM on a copy), when the sqlite3 command is at hand.
  const packed = {};
  const files = join(state, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  if (existsSync(files)) {
    for (const file of readdirSync(files).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite')) {
      try {
        const copy = join(dir, `copy-${file}`);
        copyFileSync(join(files, file), copy);
        for (const side of ['-wal', '-shm']) if (existsSync(join(files, file + side))) copyFileSync(join(files, file + side), copy + side);
        const { stdout } = await run('sqlite3', [copy, 'PRAGMA wal_checkpoint(TRUNCATE); VACUUM; SELECT count(*) FROM attempts WHERE body IS NOT NULL;']);
        const withBodies = Number(stdout.trim().split('\n').at(-1));
        packed[withBodies > 0 ? 'EVENTS' : 'LEAN'] = statSync(copy).size;
      } catch (error) {
        say(`no packed size (${error.code === 'ENOENT' ? 'no sqlite3 command' : error.message.split('\n')[0]})`);
        break;
      }
    }
  }

  // The retention purge, on the full EVENTS database: its rounds until nothing is older.
  job = await startDev();
  say('purging EVENTS (the retention purge\'s rounds of 500 events)');
  const purge = await job({ phase: 'purge', db: 'EVENTS' });
  await stop();

  report({ runs, written, empty, full, packed, purge });
}

async function stop() {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    await exited;
  }
}

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const bytes = (n) => (n >= 1e9 ? `${fmt(n / 1e9, 1)} GB` : n >= 1e6 ? `${fmt(n / 1e6, 0)} MB` : `${fmt(n / 1e3, 0)} kB`);

function report({ runs, written, empty, full, packed, purge }) {
  const out = [];
  out.push(`## D1 event log: local SQLite (workerd under wrangler dev), ${fmt(written)} events`, '');
  out.push('Per accepted event: INSERT event (1 KB body) + INSERT delivery for 1 or 2 routes (1.5 on average) + UPDATE its status + its hourly count;',
    'per queue batch of 10 messages: one D1 batch of 10 × (INSERT attempt with ~300 B of headers and a 2 KiB body + its delivery + the event\'s status + a count).', '');
  out.push('| writes | events/s | attempts/s | D1 batches/s | statements/s | p50 / p99 ms a batch | rows written per event (with its attempts) |');
  out.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    const eventsPerSecond = RUN / (r.events.ms / 1000);
    const attemptsPerSecond = r.attempts.attempts / (r.attempts.ms / 1000);
    const batches = (r.events.batches + r.attempts.batches) / ((r.events.ms + r.attempts.ms) / 1000);
    const statements = (r.events.statements + r.attempts.statements) / ((r.events.ms + r.attempts.ms) / 1000);
    out.push(`| ${r.label}; attempts 10 a batch${r.concurrency > 1 ? `, ${r.concurrency} at once` : ''} | ${fmt(eventsPerSecond)} | ${fmt(attemptsPerSecond)} | ${fmt(batches)} | ${fmt(statements)} | ${fmt(r.events.p50, 2)} / ${fmt(r.events.p99, 2)} (events), ${fmt(r.attempts.p50, 2)} / ${fmt(r.attempts.p99, 2)} (attempts) | ${fmt((r.events.rowsWritten + r.attempts.rowsWritten) / RUN, 1)} |`);
  }
  // Both paths together: an event and its 1.5 attempts, on one database.
  const last = runs.at(-1);
  const both = RUN / ((last.events.ms + last.attempts.ms) / 1000);
  out.push('', `An event with its deliveries' attempts, written as under load (40 a batch, then 10 attempts a batch): **${fmt(both)} events/s** on this machine's local SQLite.`, '');

  const perEvent = (db) => (full[db].sizeAfter - empty[db].sizeAfter) / full[db].events;
  const perEventPacked = (db) => (packed[db] ? (packed[db] - empty[db].sizeAfter) / full[db].events : undefined);
  const events = RETENTION_DAYS * 86_400;
  out.push(`| database | size (as D1 counts it) | bytes per event | packed (VACUUM) per event | at 1 ev/s, ${RETENTION_DAYS} days | at 10 ev/s | at 100 ev/s | days in 10 GB at 10 ev/s |`);
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [db, label] of [['EVENTS', 'as the worker writes it'], ['LEAN', 'without response bodies']]) {
    const b = perEvent(db);
    const p = perEventPacked(db);
    out.push(`| ${label} | ${bytes(full[db].sizeAfter)} | ${fmt(b)} | ${p === undefined ? '—' : fmt(p)} | ${bytes(b * events)} | ${bytes(b * events * 10)} | ${bytes(b * events * 100)} | ${fmt(10e9 / (b * 10 * 86_400), 1)} |`);
  }
  out.push('', `Empty database (schema only): ${bytes(empty.EVENTS.sizeAfter)}.`);
  out.push('', `Retention purge of ${fmt(purge.purged)} events: ${purge.rounds} rounds of 500 in ${fmt(purge.ms / 1000, 1)} s, `
    + `**${fmt(purge.purged / (purge.ms / 1000))} events/s**, ${fmt(purge.rowsWritten / purge.purged, 1)} rows written per event purged.`);
  console.log(out.join('\n'));
}

try {
  await main();
} finally {
  await stop();
  if (!process.env.D1_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
}
