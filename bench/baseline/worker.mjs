// The benchmark's baseline: SPEC's ingress written the obvious way as a plain
// JavaScript module worker (WebCrypto HMAC verify, JSON.parse, KV get/put, Queue
// send). Same answers and log lines as the Rust worker on the paths measured;
// not a second implementation to maintain (few edge cases, no /health problems list).

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const EVENT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// Per isolate. Only settled values are cached, never a pending promise: a promise
// made by one request and awaited by another is cancelled with its maker, and the
// runtime then cancels the waiter as hung (see bench/README.md).
let config;
let verifyKeys;

function loadConfig(env) {
  const num = (name, dflt) => (env[name] === undefined ? dflt : Number(env[name]));
  const routes = typeof env.ROUTES === 'string' ? JSON.parse(env.ROUTES || '[]') : env.ROUTES ?? [];
  return {
    secrets: String(env.WEBHOOK_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    tolerance: num('TIMESTAMP_TOLERANCE_SECONDS', 300),
    ttl: num('DEDUP_TTL_SECONDS', 86400),
    maxBody: num('MAX_BODY_BYTES', 65536),
    retryBase: num('DELIVERY_RETRY_BASE_SECONDS', 5),
    routes: routes.map((r) => ({ ...r, events: r.events ?? ['*'] })),
  };
}

const json = (status, value, headers = {}) =>
  new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } });

const reject = (status, error, message) => {
  console.log(JSON.stringify({ outcome: 'rejected', status, reason: error }));
  return json(status, { error, message });
};

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

function unhex(text) {
  const t = text.trim().replace(/^sha256=/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(t)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(t.substr(i * 2, 2), 16);
  return out;
}

const matches = (pattern, event) =>
  pattern === '*' || pattern === event || (pattern.endsWith('.*') && event.startsWith(pattern.slice(0, -1)));

// dedupKey, webhookId and messageIdOf are exported for tests/node/vectors.test.mjs,
// which holds them to the vector the Rust worker is held to (fixtures/vectors/dedup.json).
export async function dedupKey(event, messageId, timestamp, body) {
  if (!messageId) return 'b1:' + hex(await crypto.subtle.digest('SHA-256', body));
  const parts = [event, messageId, timestamp].map((p) => enc.encode(p));
  const buf = new Uint8Array(parts.reduce((n, p) => n + 8 + p.length, 0));
  const view = new DataView(buf.buffer);
  let at = 0;
  for (const p of parts) {
    view.setBigUint64(at, BigInt(p.length));
    buf.set(p, at + 8);
    at += 8 + p.length;
  }
  return 'm1:' + hex(await crypto.subtle.digest('SHA-256', buf));
}

export async function webhookId(key) {
  return 'msg_' + hex(await crypto.subtle.digest('SHA-256', enc.encode('webhook-id\0' + key))).slice(0, 32);
}

export function messageIdOf(data) {
  return typeof data.message_id === 'string' && data.message_id !== '' ? data.message_id : null;
}

async function ingress(request, env, ctx) {
  config ??= loadConfig(env);
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > config.maxBody) {
    await request.arrayBuffer();
    return reject(413, 'payload_too_large', 'The body is too large.');
  }
  const body = await request.arrayBuffer();
  if (body.byteLength > config.maxBody) return reject(413, 'payload_too_large', 'The body is too large.');

  const header = request.headers.get('x-leadnest-signature');
  if (header === null) return reject(401, 'missing_signature', 'Send X-LeadNest-Signature.');
  const signature = unhex(header);
  verifyKeys ??= await Promise.all(config.secrets.map((s) =>
    crypto.subtle.importKey('raw', enc.encode(s), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])));
  let ok = false;
  if (signature) {
    for (const key of verifyKeys) ok = (await crypto.subtle.verify('HMAC', key, signature, body)) || ok;
  }
  if (!ok) return reject(401, 'invalid_signature', 'The signature does not match the body.');

  let payload;
  try {
    payload = JSON.parse(dec.decode(body));
  } catch {
    return reject(400, 'invalid_payload', 'The body is not UTF-8 JSON.');
  }
  const { event, timestamp, data } = payload ?? {};
  if (typeof payload !== 'object' || Array.isArray(payload) || payload === null) {
    return reject(400, 'invalid_payload', 'The body must be a JSON object.');
  }
  if (typeof event !== 'string' || !EVENT_RE.test(event)) return reject(400, 'invalid_payload', '`event` is invalid.');
  const unix = typeof timestamp === 'string' && RFC3339_RE.test(timestamp) ? Date.parse(timestamp) / 1000 : NaN;
  if (Number.isNaN(unix)) return reject(400, 'invalid_payload', '`timestamp` is invalid.');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return reject(400, 'invalid_payload', '`data` is invalid.');
  if (Math.abs(Date.now() / 1000 - unix) > config.tolerance) return reject(401, 'stale_timestamp', 'Too old or in the future.');

  const messageId = messageIdOf(data);
  const key = await dedupKey(event, messageId, timestamp, body);
  let seen;
  try {
    seen = await env.DEDUP.get(key);
  } catch {
    return reject(503, 'unavailable', 'The dedup store (KV) is unavailable; retry.');
  }
  if (seen !== null) {
    console.log(JSON.stringify({ outcome: 'duplicate', status: 200, event, message_id: messageId }));
    return json(200, { status: 'duplicate', event, message_id: messageId });
  }

  const routes = config.routes.filter((r) => r.events.some((p) => matches(p, event)));
  const text = dec.decode(body);
  const webhookIdOfEvent = routes.some((r) => r.url) ? await webhookId(key) : null;
  const direct = [];
  try {
    await Promise.all(routes.map((r) => {
      if (r.queue) return env[r.queue].send(payload);
      const delivery = { route: r.name, event, signature: header, webhook_id: webhookIdOfEvent, body: text };
      if (env.DELIVERY_QUEUE) return env.DELIVERY_QUEUE.send(delivery);
      direct.push(delivery);
      return undefined;
    }));
  } catch {
    return reject(503, 'unavailable', 'A queue is unavailable; retry.');
  }
  try {
    await env.DEDUP.put(key, event, { expirationTtl: config.ttl });
  } catch (e) {
    console.error(JSON.stringify({ warning: 'dedup_record_failed', error: String(e) }));
  }
  for (const d of direct) ctx.waitUntil(deliverWithRetries(d, 3));
  const names = routes.map((r) => r.name);
  console.log(JSON.stringify({ outcome: 'accepted', status: 200, event, message_id: messageId, routes: names }));
  return json(200, { status: 'accepted', event, message_id: messageId, routes: names });
}

