//! The strict-dedup key table for the Durable Object's driver: it reads the
//! key's row, asks [`apply`], writes what it says. See [`crate::key_table`].

use wasm_bindgen::prelude::*;

use crate::key_table::{alarm_after_sweep, alarm_after_write, apply, Row, TableRequest, Write};
use crate::log::WarningLog;

/// What to do with a request to the table.
#[wasm_bindgen]
pub struct TableStep {
    key: String,
    answer: String,
    write: Write,
}

#[wasm_bindgen]
impl TableStep {
    /// The key to read the row of, or `None` when `request` is not a table request.
    pub fn key_of(request: &str) -> Option<String> {
        serde_json::from_str::<TableRequest>(request)
            .ok()
            .map(|request| request.key().to_string())
    }

    /// Decides `request` on the key's row (`recorded`, `holder`, `expires_ms`
    /// as stored, all absent when there is none) at `now_ms`.
    pub fn decide(
        request: &str,
        recorded: Option<f64>,
        holder: Option<String>,
        expires_ms: Option<f64>,
        now_ms: f64,
    ) -> Option<TableStep> {
        let request: TableRequest = serde_json::from_str(request).ok()?;
        let row = match (recorded, expires_ms) {
            (Some(recorded), Some(expires_ms)) => Some(Row {
                // A claim written before claims had holders is held by nobody we
                // know: busy until its lease ends, never a duplicate.
                holder: (recorded == 0.0).then(|| holder.unwrap_or_default()),
                expires_ms: expires_ms as i64,
            }),
            _ => None,
        };
        let (answer, write) = apply(&request, row.as_ref(), now_ms as i64);
        Some(TableStep {
            key: request.key().to_string(),
            answer: serde_json::to_string(&answer).unwrap_or_default(),
            write,
        })
    }

    pub fn key(&self) -> String {
        self.key.clone()
    }

    /// The answer's JSON.
    pub fn answer(&self) -> String {
        self.answer.clone()
    }

    /// 0 nothing, 1 put the row below, 2 delete the key's row.
    pub fn write(&self) -> u8 {
        match self.write {
            Write::Nothing => 0,
            Write::Put(_) => 1,
            Write::Delete => 2,
        }
    }

    /// The row to put: recorded (1) or a claim (0).
    pub fn recorded(&self) -> f64 {
        match &self.write {
            Write::Put(Row { holder: None, .. }) => 1.0,
            _ => 0.0,
        }
    }

    /// The row to put: the claim's holder.
    pub fn holder(&self) -> Option<String> {
        match &self.write {
            Write::Put(row) => row.holder.clone(),
            _ => None,
        }
    }

    /// The row to put: when it expires.
    pub fn expires_ms(&self) -> f64 {
        match &self.write {
            Write::Put(row) => row.expires_ms as f64,
            _ => 0.0,
        }
    }
}

/// After a write: when to set the sweep alarm, given the one pending.
#[wasm_bindgen]
pub fn sweep_after_write(pending_ms: Option<f64>, now_ms: f64) -> Option<f64> {
    alarm_after_write(pending_ms.map(|ms| ms as i64), now_ms as i64).map(|ms| ms as f64)
}

/// After a sweep: when to sweep again, given the earliest expiry left.
#[wasm_bindgen]
pub fn sweep_after_sweep(earliest_ms: Option<f64>, now_ms: f64) -> Option<f64> {
    alarm_after_sweep(earliest_ms.map(|ms| ms as i64), now_ms as i64).map(|ms| ms as f64)
}

/// The line of a sweep that could not be scheduled.
#[wasm_bindgen]
pub fn sweep_warning(error: &str) -> String {
    WarningLog {
        warning: "dedup_sweep_not_scheduled",
        error: Some(error),
        ..Default::default()
    }
    .line()
}
