// The admin API and the console's files: performs each step the core's
// AdminTask asks for (the log's directory, queries of its shards, hand-offs, a
// test event through the ingress).
// Who may call, what a call means and what it answers are the core's.
import * as core from './glue/index.js';
import { discard, readCapped } from './body.mjs';
import { runDirect } from './delivery.mjs';
import { ingress, parseKeepingNumbers } from './ingress.mjs';
import { DIRECTORY, logObject } from './event-log-object.mjs';
import { write } from './journal.mjs';

const QUERY = 0, DELIVER = 1, INGRESS = 2, READ_BODY = 4, SHARDS = 5;
const JSON_TYPE = { 'content-type': 'application/json' };
// A queue's sendBatch takes at most 100 messages and 256 KB.
const BATCH_MESSAGES = 100, BATCH_BYTES = 250_000;

export async function admin(request, env, ctx) {
  const url = new URL(request.url);
  const query = [];
  for (const [name, value] of url.searchParams) query.push(name, value);
  const nonce = crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  // The token, the path and a declared length are checked before any of the
  // body is read; the core asks for the body only then.
  const task = core.AdminTask.start(env, request.method, request.url, query,
    request.headers.get('authorization') ?? undefined,
    request.headers.get('content-length') ?? undefined, Date.now(), nonce);
  try {
    for (;;) {
      switch (task.step()) {
        case READ_BODY: {
          const read = await readCapped(request, task.limit(), task.declared(), task.drain());
          task.body_read(read.result, read.bytes ?? new Uint8Array(0));
          break;
        }
        case SHARDS:
          try {
            const { list, error } = await logObject(env, DIRECTORY).list();
            task.shards_found(list, error);
          } catch (error) {
            task.shards_found(undefined, error?.message ?? 'unknown error');
          }
          break;
        case QUERY:
          try {
            task.queried(JSON.stringify(await Promise.all(task.asks().map(([shard, statements]) => askShard(env, shard, statements)))), undefined);
          } catch (error) {
            task.queried(undefined, error?.message ?? 'unknown error');
          }
          break;
        case DELIVER:
          task.handed_off(await deliver(env, ctx, task));
          break;
        case INGRESS: {
          const test = new Request(new URL('/webhooks/leadnest', url), {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-leadnest-signature': task.test_signature() },
            body: task.test_body(),
          });
          const answer = await ingress(test, env, ctx);
          task.ingress_answered(answer.status, await answer.text());
          break;
        }
        default: {
          const unread = task.unread();
          if (unread !== 0) await discard(request, unread);
          const allow = task.allow();
          const headers = allow === undefined ? JSON_TYPE : { ...JSON_TYPE, allow };
          return new Response(request.method === 'HEAD' ? null : task.body(), { status: task.status(), headers });
        }
      }
    }
  } finally {
    task.free();
  }
}

/** One shard's statements: a read's rows, or a write (a replay's marks) as the log's writes go, tried again. */
async function askShard(env, shard, statements) {
  if (statements.every(([sql]) => sql.startsWith('SELECT'))) {
    const { results, error } = await logObject(env, shard).batch(shard, statements);
    if (error !== undefined) throw new Error(error);
    return results;
  }
  if (!(await write(env, [shard, statements]))) throw new Error(`the event log's shard ${shard} could not be written`);
  return statements.map(() => []);
}

/** Hands off every item of a replay; true when every send succeeded. */
async function deliver(env, ctx, task) {
  const messages = [];
  const sends = [];
  for (let i = 0; i < task.outgoing_count(); i++) {
    const binding = task.payload_binding(i);
    if (binding !== undefined) {
      sends.push(env[binding].send(parseKeepingNumbers(task.payload(i)), { contentType: 'json' }));
    } else if (task.via_queue()) {
      messages.push(task.delivery_bytes(i));
    } else {
      const direct = task.direct(env, i, Date.now());
      if (direct !== undefined) ctx.waitUntil(runDirect(direct, env, ctx));
    }
  }
  let batch = [], bytes = 0;
  const flush = () => {
    if (batch.length > 0) sends.push(env.DELIVERY_QUEUE.sendBatch(batch));
    batch = [];
    bytes = 0;
  };
  for (const message of messages) {
    if (batch.length === BATCH_MESSAGES || bytes + message.byteLength > BATCH_BYTES) flush();
    batch.push({ body: message, contentType: 'v8' });
    bytes += message.byteLength;
  }
  flush();
  const results = await Promise.allSettled(sends);
  return results.every((result) => result.status === 'fulfilled');
}

/** A console file from the static assets, with the console's security headers. */
export async function page(request, env, status) {
  if (env.ASSETS === undefined) return undefined;
  // A file is asked for by method, URL and headers alone: a body sent with it
  // is never read, only let go of.
  if (request.body !== null) await discard(request, core.unread_mode(env));
  const file = status === 404 ? new Request(new URL('/admin/disabled.html', request.url))
    : new Request(request.url, { method: request.method, headers: request.headers });
  const served = await env.ASSETS.fetch(file);
  const headers = new Headers(served.headers);
  const list = core.admin_page_headers();
  for (let i = 0; i < list.length; i += 2) headers.set(list[i], list[i + 1]);
  return new Response(served.body, { status: status ?? served.status, headers });
}
