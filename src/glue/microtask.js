// Injected by esbuild in place of the global queueMicrotask, which the wasm
// future executor calls on every wake-up: workerd's queueMicrotask is a
// runtime API call that wraps each callback, while a settled promise's `then`
// queues the same microtask inside V8. The promise is settled at start-up, so
// no request ever waits on a promise another request made.
const settled = Promise.resolve();

export function queueMicrotask(callback) {
  settled.then(callback);
}
