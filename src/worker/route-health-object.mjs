// @ts-check
// Destination health (SPEC section 10): one SQLite-backed Durable Object per
// HTTP route (RouteHealth, named for the route) keeps the route's state as the
// core's text, the alerts still to send, and an index of the stores holding
// its held deliveries; the stores are objects of their own (HeldDeliveries,
// one per route and ten minutes of holding), so what a route holds is bounded
// by no one object's size. Every decision (admit or hold, trip, probe, how
// much to drain, which alert) is the core's; these classes keep and perform.
import { DurableObject } from 'cloudflare:workers';
import * as core from './glue/index.js';
import { performHeld } from './delivery.mjs';

const { HealthCall, HealthStep, HealthWarning } = core;

// A held store per route and this much time of holding: oldest first is the
// stores' order, then their rows'.
const STORE_MS = 600_000;
// Most of one alarm's time spent draining before it hands over to the next.
const DRAIN_RUN_MS = 10_000;

/**
 * The health object of the route `name`.
 * @param {any} env
 * @param {string} name
 * @returns {any}
 */
export function healthObject(env, name) {
  return env.ROUTE_HEALTH.get(env.ROUTE_HEALTH.idFromName(name));
}

/**
 * A held store of the route `name`.
 * @param {any} env
 * @param {string} name
 * @param {number} slot
 * @returns {any}
 */
function heldStore(env, name, slot) {
  return env.HELD_DELIVERIES.get(env.HELD_DELIVERIES.idFromName(`${name}/${slot}`));
}

/**
 * What a failed call said, for a log line.
 * @param {unknown} error
 */
export const why = (error) => /** @type {any} */ (error)?.message ?? String(error);

/** The number of the held store of these ten minutes: only it is still written to. */
const currentSlot = () => Math.floor(Date.now() / STORE_MS);

/**
 * A held delivery: the queue message's bytes and the attempt it is at.
 * @typedef {{ message: Uint8Array, attempt: number }} Held
 */

