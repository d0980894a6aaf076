//! The event log's statements as the driver binds them, and the retention purge.

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use crate::event_log::{
    purge, purge_continues, retry_wait, Entry, Param, Pending, Statement, Unwritten,
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

/// The flush loop `id`'s next batch, `[sql, ...params]` each, to write and
/// report with [`journal_written`].
#[wasm_bindgen]
pub fn journal_batch(id: u32, now_ms: f64) -> Array {
    statements(PENDING.with(|pending| pending.borrow_mut().take(id, now_ms as i64)))
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

const DAY_MS: f64 = 86_400_000.0;

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

/// One round of the retention purge at `now_ms`, or `undefined` without the log.
/// The driver runs it again while [`purge_continues`] says so.
#[wasm_bindgen]
pub fn purge_round(env: &JsValue, now_ms: f64) -> Option<Array> {
    let config = env::config(env).as_ref().ok().filter(|c| c.event_log)?;
    let cutoff = now_ms - config.retention_days as f64 * DAY_MS;
    let failed_cutoff = now_ms - config.failed_retention_days as f64 * DAY_MS;
    Some(statements(purge(cutoff as i64, failed_cutoff as i64)))
}

/// Whether another round is due, given the rows each statement of the last
/// one deleted.
#[wasm_bindgen]
pub fn purge_again(deleted: Vec<f64>) -> bool {
    purge_continues(&deleted.iter().map(|&n| n as i64).collect::<Vec<_>>())
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
