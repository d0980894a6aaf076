// Times the probe's exports under V8 (node), steady state: TurboFan only
// (--no-liftoff, as a hot worker runs), best of 3. Prints JSON: µs per call.
import { readFileSync } from 'node:fs';

const mod = new WebAssembly.Module(readFileSync(process.argv[2]));
// The crate's wasm-bindgen imports are linked in but never called.
const imports = {};
for (const i of WebAssembly.Module.imports(mod)) {
  imports[i.module] ??= {};
  imports[i.module][i.name] = () => { throw new Error(`probe called import ${i.name}`); };
}
const { exports } = new WebAssembly.Instance(mod, imports);
const out = {};
for (const [fn, len] of [['verify', 1024], ['verify', 32768], ['verify_parse_key', 1024], ['verify_parse_key', 32768]]) {
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    let n = 16;
    for (;;) {
      const t0 = performance.now();
      if (exports[fn](len, n) !== n) throw new Error(`${fn} failed`);
      const ms = performance.now() - t0;
      if (ms > 200) { best = Math.min(best, (ms * 1000) / n); break; }
      n *= 2;
    }
  }
  out[`${fn}_${len}`] = best;
}
console.log(JSON.stringify(out));
