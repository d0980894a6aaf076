//! What each step writes: an accepted event, a redelivery, a rejection, a
//! delivery attempt, a dead letter. An event is one row whose `routes` JSON
//! holds its deliveries and their attempts (see `schema.rs`). Every write is
//! an upsert of that row, so the order in which the ingress, the queue
//! consumer and the dead-letter consumer reach the shard does not matter: the
//! ingress's write runs after the answer and may land after the first
//! attempt's, which then writes the event from its own message.

use super::shard::Shard;
use super::statement::{Param, Statement};
use super::time::hour_of;
use super::vocabulary::{AttemptOutcome, Status};
use crate::json_writer::{value_text, JsonObject};
use crate::text::joined;

/// An upsert of the event: its fields `?1` to `?6` (its name `?2` and
/// timestamp `?4` are read from its body), its key `$seq`, its
/// `routes` if new, else `routes` set to `$update` where `$guard` holds. Its
/// key is taken already only by itself (the same arrival) or, once in many
/// years of traffic, by another event's: that one is not overwritten. A
/// second copy LeadNest's racing deliveries got accepted has another key and
/// the same id: it is merged into the first.
macro_rules! upsert_event {
    ($seq:literal, $routes:literal, $update:expr, $guard:expr) => {
        concat!(
            "INSERT INTO events (seq, id_key, message_id, received_at, body, routes) \
VALUES (CAST(",
            $seq,
            " AS INTEGER), COALESCE(",
            crate::id_key!("?1"),
            ", CAST(?1 AS BLOB)), ?3, ?5, ?6, ",
            $routes,
            ") ON CONFLICT (seq) DO UPDATE SET routes = ",
            $update,
            " WHERE id_key = excluded.id_key AND ",
            $guard,
            " ON CONFLICT (id_key) DO UPDATE SET routes = ",
            $update,
            " WHERE ",
            $guard
        )
    };
}
/// The path of the route `?7` in `routes`: route names are letters, digits,
/// `-` and `_` (routes.rs), so quoting them is enough.
macro_rules! route {
    ($tail:literal) => {
        concat!("'$.\"' || ?7 || '\"", $tail, "'")
    };
}
/// The ingress's: its routes, each pending (or delivered, a queue route's
/// send), merged under what attempts already wrote. A second copy the dedup
/// store let through (two racing first deliveries) is not a second event; it
/// was answered `accepted`, so it is no redelivery either (SPEC section 8
/// counts those answered `duplicate`).
const INSERT_EVENT: &str = upsert_event!(
    "?8",
    "json(?7)",
    "json_patch(excluded.routes, routes)",
    "json_patch(excluded.routes, routes) != routes"
);
const COUNT_REDELIVERIES: &str = "INSERT INTO redeliveries (event_id, count, last_at) VALUES (?1, ?2, ?3) \
ON CONFLICT (event_id) DO UPDATE SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)";
/// An attempt of the route `?7`, `?9` its JSON, after which the delivery is
/// `?8`. An attempt's number is its place in its delivery's list, so a
/// replay's continue the count. The event is written from the attempt's
/// message if the ingress's write has not landed (or never will).
const ATTEMPT: &str = upsert_event!(
    "?10",
    "json_object(?7, json_object('status', ?8, 'attempts', json_array(json(?9))))",
    concat!(
        "json_set(routes, ",
        route!(""),
        ", json_object('status', ?8, 'attempts', json_insert(",
        "COALESCE(json_extract(routes, ",
        route!(".attempts"),
        "), json_array()), '$[#]', ",
        "json(?9))))"
    ),
    "true"
);
/// A dead letter's: failed, and no longer held, unless the delivery's latest
/// attempt delivered it (a replay that succeeded before the dead letter of an
/// earlier run arrived). A later record turns a delivered delivery back to
/// failed only when it comes from a later attempt.
const DEAD_LETTER_FAILED: &str = upsert_event!(
    "?8",
    "json_object(?7, json_object('status', 'failed', 'attempts', json_array()))",
    concat!(
        "json_set(json_remove(routes, ",
        route!(".held"),
        "), ",
        route!(".status"),
        ", 'failed')"
    ),
    concat!(
        "COALESCE(json_extract(routes, ",
        route!(".status"),
        "), '') != 'failed' AND ",
        "COALESCE(json_extract(routes, ",
        route!(".attempts[#-1].outcome"),
        "), '') != 'delivered'"
    )
);
/// A held delivery's, at `?9` (SPEC section 10): pending, marked held (read
/// back as `held`, see `schema.rs`), its attempts as they are. Not when the
/// delivery is held already (no write); nor when its latest attempt delivered
/// it: a delivery is `delivered` only then (a replay sets it pending again,
/// and the replay's delivery may be held); nor when an attempt at or after
/// `?9` landed first: the delivery was sent on since, and that attempt's
/// record says where it stands. An attempt rewrites the delivery with its own
/// status, which ends the mark.
const HELD_PENDING: &str = upsert_event!(
    "?8",
    "json_object(?7, json_object('status', 'pending', 'held', json('true'), 'attempts', json_array()))",
    concat!(
        "json_set(routes, ",
        route!(".status"),
        ", 'pending', ",
        route!(".held"),
        ", json('true'))"
    ),
    concat!(
        "json_extract(routes, ",
        route!(".held"),
        ") IS NULL AND COALESCE(json_extract(routes, ",
        route!(".status"),
        "), '') != 'delivered' AND COALESCE(json_extract(routes, ",
        route!(".attempts[#-1].at"),
        "), 0) < ?9"
    )
);
const COUNT: &str = "INSERT INTO counts (hour, name, count) VALUES (?1, ?2, ?3) \
ON CONFLICT (hour, name) DO UPDATE SET count = count + excluded.count";
/// A replay sets a delivery of the route `?2` back to pending, unless an
/// attempt made since the replay began (`?3`) already settled it (its message
/// may be consumed first).
const REPLAY_PENDING: &str = concat!(
    "UPDATE events SET routes = json_set(routes, '$.\"' || ?2 || '\".status', 'pending', \
'$.\"' || ?2 || '\".replay', json('true')) WHERE id_key = ",
    crate::id_key!("?1"),
    " AND json_type(routes, '$.\"' || ?2 || '\"') IS NOT NULL \
AND COALESCE(json_extract(routes, '$.\"' || ?2 || '\".attempts[#-1].at'), 0) < ?3"
);

