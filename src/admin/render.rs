//! The admin API's answers, from the rows D1 returned (as JSON, one array of
//! row objects per statement).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::json;
use crate::event_log::time::rfc3339;

/// A row of `events`, with its routes as the JSON text SQLite built.
#[derive(Debug, Deserialize)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub event: String,
    pub message_id: Option<String>,
    pub timestamp: String,
    pub received_at: i64,
    pub status: String,
    pub redeliveries: i64,
    pub routes: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DeliveryRow {
    pub route: String,
    pub status: String,
}

#[derive(Debug, Deserialize)]
pub struct AttemptRow {
    pub route: String,
    pub attempt: i64,
    pub at: i64,
    pub duration_ms: i64,
    pub outcome: String,
    pub status: Option<i64>,
    pub headers: Option<String>,
    pub body: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CountRow {
    pub hour: i64,
    pub name: String,
    pub count: i64,
}

/// JSON text kept by the log, embedded as it is; `null` if it is not JSON.
fn raw(text: Option<&str>) -> Option<Box<RawValue>> {
    text.and_then(|text| RawValue::from_string(text.to_string()).ok())
}

#[derive(Serialize)]
struct EventOut<'a> {
    id: &'a str,
    event: &'a str,
    message_id: Option<&'a str>,
    timestamp: &'a str,
    received_at: String,
    status: &'a str,
    redeliveries: i64,
    routes: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<Vec<DeliveryOut<'a>>>,
}

#[derive(Serialize)]
struct DeliveryOut<'a> {
    route: &'a str,
    status: &'a str,
    attempts: Vec<AttemptOut<'a>>,
}

#[derive(Serialize)]
struct AttemptOut<'a> {
    attempt: i64,
    at: String,
    duration_ms: i64,
    outcome: &'a str,
    status: Option<i64>,
    headers: Option<Box<RawValue>>,
    body: Option<&'a str>,
    error: Option<&'a str>,
}

fn event_out(row: &EventRow) -> EventOut<'_> {
    EventOut {
        id: &row.id,
        event: &row.event,
        message_id: row.message_id.as_deref(),
        timestamp: &row.timestamp,
        received_at: rfc3339(row.received_at),
        status: &row.status,
        redeliveries: row.redeliveries,
        routes: raw(row.routes.as_deref()).or_else(|| raw(Some("[]"))),
        body: None,
        deliveries: None,
    }
}

/// `{"events":[…],"next_cursor":…}` from up to `limit + 1` rows.
pub fn list(rows: &[EventRow], limit: u32) -> String {
    #[derive(Serialize)]
    struct List<'a> {
        events: Vec<EventOut<'a>>,
        next_cursor: Option<String>,
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page = rows.get(..limit.min(rows.len())).unwrap_or_default();
    let next_cursor = (rows.len() > limit)
        .then(|| page.last().map(|row| row.seq.to_string()))
        .flatten();
    json(&List {
        events: page.iter().map(event_out).collect(),
        next_cursor,
    })
}

/// One event with its body, deliveries and attempts.
pub fn event(row: &EventRow, deliveries: &[DeliveryRow], attempts: &[AttemptRow]) -> String {
    let mut out = event_out(row);
    out.body = row.body.as_deref();
    out.deliveries = Some(
        deliveries
            .iter()
            .map(|delivery| DeliveryOut {
                route: &delivery.route,
                status: &delivery.status,
                attempts: attempts
                    .iter()
                    .filter(|attempt| attempt.route == delivery.route)
                    .map(|attempt| AttemptOut {
                        attempt: attempt.attempt,
                        at: rfc3339(attempt.at),
                        duration_ms: attempt.duration_ms,
                        outcome: &attempt.outcome,
                        status: attempt.status,
                        headers: raw(attempt.headers.as_deref()),
                        body: attempt.body.as_deref(),
                        error: attempt.error.as_deref(),
                    })
                    .collect(),
            })
            .collect(),
    );
    json(&out)
}

#[derive(Serialize, Default)]
struct HourOut {
    hour: String,
    accepted: i64,
    duplicate: i64,
    rejected: BTreeMap<String, i64>,
    delivered: i64,
    failed: i64,
}

/// `{"hours":[…]}`, oldest first, one entry per hour that has a count.
pub fn stats(rows: &[CountRow]) -> String {
    #[derive(Serialize)]
    struct Stats {
        hours: Vec<HourOut>,
    }
    let mut hours: Vec<(i64, HourOut)> = Vec::new();
    for row in rows {
        if hours.last().is_none_or(|(hour, _)| *hour != row.hour) {
            hours.push((
                row.hour,
                HourOut {
                    hour: rfc3339(row.hour.saturating_mul(1000)),
                    ..HourOut::default()
                },
            ));
        }
        let Some((_, out)) = hours.last_mut() else {
            continue;
        };
        match row.name.as_str() {
            "accepted" => out.accepted += row.count,
            "duplicate" => out.duplicate += row.count,
            "delivered" => out.delivered += row.count,
            "failed" => out.failed += row.count,
            name => {
                if let Some(code) = name.strip_prefix("rejected:") {
                    *out.rejected.entry(code.to_string()).or_default() += row.count;
                }
            }
        }
    }
    json(&Stats {
        hours: hours.into_iter().map(|(_, out)| out).collect(),
    })
}

/// `{"replayed":[routes]}`.
pub fn replayed_routes(routes: &[String]) -> String {
    #[derive(Serialize)]
    struct Replayed<'a> {
        replayed: &'a [String],
    }
    json(&Replayed { replayed: routes })
}

/// `{"replayed":N,"next_cursor":…}`.
pub fn replayed_count(count: usize, next_cursor: Option<i64>) -> String {
    #[derive(Serialize)]
    struct Replayed {
        replayed: usize,
        next_cursor: Option<String>,
    }
    json(&Replayed {
        replayed: count,
        next_cursor: next_cursor.map(|seq| seq.to_string()),
    })
}
