//! The event log's statements as the driver binds them, and the retention purge.

use std::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use crate::event_log::{purge, purge_continues, Entry, Param, Pending, Statement};

thread_local! {
    // The ingress's entries not yet written, for the isolate's life.
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Adds `entry`; `Some(wait_ms)` when the caller must schedule the flush.
pub(crate) fn keep(entry: Entry, now_ms: i64) -> Option<i64> {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        pending.add(entry);
        pending.schedule(now_ms)
    })
}

/// The next batch of pending writes, `[sql, ...params]` each; empty when all
/// is written, which ends the flush.
#[wasm_bindgen]
pub fn journal_batch(now_ms: f64) -> Array {
    statements(PENDING.with(|pending| pending.borrow_mut().take(now_ms as i64)))
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
/// statements, and the platform's message.
#[wasm_bindgen]
pub fn journal_failed(statements: usize, error: &str) -> String {
    WarningLog {
        warning: "event_log_write_failed",
        failed: Some(u32::try_from(statements).unwrap_or(u32::MAX)),
        error: Some(
            error
                .get(..error.floor_char_boundary(200))
                .unwrap_or_default(),
        ),
        ..Default::default()
    }
    .line()
}
