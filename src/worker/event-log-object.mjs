// The event log's store: SQLite-backed Durable Objects of one class. An
// object named for a day and a shard (`2026-12-06/3`, see
// src/event_log/shard.rs) holds that shard's events; the one named
// `directory` lists the shards that hold anything, with what each last
// reported of itself. The statements, and which object they go to, are the
// core's; an object runs them and reports its figures.
// @ts-check
import { DurableObject } from 'cloudflare:workers';
import * as core from './glue/index.js';

export const DIRECTORY = 'directory';
// A shard reports its figures at most once a second; an alarm reports the
// last write of a busy second.
const REPORT_EVERY_MS = 1_000;

/** @type {ReturnType<typeof core.log_sql> | undefined} */
let ownSql;
/**
 * One of the objects' own statements: the core's, as all of the log's SQL.
 * @param {string} name
 */
function logSql(name) {
  ownSql ??= core.log_sql();
  return /** @type {string} */ (ownSql[name]);
}

/**
 * The stub of the log's object `name`.
 * @param {any} env
 * @param {string} name
 * @returns {any}
 */
export function logObject(env, name) {
  return env.EVENTS.get(env.EVENTS.idFromName(name));
}

/**
 * A shard's figures, as the directory keeps them.
 * @typedef {{ name: string | undefined, bytes: number, events: number, failed: number, held: number, oldest: number | null }} Figures
 */

