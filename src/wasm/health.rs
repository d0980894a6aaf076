//! A route's health, for its Durable Object (`route-health-object.mjs`): each
//! call takes the object's kept text and returns the new text with what to do
//! and the alerts to send, as one value.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use super::js::{pairs, Obj};
use crate::config::Config;
use crate::health::alert::{alert_retry_delay_ms, Alert, AlertKind};
use crate::health::state::{Change, Health, Limits, Tick};
use crate::log::HealthLog;
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

/// The options of the route `name` as configured (none for a route gone).
fn limits(config: Option<&Config>, name: &str) -> Limits {
    config
        .and_then(|config| config.routes.iter().find(|route| route.name == name))
        .filter(|route| matches!(route.destination, Destination::Http { .. }))
        .map(Limits::from)
        .unwrap_or_default()
}

/// Runs `step` on the object's health and returns `{ text, alerts, ... }`.
fn with_health(
    env: &JsValue,
    name: &str,
    text: &str,
    now_ms: f64,
    held: f64,
    step: impl FnOnce(&mut Health, Limits, i64) -> (Obj, Vec<Change>),
) -> JsValue {
    let config = env::config(env).as_ref().ok();
    let route = limits(config, name);
    let mut health = Health::from_text(text);
    let now = now_ms as i64;
    let (answer, changes) = step(&mut health, route, now);
    let alerts: Array = changes
        .into_iter()
        .map(|change| alert(config, name, change, now, held as u64))
        .collect();
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

/// Whether each of `count` deliveries may be attempted now (`go`), in order;
/// the rest the object holds.
#[wasm_bindgen(unchecked_return_type = "HealthAnswer & { go: boolean[] }")]
pub fn health_admit(env: &JsValue, name: &str, text: &str, now_ms: f64, count: u32) -> JsValue {
    with_health(env, name, text, now_ms, 0.0, |health, route, now| {
        let go: Array = (0..count)
            .map(|_| JsValue::from_bool(health.admit(route, now)))
            .collect();
        (Obj::new().set("go", go), Vec::new())
    })
}

/// Admitted attempts ended: `outcomes` 1 delivered, 0 failed, in the order
/// they ended; `failure`, what the last failure was.
#[wasm_bindgen(unchecked_return_type = "HealthAnswer")]
pub fn health_settle(
    env: &JsValue,
    name: &str,
    text: &str,
    now_ms: f64,
    outcomes: &[u8],
    failure: Option<String>,
    held: f64,
) -> JsValue {
    with_health(env, name, text, now_ms, held, |health, route, now| {
        let outcomes: Vec<bool> = outcomes.iter().map(|&delivered| delivered == 1).collect();
        let changes = health.settled(route, now, &outcomes, failure.as_deref());
        (Obj::new(), changes)
    })
}

/// What the alarm does now with `held` deliveries held: `{ step, count?, wake_ms? }`.
#[wasm_bindgen(
    unchecked_return_type = "HealthAnswer & { step: HealthStep; count?: number; wake_ms?: number }"
)]
pub fn health_tick(env: &JsValue, name: &str, text: &str, now_ms: f64, held: f64) -> JsValue {
    with_health(env, name, text, now_ms, held, |health, route, now| {
        let (tick, changes) = health.tick(route, now, held as u64);
        let answer = match tick {
            Tick::Probe => Obj::new().set("step", HealthStep::Probe as u32),
            Tick::Drain(count) => Obj::new()
                .set("step", HealthStep::Drain as u32)
                .set("count", count),
            Tick::Wait(at) => Obj::new()
                .set("step", HealthStep::Wait as u32)
                .set("wake_ms", at as f64),
            Tick::Idle => Obj::new().set("step", HealthStep::Idle as u32),
        };
        (answer, changes)
    })
}

/// A probe ended.
#[wasm_bindgen(unchecked_return_type = "HealthAnswer")]
pub fn health_probed(
    env: &JsValue,
    name: &str,
    text: &str,
    now_ms: f64,
    delivered: bool,
    failure: Option<String>,
    held: f64,
) -> JsValue {
    with_health(env, name, text, now_ms, held, |health, _, now| {
        let changes = health.probed(now, delivered, failure.as_deref());
        (Obj::new(), changes)
    })
}

/// An operator paused (`pause`) or resumed the route: `{ report }`, the
/// admin API's view after it.
#[wasm_bindgen(unchecked_return_type = "HealthAnswer & { report: string }")]
pub fn health_control(
    env: &JsValue,
    name: &str,
    text: &str,
    now_ms: f64,
    pause: bool,
    held: f64,
) -> JsValue {
    with_health(env, name, text, now_ms, held, |health, _, now| {
        let changes = if pause {
            health.pause(now)
        } else {
            health.resume(now)
        };
        let report = health.report(now, held as u64);
        (Obj::new().set("report", report), changes)
    })
}

/// Deliveries of the route were dead-lettered.
#[wasm_bindgen(unchecked_return_type = "HealthAnswer")]
pub fn health_dead_lettered(
    env: &JsValue,
    name: &str,
    text: &str,
    now_ms: f64,
    count: u32,
    held: f64,
) -> JsValue {
    with_health(env, name, text, now_ms, held, |health, _, now| {
        (Obj::new(), health.dead_lettered(now, u64::from(count)))
    })
}

/// The admin API's view of the route (SPEC section 10).
#[wasm_bindgen]
pub fn health_report(text: &str, now_ms: f64, held: f64) -> String {
    Health::from_text(text).report(now_ms as i64, held as u64)
}

/// The line of a route's object that could not be asked.
#[wasm_bindgen]
pub fn health_unreachable(route: &str, error: &str) -> String {
    HealthLog {
        warning: "health_unreachable",
        route: Some(route),
        error: Some(error),
        ..Default::default()
    }
    .line()
}

/// The line of a drained delivery that failed and could not go back to the
/// queue: it stays held.
#[wasm_bindgen]
pub fn health_requeue_failed(route: &str, error: &str) -> String {
    HealthLog {
        warning: "requeue_failed",
        route: Some(route),
        error: Some(error),
        ..Default::default()
    }
    .line()
}

/// An alert's POST got `status` (0: no answer) on try `tries`: `{ retry_ms }`
/// to try again, else done, with a `line` when it was given up.
#[wasm_bindgen(unchecked_return_type = "{ retry_ms?: number; line?: string }")]
pub fn alert_next(route: &str, status: u16, tries: u32) -> JsValue {
    if (200..300).contains(&status) {
        return Obj::new().into_value();
    }
    match alert_retry_delay_ms(tries) {
        Some(ms) => Obj::new().set("retry_ms", ms as f64).into_value(),
        None => Obj::new()
            .set(
                "line",
                HealthLog {
                    warning: "alert_not_delivered",
                    route: Some(route),
                    status: Some(status).filter(|&status| status > 0),
                    tries: Some(tries),
                    ..Default::default()
                }
                .line(),
            )
            .into_value(),
    }
}
