// @ts-check
// The admin API and the console's files: performs each need the core's
// AdminTask returns (the log's directory, queries of its shards, hand-offs, a
// test event through the ingress, the routes' state objects).
// Who may call, what a call means and what it answers are the core's.
import * as core from './glue/index.js';
import { discard, readCapped } from './body.mjs';
import { runDirect } from './delivery.mjs';
import { ingress, parseKeepingNumbers } from './ingress.mjs';
import { DIRECTORY, logObject } from './event-log-object.mjs';
import { write } from './event-log.mjs';

const { AdminStep } = core;
// A queue's sendBatch takes at most 100 messages and 256 KB.
const BATCH_MESSAGES = 100, BATCH_BYTES = 250_000;

/** @param {unknown} error */
const message = (error) => /** @type {any} */ (error)?.message ?? 'unknown error';

/**
 * @param {Request} request
 * @param {any} env
 * @param {ExecutionContext} ctx
 */
export async function admin(request, env, ctx) {
  const url = new URL(request.url);
  const nonce = crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  // The token, the path and a declared length are checked before any of the
  // body is read; the core asks for the body only then.
  let { task, need } = core.AdminTask.start(env, request.method, request.url, [...url.searchParams],
    request.headers.get('authorization') ?? undefined,
    request.headers.get('content-length') ?? undefined, Date.now(), nonce);
  try {
    for (;;) {
      switch (need.step) {
        case AdminStep.ReadBody: {
          const read = await readCapped(request, need.limit, need.declared, need.drain);
          need = task.body_read(env, read.result, read.bytes, Date.now());
          break;
        }
        case AdminStep.Shards: {
          let list, error;
          try {
            ({ list, error } = await logObject(env, DIRECTORY).list());
          } catch (e) {
            error = message(e);
          }
          need = task.shards_found(env, list, error, Date.now());
          break;
        }
        case AdminStep.Query: {
          let rows, error;
          try {
            rows = JSON.stringify(await Promise.all(need.asks.map((ask) => askShard(env, ask))));
          } catch (e) {
            error = message(e);
          }
          need = task.queried(env, rows, error, Date.now());
          break;
        }
        case AdminStep.Deliver:
          need = task.handed_off(env, await deliver(env, ctx, need), Date.now());
          break;
        case AdminStep.Ingress: {
          const test = new Request(new URL('/webhooks/leadnest', url), {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-leadnest-signature': need.signature },
            body: need.body,
          });
          const answer = await ingress(test, env, ctx);
          need = task.ingress_answered(env, answer.status, await answer.text(), Date.now());
          break;
        }
        case AdminStep.RouteReports: {
          const { names, now_ms: now } = need;
          // A call that fails leaves its route's report undefined: the core says it is unknown.
          const reports = await Promise.all(names.map((name) => routeState(env, name, 'report', now).catch(() => undefined)));
          need = task.routes_reported(env, reports, Date.now());
          break;
        }
        case AdminStep.RouteControl: {
          const report = await routeState(env, need.name, need.action, need.now_ms).catch(() => undefined);
          need = task.routes_reported(env, [report], Date.now());
          break;
        }
        default: {
          if (need.unread !== core.UnreadBody.Leave) await discard(request, need.unread);
          /** @type {Record<string, string>} */
          const headers = { 'content-type': 'application/json' };
          if (need.allow !== undefined) headers.allow = need.allow;
          return new Response(request.method === 'HEAD' ? null : need.body, { status: need.status, headers });
        }
      }
    }
  } finally {
    task.free();
  }
}

/**
 * One shard's statements: a read's rows, or a write (a replay's marks) as the log's writes go, tried again.
 * @param {any} env
 * @param {core.LogBatch} ask
 */
async function askShard(env, ask) {
  if (ask.statements.every(([sql]) => sql.startsWith('SELECT'))) {
    const { results, error } = await logObject(env, ask.shard).batch(ask.shard, ask.statements);
    if (error !== undefined) throw new Error(error);
    return results;
  }
  if (!(await write(env, ask))) throw new Error(`the event log's shard ${ask.shard} could not be written`);
  return ask.statements.map(() => []);
}

/**
 * One call to a route's state object (ROUTE_HEALTH, one object per route name):
 * its JSON text. Throws when the binding is missing or the call fails.
 * @param {any} env
 * @param {string} name
 * @param {'report' | 'pause' | 'resume'} method
 * @param {number} now
 * @returns {Promise<string>}
 */
async function routeState(env, name, method, now) {
  const namespace = env.ROUTE_HEALTH;
  const text = await namespace.get(namespace.idFromName(name))[method](name, now);
  if (typeof text !== 'string') throw new Error(`the route's state object answered ${method} with no text`);
  return text;
}

/**
 * Hands off every item of a replay; true when every send succeeded.
 * @param {any} env
 * @param {ExecutionContext} ctx
 * @param {Extract<core.AdminNeed, { step: core.AdminStep.Deliver }>} need
 */
async function deliver(env, ctx, need) {
  const sends = need.payloads.map(({ binding, body }) => env[binding].send(parseKeepingNumbers(body), { contentType: 'json' }));
  for (const start of need.direct) ctx.waitUntil(runDirect(start, env, ctx));
  /** @type {{ body: Uint8Array, contentType: 'v8' }[]} */
  let batch = [];
  let bytes = 0;
  const flush = () => {
    if (batch.length > 0) sends.push(env.DELIVERY_QUEUE.sendBatch(batch));
    batch = [];
    bytes = 0;
  };
  for (const message of need.messages) {
    if (batch.length === BATCH_MESSAGES || bytes + message.byteLength > BATCH_BYTES) flush();
    batch.push({ body: message, contentType: 'v8' });
    bytes += message.byteLength;
  }
  flush();
  const results = await Promise.allSettled(sends);
  return results.every((result) => result.status === 'fulfilled');
}

/**
 * A console file from the static assets, with the console's security headers.
 * @param {Request} request
 * @param {any} env
 * @param {number} [status]
 */
export async function page(request, env, status) {
  if (env.ASSETS === undefined) return undefined;
  const console = core.admin_page(env);
  // A file is asked for by method, URL and headers alone: a body sent with it
  // is never read, only let go of.
  if (request.body !== null) await discard(request, console.unread);
  const file = status === 404 ? new Request(new URL('/admin/disabled.html', request.url))
    : new Request(request.url, { method: request.method, headers: request.headers });
  /** @type {Response} */
  const served = await env.ASSETS.fetch(file);
  const headers = new Headers(served.headers);
  for (const [name, value] of console.headers) headers.set(name, value);
  return new Response(served.body, { status: status ?? served.status, headers });
}
