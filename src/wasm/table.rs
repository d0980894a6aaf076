//! The strict-dedup key table for the Durable Object's driver: it reads the
//! key's row, asks [`table_step`], writes what it says. See [`crate::key_table`].

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use super::js::Obj;
use crate::key_table::{alarm_after_sweep, alarm_after_write, apply, Row, TableRequest, Write};
use crate::log::WarningLog;

#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum TableWrite {
    Nothing = 0,
    /// Put the row the step gives.
    Put = 1,
    /// Delete the key's row.
    Delete = 2,
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Decides `request` (as [`IngressNeed`]'s `Table` sends it) on the key's
/// row as stored (`recorded`, `holder`, `expires_ms`; all absent when there
/// is none) at `now_ms`; `undefined` when it is not a table request.
#[wasm_bindgen(unchecked_return_type = "TableStep | undefined")]
pub fn table_step(
    #[wasm_bindgen(unchecked_param_type = "TableRequest")] request: &JsValue,
    recorded: Option<f64>,
    holder: Option<String>,
    expires_ms: Option<f64>,
    now_ms: f64,
) -> JsValue {
    let (Some(op), Some(key), Some(token)) = (
        field(request, "op").as_string(),
        field(request, "key").as_string(),
        field(request, "token").as_string(),
    ) else {
        return JsValue::UNDEFINED;
    };
    let ttl_ms = field(request, "ttl_ms").as_f64().map(|ms| ms as i64);
    let Some(request) = TableRequest::from_parts(&op, key, token, ttl_ms) else {
        return JsValue::UNDEFINED;
    };
    let row = recorded
        .zip(expires_ms)
        .map(|(recorded, expires_ms)| Row::stored(recorded != 0.0, holder, expires_ms as i64));
    let (answer, write) = apply(&request, row.as_ref(), now_ms as i64);
    let step = Obj::new().set("answer", answer.as_str());
    match write {
        Write::Nothing => step.set("write", TableWrite::Nothing as u32),
        Write::Delete => step.set("write", TableWrite::Delete as u32),
        Write::Put(row) => step
            .set("write", TableWrite::Put as u32)
            .set("recorded", if row.holder.is_none() { 1 } else { 0 })
            .set("holder", row.holder.map_or(JsValue::NULL, JsValue::from))
            .set("expires_ms", row.expires_ms as f64),
    }
    .into_value()
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
