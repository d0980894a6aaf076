//! A route's health, for its Durable Object (`route-health-object.mjs`): each
//! call takes the object's kept text and returns the new text with what to do
//! and the alerts to send, as one value. One export for every call, one for
//! the lines of what went wrong: each export is glue of its own in the wasm
//! and in the JavaScript.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use super::js::{pairs, Obj};
use crate::health::call::{self, Call, Trouble};
use crate::health::state::Tick;

/// What the object's alarm does (see [`Tick`]).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum HealthStep {
    Probe = 0,
    Drain = 1,
    Wait = 2,
    Idle = 3,
}

/// What a call to [`route_health`] does to the route's health.
#[wasm_bindgen]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HealthCall {
    /// Whether each of `count` deliveries may be attempted now: `{ go }`, in
    /// order; the rest the object holds.
    Admit = 0,
    /// Admitted attempts ended: `outcomes` 1 delivered, 0 failed, in the
    /// order they ended; `failure`, what the last failure was; `count`
    /// admissions not used.
    Settle = 1,
    /// What the alarm does now: `{ step, count?, wake_ms? }`.
    Tick = 2,
    /// A probe ended: `outcomes` its one outcome, `failure` as for `Settle`.
    Probed = 3,
    /// An operator paused the route: `{ report }`, the admin API's view after it.
    Pause = 4,
    /// An operator resumed the route: `{ report }`.
    Resume = 5,
    /// `count` deliveries of the route were dead-lettered.
    DeadLettered = 6,
    /// The admin API's view of the route (SPEC section 10): `{ report }`;
    /// nothing changes.
    Report = 7,
}

/// Runs `call` on the route `name`'s health kept as `text`, at `now_ms`, with
/// `held` deliveries held: `{ text, alerts, ... }` (see [`call::run`]).
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen(
    unchecked_return_type = "HealthAnswer & { go?: boolean[]; step?: HealthStep; count?: number; wake_ms?: number; report?: string }"
)]
pub fn route_health(
    env: &JsValue,
    call: HealthCall,
    name: &str,
    text: &str,
    now_ms: f64,
    held: f64,
    count: u32,
    outcomes: Option<Vec<u8>>,
    failure: Option<String>,
) -> JsValue {
    let outcomes: Vec<bool> = outcomes
        .unwrap_or_default()
        .iter()
        .map(|&delivered| delivered == 1)
        .collect();
    let failure = failure.as_deref();
    let call = match call {
        HealthCall::Admit => Call::Admit { count },
        HealthCall::Settle => Call::Settle {
            outcomes: &outcomes,
            failure,
            unattempted: count,
        },
        HealthCall::Tick => Call::Tick,
        HealthCall::Probed => Call::Probed {
            delivered: outcomes == [true],
            failure,
        },
        HealthCall::Pause => Call::Pause,
        HealthCall::Resume => Call::Resume,
        HealthCall::DeadLettered => Call::DeadLettered {
            count: u64::from(count),
        },
        HealthCall::Report => Call::Report,
    };
    let config = env::config(env).as_ref().ok();
    let answer = call::run(config, name, text, now_ms as i64, held as u64, call);
    let mut out = Obj::new();
    if !answer.go.is_empty() {
        let go: Array = answer.go.into_iter().map(JsValue::from_bool).collect();
        out = out.set("go", go);
    }
    if let Some(tick) = answer.tick {
        let (step, count, wake_ms) = match tick {
            Tick::Probe => (HealthStep::Probe, None, None),
            Tick::Drain(count) => (HealthStep::Drain, Some(count), None),
            Tick::Wait(at) => (HealthStep::Wait, None, Some(at as f64)),
            Tick::Idle => (HealthStep::Idle, None, None),
        };
        out = out
            .set("step", step as u32)
            .maybe("count", count)
            .maybe("wake_ms", wake_ms);
    }
    let alerts: Array = answer
        .alerts
        .into_iter()
        .map(|alert| {
            let out = Obj::new().set("line", alert.line);
            match alert.post {
                Some(post) => out
                    .set("url", post.url)
                    .set("headers", pairs(post.headers))
                    .set("body", post.body),
                None => out,
            }
            .into_value()
        })
        .collect();
    out.maybe("report", answer.report)
        .set("text", answer.text)
        .set("alerts", alerts)
        .into_value()
}

/// What went wrong in a step of a route's health (see [`health_warning`]).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum HealthWarning {
    /// The route's object could not be asked (`error`).
    Unreachable = 0,
    /// A drained delivery that failed could not go back to the queue
    /// (`error`): it stays held.
    RequeueFailed = 1,
    /// An alert's POST got `status` (0: no answer) on try `tries`.
    AlertSent = 2,
}

/// The line of what went wrong with the route `route`: `{ line }`. For an
/// alert's try, `{ retry_ms }` to try again, else done, with a `line` when it
/// was given up (see [`call::handle`]).
#[wasm_bindgen(unchecked_return_type = "{ retry_ms?: number; line?: string }")]
pub fn health_warning(
    warning: HealthWarning,
    route: &str,
    error: Option<String>,
    status: u16,
    tries: u32,
) -> JsValue {
    let trouble = match warning {
        HealthWarning::Unreachable => Trouble::Unreachable,
        HealthWarning::RequeueFailed => Trouble::RequeueFailed,
        HealthWarning::AlertSent => Trouble::AlertTried { status, tries },
    };
    let handling = call::handle(trouble, route, error.as_deref());
    Obj::new()
        .maybe("line", handling.line)
        .maybe("retry_ms", handling.retry_ms.map(|ms| ms as f64))
        .into_value()
}
