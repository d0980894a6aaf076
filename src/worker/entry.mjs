// The Worker's module entry. The core (Rust, compiled to wasm) decides every
// step of a request, a delivery and a key-table request; these modules only
// perform them on the platform. The core is called synchronously, one call per
// step: no future executor and no callbacks run in wasm.
//
// A wasm trap cannot poison the isolate: wasm-bindgen's glue (built with its
// reset-state and abort-handler options) re-instantiates the module on the
// next call after one, and no wasm object outlives the request that made it.
import * as core from './glue/index.js';
import { answer, ingress } from './ingress.mjs';
import { consume } from './delivery.mjs';

export { DedupObject } from './dedup-object.mjs';

const INGRESS = 0, HEALTH = 1;
const JSON_TYPE = { 'content-type': 'application/json' };

export default {
  fetch(request, env, ctx) {
    switch (core.route(env, request.method, request.url)) {
      case INGRESS:
        return ingress(request, env, ctx);
      case HEALTH: {
        const health = core.health_check(env);
        const space = health.indexOf(' ');
        return new Response(health.slice(space + 1), { status: Number(health.slice(0, space)), headers: JSON_TYPE });
      }
      default:
        return answer(request, core.refused(env, request.method, request.url), Date.now());
    }
  },
  queue(batch, env) {
    return consume(batch, env);
  },
};