// One POST; true on 2xx.
async function post(delivery) {
  const route = config.routes.find((r) => r.name === delivery.route && r.url);
  if (!route) return false;
  const headers = {
    'content-type': 'application/json',
    'x-leadnest-event': delivery.event,
    'x-leadnest-signature': delivery.signature,
    'webhook-id': delivery.webhook_id,
  };
  try {
    const res = await fetch(route.url, {
      method: 'POST', headers, body: delivery.body, signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    console.log(JSON.stringify({ route: delivery.route, attempt: 1, webhook_id: delivery.webhook_id, status: res.status }));
    return res.ok;
  } catch {
    return false;
  }
}

async function deliverWithRetries(delivery, attempts) {
  for (let i = 1; i <= attempts; i++) {
    if (await post(delivery)) return;
    await new Promise((r) => setTimeout(r, 1000 * 2 ** (i - 1)));
  }
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/webhooks/leadnest') {
      if (request.method === 'POST') return ingress(request, env, ctx);
      return json(405, { error: 'method_not_allowed', message: 'Use POST.' }, { allow: 'POST' });
    }
    if (pathname === '/health') return json(200, { status: 'ok' });
    return json(404, { error: 'not_found', message: 'No such path.' });
  },

  async queue(batch, env) {
    config ??= loadConfig(env);
    await Promise.all(batch.messages.map(async (message) => {
      if (await post(message.body)) message.ack();
      else message.retry({ delaySeconds: config.retryBase * 2 ** (message.attempts - 1) });
    }));
  },
};
