// Where a worker's CPU goes on one path: V8's sampling profiler through workerd's
// inspector while the path is under load, summed by self time into categories
// (wasm, JS glue, runtime builtins, GC, idle) and the top functions.
// Usage: node --experimental-websocket bench/profile.mjs [rust|baseline] [path] [bytes] [seconds]
//   path: one of bench/harness.mjs PATHS, e.g. "bad signature" (default), "duplicate"; or "health".
// Function names in wasm need a bundle with its name section (scripts/build.sh strips it).
import { createServer } from 'node:net';
import { HEALTH, PATHS, run, startSink, startWorker } from './harness.mjs';

const [name = 'rust', pathName = 'bad signature', bytes = '1024', seconds = '5'] = process.argv.slice(2);
const path = { ...PATHS, health: HEALTH }[pathName] ?? (() => { throw new Error(`unknown path "${pathName}": ${Object.keys(PATHS).join(', ')}`); })();
const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const sink = await startSink();
const inspectorPort = await freePort();
const w = await startWorker(name, { sinkPort: sink.port, inspectorPort });
const opts = { sink, requests: 1e9, seconds: 2, concurrency: 32 };
await run(w, path, Number(bytes), opts); // warm-up: let V8 tier up first

// workerd lists one inspector target per worker; ours is the one not named like Miniflare's internals.
const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
const target = targets.find((t) => !/^(core:|loopback|miniflare)/.test(t.title)) ?? targets[0];
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let id = 0;
const pending = new Map();
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  if (pending.has(msg.id)) { pending.get(msg.id)(msg.result); pending.delete(msg.id); }
};
const send = (method, params = {}) => new Promise((resolve) => {
  pending.set(++id, resolve);
  ws.send(JSON.stringify({ id, method, params }));
});

await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 100 });
await send('Profiler.start');
const r = await run(w, path, Number(bytes), { ...opts, seconds: Number(seconds) });
const { profile } = await send('Profiler.stop');
ws.close();
await w.mf.dispose();
sink.stop();

// Self time per node, from the sample counts.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
const total = profile.samples.length;
const category = ({ functionName: f, url }) => {
  if (f === '(idle)') return 'idle (waiting on I/O)';
  if (f === '(garbage collector)') return 'GC';
  if (f === '(program)') return 'runtime outside JS (C++: HTTP, KV, streams)';
  if (url.startsWith('wasm://')) return 'wasm';
  if (/\.m?js$/.test(url) && !url.startsWith('node-internal')) return 'JS (bundle / worker)';
  return 'JS builtins / runtime APIs';
};
const cats = new Map();
const fns = new Map();
for (const [nodeId, count] of hits) {
  const { callFrame } = byId.get(nodeId);
  const c = category(callFrame);
  cats.set(c, (cats.get(c) ?? 0) + count);
  const fn = `${callFrame.functionName || '(anonymous)'} ${callFrame.url.split('/').pop()}:${callFrame.lineNumber}`;
  fns.set(fn, (fns.get(fn) ?? 0) + count);
}
const busy = total - (cats.get('idle (waiting on I/O)') ?? 0);
const pct = (n, of) => `${((100 * n) / of).toFixed(1).padStart(5)}%`;
console.log(`${name}, ${pathName}, ${bytes} B: ${r.rps.toFixed(0)} req/s under the profiler, `
  + `${r.cpuUs.toFixed(0)} µs CPU/req (whole workerd), ${total} samples; shares of the isolate's busy samples:`);
for (const [c, n] of [...cats].sort((a, b) => b[1] - a[1])) {
  if (!c.startsWith('idle')) console.log(`  ${pct(n, busy)}  ${c}`);
}
console.log('top functions (self):');
for (const [fn, n] of [...fns].sort((a, b) => b[1] - a[1]).filter(([fn]) => !fn.startsWith("(idle)")).slice(0, Number(process.env.PROFILE_TOP ?? 20))) {
  console.log(`  ${pct(n, busy)}  ${fn}`);
}
