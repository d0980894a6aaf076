// @ts-check
// The ingress: performs each need the core's IngressTask returns, on the
// platform, and answers what it decided. No rule of SPEC section 3 is here.
import * as core from './glue/index.js';
import { discard, readCapped } from './body.mjs';
import { runDirect, sleep } from './delivery.mjs';
import { later } from './event-log.mjs';

const { IngressStep } = core;

/**
 * The answer the core decided: its body let go of as it says, its lines
 * printed, its event-log entry flushed and its deliveries run after it. A
 * Response at once when there is no body to let go of.
 * @param {Request} request
 * @param {any} env
 * @param {ExecutionContext} ctx
 * @param {core.Reply} reply
 * @returns {Response | Promise<Response>}
 */
export function answer(request, env, ctx, reply) {
  // After the answer: the log never delays it.
  later(env, ctx, reply.flush);
  if (reply.deliveries !== undefined) ctx.waitUntil(Promise.all(reply.deliveries.map((d) => runDirect(d, env, ctx))));
  if (reply.unread === core.UnreadBody.Leave) return respond(reply);
  return discard(request, reply.unread).then(() => respond(reply));
}

/** @param {core.Reply} reply */
function respond(reply) {
  for (const warning of reply.warnings) console.error(warning);
  if (reply.line !== undefined) console.log(reply.line);
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/json' };
  if (reply.allow !== undefined) headers.allow = reply.allow;
  return new Response(reply.body, { status: reply.status, headers });
}

/**
 * @param {Request} request
 * @param {any} env
 * @param {ExecutionContext} ctx
 */
export async function ingress(request, env, ctx) {
  const headers = request.headers;
  const start = core.IngressTask.start(env, headers.get('content-length') ?? undefined,
    headers.get('x-leadnest-signature') ?? undefined, Date.now());
  if (!('task' in start)) return answer(request, env, ctx, start);
  // From its first dedup step on, the request runs to its end under waitUntil:
  // a connection LeadNest cuts must not stop a claimed event between its
  // hand-off and its record (or release), or its retry would wait on a claim
  // nobody finishes. Refusals before that need no such guard.
  /** @type {(() => void) | undefined} */
  let finished;
  const guard = () => {
    if (finished === undefined) ctx.waitUntil(new Promise((resolve) => { finished = () => resolve(undefined); }));
  };
  const { task } = start;
  try {
    return await answer(request, env, ctx, await drive(request, env, task, start.need, guard));
  } catch {
    // A fault of this driver, never expected: 503, so LeadNest retries.
    return answer(request, env, ctx, core.unavailable(env, Date.now()));
  } finally {
    task.free();
    finished?.();
  }
}

/**
 * Meets each need until the core replies.
 * @param {Request} request
 * @param {any} env
 * @param {core.IngressTask} task
 * @param {core.IngressNeed} need
 * @param {() => void} guard
 * @returns {Promise<core.Reply>}
 */
async function drive(request, env, task, need, guard) {
  /** @type {Uint8Array} */
  let body = new Uint8Array(0);
  for (;;) {
    switch (need.step) {
      case IngressStep.ReadBody: {
        const read = await readCapped(request, need.limit, need.declared, need.drain);
        body = read.bytes;
        need = task.body_read(env, read.result, body.byteLength, Date.now());
        break;
      }
      case IngressStep.Verify:
        need = task.verified(env, await verify(env, need.claimed, body), body, Date.now());
        break;
      case IngressStep.KvGet: {
        guard();
        let found = false, error;
        try { found = (await env.DEDUP.get(need.key)) !== null; } catch (e) { error = failure('KV read', e); }
        need = task.kv_got(env, found, error, Date.now());
        break;
      }
      case IngressStep.KvPut: {
        let error;
        try { await env.DEDUP.put(need.key, need.value, { expirationTtl: need.ttl }); } catch (e) { error = failure('KV write', e); }
        need = task.kv_put(env, error, Date.now());
        break;
      }
      case IngressStep.Table: {
        guard();
        let answered;
        try {
          answered = await env.DEDUP_OBJECTS.get(env.DEDUP_OBJECTS.idFromName(need.shard)).decide(need.request);
        } catch { /* not answered: an error, never a duplicate */ }
        need = task.table_answered(env, typeof answered === 'string' ? answered : undefined, Date.now());
        break;
      }
      case IngressStep.Wait:
        await sleep(need.ms);
        need = task.waited(env, Date.now());
        break;
      case IngressStep.Send:
        if (need.delay_ms > 0) await sleep(need.delay_ms);
        need = task.sent(env, await sendAll(env, need.sends, body), Date.now());
        break;
      default:
        return need;
    }
  }
}

// The secrets as WebCrypto keys, imported once per isolate; only settled values
// are kept, never a promise another request could be cancelled on.
/** @type {CryptoKey[] | undefined} */
let keys;

/**
 * 1 or 0 per secret: whether HMAC-SHA256 of `body` under it is `claimed` (compared in constant time by WebCrypto).
 * @param {any} env
 * @param {Uint8Array} claimed
 * @param {Uint8Array} body
 */
async function verify(env, claimed, body) {
  keys ??= await Promise.all(core.secrets(env).map((secret) => crypto.subtle.importKey(
    'raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])));
  const matched = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    matched[i] = (await crypto.subtle.verify('HMAC', keys[i], claimed, body)) ? 1 : 0;
  }
  return matched;
}

/**
 * Sends every message at once; returns how many failed.
 * @param {any} env
 * @param {core.QueueSend[]} sends
 * @param {Uint8Array} body
 */
async function sendAll(env, sends, body) {
  const results = await Promise.allSettled(sends.map((send) =>
    // A delivery as bytes, never re-encoded; a queue route's payload as the
    // JSON object received, numbers kept as their source text.
    (send.bytes !== undefined ? env[send.binding].send(send.bytes, { contentType: 'v8' })
      : env[send.binding].send(parseKeepingNumbers(body), { contentType: 'json' }))));
  return results.filter((r) => r.status === 'rejected').length;
}

const decoder = new TextDecoder();

/**
 * JSON.parse keeping each number as its source text (JSON.rawJSON), so the queue's JSON.stringify writes it back unchanged: 2^53 + 1 keeps its digits and `1e20` does not grow.
 * @param {string | Uint8Array} body
 */
export function parseKeepingNumbers(body) {
  const text = typeof body === 'string' ? body : decoder.decode(body);
  /** @type {any} */
  const json = JSON;
  if (typeof json.rawJSON !== 'function') return JSON.parse(text);
  return JSON.parse(text, /** @type {any} */ ((/** @type {string} */ key, /** @type {unknown} */ value, /** @type {any} */ context) =>
    (typeof value === 'number' && context?.source !== undefined ? json.rawJSON(context.source) : value)));
}

/**
 * What failed, for the log: the runtime's message, never a key or a value.
 * @param {string} operation
 * @param {any} error
 */
function failure(operation, error) {
  return `${operation} failed: ${error?.message ?? 'unknown error'}`;
}
