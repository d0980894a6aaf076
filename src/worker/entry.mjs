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
import { admin, page } from './admin.mjs';
import { retire } from './journal.mjs';

export { DedupObject } from './dedup-object.mjs';
export { EventLog } from './event-log-object.mjs';

const INGRESS = 0, HEALTH = 1, ADMIN_PAGE = 3, ADMIN_API = 4, ADMIN_OFF = 5;
const JSON_TYPE = { 'content-type': 'application/json' };

function refuse(request, env, ctx) {
  const now = Date.now();
  return answer(request, env, ctx, core.refused(env, request.method, request.url, now), now);
}

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
      case ADMIN_API:
        return admin(request, env, ctx);
      case ADMIN_PAGE:
        return page(request, env).then((response) => response ?? refuse(request, env, ctx));
      case ADMIN_OFF:
        // A browser gets the page that says how to turn the console on, still a 404.
        if ((request.headers.get('accept') ?? '').includes('text/html')) {
          return page(request, env, 404).then((response) => response ?? refuse(request, env, ctx));
        }
        return refuse(request, env, ctx);
      default:
        return refuse(request, env, ctx);
    }
  },
  queue(batch, env, ctx) {
    return consume(batch, env, ctx);
  },
  scheduled(controller, env, ctx) {
    // The cron's own time: a test that runs it says when it is.
    ctx.waitUntil(retire(env, controller.scheduledTime ?? Date.now()));
  },
};
