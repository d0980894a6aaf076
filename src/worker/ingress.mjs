// The ingress: performs each step the core's IngressTask asks for, on the
// platform, and answers what it decided. No rule of SPEC section 3 is here.
import * as core from './glue/index.js';
import { discard, readCapped } from './body.mjs';
import { runDirect, sleep } from './delivery.mjs';
import { keep } from './journal.mjs';

const READ_BODY = 0, VERIFY = 1, KV_GET = 2, KV_PUT = 3, OBJECT = 4, WAIT = 5, SEND = 6;
const JSON_TYPE = { 'content-type': 'application/json' };

/** The answer of a Reply, after its lines are printed, its count kept for the event log and its body let go of. */
export async function answer(request, env, ctx, reply, started) {
  // After the answer: the log never delays it.
  keep(env, ctx, reply);
  const unread = reply.unread();
  if (unread !== 0) await discard(request, unread);
  const warnings = reply.warnings();
  if (warnings !== undefined) console.error(warnings);
  const line = reply.log_line(Date.now() - started);
  if (line !== undefined) console.log(line);
  const allow = reply.allow();
  const headers = allow === undefined ? JSON_TYPE : { ...JSON_TYPE, allow };
  const response = new Response(reply.body(), { status: reply.status(), headers });
  reply.free();
  return response;
}

export async function ingress(request, env, ctx) {
  const started = Date.now();
  const headers = request.headers;
  const task = core.IngressTask.start(env, headers.get('content-length') ?? undefined,
    headers.get('x-leadnest-signature') ?? undefined, started);
  if (task === undefined) return answer(request, env, ctx, core.refused(env, request.method, request.url, started), started);
  // From its first dedup step on, the request runs to its end under waitUntil:
  // a connection LeadNest cuts must not stop a claimed event between its
  // hand-off and its record (or release), or its retry would wait on a claim
  // nobody finishes. Refusals before that need no such guard.
  let finished;
  const guard = () => {
    if (finished === undefined) ctx.waitUntil(new Promise((resolve) => { finished = resolve; }));
  };
  try {
    return await drive(request, env, ctx, task, guard, started);
  } catch {
    // A fault of this driver, never expected: 503, so LeadNest retries.
    return answer(request, env, ctx, core.unavailable(env, Date.now()), started);
  } finally {
    finished?.();
  }
}

async function drive(request, env, ctx, task, guard, started) {
  let body = new Uint8Array(0);
  let token;
  for (;;) {
    switch (task.step()) {
      case READ_BODY: {
        const read = await readCapped(request, task.limit(), task.declared(), task.drain());
        if (read.bytes !== undefined) body = read.bytes;
        task.body_read(read.result, body.byteLength);
        break;
      }
      case VERIFY:
        task.verdict(await verify(env, task.claimed(), body), body);
        break;
      case KV_GET: {
        guard();
        let found = false, error;
        try { found = (await env.DEDUP.get(task.key())) !== null; } catch (e) { error = failure('KV read', e); }
        task.kv_found(found, error);
        break;
      }
      case KV_PUT: {
        let error;
        try { await env.DEDUP.put(task.key(), task.event(), { expirationTtl: task.ttl() }); } catch (e) { error = failure('KV write', e); }
        task.kv_put(error);
        break;
      }
      case OBJECT:
        guard();
        token ??= crypto.randomUUID();
        task.object_answer(await askObject(env, task.shard(), task.object_request(token)));
        break;
      case WAIT:
        await sleep(task.wait_ms());
        task.waited();
        break;
      case SEND: {
        const delay = task.send_delay_ms();
        if (delay > 0) await sleep(delay);
        task.handed_off(await sendAll(env, task, body));
        break;
      }
      default: {
        const reply = task.reply();
        const deliveries = [];
        for (let i = 0; i < reply.deliveries(); i++) deliveries.push(reply.delivery(env, i, Date.now()));
        if (deliveries.length > 0) ctx.waitUntil(Promise.all(deliveries.map((d) => d && runDirect(d, env, ctx))));
        return answer(request, env, ctx, reply, started);
      }
    }
  }
}

// The secrets as WebCrypto keys, imported once per isolate; only settled values
// are kept, never a promise another request could be cancelled on.
let keys;

/** 1 or 0 per secret: whether HMAC-SHA256 of `body` under it is `claimed` (compared in constant time by WebCrypto). */
async function verify(env, claimed, body) {
  keys ??= await Promise.all(core.secrets(env).map((secret) => crypto.subtle.importKey(
    'raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])));
  const matched = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    matched[i] = (await crypto.subtle.verify('HMAC', keys[i], claimed, body)) ? 1 : 0;
  }
  return matched;
}

/** The Durable Object's answer text, or undefined when it did not answer 200. */
async function askObject(env, shard, request) {
  try {
    const stub = env.DEDUP_OBJECTS.get(env.DEDUP_OBJECTS.idFromName(shard));
    const response = await stub.fetch('https://dedup/', { method: 'POST', body: request });
    const text = await response.text();
    return response.status === 200 ? text : undefined;
  } catch {
    return undefined;
  }
}

/** Sends every message at once; returns how many failed. */
async function sendAll(env, task, body) {
  const sends = [];
  for (let i = 0; i < task.sends(); i++) {
    const bytes = task.send_bytes(i);
    const queue = env[task.send_binding(i)];
    sends.push((async () => {
      // A delivery as bytes, never re-encoded; a queue route's payload as the
      // JSON object received, numbers kept as their source text.
      if (bytes !== undefined) await queue.send(bytes, { contentType: 'v8' });
      else await queue.send(parseKeepingNumbers(body), { contentType: 'json' });
    })());
  }
  const results = await Promise.allSettled(sends);
  return results.filter((r) => r.status === 'rejected').length;
}

const decoder = new TextDecoder();

/** JSON.parse keeping each number as its source text (JSON.rawJSON), so the queue's JSON.stringify writes it back unchanged: 2^53 + 1 keeps its digits and `1e20` does not grow. */
export function parseKeepingNumbers(body) {
  const text = typeof body === 'string' ? body : decoder.decode(body);
  if (typeof JSON.rawJSON !== 'function') return JSON.parse(text);
  return JSON.parse(text, (key, value, context) =>
    (typeof value === 'number' && context?.source !== undefined ? JSON.rawJSON(context.source) : value));
}

/** What failed, for the log: the runtime's message, never a key or a value. */
function failure(operation, error) {
  return `${operation} failed: ${error?.message ?? 'unknown error'}`;
}
