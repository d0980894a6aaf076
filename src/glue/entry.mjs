// The Worker's module entry: workerd calls these, each hands straight to wasm.
//
// A plain handler object rather than a WorkerEntrypoint class behind Proxies:
// nothing is constructed or trapped per request. A wasm trap still cannot
// poison the isolate: wasm-bindgen's glue (built with its reset-state and
// abort-handler options) re-instantiates the module on the next call after one.
import * as wasm from './glue/index.js';

const init = wasm.__worker_init_state();

export default {
  fetch(request, env, ctx) {
    return wasm.fetch(request, env, ctx);
  },
  queue(batch, env, ctx) {
    return wasm.queue(batch, env, ctx);
  },
};

// A re-instantiated module cannot serve objects made by the one before it; the
// Durable Object makes its wasm half again when that happens.
export class DedupObject {
  #args;
  #inner;
  #instance;

  constructor(state, env) {
    this.#args = [state, env];
    this.#renew();
  }

  #renew() {
    this.#inner = new wasm.DedupObject(...this.#args);
    this.#instance = init.instanceId;
  }

  #live() {
    if (this.#instance !== init.instanceId) this.#renew();
    return this.#inner;
  }

  fetch(request) {
    return this.#live().fetch(request);
  }

  alarm() {
    return this.#live().alarm();
  }
}
