// What the destination health tests (health.test.mjs, routes.test.mjs,
// console-routes.test.mjs) share: a real local backend (an HTTP server on loopback that
// records every request and answers 200 while healthy, 500 otherwise), the routes as the
// admin API lists them, and events posted one by one.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { event } from './harness.mjs';

/** The routes as GET /admin/api/routes lists them, by name. */
export async function routesOf(worker) {
  const { status, json } = await worker.admin('GET', '/admin/api/routes');
  assert.equal(status, 200, JSON.stringify(json));
  return Object.fromEntries(json.routes.map((route) => [route.name, route]));
}

/**
 * Posts one `name` event per message id, one after another (`gapMs` apart), each
 * answered 200; returns the ids.
 */
export async function postEach(worker, name, messageIds, { gapMs = 0 } = {}) {
  for (const messageId of messageIds) {
    const answer = await worker.post(event(name, { messageId }));
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return messageIds;
}

/**
 * Starts a backend. `received` holds every request ({ at, status, messageId, headers,
 * body }) in the order they came; `delivered()` those it answered 200, `failed()` the
 * rest. The events whose message id is in `refuses` it answers 400, healthy or not.
 */
export async function backend({ healthy = true, refuses = new Set() } = {}) {
  const received = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    let messageId;
    try { messageId = JSON.parse(body).data?.message_id; } catch { /* an alert, or not JSON */ }
    const status = refuses.has(messageId) ? 400 : server.healthy ? 200 : 500;
    received.push({ at: Date.now(), status, messageId, headers: req.headers, body });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{}');
  });
  server.healthy = healthy;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    delivered: () => received.filter((request) => request.status === 200),
    failed: () => received.filter((request) => request.status !== 200),
    setHealthy(value) { server.healthy = value; },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Each message id's count among `requests`. */
export function counts(requests) {
  const byId = new Map();
  for (const { messageId } of requests) byId.set(messageId, (byId.get(messageId) ?? 0) + 1);
  return byId;
}
