// @ts-check
// The event log's writes: statements the core decided for one shard, run there
// as one transaction, tried again on the core's schedule. A write never throws:
// a failure is logged and reported, and the caller hands it to the core (for a
// dead letter: not acked; for anything else: counted lost).
import * as core from './glue/index.js';
import { DIRECTORY, logObject } from './event-log-object.mjs';

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs a batch on its shard, tried again while the core says; true when
 * written (or nothing to write).
 * @param {any} env
 * @param {core.LogBatch} batch
 */
export async function write(env, { shard, statements }) {
  if (statements.length === 0) return true;
  for (let tries = 1; ; tries++) {
    try {
      const { rowsWritten, error } = await logObject(env, shard).batch(shard, statements);
      if (error !== undefined) throw new Error(error);
      // The log's own cost in /stats, as the platform metered it.
      core.log_written(rowsWritten, Date.now());
      return true;
    } catch (error) {
      const failed = core.log_write_failed(statements.length, /** @type {any} */ (error)?.message ?? 'unknown error', tries);
      console.error(failed.line);
      if (failed.retry_ms === undefined) return false;
      await sleep(failed.retry_ms);
    }
  }
}

/**
 * Runs the flush loop `id` in `ctx`'s waitUntil, if the core asked for one.
 * @param {any} env
 * @param {{ waitUntil(promise: Promise<unknown>): void }} ctx
 * @param {number | undefined} id
 */
export function later(env, ctx, id) {
  if (id !== undefined) ctx.waitUntil(flush(env, id));
}

/**
 * A flush loop: sleeps and writes as the core says, until it says the loop is over.
 * @param {any} env
 * @param {number} id
 */
async function flush(env, id) {
  /** @type {boolean | undefined} */
  let written;
  for (;;) {
    const step = core.flush_step(id, written, Date.now());
    if (step === undefined) return;
    if (step.batch === undefined) {
      written = undefined;
      await sleep(step.wait_ms);
    } else {
      written = await write(env, step.batch);
    }
  }
}

/**
 * The retention at `now` (the cron's time): every shard the directory lists
 * is asked to drop itself whole, or purge all but its failed and held events,
 * once the core says its window is past retention. Each shard decides again
 * from its own figures, the directory's being a second or so old.
 * @param {any} env
 * @param {number} now
 */
export async function retire(env, now) {
  if (env.EVENTS === undefined) return;
  const { list, error } = await logObject(env, DIRECTORY).list();
  if (error !== undefined) {
    console.error(core.log_upkeep_failed('directory', error));
    return;
  }
  /** @type {{ name: string, failed: number, held: number }[]} */
  const shards = JSON.parse(list);
  const due = shards.filter((shard) => core.retention(env, shard.name, shard.failed, shard.held, now) !== core.RetentionStep.Keep);
  // A few at a time: each is one call, whatever the shard holds.
  for (let i = 0; i < due.length; i += 6) {
    await Promise.all(due.slice(i, i + 6).map(async (shard) => {
      const failed = await logObject(env, shard.name).retire(shard.name, now)
        .catch((/** @type {any} */ error) => ({ error: error?.message ?? String(error) }));
      if (failed?.error !== undefined) console.error(core.log_upkeep_failed('retention', `${shard.name}: ${failed.error}`));
    }));
  }
}
