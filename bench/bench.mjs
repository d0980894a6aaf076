// `npm run bench` (via bench/run.sh): native figures, bundle, startup, then the
// built Rust worker, a JS baseline and a hello-world floor under workerd
// (Miniflare's API, direct sockets: no wrangler dev proxy, no Miniflare entry
// worker), interleaved round by round, then ack latency. Prints one table.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from '../tools/lib/leadnest.mjs';
import { CLK_TCK, FLOOR, HEALTH, PATHS, fresh, SOURCES, bundle, run as runOnce, startSink, startWorker } from './harness.mjs';

const E = process.env;
const QUICK = E.BENCH_QUICK === '1';
const num = (name, full, quick) => Number(E[name] ?? (QUICK ? quick : full));
const ROUNDS = num('BENCH_ROUNDS', 4, 2);
const SECONDS = num('BENCH_SECONDS', 2.5, 1);
const REQUESTS = num('BENCH_REQUESTS', 30_000, 5_000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 32, 32);
const WARMUP = num('BENCH_WARMUP', 1_500, 300);
const STARTUPS = num('BENCH_STARTUPS', 3, 1);
const ACK_REQUESTS = num('BENCH_ACK_REQUESTS', 100, 20);
const BACKEND_DELAY_MS = 2_000;
const SIZES = [1024, 32 * 1024];
const CRITERION_DIR = E.CRITERION_DIR ?? join(ROOT, 'target', 'bench', 'criterion');

const progress = (line) => process.stderr.write(`bench: ${line}\n`);
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sink = await startSink();
const run = (w, path, size, opts = {}) => runOnce(w, path, size,
  { sink, requests: REQUESTS, seconds: SECONDS, concurrency: CONCURRENCY, ...opts });
const start = (name, opts = {}) => startWorker(name, { sinkPort: sink.port, ...opts });

// ---------------------------------------------------------------- native figures
function nativeFigures() {
  const est = (...p) => {
    const file = join(CRITERION_DIR, ...p, 'new', 'estimates.json');
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).median.point_estimate : NaN;
  };
  const openssl = (bytes) => {
    try {
      const out = execFileSync('openssl', ['speed', '-seconds', '1', '-bytes', String(bytes), '-evp', 'sha256'],
        { stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 }).toString();
      return Number(out.trim().split('\n').at(-1).trim().split(/\s+/).at(-1).replace('k', '')) / 1000; // MB/s
    } catch { return NaN; }
  };
  const sizes = [['1KB', 1024], ['64KB', 65536]];
  // The same Rust as wasm under V8 (bench/wasm-probe), µs per call.
  let wasm = {};
  if (E.WASM_PROBE && existsSync(E.WASM_PROBE)) {
    wasm = JSON.parse(execFileSync(process.execPath, ['--no-liftoff', join(ROOT, 'bench', 'wasm-probe', 'run.mjs'), E.WASM_PROBE]).toString());
  }
  return {
    wasm,
    admitNs: est('ingress', 'admit', '1KB'),
    rows: sizes.map(([label, bytes]) => ({
      label, bytes, sha256MBs: openssl(bytes),
      ns: Object.fromEntries(['verify', 'parse_fresh', 'dedup_key', 'sw_sign'].map((b) => [b, est('pure', b, label)])),
    })),
  };
}

/** Sizes of a wasm module's custom sections (the name section is debug data). */
function customSections(bytes) {
  const out = {};
  let p = 8;
  const leb = () => { let r = 0, s = 0, b; do { b = bytes[p++]; r += (b & 127) * 2 ** s; s += 7; } while (b & 128); return r; };
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    const end = p + size;
    if (id === 0) { const n = leb(); out[bytes.subarray(p, p + n).toString()] = size; }
    p = end;
  }
  return out;
}

// ---------------------------------------------------------------- the run
const t0 = Date.now();
progress(`config: ${ROUNDS} rounds × ${SECONDS}s (≤${REQUESTS} req), concurrency ${CONCURRENCY}${QUICK ? ', quick' : ''}`);
const native = nativeFigures();

progress('startup');
const startup = { rust: [], baseline: [], hello: [] };
for (let i = 0; i < STARTUPS; i++) {
  for (const name of ['hello', 'baseline', 'rust']) {
    const w = await start(name);
    startup[name].push(w.fromSpawnMs);
    await w.mf.dispose();
  }
}

