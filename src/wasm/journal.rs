//! The event log's statements as the driver binds them, and the retention purge.

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use crate::event_log::{
    merge_attempts, purge_all_but_failed, purge_continues, retry_wait, Entry, Param, Pending,
    Retention, Shard, Statement, Unwritten, SCHEMA,
};

thread_local! {
    // What the log's writers left to write, for the isolate's life.
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Adds `entry`; `Some(loop)` when the caller must run that flush loop.
pub(crate) fn keep(entry: Entry, now_ms: i64) -> Option<u32> {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        pending.add(entry);
        pending.schedule(now_ms)
    })
}

/// Counts what a write that failed its last try held; `Some(loop)` when the
/// caller must run that flush loop.
pub(crate) fn lose(unwritten: Unwritten, now_ms: i64) -> Option<u32> {
    if unwritten.is_empty() {
        return None;
    }
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        pending.lose(unwritten, now_ms);
        pending.schedule(now_ms)
    })
}

/// `rows` written by one of the log's writes, as the platform metered them:
/// counted with the next flush.
#[wasm_bindgen]
pub fn journal_metered(rows: f64, now_ms: f64) {
    if rows.is_finite() && rows > 0.0 {
        PENDING.with(|pending| pending.borrow_mut().metered(rows as i64, now_ms as i64));
    }
}

/// What the flush loop `id` does next: 0 write [`journal_batch`], more sleep
/// that many ms and ask again, `undefined` end.
#[wasm_bindgen]
pub fn journal_wait(id: u32, now_ms: f64) -> Option<f64> {
    PENDING.with(|pending| {
        pending
            .borrow_mut()
            .wait(id, now_ms as i64)
            .map(|ms| ms as f64)
    })
}

/// The flush loop `id`'s next batch: `[shard, [[sql, ...params], ...]]`, to
/// write on that shard and report with [`journal_written`]; `undefined` when
/// there is nothing to write.
#[wasm_bindgen]
pub fn journal_batch(id: u32, now_ms: f64) -> Option<Array> {
    let (shard, batch) = PENDING.with(|pending| pending.borrow_mut().take(id, now_ms as i64))?;
    Some(ask(shard, batch))
}

/// `[shard name, [[sql, ...params], ...]]`.
pub(crate) fn ask(shard: Shard, batch: Vec<Statement>) -> Array {
    let ask = Array::new();
    ask.push(&JsValue::from_str(&shard.name()));
    ask.push(&statements(batch));
    ask
}

/// Whether the flush loop `id`'s batch was written, retries included.
#[wasm_bindgen]
pub fn journal_written(id: u32, written: bool, now_ms: f64) {
    PENDING.with(|pending| pending.borrow_mut().written(id, written, now_ms as i64));
}

/// After `failed_tries` failed tries of a write to the log: the ms to wait
/// before the next, or `undefined` when that was the last.
#[wasm_bindgen]
pub fn journal_retry_wait(failed_tries: u32) -> Option<f64> {
    retry_wait(failed_tries).map(|ms| ms as f64)
}

use crate::log::WarningLog;

/// Each statement as `[sql, ...params]`.
pub(crate) fn statements(statements: Vec<Statement>) -> Array {
    statements
        .into_iter()
        .map(|statement| {
            let row = Array::new();
            row.push(&JsValue::from_str(&statement.sql));
            for param in statement.params {
                row.push(&match param {
                    Param::Text(text) => JsValue::from_str(&text),
                    Param::Int(n) => JsValue::from_f64(n as f64),
                    Param::Null => JsValue::NULL,
                });
            }
            JsValue::from(row)
        })
        .collect()
}

/// Statements made by [`statements`], back from the driver.
fn statements_from(array: &Array) -> Vec<Statement> {
    array
        .iter()
        .filter_map(|row| {
            let row = row.dyn_into::<Array>().ok()?;
            let sql = row.get(0).as_string()?;
            let params = row
                .iter()
                .skip(1)
                .map(|value| match (value.as_string(), value.as_f64()) {
                    (Some(text), _) => Param::Text(text),
                    (None, Some(n)) => Param::Int(n as i64),
                    (None, None) => Param::Null,
                })
                .collect();
            Some(Statement {
                sql: sql.into(),
                params,
            })
        })
        .collect()
}