export class RouteHealth extends DurableObject {
  /**
   * @param {DurableObjectState} ctx
   * @param {any} env
   */
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY CHECK (id = 0), name TEXT NOT NULL, text TEXT NOT NULL)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS stores (slot INTEGER PRIMARY KEY, held INTEGER NOT NULL)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL, headers TEXT NOT NULL, body TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, due_ms INTEGER NOT NULL)');
    /** When the alarm is set for: read once, then as this instance sets it. */
    this.alarmAt = /** @type {number | undefined} */ (undefined);
    /**
     * Holds under way, by store: a store being written to is never taken
     * for done, whatever the time (its rows are not all there yet).
     * @type {Map<number, number>}
     */
    this.holding = new Map();
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = (await ctx.storage.getAlarm()) ?? undefined;
    });
  }

  /**
   * The route's name, as the first call said it, and the core's text of its
   * health; none for a route never seen.
   * @returns {{ name: string, text: string } | undefined}
   */
  kept() {
    return /** @type {any} */ (this.sql.exec('SELECT name, text FROM health').toArray()[0]);
  }

  /** How many deliveries the route holds. */
  held() {
    /** @type {any} */
    const row = this.sql.exec('SELECT COALESCE(SUM(held), 0) AS held FROM stores').toArray()[0];
    return Number(row.held);
  }

  /**
   * Runs `call` on the route's health (the core's `route_health`); but for a
   * report, keeps its new text and queues its alerts (each printed at once).
   * `held`: how many it holds, if known.
   * @param {string} name
   * @param {core.HealthCall} call
   * @param {number} now
   * @param {{ held?: number, count?: number, outcomes?: Uint8Array, failure?: string }} [more]
   */
  run(name, call, now, { held = this.held(), count = 0, outcomes, failure } = {}) {
    const answer = core.route_health(this.env, call, name, this.kept()?.text ?? '', now, held, count, outcomes, failure);
    if (call === HealthCall.Report) return answer;
    this.sql.exec('INSERT OR REPLACE INTO health (id, name, text) VALUES (0, ?, ?)', name, answer.text);
    for (const alert of answer.alerts) {
      console.log(alert.line);
      if (alert.url === undefined) continue;
      this.sql.exec('INSERT INTO alerts (url, headers, body, due_ms) VALUES (?, ?, ?, ?)',
        alert.url, JSON.stringify(alert.headers ?? []), alert.body ?? '', Date.now());
      this.arm(Date.now());
    }
    return answer;
  }

  /**
   * Wakes the alarm at `at` unless it is set sooner.
   * @param {number} at
   */
  arm(at) {
    if (this.alarmAt !== undefined && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.ctx.storage.setAlarm(at);
  }

  /**
   * Which deliveries may be attempted now (true), in order; the rest are
   * held here before this answers. Throws when they could not be held: the
   * caller keeps their messages.
   * @param {string} name
   * @param {number} now
   * @param {Held[]} deliveries
   * @returns {Promise<boolean[]>}
   */
  async admit(name, now, deliveries) {
    const go = this.run(name, HealthCall.Admit, now, { held: 0, count: deliveries.length }).go ?? [];
    const hold = deliveries.filter((_, i) => !go[i]);
    if (hold.length > 0) {
      try {
        await this.hold(name, hold);
      } catch (error) {
        // The caller retries them all: what was admitted is not attempted.
        this.run(name, HealthCall.Settle, Date.now(), { count: go.filter(Boolean).length });
        throw error;
      }
    }
    return go;
  }

  /**
   * Puts deliveries in the store of these ten minutes (by this object's
   * clock), counted first so the index never misses a store that holds
   * something.
   * @param {string} name
   * @param {Held[]} deliveries
   */
  async hold(name, deliveries) {
    const slot = currentSlot();
    const count = deliveries.length;
    this.sql.exec('INSERT INTO stores (slot, held) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE SET held = held + excluded.held', slot, count);
    this.holding.set(slot, (this.holding.get(slot) ?? 0) + 1);
    try {
      await heldStore(this.env, name, slot).keep(deliveries);
    } catch (error) {
      this.sql.exec('UPDATE stores SET held = max(held - ?, 0) WHERE slot = ?', count, slot);
      throw error;
    } finally {
      const left = (this.holding.get(slot) ?? 1) - 1;
      if (left > 0) this.holding.set(slot, left);
      else this.holding.delete(slot);
    }
    this.arm(Date.now());
  }

  /**
   * Whether the store `slot` is done with: no hold goes to it any more.
   * @param {number} slot
   */
  done(slot) {
    return slot < currentSlot() && !this.holding.has(slot);
  }

  /**
   * Admitted attempts ended: 1 delivered, 0 failed, in the order they ended.
   * @param {string} name
   * @param {number} now
   * @param {Uint8Array} outcomes
   * @param {string | undefined} failure
   */
  async settle(name, now, outcomes, failure) {
    // No alarm: a trip holds what comes next, and the hold wakes it.
    this.run(name, HealthCall.Settle, now, { outcomes, failure });
  }

  /**
   * Deliveries of the route were dead-lettered.
   * @param {string} name
   * @param {number} now
   * @param {number} count
   */
  async failed(name, now, count) {
    this.run(name, HealthCall.DeadLettered, now, { count });
    this.arm(Date.now());
  }

  /**
   * The admin API's view of the route.
   * @param {string} name
   * @param {number} now
   */
  async report(name, now) {
    return this.run(name, HealthCall.Report, now).report;
  }

  /**
   * @param {string} name
   * @param {number} now
   */
  async pause(name, now) {
    // No alarm: a paused route has nothing to do until resumed.
    return this.run(name, HealthCall.Pause, now).report;
  }

  /**
   * @param {string} name
   * @param {number} now
   */
  async resume(name, now) {
    const { report } = this.run(name, HealthCall.Resume, now);
    this.arm(Date.now());
    return report;
  }

  async alarm() {
    this.alarmAt = undefined;
    const name = this.kept()?.name;
    if (name === undefined) return;
    await this.sendAlerts();
    const started = Date.now();
    for (;;) {
      const now = Date.now();
      const answer = this.run(name, HealthCall.Tick, now);
      if (answer.step === HealthStep.Probe) {
        await this.probe(name);
      } else if (answer.step === HealthStep.Drain) {
        await this.drain(name, answer.count ?? 0);
        if (Date.now() - started < DRAIN_RUN_MS) continue;
        this.arm(Date.now());
      } else if (answer.step === HealthStep.Wait) {
        this.arm(answer.wake_ms ?? now + 1000);
      }
      break;
    }
    /** @type {any} */
    const due = this.sql.exec('SELECT min(due_ms) AS due FROM alerts').toArray()[0];
    if (due?.due !== null && due?.due !== undefined) this.arm(Number(due.due));
  }

  /**
   * The oldest held deliveries, at most `limit`, across the stores in order;
   * a store found empty leaves the index.
   * @param {string} name
   * @param {number} limit
   * @returns {Promise<{ slot: number, seq: number, message: Uint8Array, attempt: number }[]>}
   */
  async oldest(name, limit) {
    /** @type {{ slot: number, seq: number, message: Uint8Array, attempt: number }[]} */
    const found = [];
    /** @type {any[]} */
    const stores = this.sql.exec('SELECT slot FROM stores ORDER BY slot').toArray();
    for (const { slot } of stores) {
      if (found.length >= limit) break;
      // Only a store done with leaves the index when empty (deleted whole):
      // the current one, or one a hold is still writing to, may be filling.
      const done = this.done(slot);
      /** @type {{ seq: number, message: Uint8Array, attempt: number }[]} */
      const rows = await heldStore(this.env, name, slot).oldest(limit - found.length, done);
      if (rows.length === 0) {
        if (done) this.sql.exec('DELETE FROM stores WHERE slot = ?', slot);
        continue;
      }
      for (const row of rows) found.push({ slot, ...row });
    }
    return found;
  }

  /**
   * Takes sent deliveries out of their stores and the index.
   * @param {string} name
   * @param {{ slot: number, seq: number }[]} rows
   */
  async drop(name, rows) {
    /** @type {Map<number, number[]>} */
    const bySlot = new Map();
    for (const { slot, seq } of rows) bySlot.set(slot, [...(bySlot.get(slot) ?? []), seq]);
    // Counts move by what was dropped, never set: a hold into the current
    // store may be under way. A past store emptied is deleted whole.
    await Promise.all([...bySlot].map(async ([slot, seqs]) => {
      const past = this.done(slot);
      const { dropped, left } = await heldStore(this.env, name, slot).drop(seqs, past);
      if (past && left === 0) this.sql.exec('DELETE FROM stores WHERE slot = ?', slot);
      else this.sql.exec('UPDATE stores SET held = max(held - ?, 0) WHERE slot = ?', dropped, slot);
    }));
  }

  /**
   * The oldest held delivery, attempted as a probe of a tripped route. A
   * failed probe spends none of its retries: the route is down, not it. It
   * goes to the back of the line, so that one delivery its backend always
   * refuses cannot keep the route tripped while the others would go.
   * @param {string} name
   */
  async probe(name) {
    const [row] = await this.oldest(name, 1);
    if (row === undefined) return;
    const { need } = await performHeld(this.env, this.ctx, row.message, row.attempt, true);
    const delivered = need.report?.delivered === true;
    if (delivered) {
      await this.drop(name, [row]);
    } else {
      // Held again before it leaves its place: at worst it is held twice,
      // and if it cannot be held again it stays where it is.
      try {
        await this.hold(name, [{ message: row.message, attempt: row.attempt }]);
        await this.drop(name, [row]);
      } catch (error) {
        console.error(core.health_warning(HealthWarning.Unreachable, name, why(error), 0, 0).line);
      }
    }
    const now = Date.now();
    this.run(name, HealthCall.Probed, now, { outcomes: Uint8Array.of(delivered ? 1 : 0), failure: need.report?.failure });
    this.arm(Date.now());
  }

  /**
   * Attempts the oldest `count` held deliveries, started oldest first. One
   * that fails goes back to the delivery queue on the core's retry schedule,
   * its attempts counting on (the queue's max_retries then counts from
   * there); one that cannot go back stays held.
   * @param {string} name
   * @param {number} count
   */
  async drain(name, count) {
    const rows = await this.oldest(name, count);
    /** @type {number[]} */
    const outcomes = [];
    /** @type {string | undefined} */
    let failure;
    /** @type {{ slot: number, seq: number }[]} */
    const sent = [];
    await Promise.all(rows.map(async (row) => {
      const { need, again } = await performHeld(this.env, this.ctx, row.message, row.attempt, false);
      const delivered = need.report?.delivered === true;
      outcomes.push(delivered ? 1 : 0);
      if (!delivered) {
        failure = need.report?.failure ?? failure;
        try {
          await this.env.DELIVERY_QUEUE.send(again ?? row.message, { contentType: 'v8', delaySeconds: need.retry_seconds ?? 0 });
        } catch (error) {
          console.error(core.health_warning(HealthWarning.RequeueFailed, name, why(error), 0, 0).line);
          return;
        }
      }
      sent.push(row);
    }));
    await this.drop(name, sent);
    // Admissions for rows that were not there (the index said more than the
    // stores held) are no longer in flight; their rate slots stay taken.
    this.run(name, HealthCall.Settle, Date.now(), {
      outcomes: Uint8Array.from(outcomes), failure, count: count - rows.length,
    });
  }

  /** Sends the alerts due, each tried again on the core's schedule. */
  async sendAlerts() {
    const now = Date.now();
    /** @type {any[]} */
    const due = this.sql.exec('SELECT seq, url, headers, body, tries FROM alerts WHERE due_ms <= ? ORDER BY seq LIMIT 20', now).toArray();
    await Promise.all(due.map(async (alert) => {
      let status = 0;
      try {
        const response = await fetch(alert.url, {
          method: 'POST', headers: JSON.parse(alert.headers), body: alert.body, redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
        });
        await response.body?.cancel();
        status = response.status;
      } catch {
        status = 0;
      }
      const next = core.health_warning(HealthWarning.AlertSent, this.kept()?.name ?? '', undefined, status, Number(alert.tries) + 1);
      if (next.line !== undefined) console.error(next.line);
      if (next.retry_ms === undefined) this.sql.exec('DELETE FROM alerts WHERE seq = ?', alert.seq);
      else this.sql.exec('UPDATE alerts SET tries = tries + 1, due_ms = ? WHERE seq = ?', now + next.retry_ms, alert.seq);
    }));
  }
}

