// The needs of the request's hot path as plain objects, built here from their
// fields in order: one call from wasm each, no field name crossing (see
// src/wasm/js.rs; their types are in needs.d.ts).

export const started = (task, need) => ({ task, need });

// The ingress (IngressStep).
export const readBody = (step, limit, declared, drain) => ({ step, limit, declared, drain });
export const verify = (step, claimed) => ({ step, claimed });
export const kvGet = (step, key) => ({ step, key });
export const kvPut = (step, key, value, ttl) => ({ step, key, value, ttl });
export const table = (step, shard, op, key, token, ttl_ms) => ({ step, shard, request: { op, key, token, ttl_ms } });
export const wait = (step, ms) => ({ step, ms });
export const send = (step, delay_ms, sends) => ({ step, delay_ms, sends });
export const queueSend = (binding, bytes) => ({ binding, bytes });
export const reply = (step, status, body, allow, unread, warnings, line, flush, deliveries) =>
  ({ step, status, body, allow, unread, warnings, line, flush, deliveries });

// A delivery (DeliveryStep).
export const attempt = (step, lines, log, flush, url, headers, body, timeout_ms, keep_bytes, guard) =>
  ({ step, lines, log, flush, url, headers, body, timeout_ms, keep_bytes, guard });
export const deliveryWait = (step, lines, log, flush, ms) => ({ step, lines, log, flush, ms });
export const settle = (step, lines, log, flush, retry_seconds, report) =>
  ({ step, lines, log, flush, retry_seconds, report });