/// Rows purged per statement: one purge is many small transactions, not one
/// that holds the shard.
pub const PURGE_CHUNK: i64 = 500;
/// Redelivery counts of events that are not kept (or never reached the log),
/// then the events: run in that order. An event with a held delivery is kept
/// whatever its age (SPEC section 10); a failed one, or one a replay has not
/// yet delivered, while `?2` is 1, until its window is past
/// `FAILED_RETENTION_DAYS`.
const PURGE_REDELIVERIES: &str = concat!(
    "DELETE FROM redeliveries WHERE event_id IN ",
    "(SELECT r.event_id FROM redeliveries r WHERE NOT EXISTS ",
    "(SELECT 1 FROM events e WHERE e.id_key = ",
    crate::id_key!("r.event_id"),
    " AND ((e.status = 'failed' OR ",
    crate::replaying_sql!(),
    ") AND ?2 OR ",
    crate::held_sql!(),
    ")) LIMIT ?1)"
);
const PURGE_EVENTS: &str = concat!(
    "DELETE FROM events WHERE seq IN ",
    "(SELECT seq FROM events WHERE NOT ((status = 'failed' OR ",
    crate::replaying_sql!(),
    ") AND ?2) AND NOT ",
    crate::held_sql!(),
    " LIMIT ?1)"
);

/// How a route takes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// POSTed by the worker: pending until an attempt delivers it.
    Http,
    /// Sent to a Cloudflare Queue before the answer: delivered by then.
    Queue,
}

/// An event the ingress accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedEvent {
    /// Its `webhook-id`.
    pub id: String,
    pub event: String,
    pub message_id: Option<String>,
    /// As LeadNest sent it.
    pub timestamp: String,
    pub received_at_ms: i64,
    /// Exactly as received: verified UTF-8 JSON.
    pub body: String,
    pub routes: Vec<(String, RouteKind)>,
}