const workers = {};
for (const name of ['hello', 'baseline', 'rust']) workers[name] = await start(name);
// The Rust worker without its memory of recorded keys: every duplicate is a KV read,
// as for the baseline and for a redelivery that reaches another isolate.
const NO_MEMORY = 'rust, DEDUP_MEMORY_KEYS=0';
workers[NO_MEMORY] = await start(NO_MEMORY, { source: 'rust', vars: { DEDUP_MEMORY_KEYS: '0' } });
progress(`warm-up (${WARMUP} requests per path and size)`);
for (const size of SIZES) {
  await run(workers.hello, FLOOR, size, { requests: WARMUP });
  for (const path of Object.values(PATHS)) {
    for (const name of ['baseline', 'rust']) await run(workers[name], path, size, { requests: WARMUP });
  }
  await run(workers[NO_MEMORY], PATHS.duplicate, size, { requests: WARMUP });
}

// results[variant][path][size] = [one entry per round]
const results = { hello: {}, baseline: {}, rust: {}, [NO_MEMORY]: {} };
const keep = (v, p, size, r) => ((results[v][p] ??= {})[size] ??= []).push(r);
for (let round = 1; round <= ROUNDS; round++) {
  for (const v of ['rust', 'baseline']) keep(v, 'health', 0, await run(workers[v], HEALTH, 0));
  for (const size of SIZES) {
    keep('hello', 'floor', size, await run(workers.hello, FLOOR, size));
    for (const [name, path] of Object.entries(PATHS)) {
      // Alternate who goes first, so drift in machine load hits both alike.
      const order = round % 2 ? ['rust', 'baseline'] : ['baseline', 'rust'];
      if (name === 'duplicate') order.push(NO_MEMORY);
      for (const v of order) {
        const r = await run(workers[v], path, size);
        keep(v, name, size, r);
        progress(`round ${round} ${size / 1024}KB ${name} ${v}: ${r.rps.toFixed(0)} req/s p99 ${r.p99.toFixed(1)} ms `
          + `${r.cpuUs.toFixed(0)} µs CPU/req${r.bad ? `, ${r.bad} unexpected` : ''}`);
      }
    }
  }
}

// Ack latency: one request at a time, alternating events whose delivery the sink
// answers at once with events it answers after 2 s; p50 of each.
progress('ack latency');
const ack = {};
const ACK = {
  setup: () => {
    const instant = fresh('email.opened', 1024, { sink_delay_ms: 0 });
    const slow = fresh('email.opened', 1024, { sink_delay_ms: BACKEND_DELAY_MS });
    let i = 0;
    return () => (i++ % 2 ? { ...slow(), tag: 'slow' } : { ...instant(), tag: 'instant' });
  },
  check: PATHS['new, 1 HTTP route'].check,
};
const direct = await start('rust', { queue: false });
// The event log writes after the answer: the answer must not wait for it.
const logged = await start('rust', { events: true });
for (const [label, w] of [['rust', workers.rust], ['baseline', workers.baseline], ['rust, no DELIVERY_QUEUE', direct],
  ['rust, event log (EVENTS)', logged]]) {
  ack[label] = await run(w, ACK, 1024, { requests: 2 * ACK_REQUESTS, seconds: 300, concurrency: 1 });
}

const stdio = Object.fromEntries(Object.entries({ ...workers, direct, logged }).map(([k, w]) => [k, w.stdio]));
await Promise.all([...Object.values(workers), direct, logged].map((w) => w.mf.dispose()));
sink.stop();

// ---------------------------------------------------------------- the table
const rows = [];
const row = (figure, rust, base, ratio, target, ok) => rows.push([figure, rust, base, ratio, target, ok]);
const f = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const spread = (ratios) => {
  const r = ratios.filter(Number.isFinite);
  if (!r.length) return { m: NaN, text: 'n/a' };
  const m = median(r);
  return { m, text: `${m.toFixed(2)}× (${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)})` };
};
const verdict = (ok) => (ok === undefined ? '' : ok ? 'met' : 'MISSED');
const mb = (bytes, ns) => (bytes / ns) * 1e3; // MB/s (10^6 bytes)

