// The event log's writes: statements the core decided, run as one D1 batch (one
// transaction). A write never throws: a failure is logged and reported, and the
// caller decides what it means (for a dead letter: not acked).
import * as core from './glue/index.js';

/** Binds each `[sql, ...params]` for a batch. */
export function prepare(db, statements) {
  return statements.map(([sql, ...params]) => db.prepare(sql).bind(...params));
}

/** Runs `statements` as one batch; true when written (or nothing to write). */
export async function write(env, statements) {
  if (statements === undefined || statements.length === 0) return true;
  try {
    await env.EVENTS.batch(prepare(env.EVENTS, statements));
    return true;
  } catch (error) {
    console.error(core.journal_failed(statements.length, error?.message ?? 'unknown error'));
    return false;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The ingress's entry for the log: kept by the core with the isolate's other
 * pending writes, and flushed after `wait` ms in this request's waitUntil when
 * no flush is on its way (the core says which).
 */
export function keep(env, ctx, reply) {
  const wait = reply.keep_journal(Date.now());
  if (wait !== undefined) ctx.waitUntil(flush(env, wait));
}

async function flush(env, wait) {
  if (wait > 0) await sleep(wait);
  for (;;) {
    const batch = core.journal_batch(Date.now());
    if (batch.length === 0) return;
    await write(env, batch);
  }
}

/** The retention purge: rounds of bounded deletes until the core says it is done. */
export async function purge(env, now) {
  // A bound on rounds, so a purge that keeps finding work still ends; the next
  // cron run goes on from there.
  for (let round = 0; round < 200; round++) {
    const statements = core.purge_round(env, now);
    if (statements === undefined) return;
    const results = await env.EVENTS.batch(prepare(env.EVENTS, statements));
    if (!core.purge_again(results.map((result) => result.meta?.changes ?? 0))) return;
  }
}