impl AcceptedEvent {
    /// Where the log keeps it.
    pub fn shard(&self) -> Shard {
        Shard::of_event(&self.timestamp, &self.id, self.received_at_ms)
    }

    /// Its key in its shard, as a parameter: in decimal, since a JavaScript
    /// number holds 53 bits (the statements cast it back).
    pub fn seq(&self) -> Param {
        Param::Text(self.shard().seq(self.received_at_ms, &self.id).to_string())
    }
}

/// What one ingress request leaves in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Accepted(AcceptedEvent),
    /// A redelivery answered `duplicate`, of the event with this `webhook-id`
    /// and `timestamp` (which say where the event is kept).
    Duplicate {
        id: String,
        timestamp: String,
        at_ms: i64,
    },
    /// A refused request: counted, never stored.
    Rejected {
        code: &'static str,
        at_ms: i64,
    },
    /// One more of `name` in its hour (a delivery settled).
    Counted {
        name: &'static str,
        at_ms: i64,
    },
}

impl Entry {
    /// Where the entry is written.
    pub fn shard(&self) -> Shard {
        match self {
            Self::Accepted(event) => event.shard(),
            Self::Duplicate {
                id,
                timestamp,
                at_ms,
            } => Shard::of_event(timestamp, id, *at_ms),
            Self::Rejected { at_ms, .. } | Self::Counted { at_ms, .. } => Shard::for_counts(*at_ms),
        }
    }

    /// The entry written on its own. [`Pending`](super::Pending) writes many at
    /// once, counts added up.
    pub fn statements(&self) -> Vec<Statement> {
        match self {
            Self::Accepted(event) => {
                let mut statements = accepted_rows(event);
                statements
                    .extend(accepted_counts(event).map(|name| count(event.received_at_ms, name)));
                statements
            }
            Self::Duplicate { id, at_ms, .. } => {
                vec![redeliveries(id, 1, *at_ms), count(*at_ms, "duplicate")]
            }
            Self::Rejected { code, at_ms } => vec![count(*at_ms, &format!("rejected:{code}"))],
            Self::Counted { name, at_ms } => vec![count(*at_ms, name)],
        }
    }
}

/// The counts an accepted event adds to its hour: itself, and each queue
/// route's delivery (sent before the answer).
pub(super) fn accepted_counts(event: &AcceptedEvent) -> impl Iterator<Item = &'static str> + '_ {
    std::iter::once("accepted").chain(
        event
            .routes
            .iter()
            .filter(|(_, kind)| *kind == RouteKind::Queue)
            .map(|_| Status::Delivered.as_str()),
    )
}

/// `n` more redeliveries of the event `id`, the latest at `last_ms`.
pub(super) fn redeliveries(id: &str, n: i64, last_ms: i64) -> Statement {
    Statement::new(
        COUNT_REDELIVERIES,
        vec![id.into(), n.into(), last_ms.into()],
    )
}

/// `?1` to `?6` of every event upsert: the event as the log keeps it.
fn event_params(event: &AcceptedEvent) -> Vec<Param> {
    vec![
        event.id.as_str().into(),
        event.event.as_str().into(),
        event.message_id.as_deref().into(),
        event.timestamp.as_str().into(),
        event.received_at_ms.into(),
        event.body.as_str().into(),
    ]
}

pub(super) fn accepted_rows(event: &AcceptedEvent) -> Vec<Statement> {
    let mut routes = serde_json::Map::new();
    for (route, kind) in &event.routes {
        // Built as values, not with `json!`/`to_value`, and written by
        // `value_text`: no serializer of serde_json's in the bundle. The
        // attempt is read back from the text `record` writes.
        let mut delivery = serde_json::Map::new();
        let status = match kind {
            RouteKind::Http => Status::Pending,
            RouteKind::Queue => {
                let sent = AttemptEntry::sent(event, route, event.received_at_ms);
                let attempt = serde_json::from_str(&sent.json()).unwrap_or_default();
                delivery.insert("attempts".into(), serde_json::Value::Array(vec![attempt]));
                Status::Delivered
            }
        };
        delivery.insert("status".into(), status.as_str().into());
        routes.insert(route.clone(), serde_json::Value::Object(delivery));
    }
    let mut params = event_params(event);
    // Statuses and an attempt's text and whole numbers: no float.
    let routes = value_text(&serde_json::Value::Object(routes));
    params.push(routes.into());
    params.push(event.seq());
    vec![Statement::new(INSERT_EVENT, params)]
}