for (const { label, bytes, sha256MBs, ns } of native.rows) {
  const names = { verify: 'Secrets::verify', parse_fresh: 'payload::parse + check_freshness', dedup_key: 'DedupKey::of', sw_sign: 'SigningKey::sign' };
  for (const [key, name] of Object.entries(names)) {
    const speed = mb(bytes, ns[key]);
    row(`native ${label} ${name}`, `${f(ns[key] / 1000, 2)} µs, ${f(speed)} MB/s`,
      key === 'verify' ? `openssl sha256 ${f(sha256MBs)} MB/s` : '',
      key === 'verify' ? `${(speed / sha256MBs).toFixed(2)}× of sha256` : '', '', '');
  }
}
row('native ingress::admit 1KB (verify+parse+dedup key)', `${f(native.admitNs / 1000, 2)} µs`, '', '', '≤ 5 µs', verdict(Number.isFinite(native.admitNs) ? native.admitNs <= 5000 : undefined));
for (const [key, label] of [['verify', 'Secrets::verify'], ['verify_parse_key', 'verify + parse + dedup key']]) {
  for (const bytes of [1024, 32768]) {
    const us = native.wasm[`${key}_${bytes}`];
    if (us !== undefined) row(`wasm in V8 (node, as shipped) ${bytes / 1024}KB ${label}`, `${f(us, 1)} µs, ${f(bytes / us)} MB/s`, '', '', '', '');
  }
}

const gz = (b) => gzipSync(b).length;
const sections = customSections(bundle.wasm);
const baselineJs = readFileSync(SOURCES.baseline.scriptPath);
const bundleGz = gz(bundle.wasm) + gz(bundle.js);
row('bundle .wasm raw / gzip (KB)', `${f(bundle.wasm.length / 1000, 1)} / ${f(gz(bundle.wasm) / 1000, 1)}`, '', '', '', '');
row('bundle JS glue raw / gzip (KB)', `${f(bundle.js.length / 1000, 1)} / ${f(gz(bundle.js) / 1000, 1)}`,
  `baseline ${f(baselineJs.length / 1000, 1)} / ${f(gz(baselineJs) / 1000, 1)}`, '', '', '');
// The same measure and target as tests/node/bundle-size.test.mjs: 100 KiB, node's gzip.
const TARGET_GZIP_BYTES = 100 * 1024;
row('bundle total gzip (bytes)', bundleGz.toLocaleString('en'), '', '', `≤ ${TARGET_GZIP_BYTES.toLocaleString('en')} (100 KiB)`,
  verdict(bundleGz <= TARGET_GZIP_BYTES));
if (sections.name) row('  of which wasm name section (debug names, KB raw)', f(sections.name / 1000, 1), '', '', '', '');
const su = Object.fromEntries(Object.entries(startup).map(([k, v]) => [k, median(v)]));
row(`startup: workerd start → first 200 (ms, median of ${STARTUPS})`, f(su.rust), `${f(su.baseline)} (hello ${f(su.hello)})`,
  `${(su.rust / su.baseline).toFixed(2)}×`, '', '');

