// Test double of the routes' state objects: a Durable Object class RouteHealth with the
// RPC methods the admin API calls (report, pause, resume), each answering the JSON text
// the real one answers. It keeps a route's state and when it changed, and nothing else:
// held and hourly counts are fixed figures. Some route names make it misbehave, to show
// what the worker does then:
//   broken*   every call throws
//   garbled*  every call answers text that is not a report
//   tripped*  starts tripped, with a last error (markup in it: it must show as text)
// The real class (src/worker/route-health-object.mjs) replaces it in later tests.
import { DurableObject } from 'cloudflare:workers';

export class RouteHealth extends DurableObject {
  /** @param {string} name @param {number} now */
  async report(name, now) {
    return this.answer(name, now, null);
  }

  /** @param {string} name @param {number} now */
  async pause(name, now) {
    return this.answer(name, now, 'paused');
  }

  /** @param {string} name @param {number} now */
  async resume(name, now) {
    return this.answer(name, now, 'active');
  }

  async answer(name, now, next) {
    if (name.startsWith('broken')) throw new Error('the stand-in is down');
    if (name.startsWith('garbled')) return '<html>502 Bad Gateway</html>';
    let kept = await this.ctx.storage.get('state');
    if (kept === undefined) {
      kept = name.startsWith('tripped') ? { state: 'tripped', since: now - 90_000 } : { state: 'active', since: null };
    }
    if (next !== null && next !== kept.state) {
      kept = { state: next, since: now };
      await this.ctx.storage.put('state', kept);
    }
    const tripped = name.startsWith('tripped');
    return JSON.stringify({
      ...kept,
      held: kept.state === 'active' ? 0 : 7,
      delivered_1h: tripped ? 0 : 18,
      failed_1h: tripped ? 10 : 2,
      last_error: tripped ? 'HTTP 503 <img src=x onerror=alert(1)>' : null,
    });
  }
}

export default {
  fetch() {
    return new Response('the routes\' state objects stand-in', { status: 404 });
  },
};
