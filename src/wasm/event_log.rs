//! The event log for the driver: the isolate's pending writes and their flush
//! loops, statements as the log's objects run them, the objects' own SQL and
//! the retention's steps. See [`crate::event_log`].

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use super::js::{strings, Obj};
use crate::event_log::{
    merge_attempts, purge_all_but_failed, purge_all_but_held, purge_continues, retry_wait, schema,
    upkeep_failed_line, write_failed_line, Entry, FlushStep, Param, Pending, Retention, Shard,
    Statement, Unwritten, SCHEMA,
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

/// `{ shard, statements }`.
pub(crate) fn batch(shard: Shard, statements: Vec<Statement>) -> JsValue {
    Obj::new()
        .set("shard", shard.name())
        .set("statements", statements_value(statements))
        .into_value()
}

/// The flush loop `id`'s next step, once its last batch (if any) was
/// `written` (retries included) at `now_ms`.
#[wasm_bindgen(unchecked_return_type = "FlushStep | undefined")]
pub fn flush_step(id: u32, written: Option<bool>, now_ms: f64) -> JsValue {
    let step = PENDING.with(|pending| pending.borrow_mut().step(id, written, now_ms as i64));
    match step {
        None => JsValue::UNDEFINED,
        Some(FlushStep::Sleep(ms)) => Obj::new().set("wait_ms", ms as f64).into_value(),
        Some(FlushStep::Write(shard, statements)) => Obj::new()
            .set("batch", batch(shard, statements))
            .into_value(),
    }
}

/// A write to the log that succeeded: `rows` written, as the platform metered
/// them, counted with the next flush.
#[wasm_bindgen]
pub fn log_written(rows: f64, now_ms: f64) {
    if rows.is_finite() && rows > 0.0 {
        PENDING.with(|pending| pending.borrow_mut().metered(rows as i64, now_ms as i64));
    }
}

/// A write of `statements` that failed its try number `tries` with `error`:
/// the line to print, and the ms to wait before the next try (none after the
/// last).
#[wasm_bindgen(unchecked_return_type = "{ line: string; retry_ms?: number }")]
pub fn log_write_failed(statements: usize, error: &str, tries: u32) -> JsValue {
    let retry_ms = retry_wait(tries);
    Obj::new()
        .set("line", write_failed_line(statements, error, retry_ms))
        .maybe("retry_ms", retry_ms.map(|ms| ms as f64))
        .into_value()
}

/// Each statement as `[sql, ...params]`.
fn statements_value(statements: Vec<Statement>) -> Array {
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

/// Statements made by [`statements_value`], back from the driver.
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
#[wasm_bindgen(unchecked_return_type = "Statement[]")]
pub fn log_merge(
    #[wasm_bindgen(unchecked_param_type = "Statement[]")] statements: &Array,
) -> Array {
    statements_value(merge_attempts(statements_from(statements)))
}

/// The log objects' own statements, by name (see `schema.rs`), and a shard's
/// tables as `schema`: `{ schema: string[], has_tables, figures, … }`.
#[wasm_bindgen(unchecked_return_type = "Record<string, string> & { schema: string[] }")]
pub fn log_sql() -> JsValue {
    Obj::new()
        .set("schema", strings(SCHEMA.iter()))
        .set("has_tables", schema::HAS_TABLES)
        .set("figures", schema::FIGURES)
        .set("figures_purged", schema::FIGURES_PURGED)
        .set("directory", schema::DIRECTORY)
        .set("directory_outdated", schema::DIRECTORY_OUTDATED)
        .set("directory_upgrade", schema::DIRECTORY_UPGRADE)
        .set("note", schema::NOTE)
        .set("forget", schema::FORGET)
        .set("list", schema::LIST)
        .into_value()
}

#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum RetentionStep {
    Keep = 0,
    /// Purge all but the failed and held events, in rounds ([`purge_round`]).
    Purge = 1,
    /// Drop the shard whole.
    Drop = 2,
    /// Purge all but the events with a held delivery, in rounds.
    PurgeAllButHeld = 3,
}

impl RetentionStep {
    fn of(retention: Retention) -> Self {
        match retention {
            Retention::Keep => Self::Keep,
            Retention::PurgeAllButFailed => Self::Purge,
            Retention::PurgeAllButHeld => Self::PurgeAllButHeld,
            Retention::Drop => Self::Drop,
        }
    }
}

/// What the retention does with the shard `name` at `now_ms`, holding
/// `failed` failed events and `held` events with a held delivery. Keep
/// without the log, or for a name that is not a shard's.
#[wasm_bindgen]
pub fn retention(env: &JsValue, name: &str, failed: f64, held: f64, now_ms: f64) -> RetentionStep {
    let config = env::config(env).as_ref().ok().filter(|c| c.event_log);
    let (Some(config), Some(shard)) = (config, Shard::parse(name)) else {
        return RetentionStep::Keep;
    };
    RetentionStep::of(Retention::of(
        shard,
        now_ms as i64,
        config.retention_days,
        config.failed_retention_days,
        failed.max(0.0) as u64,
        held.max(0.0) as u64,
    ))
}

/// One round of the purge the retention's `step` asks of a shard past
/// retention (none for a step that is no purge).
#[wasm_bindgen(unchecked_return_type = "Statement[]")]
pub fn purge_round(step: RetentionStep) -> Array {
    statements_value(match step {
        RetentionStep::Purge => purge_all_but_failed(),
        RetentionStep::PurgeAllButHeld => purge_all_but_held(),
        RetentionStep::Keep | RetentionStep::Drop => Vec::new(),
    })
}

/// Whether another round is due, given the rows each statement of the last
/// one deleted.
#[wasm_bindgen]
pub fn purge_again(deleted: Vec<f64>) -> bool {
    purge_continues(&deleted.iter().map(|&n| n as i64).collect::<Vec<_>>())
}

/// The line of the log's own upkeep that failed: `directory` or `retention`,
/// with the platform's message.
#[wasm_bindgen]
pub fn log_upkeep_failed(what: &str, error: &str) -> String {
    upkeep_failed_line(what, error)
}