export class HeldDeliveries extends DurableObject {
  /**
   * @param {DurableObjectState} ctx
   * @param {any} env
   */
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.table();
  }

  /** The table, made again after a deleteAll(). */
  table() {
    this.sql.exec('CREATE TABLE IF NOT EXISTS held (seq INTEGER PRIMARY KEY AUTOINCREMENT, attempt INTEGER NOT NULL, message BLOB NOT NULL)');
  }

  /**
   * Keeps deliveries, in order, as one transaction.
   * @param {Held[]} deliveries
   */
  async keep(deliveries) {
    this.table();
    this.ctx.storage.transactionSync(() => {
      for (const { message, attempt } of deliveries) {
        this.sql.exec('INSERT INTO held (attempt, message) VALUES (?, ?)', attempt, message);
      }
    });
  }

  /**
   * The oldest `limit` deliveries; a store `done` with (no more holds come
   * to it) found empty is deleted whole.
   * @param {number} limit
   * @param {boolean} done
   */
  async oldest(limit, done) {
    this.table();
    const rows = this.sql.exec('SELECT seq, attempt, message FROM held ORDER BY seq LIMIT ?', limit).toArray()
      .map((/** @type {any} */ row) => ({ seq: Number(row.seq), attempt: Number(row.attempt), message: new Uint8Array(row.message) }));
    if (rows.length === 0 && done) await this.ctx.storage.deleteAll();
    return rows;
  }

  /**
   * Drops sent deliveries; a `past` store (no more holds come to it) is
   * deleted whole once empty. Returns how many were dropped and are left.
   * @param {number[]} seqs
   * @param {boolean} past
   */
  async drop(seqs, past) {
    this.table();
    const dropped = this.ctx.storage.transactionSync(() =>
      seqs.reduce((count, seq) => count + this.sql.exec('DELETE FROM held WHERE seq = ?', seq).rowsWritten, 0));
    /** @type {any} */
    const row = this.sql.exec('SELECT count(*) AS left FROM held').toArray()[0];
    const left = Number(row.left);
    if (past && left === 0) await this.ctx.storage.deleteAll();
    return { dropped, left };
  }
}