/// One attempt of a delivery and the delivery's status after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEntry {
    /// Its event, written with the attempt if the log does not hold it yet.
    pub event: AcceptedEvent,
    pub route: String,
    pub at_ms: i64,
    pub duration_ms: i64,
    /// What it came to; the delivery's status follows from it.
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    /// The response's headers as a JSON object.
    pub headers: Option<String>,
    /// The first bytes of the response's body, as text.
    pub body: Option<String>,
    /// Why there was no answer, or why its body stopped early.
    pub error: Option<&'static str>,
}

impl AttemptEntry {
    /// A queue route's send: delivered once the send succeeded.
    pub fn sent(event: &AcceptedEvent, route: &str, at_ms: i64) -> Self {
        Self {
            event: AcceptedEvent {
                routes: Vec::new(),
                ..event.clone()
            },
            route: route.to_string(),
            at_ms,
            duration_ms: 0,
            outcome: AttemptOutcome::Sent,
            status: None,
            headers: None,
            body: None,
            error: None,
        }
    }

    /// Where its event is kept.
    pub fn shard(&self) -> Shard {
        self.event.shard()
    }

    /// The attempt as `routes` keeps it: `{"at","ms","outcome","status"?,
    /// "headers"?,"body"?,"error"?}`, the headers and body as text; without
    /// its number (its place in the list) and with short names: every byte
    /// of a row is stored, and a row of three rather than two to a page
    /// halves what a page wastes. What is absent is left out: a delivered
    /// attempt is its time, its duration, its outcome and its status.
    fn json(&self) -> String {
        JsonObject::new()
            .number("at", self.at_ms)
            .number("ms", self.duration_ms)
            .text("outcome", self.outcome.as_str())
            .maybe_number("status", self.status.map(i64::from))
            .maybe_text("headers", self.headers.as_deref())
            .maybe_text("body", self.body.as_deref())
            .maybe_text("error", self.error)
            .end()
    }

    /// The attempt and the delivery's status after it, as one upsert of its
    /// event's row.
    pub fn record(&self) -> Statement {
        let delivery = self.outcome.status();
        let mut params = event_params(&self.event);
        params.push(self.route.as_str().into());
        params.push(delivery.as_str().into());
        params.push(self.json().into());
        params.push(self.event.seq());
        Statement::new(ATTEMPT, params)
    }

    /// What it adds to its hour's counts: a delivery it settled. The queue
    /// consumer keeps it with the isolate's pending writes, added up there,
    /// rather than writing a count in every shard a batch touches.
    pub fn counted(&self) -> Option<Entry> {
        let delivery = self.outcome.status();
        (delivery != Status::Pending).then(|| Entry::Counted {
            name: delivery.as_str(),
            at_ms: self.at_ms,
        })
    }

    /// [`record`](Self::record) and its count, written together.
    pub fn statements(&self) -> Vec<Statement> {
        let mut statements = vec![self.record()];
        statements.extend(
            self.counted()
                .map(|counted| counted.statements())
                .unwrap_or_default(),
        );
        statements
    }
}

/// A delivery whose retries are spent: what the dead-letter consumer writes
/// before it lets the message go. The message carries the whole event, so the
/// event is written too if the ingress's write never landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub event: AcceptedEvent,
    pub route: String,
    pub at_ms: i64,
}

impl DeadLetter {
    pub fn statements(&self) -> Vec<Statement> {
        let mut params = event_params(&self.event);
        params.push(self.route.as_str().into());
        params.push(self.event.seq());
        vec![
            Statement::new(DEAD_LETTER_FAILED, params),
            count(self.at_ms, Status::Failed.as_str()),
        ]
    }
}