{
  const R = results.rust.health[0];
  const B = results.baseline.health[0];
  row('e2e GET /health (entry + JSON answer): CPU µs/req', f(median(R.map((r) => r.cpuUs))), f(median(B.map((r) => r.cpuUs))),
    spread(R.map((r, i) => r.cpuUs / B[i].cpuUs)).text, '', '');
}
for (const size of SIZES) {
  const floor = results.hello.floor[size];
  row(`e2e ${size / 1024}KB hello-world floor: req/s, p99 ms, CPU µs/req`, '',
    `${f(median(floor.map((r) => r.rps)))}, ${f(median(floor.map((r) => r.p99)), 1)}, ${f(median(floor.map((r) => r.cpuUs)))}`, '', '', '');
  for (const name of Object.keys(PATHS)) {
    const R = results.rust[name][size];
    const B = results.baseline[name][size];
    const label = `e2e ${size / 1024}KB ${name}:`;
    // Beside req/s, how busy workerd was (100% = one core): near 100%, the worker is the bottleneck.
    const core = (rs, key) => (key === 'rps' ? ` (${f(100 * median(rs.map((r) => r.core)))}% core)` : '');
    const metric = (key, digits, target, better) => {
      const s = spread(R.map((r, i) => r[key] / B[i][key]));
      row(`${label} ${{ rps: 'req/s', p50: 'p50 ms', p99: 'p99 ms', cpuUs: 'CPU µs/req' }[key]}`,
        f(median(R.map((r) => r[key])), digits) + core(R, key), f(median(B.map((r) => r[key])), digits) + core(B, key), s.text,
        target ?? '', target ? verdict(better(s.m)) : '');
    };
    metric('rps', 0, '≥ 1.0×', (m) => m >= 1);
    metric('p50', 1);
    metric('p99', 1, '≤ 1.0×', (m) => m <= 1);
    metric('cpuUs', 0, '≤ 1.0×', (m) => m <= 1);
    const own = (rs) => rs.map((r, i) => r.cpuUs - floor[i].cpuUs);
    const ownR = own(R);
    const ownB = own(B);
    const gated = name === 'bad signature' || name === 'duplicate';
    const s = spread(ownR.map((x, i) => (ownB[i] > 0 ? x / ownB[i] : NaN)));
    row(`${label} own CPU µs/req above floor`, f(median(ownR)), f(median(ownB)), s.text,
      gated ? '≤ 0.7×' : '', gated ? verdict(s.m <= 0.7) : '');
    const badR = R.reduce((n, r) => n + r.bad + r.undelivered, 0);
    const badB = B.reduce((n, r) => n + r.bad + r.undelivered, 0);
    row(`${label} unexpected answers (+ undelivered)`, f(badR), f(badB), '', '0', verdict(badR === 0));
    if (name === 'duplicate') {
      const N = results[NO_MEMORY].duplicate[size];
      const ownN = own(N);
      const sn = spread(ownN.map((x, i) => (ownB[i] > 0 ? x / ownB[i] : NaN)));
      const badN = N.reduce((n, r) => n + r.bad + r.undelivered, 0);
      row(`${label} with DEDUP_MEMORY_KEYS=0 (a KV read each): CPU µs/req; own above floor; unexpected`,
        `${f(median(N.map((r) => r.cpuUs)))}; ${f(median(ownN))}; ${f(badN)}`,
        `${f(median(B.map((r) => r.cpuUs)))}; ${f(median(ownB))}`,
        `${spread(N.map((r, i) => r.cpuUs / B[i].cpuUs)).text}; own ${sn.text}`, '', '');
    }
  }
}
for (const [label, r] of Object.entries(ack)) {
  const { instant, slow } = r.tags;
  const ratio = slow.p50 / instant.p50;
  row(`ack p50 ms, backend 2 s vs instant, ${instant.n}+${slow.n} interleaved (${label})`, `${f(slow.p50, 1)} vs ${f(instant.p50, 1)}`, '',
    `${ratio.toFixed(2)}×`, '≤ 1.10×', label.startsWith('rust') ? verdict(ratio <= 1.1 && r.bad === 0) : '');
}
const header = ['figure', 'Rust worker', 'JS baseline / reference', 'ratio Rust/baseline (min–max over rounds)', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const answered = Object.values(results).flatMap((byPath) => Object.values(byPath))
  .flatMap((bySize) => Object.values(bySize)).flat().reduce((n, r) => n + r.answered, 0);
console.log(`\n${ROUNDS} rounds × ${SECONDS} s or ${REQUESTS} requests per run, concurrency ${CONCURRENCY}, `
  + `${answered.toLocaleString('en-US')} measured answers; `
  + `${Math.round((Date.now() - t0) / 1000)} s; load average at the end ${load1}; ${CLK_TCK} Hz CPU ticks.`);
const problems = Object.entries(stdio).filter(([, s]) => s.errors);
for (const [name, s] of problems) console.log(`runtime errors (${name}): ${s.errors}, of which hung: ${s.hung}; last: ${s.tail.at(-1)}`);
// Every unexpected answer, by worker, path and kind, with one sample.
const seen = new Map();
for (const v of ['rust', 'baseline', NO_MEMORY]) {
  for (const [path, bySize] of Object.entries(results[v])) {
    for (const [size, rs] of Object.entries(bySize)) {
      for (const [kind, u] of rs.flatMap((r) => [...r.unexpected])) {
        const key = `${v}, ${size / 1024}KB ${path}: ${kind}`;
        seen.set(key, { count: (seen.get(key)?.count ?? 0) + u.count, sample: u.sample });
      }
    }
  }
}
for (const [key, u] of seen) console.log(`unexpected (${key}) ×${u.count}: ${u.sample}`);

// How many calls into wasm each path makes before its answer (bench/calls.mjs).
const { countCalls } = await import('./calls.mjs');
console.log('\n| path | calls into wasm before the answer |\n|---|---|');
for (const row of await countCalls()) console.log(`| ${row.path} | ${row.calls} |`);
