// The event log's writes: statements the core decided, run as one D1 batch (one
// transaction), tried again on the core's schedule. A write never throws: a
// failure is logged and reported, and the caller hands it to the core (for a
// dead letter: not acked; for anything else: counted lost).
import * as core from './glue/index.js';

/** The rows a batch wrote, as D1 metered them, for the log's own cost in /stats. */
export function meter(results) {
  let rows = 0;
  for (const result of results) rows += result.meta?.rows_written ?? 0;
  core.journal_metered(rows, Date.now());
}

/** Binds each `[sql, ...params]` for a batch. */
export function prepare(db, statements) {
  return statements.map(([sql, ...params]) => db.prepare(sql).bind(...params));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `statements` as one batch, tried again while the core says; true when written (or nothing to write). */
export async function write(env, statements) {
  if (statements === undefined || statements.length === 0) return true;
  for (let tries = 1; ; tries++) {
    try {
      meter(await env.EVENTS.batch(prepare(env.EVENTS, statements)));
      return true;
    } catch (error) {
      const wait = core.journal_retry_wait(tries);
      console.error(core.journal_failed(statements.length, error?.message ?? 'unknown error', wait));
      if (wait === undefined) return false;
      await sleep(wait);
    }
  }
}

/**
 * The ingress's entry for the log: kept by the core with the isolate's other
 * pending writes, and flushed in this request's waitUntil when the core asks
 * for a flush loop.
 */
export function keep(env, ctx, reply) {
  later(env, ctx, reply.keep_journal(Date.now()));
}

/** Runs the flush loop `id` in `ctx`'s waitUntil, if the core asked for one. */
export function later(env, ctx, id) {
  if (id !== undefined) ctx.waitUntil(flush(env, id));
}

/** A flush loop: sleeps, writes and reports as the core says, until it says the loop is over. */
async function flush(env, id) {
  for (;;) {
    const wait = core.journal_wait(id, Date.now());
    if (wait === undefined) return;
    if (wait > 0) {
      await sleep(wait);
      continue;
    }
    const batch = core.journal_batch(id, Date.now());
    core.journal_written(id, await write(env, batch), Date.now());
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
    meter(results);
    if (!core.purge_again(results.map((result) => result.meta?.changes ?? 0))) return;
  }
}