/// A delivery not attempted because its route is paused or tripped (SPEC
/// section 10): held, no retry spent, until the route is active again. The
/// driver writes it once the route's state holds the delivery; the delivery's
/// message carries the whole event, so the event is written too if the
/// ingress's write has not landed. Its event is `pending` (or `failed`) and is
/// kept by the retention, whatever its age, while the delivery is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldDelivery {
    pub event: AcceptedEvent,
    pub route: String,
    /// When the route's state held it.
    pub at_ms: i64,
}

impl HeldDelivery {
    /// Where its event is kept.
    pub fn shard(&self) -> Shard {
        self.event.shard()
    }

    /// One upsert of its event's row; no count (the route's state counts
    /// what it holds, and a count would be a row written per delivery held).
    pub fn statements(&self) -> Vec<Statement> {
        let mut params = event_params(&self.event);
        params.push(self.route.as_str().into());
        params.push(self.event.seq());
        params.push(self.at_ms.into());
        vec![Statement::new(HELD_PENDING, params)]
    }
}

/// Attempts of one event on different routes, as one upsert of its row: a
/// queue batch often holds every route's delivery of an event, and each
/// update of the row is metered. Other statements, and attempts of one route
/// more than once, stay as they are, in order.
pub fn merge_attempts(statements: Vec<Statement>) -> Vec<Statement> {
    let mut merged: Vec<Statement> = Vec::with_capacity(statements.len());
    // Per event: where its merged statement is, and its routes so far.
    let mut events: Vec<(String, usize, Vec<String>)> = Vec::new();
    for statement in statements {
        let attempt = (statement.sql == ATTEMPT)
            .then(|| match statement.params.as_slice() {
                [Param::Text(id), .., Param::Text(route), _, _, Param::Text(_)] => {
                    Some((id.clone(), route.clone()))
                }
                _ => None,
            })
            .flatten();
        let Some((id, route)) = attempt else {
            merged.push(statement);
            continue;
        };
        match events.iter_mut().find(|(event, ..)| *event == id) {
            Some((_, at, routes)) if !routes.contains(&route) => {
                routes.push(route);
                if let Some(into) = merged.get_mut(*at) {
                    *into = merge_into(into, &statement);
                }
            }
            _ => {
                events.push((id, merged.len(), vec![route]));
                merged.push(statement);
            }
        }
    }
    merged
}

/// `into` (an attempt, or attempts merged before) with the attempt `more`
/// of another route: its event `?1`–`?6` and key `?7`, then per route its
/// name, the delivery's status and the attempt, three parameters each.
fn merge_into(into: &Statement, more: &Statement) -> Statement {
    // Each as (event, key, [(route, status, attempt)]).
    let split = |statement: &Statement| -> (Vec<Param>, Param, Vec<Param>) {
        let params = &statement.params;
        if statement.sql == ATTEMPT {
            let event = params.get(..6).unwrap_or_default().to_vec();
            let routes = params.get(6..9).unwrap_or_default().to_vec();
            let seq = params.get(9).cloned().unwrap_or(Param::Null);
            (event, seq, routes)
        } else {
            let event = params.get(..6).unwrap_or_default().to_vec();
            let seq = params.get(6).cloned().unwrap_or(Param::Null);
            (event, seq, params.get(7..).unwrap_or_default().to_vec())
        }
    };
    let (event, seq, mut routes) = split(into);
    routes.extend(split(more).2);
    let n = routes.len() / 3;
    let route = |i: usize, tail: &str| format!("'$.\"' || ?{} || '\"{tail}'", 8 + 3 * i);
    let fresh: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "?{}, json_object('status', ?{}, 'attempts', json_array(json(?{})))",
                8 + 3 * i,
                9 + 3 * i,
                10 + 3 * i
            )
        })
        .collect();
    let mut update = String::from("routes");
    for i in 0..n {
        update = format!(
            "json_set({update}, {path}, json_object('status', ?{status}, 'attempts', json_insert(\
COALESCE(json_extract(routes, {attempts}), json_array()), '$[#]', \
json(?{attempt}))))",
            path = route(i, ""),
            attempts = route(i, ".attempts"),
            status = 9 + 3 * i,
            attempt = 10 + 3 * i,
        );
    }
    let sql = format!(
        "INSERT INTO events (seq, id_key, message_id, received_at, body, routes) \
VALUES (CAST(?7 AS INTEGER), COALESCE({key}, CAST(?1 AS BLOB)), ?3, ?5, ?6, json_object({})) \
ON CONFLICT (seq) DO UPDATE SET routes = {update} WHERE id_key = excluded.id_key \
ON CONFLICT (id_key) DO UPDATE SET routes = {update}",
        joined(&fresh, ", "),
        key = super::schema::ID_KEY
    );
    let mut params = event;
    params.push(seq);
    params.extend(routes);
    Statement {
        sql: sql.into(),
        params,
    }
}

