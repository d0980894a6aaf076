// The event log's writes: statements the core decided for one shard, run there
// as one transaction, tried again on the core's schedule. A write never throws:
// a failure is logged and reported, and the caller hands it to the core (for a
// dead letter: not acked; for anything else: counted lost).
import * as core from './glue/index.js';
import { DIRECTORY, logObject } from './event-log-object.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a batch `[shard, [[sql, ...params], ...]]` on its shard, tried again
 * while the core says; true when written (or nothing to write).
 */
export async function write(env, batch) {
  if (batch === undefined) return true;
  const [shard, statements] = batch;
  if (statements.length === 0) return true;
  for (let tries = 1; ; tries++) {
    try {
      const { rowsWritten, error } = await logObject(env, shard).batch(shard, statements);
      if (error !== undefined) throw new Error(error);
      // The log's own cost in /stats, as the platform metered it.
      core.journal_metered(rowsWritten, Date.now());
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

/**
 * The retention at `now` (the cron's time): every shard the directory lists
 * is asked to drop itself whole, or purge all but its failed events, once the
 * core says its window is past retention.
 */
export async function retire(env, now) {
  if (env.EVENTS === undefined) return;
  const { list, error } = await logObject(env, DIRECTORY).list();
  if (error !== undefined) {
    console.error(core.log_upkeep_failed('directory', error));
    return;
  }
  const shards = JSON.parse(list);
  const due = shards.filter((shard) => core.retention(env, shard.name, shard.failed, now) !== 0);
  // A few at a time: each is one call, whatever the shard holds.
  for (let i = 0; i < due.length; i += 6) {
    await Promise.all(due.slice(i, i + 6).map(async (shard) => {
      const failed = await logObject(env, shard.name).retire(shard.name, now).catch((error) => ({ error: error?.message ?? error }));
      if (failed?.error !== undefined) console.error(core.log_upkeep_failed('retention', `${shard.name}: ${failed.error}`));
    }));
  }
}
