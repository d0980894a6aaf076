// `npm run bench:calls` (also the end of `npm run bench`): how many calls the
// JavaScript driver makes into wasm for each path, from a request's arrival to
// its answer, counted on the bundle in build/ by wrapping the module's exports
// (bench/calls/). One request at a time, 1 KB bodies, KV dedup, a delivery queue.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../tools/lib/leadnest.mjs';
import { HEALTH, PATHS, SOURCES, startSink, startWorker } from './harness.mjs';

/** Per path: the calls of one request (after a warm-up one), and their names. */
export async function countCalls() {
  const dir = mkdtempSync(join(tmpdir(), 'leadnest-calls-'));
  for (const file of ['index.js', 'index_bg.wasm']) copyFileSync(join(ROOT, 'build', file), join(dir, file));
  for (const file of ['count.mjs', 'worker.mjs']) copyFileSync(join(ROOT, 'bench', 'calls', file), join(dir, file));
  SOURCES.calls = {
    modulesRoot: dir,
    modules: [
      { type: 'ESModule', path: join(dir, 'worker.mjs') },
      { type: 'ESModule', path: join(dir, 'count.mjs') },
      { type: 'ESModule', path: join(dir, 'index.js') },
      { type: 'CompiledWasm', path: join(dir, 'index_bg.wasm') },
    ],
  };
  const sink = await startSink();
  const worker = await startWorker('calls', { sinkPort: sink.port, source: 'calls' });
  const rows = [];
  try {
    for (const [name, path] of [['health', HEALTH], ...Object.entries(PATHS)]) {
      const next = await path.setup(worker, 1024);
      let answer;
      for (let i = 0; i < 2; i++) {
        const { method = 'POST', path: at, body, headers } = next();
        const url = at === undefined ? worker.url : new URL(at, worker.url).href;
        const res = await fetch(url, { method, body, headers });
        const text = await res.text();
        if (!path.check(res.status, text)) throw new Error(`${name}: unexpected ${res.status} ${text.slice(0, 200)}`);
        answer = res.headers;
      }
      rows.push({ path: name, calls: Number(answer.get('x-wasm-calls')), names: answer.get('x-wasm-call-names') });
    }
  } finally {
    await worker.mf.dispose();
    sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await countCalls();
  console.log('| path | calls into wasm before the answer | which |\n|---|---|---|');
  for (const row of rows) console.log(`| ${row.path} | ${row.calls} | ${row.names} |`);
}
