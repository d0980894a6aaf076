// A real local backend for the destination health tests (health.test.mjs, routes.test.mjs,
// console-routes.test.mjs): an HTTP server on loopback that records every request and
// answers 200 while healthy, 500 otherwise.
import { createServer } from 'node:http';

/**
 * Starts a backend. `received` holds every request ({ at, status, messageId, headers,
 * body }) in the order they came; `delivered()` those it answered 200, `failed()` 500.
 */
export async function backend({ healthy = true } = {}) {
  const received = [];
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    const status = server.healthy ? 200 : 500;
    let messageId;
    try { messageId = JSON.parse(body).data?.message_id; } catch { /* an alert, or not JSON */ }
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
