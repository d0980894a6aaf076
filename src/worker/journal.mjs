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

/** The retention purge: rounds of bounded deletes until one deletes less than a whole chunk. */
export async function purge(env, now) {
  // A bound on rounds, so a purge that keeps finding work still ends; the next
  // cron run goes on from there.
  for (let round = 0; round < 200; round++) {
    const statements = core.purge_round(env, now);
    if (statements === undefined) return;
    const results = await env.EVENTS.batch(prepare(env.EVENTS, statements));
    if (!core.purge_continues(results[results.length - 1]?.meta?.changes ?? 0)) return;
  }
}