export class EventLog extends DurableObject {
  /**
   * @param {DurableObjectState} ctx
   * @param {any} env
   */
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Known to hold the schema; read from storage, never assumed.
    this.ready = false;
    // Known to be in the directory: noted by this instance.
    this.listed = false;
    // The directory's own table, known to be made and up to date.
    this.directoryReady = false;
    /** @type {string | undefined} */
    this.name = undefined;
    this.reportedAt = 0;
  }

  /** The shard's tables, made on its first write and again after deleteAll(). */
  schema() {
    if (this.ready) return;
    ownSql ??= core.log_sql();
    for (const statement of ownSql.schema) this.sql.exec(statement);
    this.ready = true;
  }

  /**
   * Whether the shard has its tables: a read never makes them, but brings
   * those of an older version up to date (an index it lacks), as a write does.
   */
  exists() {
    if (this.ready) return true;
    if (this.sql.exec(logSql('has_tables')).toArray().length === 0) return false;
    this.schema();
    return true;
  }

  /**
   * What `work` gives, or `{ error }`, why it failed: every call on the log's
   * objects answers so rather than throw, so the caller decides what a
   * failure means and the runtime prints no stray line.
   */
  /**
   * @template T
   * @param {() => T | Promise<T>} work
   * @returns {Promise<T | { error: string }>}
   */
  async guarded(work) {
    try {
      return await work();
    } catch (error) {
      return { error: String(/** @type {any} */ (error)?.message ?? error) };
    }
  }

  /**
   * Runs `statements` ([sql, ...params] each) as one transaction on the shard
   * `name`: every row of each, and the rows the platform metered as written,
   * or `{ error }`.
   */
  /**
   * @param {string} name
   * @param {import('./glue/index.js').Statement[]} statements
   */
  batch(name, statements) {
    return this.guarded(() => this.run(name, statements));
  }

  /**
   * @param {string} name
   * @param {import('./glue/index.js').Statement[]} statements
   */
  async run(name, statements) {
    this.name = name;
    const writes = statements.some(([sql]) => !sql.startsWith('SELECT'));
    if (writes) {
      this.schema();
      // A shard the directory does not list is never read: it is listed before
      // anything is written to it, or nothing is (the caller tries again).
      if (!this.listed) await this.tell(Date.now());
    } else if (!this.exists()) return { results: statements.map(() => []), rowsWritten: 0 };
    const out = this.ctx.storage.transactionSync(() => statements.map(([sql, ...params]) => {
      const cursor = this.sql.exec(sql, ...params);
      const rows = cursor.toArray();
      return { rows, written: cursor.rowsWritten };
    }));
    if (writes) await this.report();
    return {
      results: out.map((result) => result.rows),
      rowsWritten: out.reduce((sum, result) => sum + result.written, 0),
    };
  }

  /**
   * What the shard holds, for the directory, read from a few rows (rows read
   * are billed, and a busy shard reports every second): its events as its
   * counts of events accepted (while its window is kept; a purged one is
   * small and counted whole), whether it holds a failed event, and when its
   * oldest was received.
   * @param {number} now
   * @returns {Figures}
   */
  figures(now) {
    const purged = core.retention(this.env, this.name ?? '', 1, 0, now) !== core.RetentionStep.Keep;
    /** @type {any} */
    const [row] = this.sql.exec(purged ? logSql('figures_purged') : logSql('figures')).toArray();
    return { name: this.name, bytes: this.sql.databaseSize, events: row.events, failed: row.failed, held: row.held, oldest: row.oldest };
  }

  /** Tells the directory, at most once a second; a later write's alarm tells it the rest. */
  /** @param {number} [at] */
  async report(at = Date.now()) {
    const now = Date.now();
    if (now - this.reportedAt < REPORT_EVERY_MS) {
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(this.reportedAt + REPORT_EVERY_MS);
      return;
    }
    try {
      await this.tell(at);
    } catch (error) {
      // The shard's next write reports again; until then the directory's
      // figures for it are older (its name is there since its first write).
      this.reportedAt = 0;
      console.error(core.log_upkeep_failed('directory', /** @type {any} */ (error)?.message ?? String(error)));
    }
  }

  /** Tells the directory its figures as of `at`; throws if it could not. */
  /** @param {number} at */
  async tell(at) {
    this.reportedAt = Date.now();
    const noted = await logObject(this.env, DIRECTORY).note(this.figures(at));
    if (noted?.error !== undefined) throw new Error(`the directory: ${noted.error}`);
    this.listed = true;
  }

  async alarm() {
    try {
      if (this.name !== undefined && this.exists()) await this.report();
    } catch (error) {
      // Figures only: the next write reports again.
      console.error(core.log_upkeep_failed('directory', /** @type {any} */ (error)?.message ?? String(error)));
    }
  }

  /**
   * The retention's step for the shard `name` at `now`: drop it whole, or
   * purge all but its failed and held events in rounds, as the core says.
   */
  /**
   * @param {string} name
   * @param {number} now
   */
  retire(name, now) {
    return this.guarded(() => this.retireShard(name, now));
  }

  /**
   * @param {string} name
   * @param {number} now
   */
  async retireShard(name, now) {
    this.name = name;
    if (!this.exists()) return this.unlist(name);
    const { failed, held } = this.figures(now);
    const step = core.retention(this.env, name, failed, held, now);
    switch (step) {
      case core.RetentionStep.Drop:
        await this.ctx.storage.deleteAll();
        this.ready = false;
        this.listed = false;
        return this.unlist(name);
      case core.RetentionStep.Purge:
      case core.RetentionStep.PurgeAllButHeld:
        // Bounded rounds: a purge that keeps finding work goes on next time.
        for (let round = 0; round < 200; round++) {
          const changes = this.ctx.storage.transactionSync(() => core.purge_round(step)
            .map(([sql, ...params]) => this.sql.exec(sql, ...params).rowsWritten));
          if (!core.purge_again(changes)) break;
        }
        this.reportedAt = 0;
        return this.report(now);
      default:
        return undefined;
    }
  }

  /** Takes the shard `name` off the directory. */
  /** @param {string} name */
  async unlist(name) {
    const forgotten = await logObject(this.env, DIRECTORY).forget(name);
    if (forgotten?.error !== undefined) throw new Error(forgotten.error);
  }

  // The directory's methods, on the object named `directory`.

  directoryTable() {
    if (this.directoryReady) return;
    this.sql.exec(logSql('directory'));
    // A directory made by an older version gains the columns it lacks, once.
    if (this.sql.exec(logSql('directory_outdated')).toArray().length > 0) this.sql.exec(logSql('directory_upgrade'));
    this.directoryReady = true;
  }

  /** A shard's figures. */
  /** @param {Figures} figures */
  note(figures) {
    return this.guarded(() => this.noteFigures(figures));
  }

  /** @param {Figures} figures */
  noteFigures(figures) {
    this.directoryTable();
    this.sql.exec(logSql('note'), figures.name, figures.bytes, figures.events, figures.failed, figures.oldest ?? null,
      figures.held ?? 0);
  }

  /** A shard dropped whole. */
  /** @param {string} name */
  forget(name) {
    return this.guarded(() => {
      this.directoryTable();
      this.sql.exec(logSql('forget'), name);
    });
  }

  /** Every shard there is, with its figures: `{ list }` (JSON) or `{ error }`. */
  list() {
    return this.guarded(() => {
      this.directoryTable();
      return { list: JSON.stringify(this.sql.exec(logSql('list')).toArray()) };
    });
  }
}