/// One shard's statements from a queue batch's deliveries, the attempts of
/// each event on different routes made one write of its row.
#[wasm_bindgen]
pub fn journal_merge(statements: &Array) -> Array {
    self::statements(merge_attempts(statements_from(statements)))
}

/// The log objects' own statements: `has_tables`, `figures`,
/// `figures_purged`, `directory`, `note`, `forget`, `list` (see `schema.rs`).
#[wasm_bindgen]
pub fn log_sql(name: &str) -> String {
    use crate::event_log::schema;
    match name {
        "has_tables" => schema::HAS_TABLES,
        "figures" => schema::FIGURES,
        "figures_purged" => schema::FIGURES_PURGED,
        "directory" => schema::DIRECTORY,
        "note" => schema::NOTE,
        "forget" => schema::FORGET,
        "list" => schema::LIST,
        _ => "",
    }
    .to_string()
}

/// A shard's tables: statements to run, in order, before its first write.
#[wasm_bindgen]
pub fn log_schema() -> Vec<String> {
    SCHEMA.iter().map(|sql| (*sql).to_string()).collect()
}

/// What the retention does with the shard `name` at `now_ms`, holding
/// `failed` failed events: 0 keep, 1 purge all but the failed events
/// ([`purge_round`]), 2 drop it whole. Keep without the log, or for a name
/// that is not a shard's.
#[wasm_bindgen]
pub fn retention(env: &JsValue, name: &str, failed: f64, now_ms: f64) -> u8 {
    let Some(config) = env::config(env).as_ref().ok().filter(|c| c.event_log) else {
        return 0;
    };
    let Some(shard) = Shard::parse(name) else {
        return 0;
    };
    match Retention::of(
        shard,
        now_ms as i64,
        config.retention_days,
        config.failed_retention_days,
        failed.max(0.0) as u64,
    ) {
        Retention::Keep => 0,
        Retention::PurgeAllButFailed => 1,
        Retention::Drop => 2,
    }
}

/// One round of the purge of a shard past retention that keeps failed events.
/// The driver runs it again while [`purge_again`] says so.
#[wasm_bindgen]
pub fn purge_round() -> Array {
    statements(purge_all_but_failed())
}

/// Whether another round is due, given the rows each statement of the last
/// one deleted.
#[wasm_bindgen]
pub fn purge_again(deleted: Vec<f64>) -> bool {
    purge_continues(&deleted.iter().map(|&n| n as i64).collect::<Vec<_>>())
}

/// The line of the log's own upkeep that failed: `directory` (a shard's
/// report of its figures, or the directory read by the retention) or
/// `retention` (a shard's drop or purge), with the platform's message. Both
/// are done again: the next write reports, the next cron run retires.
#[wasm_bindgen]
pub fn log_upkeep_failed(what: &str, error: &str) -> String {
    WarningLog {
        warning: match what {
            "retention" => "event_log_retention_failed",
            _ => "event_log_directory_failed",
        },
        error: Some(
            error
                .get(..error.floor_char_boundary(200))
                .unwrap_or_default(),
        ),
        ..Default::default()
    }
    .line()
}

/// The line of a write to the event log that failed: what, how many
/// statements, the platform's message, and when it is tried again (none after
/// the last try).
#[wasm_bindgen]
pub fn journal_failed(statements: usize, error: &str, retry_in_ms: Option<f64>) -> String {
    WarningLog {
        warning: "event_log_write_failed",
        failed: Some(u32::try_from(statements).unwrap_or(u32::MAX)),
        error: Some(
            error
                .get(..error.floor_char_boundary(200))
                .unwrap_or_default(),
        ),
        retry_in_ms: retry_in_ms.map(|ms| ms as i64),
        ..Default::default()
    }
    .line()
}