/// A replay of `routes` of the event `id`, begun at `at_ms`: back to pending.
pub fn replay_pending(id: &str, routes: &[String], at_ms: i64) -> Vec<Statement> {
    routes
        .iter()
        .map(|route| {
            Statement::new(
                REPLAY_PENDING,
                vec![id.into(), route.as_str().into(), at_ms.into()],
            )
        })
        .collect()
}

/// One round of the purge of a window past `EVENT_RETENTION_DAYS` that keeps
/// failed events: up to [`PURGE_CHUNK`] events that are neither failed nor
/// held, and as many redelivery counts of events not kept. Failed and held
/// events stay, and the window's counts stay, until the window is dropped
/// whole. The driver repeats it while [`purge_continues`] says so.
pub fn purge_all_but_failed() -> Vec<Statement> {
    purge(1)
}

/// The same past `FAILED_RETENTION_DAYS` in a window that holds a held
/// delivery, and so is never dropped whole: only events with a held delivery
/// stay.
pub fn purge_all_but_held() -> Vec<Statement> {
    purge(0)
}

/// A round of the purge, failed events kept if `keep_failed` is 1.
fn purge(keep_failed: i64) -> Vec<Statement> {
    let params = vec![Param::Int(PURGE_CHUNK), Param::Int(keep_failed)];
    vec![
        Statement::new(PURGE_REDELIVERIES, params.clone()),
        Statement::new(PURGE_EVENTS, params),
    ]
}

/// Whether another round is due, given how many rows each statement of the
/// last one deleted: one of them deleted a whole chunk.
pub fn purge_continues(deleted: &[i64]) -> bool {
    deleted.iter().any(|&n| n >= PURGE_CHUNK)
}

/// What a batch that could not be written takes with it, read from its
/// statements: the records it held (accepted events, delivery attempts, a
/// queue route's send included, held deliveries), counted `lost` where the
/// log shows its counts; and its counts and redeliveries, which are only
/// sums, so [`Pending`](super::Pending) adds them up again and writes them
/// with the next flush.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unwritten {
    pub(super) records: i64,
    pub(super) counts: Vec<(Shard, i64, String, i64)>,
    pub(super) redeliveries: Vec<(Shard, String, i64, i64)>,
}

impl Unwritten {
    /// What `statements`, a batch for `shard`, held.
    pub fn of(shard: Shard, statements: &[Statement]) -> Self {
        let mut unwritten = Self::default();
        for statement in statements {
            match (&*statement.sql, statement.params.as_slice()) {
                (INSERT_EVENT | ATTEMPT | HELD_PENDING, _) => unwritten.records += 1,
                (COUNT, [Param::Int(hour), Param::Text(name), Param::Int(n)]) => {
                    unwritten.counts.push((shard, *hour, name.clone(), *n));
                }
                (COUNT_REDELIVERIES, [Param::Text(id), Param::Int(n), Param::Int(last)]) => {
                    unwritten.redeliveries.push((shard, id.clone(), *n, *last));
                }
                _ => {}
            }
        }
        unwritten
    }

    /// How many records were lost.
    pub fn records(&self) -> i64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0 && self.counts.is_empty() && self.redeliveries.is_empty()
    }
}

fn count(at_ms: i64, name: &str) -> Statement {
    counts(hour_of(at_ms), name, 1)
}

/// `n` more of `name` in the hour starting at `hour` (unix seconds).
pub(super) fn counts(hour: i64, name: &str, n: i64) -> Statement {
    Statement::new(COUNT, vec![hour.into(), name.into(), Param::Int(n)])
}
