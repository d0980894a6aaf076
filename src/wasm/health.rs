//! A route's health, for its Durable Object (`route-health-object.mjs`): each
//! call takes the object's kept text and returns the new text with what to do
//! and the alerts to send, as one value. One export for every call, one for
//! the lines of what went wrong: each export is glue of its own in the wasm
//! and in the JavaScript.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use super::js::{pairs, Obj};
use crate::config::Config;
use crate::health::alert::{alert_retry_delay_ms, Alert, AlertKind};
use crate::health::state::{Change, Health, Limits, Tick};
use crate::log::WarningLog;
use crate::routes::Destination;

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
    /// order they ended; `failure`, what the last failure was.
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

/// The options of the route `name` as configured (none for a route gone).
fn limits(config: Option<&Config>, name: &str) -> Limits {
    config
        .and_then(|config| config.routes.iter().find(|route| route.name == name))
        .filter(|route| matches!(route.destination, Destination::Http { .. }))
        .map(Limits::from)
        .unwrap_or_default()
}

/// Runs `call` on the route `name`'s health kept as `text`, at `now_ms`, with
/// `held` deliveries held: `{ text, alerts, ... }`.
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
    let config = env::config(env).as_ref().ok();
    let route = limits(config, name);
    let mut health = Health::from_text(text);
    let now = now_ms as i64;
    let held = held as u64;
    let outcomes: Vec<bool> = outcomes
        .unwrap_or_default()
        .iter()
        .map(|&delivered| delivered == 1)
        .collect();
    let failure = failure.as_deref();
    let mut answer = Obj::new();
    let changes = match call {
        HealthCall::Admit => {
            let go = Array::new();
            for _ in 0..count {
                go.push(&JsValue::from_bool(health.admit(route, now)));
            }
            answer = answer.set("go", go);
            Vec::new()
        }
        HealthCall::Settle => health.settled(route, now, &outcomes, failure),
        HealthCall::Tick => {
            let (tick, changes) = health.tick(route, now, held);
            let (step, count, wake_ms) = match tick {
                Tick::Probe => (HealthStep::Probe, None, None),
                Tick::Drain(count) => (HealthStep::Drain, Some(count), None),
                Tick::Wait(at) => (HealthStep::Wait, None, Some(at as f64)),
                Tick::Idle => (HealthStep::Idle, None, None),
            };
            answer = answer
                .set("step", step as u32)
                .maybe("count", count)
                .maybe("wake_ms", wake_ms);
            changes
        }
        HealthCall::Probed => health.probed(now, outcomes == [true], failure),
        HealthCall::Pause => health.pause(now),
        HealthCall::Resume => health.resume(now),
        HealthCall::DeadLettered => health.dead_lettered(now, u64::from(count)),
        HealthCall::Report => Vec::new(),
    };
    if matches!(
        call,
        HealthCall::Pause | HealthCall::Resume | HealthCall::Report
    ) {
        answer = answer.set("report", health.report(now, held));
    }
    let alerts = Array::new();
    for change in changes {
        alerts.push(&alert(config, name, change, now, held));
    }
    answer
        .set("text", health.text())
        .set("alerts", alerts)
        .into_value()
}

/// An alert to send: its log line, and with `ALERT_URL` its request.
fn alert(config: Option<&Config>, route: &str, change: Change, now_ms: i64, held: u64) -> JsValue {
    let (kind, reason, count) = match change {
        Change::Tripped { reason } => (AlertKind::Tripped, reason, None),
        Change::Recovered => (AlertKind::Recovered, "a probe was delivered".into(), None),
        Change::Paused => (AlertKind::Paused, "paused by an operator".into(), None),
        Change::Resumed => (AlertKind::Resumed, "resumed by an operator".into(), None),
        Change::Failed { count } => (
            AlertKind::DeliveryFailed,
            "deliveries spent their retries and were dead-lettered".into(),
            Some(count),
        ),
    };
    let alert = Alert {
        kind,
        route: route.to_string(),
        at_ms: now_ms,
        reason,
        held,
        count,
    };
    let out = Obj::new().set("line", alert.line());
    match config.and_then(|config| config.alerts.as_ref()) {
        Some(target) => out
            .set("url", target.url.as_str())
            .set("headers", pairs(alert.headers(target, now_ms / 1000)))
            .set("body", alert.body())
            .into_value(),
        None => out.into_value(),
    }
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
/// was given up.
#[wasm_bindgen(unchecked_return_type = "{ retry_ms?: number; line?: string }")]
pub fn health_warning(
    warning: HealthWarning,
    route: &str,
    error: Option<String>,
    status: u16,
    tries: u32,
) -> JsValue {
    let line = |code: &str| {
        WarningLog {
            warning: code,
            route: Some(route),
            error: error.as_deref(),
            status: Some(status).filter(|&status| status > 0),
            tries: Some(tries).filter(|&tries| tries > 0),
            ..Default::default()
        }
        .line()
    };
    let out = Obj::new();
    match warning {
        HealthWarning::Unreachable => out.set("line", line("health_unreachable")),
        HealthWarning::RequeueFailed => out.set("line", line("requeue_failed")),
        HealthWarning::AlertSent if (200..300).contains(&status) => out,
        HealthWarning::AlertSent => match alert_retry_delay_ms(tries) {
            Some(ms) => out.set("retry_ms", ms as f64),
            None => out.set("line", line("alert_not_delivered")),
        },
    }
    .into_value()
}
