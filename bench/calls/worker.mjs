// The worker as built, each answer carrying `x-wasm-calls`: the calls into
// wasm from the request's arrival to its answer (bench/calls.mjs; one request
// at a time).
import { counting } from './count.mjs';
import worker from './index.js';

export { DedupObject, EventLog } from './index.js';

export default {
  ...worker,
  async fetch(request, env, ctx) {
    const read = counting();
    const response = await worker.fetch(request, env, ctx);
    const { calls, names } = read();
    const headers = new Headers(response.headers);
    headers.set('x-wasm-calls', String(calls));
    headers.set('x-wasm-call-names', names);
    return new Response(response.body, { status: response.status, headers });
  },
};
