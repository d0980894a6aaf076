// @ts-check
// The Worker's module entry. The core (Rust, compiled to wasm) decides every
// step of a request, a delivery and a key-table request; these modules only
// perform them on the platform. Each call into the core reports what was done
// and returns the next need as one value: no future executor and no callbacks
// run in wasm.
//
// A wasm trap cannot poison the isolate: wasm-bindgen's glue (built with its
// reset-state and abort-handler options) re-instantiates the module on the
// next call after one, and no wasm object outlives the request that made it.
import * as core from './glue/index.js';
import { answer, ingress } from './ingress.mjs';
import { consume } from './delivery.mjs';
import { admin, page } from './admin.mjs';
import { retire } from './event-log.mjs';

export { DedupObject } from './dedup-object.mjs';
export { EventLog } from './event-log-object.mjs';
export { RouteHealth, HeldDeliveries } from './route-health-object.mjs';

/**
 * @param {Request} request
 * @param {any} env
 * @param {ExecutionContext} ctx
 */
function refuse(request, env, ctx) {
  const now = Date.now();
  return answer(request, env, ctx, core.refused(env, request.method, request.url, now));
}

export default {
  /**
   * @param {Request} request
   * @param {any} env
   * @param {ExecutionContext} ctx
   * @returns {Response | Promise<Response>}
   */
  fetch(request, env, ctx) {
    switch (core.route(env, request.method, request.url)) {
      case core.Route.Ingress:
        return ingress(request, env, ctx);
      case core.Route.Health:
        return answer(request, env, ctx, core.health(env));
      case core.Route.AdminApi:
        return admin(request, env, ctx);
      case core.Route.AdminPage:
        return page(request, env).then((response) => response ?? refuse(request, env, ctx));
      case core.Route.AdminOff:
        // A browser gets the page that says how to turn the console on, still a 404.
        if ((request.headers.get('accept') ?? '').includes('text/html')) {
          return page(request, env, 404).then((response) => response ?? refuse(request, env, ctx));
        }
        return refuse(request, env, ctx);
      default:
        return refuse(request, env, ctx);
    }
  },
  /**
   * @param {MessageBatch<unknown>} batch
   * @param {any} env
   * @param {ExecutionContext} ctx
   */
  queue(batch, env, ctx) {
    return consume(batch, env, ctx);
  },
  /**
   * @param {ScheduledController} controller
   * @param {any} env
   * @param {ExecutionContext} ctx
   */
  scheduled(controller, env, ctx) {
    // The cron's own time: a test that runs it says when it is.
    ctx.waitUntil(retire(env, controller.scheduledTime ?? Date.now()));
  },
};
