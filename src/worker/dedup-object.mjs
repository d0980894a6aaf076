// @ts-check
// Strict dedup (DEDUP_MODE=durable): one shard of the key table, a Durable
// Object with SQL storage, called by RPC. It reads the key's row, asks the
// core what to do (src/key_table.rs), writes what it says, and keeps a sweep
// alarm.
import { DurableObject } from 'cloudflare:workers';
import * as core from './glue/index.js';

export class DedupObject extends DurableObject {
  /**
   * @param {DurableObjectState} ctx
   * @param {any} env
   */
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS dedup_keys (key TEXT PRIMARY KEY, recorded INTEGER NOT NULL, expires_ms INTEGER NOT NULL, holder TEXT)');
    // Tables made before claims had holders: fails harmlessly once the column exists.
    try { this.sql.exec('ALTER TABLE dedup_keys ADD COLUMN holder TEXT'); } catch { /* present */ }
    this.sql.exec('CREATE INDEX IF NOT EXISTS dedup_keys_expiry ON dedup_keys (expires_ms)');
    // Known to have a sweep alarm pending: read from storage, never assumed.
    this.alarmPending = false;
  }

  /**
   * One request on a key: the table's answer, or undefined for anything that
   * is not a table request.
   * @param {core.TableRequest} request
   * @returns {Promise<string | undefined>}
   */
  async decide(request) {
    const now = Date.now();
    const key = request?.key;
    if (typeof key !== 'string') return undefined;
    /** @type {any} */
    const row = this.sql.exec('SELECT recorded, holder, expires_ms FROM dedup_keys WHERE key = ?', key).toArray()[0];
    const step = core.table_step(request, row?.recorded, row?.holder ?? undefined, row?.expires_ms, now);
    if (step === undefined) return undefined;
    if (step.write === core.TableWrite.Put) {
      this.sql.exec('INSERT OR REPLACE INTO dedup_keys (key, recorded, expires_ms, holder) VALUES (?, ?, ?, ?)',
        key, step.recorded, step.expires_ms, step.holder);
    } else if (step.write === core.TableWrite.Delete) {
      this.sql.exec('DELETE FROM dedup_keys WHERE key = ?', key);
    }
    // Housekeeping only: an expired row means nothing to the table, so a sweep
    // that cannot be scheduled must not fail the request.
    try {
      await this.armSweep(now);
    } catch (error) {
      console.error(core.sweep_warning(String(/** @type {any} */ (error)?.message ?? error)));
    }
    return step.answer;
  }

  /**
   * Sets the sweep alarm unless one is pending: a new instance must not push the one before it further away.
   * @param {number} now
   */
  async armSweep(now) {
    if (this.alarmPending) return;
    const pending = await this.ctx.storage.getAlarm();
    const at = core.sweep_after_write(pending ?? undefined, now);
    if (at !== undefined) await this.ctx.storage.setAlarm(at);
    this.alarmPending = true;
  }

  async alarm() {
    const now = Date.now();
    this.sql.exec('DELETE FROM dedup_keys WHERE expires_ms <= ?', now);
    /** @type {any} */
    const earliest = this.sql.exec('SELECT MIN(expires_ms) AS earliest FROM dedup_keys').toArray()[0]?.earliest;
    this.alarmPending = false;
    // An empty shard sleeps until a write arms it again.
    const at = core.sweep_after_sweep(earliest ?? undefined, now);
    if (at !== undefined) {
      await this.ctx.storage.setAlarm(at);
      this.alarmPending = true;
    }
  }
}
