// A closed-loop load generator: `concurrency` connections, each sending its next
// request when the previous answer has been read, until `maxRequests` have been
// sent or `maxSeconds` have passed. undici's Pool is the cheapest client node has,
// which matters on a 2-core machine where the client shares the CPU with workerd.
import { Pool } from 'undici';

/**
 * make(): { body, headers, method?, path?, tag? } of the next request; check(status, text):
 * whether the answer is the one expected. Returns throughput, latency percentiles (also
 * per tag) and every unexpected answer, counted by kind.
 */
export async function load(url, { make, check, concurrency, maxRequests, maxSeconds, timeoutMs = 10_000 }) {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies = [];
  const tagged = new Map();
  const unexpected = new Map();
  const note = (kind, sample) => {
    const seen = unexpected.get(kind) ?? { count: 0, sample };
    seen.count++;
    unexpected.set(kind, seen);
  };
  let sent = 0;
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  const loop = async () => {
    while (sent < maxRequests && performance.now() < deadline) {
      sent++;
      const { body, headers, method = 'POST', path = pathname, tag } = make();
      const t0 = performance.now();
      try {
        const res = await pool.request({
          path, method, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
        });
        const text = await res.body.text();
        const ms = performance.now() - t0;
        latencies.push(ms);
        if (tag !== undefined) tagged.set(tag, [...(tagged.get(tag) ?? []), ms]);
        if (!check(res.statusCode, text)) note(`${res.statusCode}`, text.slice(0, 300));
      } catch (err) {
        note(err.code ?? err.name, String(err.message).slice(0, 300));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  const pct = (p, xs = latencies) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
  for (const xs of [latencies, ...tagged.values()]) xs.sort((a, b) => a - b);
  return {
    tags: Object.fromEntries([...tagged].map(([t, xs]) => [t, { n: xs.length, p50: pct(0.5, xs), p99: pct(0.99, xs) }])),
    sent,
    answered: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies.at(-1) ?? NaN,
    unexpected,
  };
}
