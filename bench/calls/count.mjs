// Counts the calls the driver makes into wasm: every function the core
// exports (wasm-bindgen's own allocator and table helpers aside) is wrapped
// before the bundle instantiates the module. Imported ahead of the bundle.
const Instance = WebAssembly.Instance;
let calls = 0;
/** @type {string[]} */
let names = [];

function Counting(module, imports) {
  const instance = new Instance(module, imports);
  const exports = {};
  for (const [name, value] of Object.entries(instance.exports)) {
    exports[name] = typeof value === 'function' && !name.startsWith('__wbindgen')
      ? (...args) => { calls++; names.push(name); return value(...args); }
      : value;
  }
  return { exports };
}
WebAssembly.Instance = /** @type {any} */ (Counting);

/** Starts a count; returns a function that reads it: the calls and their names. */
export function counting() {
  calls = 0;
  names = [];
  return () => ({ calls, names: names.join(' ') });
}
