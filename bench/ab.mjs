// A/B of two builds of the Rust worker: CPU µs per request (and p99) on chosen paths, the
// two bundles interleaved round by round in workerds of their own, so a change
// can be judged against the machine's noise (which one run of the bench cannot).
// Usage: node bench/ab.mjs <dir A> <dir B>   (each holding index.js + index_bg.wasm,
//   e.g. copies of build/ before and after a change)
// Env: AB_PATHS ("bad signature;duplicate"), AB_SIZES ("1024"), AB_ROUNDS (8),
//   AB_VARS_A / AB_VARS_B: JSON objects of vars for A or B (e.g. other ROUTES), so one
//   build can be compared with itself under two configurations; AB_EVENTS: "A", "B" or
//   "AB", the side(s) whose worker has the event log (EVENTS bound).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PATHS, SOURCES, run, startSink, startWorker } from './harness.mjs';

const [dirA, dirB] = process.argv.slice(2);
if (!dirA || !dirB) throw new Error('usage: node bench/ab.mjs <dir A> <dir B>');
const rounds = Number(process.env.AB_ROUNDS ?? 8);
const paths = (process.env.AB_PATHS ?? 'bad signature;duplicate').split(';');
const sizes = (process.env.AB_SIZES ?? '1024').split(',').map(Number);
for (const [name, dir] of [['A', resolve(dirA)], ['B', resolve(dirB)]]) {
  SOURCES[name] = {
    modulesRoot: dir,
    modules: [
      { type: 'ESModule', path: join(dir, 'index.js'), contents: readFileSync(join(dir, 'index.js')) },
      { type: 'CompiledWasm', path: join(dir, 'index_bg.wasm'), contents: readFileSync(join(dir, 'index_bg.wasm')) },
    ],
  };
}
const sink = await startSink();
const opts = { sink, requests: 10_000, seconds: 1.5, concurrency: 32 };
const vars = (name) => JSON.parse(process.env[`AB_VARS_${name}`] ?? '{}');
const events = (name) => (process.env.AB_EVENTS ?? '').includes(name);
const workers = {
  A: await startWorker('A', { sinkPort: sink.port, vars: vars('A'), events: events('A') }),
  B: await startWorker('B', { sinkPort: sink.port, vars: vars('B'), events: events('B') }),
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const size of sizes) {
  for (const name of paths) {
    const path = PATHS[name] ?? (() => { throw new Error(`unknown path "${name}": ${Object.keys(PATHS).join('; ')}`); })();
    for (const w of Object.values(workers)) await run(w, path, size, { ...opts, requests: 4_000 });
    const cpu = { A: [], B: [] };
    const p99 = { A: [], B: [] };
    for (let round = 0; round < rounds; round++) {
      for (const v of round % 2 ? ['A', 'B'] : ['B', 'A']) {
        const r = await run(workers[v], path, size, opts);
        cpu[v].push(r.cpuUs);
        p99[v].push(r.p99);
      }
    }
    const list = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
    const ratio = (m) => (median(m.B) / median(m.A)).toFixed(3);
    console.log(`${size} B ${name}: CPU A ${median(cpu.A).toFixed(1)} µs, B ${median(cpu.B).toFixed(1)} µs, B/A ${ratio(cpu)}`
      + `; p99 A ${median(p99.A).toFixed(1)} ms, B ${median(p99.B).toFixed(1)} ms, B/A ${ratio(p99)}`
      + `   [CPU A ${list(cpu.A)}] [B ${list(cpu.B)}]`);
  }
}
for (const w of Object.values(workers)) await w.mf.dispose();
sink.stop();
