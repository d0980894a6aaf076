//! What each step writes: an accepted event, a redelivery, a rejection, a
//! delivery attempt, a dead letter. Every write is an upsert or is guarded, so
//! the order in which the ingress, the queue consumer and the dead-letter
//! consumer reach D1 does not matter: the ingress's write runs after the answer
//! and may land after the first attempt's.

use super::shard::Shard;
use super::statement::{Param, Statement};
use super::time::hour_of;
use super::vocabulary::{AttemptOutcome, Status};

/// A second copy the dedup store let through (two racing first deliveries)
/// is not a second event; it was answered `accepted`, so it is no redelivery
/// either (SPEC section 8 counts those answered `duplicate`).
const INSERT_EVENT: &str =
    "INSERT INTO events (id, event, message_id, timestamp, received_at, body, status) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING";
/// The dead-letter consumer's: the event as its message carries it, if the
/// ingress's own write never landed.
const INSERT_EVENT_IF_MISSING: &str =
    "INSERT INTO events (id, event, message_id, timestamp, received_at, body, status) \
VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending') ON CONFLICT (id) DO NOTHING";
const COUNT_REDELIVERIES: &str = "INSERT INTO redeliveries (event_id, count, last_at) VALUES (?1, ?2, ?3) \
ON CONFLICT (event_id) DO UPDATE SET count = count + excluded.count, last_at = max(last_at, excluded.last_at)";
/// The ingress's: a delivery an attempt already wrote keeps its status.
const INSERT_DELIVERY: &str =
    "INSERT INTO deliveries (event_id, route, status) VALUES (?1, ?2, ?3) \
ON CONFLICT (event_id, route) DO NOTHING";
const SET_DELIVERY: &str = "INSERT INTO deliveries (event_id, route, status) VALUES (?1, ?2, ?3) \
ON CONFLICT (event_id, route) DO UPDATE SET status = excluded.status WHERE status != excluded.status";
/// A dead letter's: failed, unless the delivery's latest attempt delivered it
/// (a replay that succeeded before the dead letter of an earlier run arrived).
/// A later record turns a delivered delivery back to failed only when it comes
/// from a later attempt.
const DEAD_LETTER_FAILED: &str = "INSERT INTO deliveries (event_id, route, status) VALUES (?1, ?2, 'failed') \
ON CONFLICT (event_id, route) DO UPDATE SET status = 'failed' \
WHERE status != 'failed' AND COALESCE((SELECT outcome FROM attempts WHERE event_id = ?1 AND route = ?2 ORDER BY attempt DESC LIMIT 1), '') != 'delivered'";
/// Attempts are numbered per delivery, so a replay's continue the count.
const INSERT_ATTEMPT: &str = "INSERT INTO attempts (event_id, route, attempt, at, duration_ms, outcome, status, headers, body, error) \
VALUES (?1, ?2, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM attempts WHERE event_id = ?1 AND route = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
/// SPEC section 8: `delivered` when every route is, `failed` when any failed,
/// `unrouted` with no route, else `pending`.
macro_rules! event_status {
    () => {
        "CASE \
WHEN NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1) THEN 'unrouted' \
WHEN EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1 AND status = 'failed') THEN 'failed' \
WHEN EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1 AND status = 'pending') THEN 'pending' \
ELSE 'delivered' END"
    };
}
/// Written only when it changes: an unchanged row would still be metered.
const EVENT_STATUS: &str = concat!(
    "UPDATE events SET status = ",
    event_status!(),
    " WHERE id = ?1 AND status != ",
    event_status!()
);
const COUNT: &str = "INSERT INTO counts (hour, name, count) VALUES (?1, ?2, ?3) \
ON CONFLICT (hour, name) DO UPDATE SET count = count + excluded.count";
/// A replay sets a delivery back to pending, unless an attempt made since the
/// replay began already settled it (its message may be consumed first).
const REPLAY_PENDING: &str =
    "UPDATE deliveries SET status = 'pending' WHERE event_id = ?1 AND route = ?2 \
AND NOT EXISTS (SELECT 1 FROM attempts WHERE event_id = ?1 AND route = ?2 AND at >= ?3)";

/// Rows purged per statement: one purge is many small transactions, not one
/// that holds the database.
pub const PURGE_CHUNK: i64 = 500;
/// Every purge statement takes `?1` the cutoff, `?2` the chunk and `?3` the
/// failed events' cutoff: an event with a failed delivery is kept until then
/// (its dead letter was acked once logged, so the log is its only copy), or
/// until a replay delivers it.
macro_rules! purged_event {
    ($e:literal) => {
        concat!(
            $e,
            ".received_at < ?1 AND (",
            $e,
            ".status != 'failed' OR ",
            $e,
            ".received_at < ?3)"
        )
    };
}
/// Whether the event `id` is a failed one the purge keeps.
macro_rules! kept_failed {
    ($id:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM events k WHERE k.id = ",
            $id,
            " AND k.status = 'failed' AND k.received_at >= ?3)"
        )
    };
}
/// Attempts by age, unless their event is a kept failure: an attempt follows
/// its event's arrival, so one older than the cutoff belongs to a purged event.
const PURGE_ATTEMPTS: &str = concat!(
    "DELETE FROM attempts WHERE (event_id, route, attempt) IN \
(SELECT a.event_id, a.route, a.attempt FROM attempts a WHERE a.at < ?1 AND NOT ",
    kept_failed!("a.event_id"),
    " LIMIT ?2)"
);
const PURGE_DELIVERIES: &str = concat!(
    "DELETE FROM deliveries WHERE event_id IN (SELECT e.id FROM events e WHERE ",
    purged_event!("e"),
    " ORDER BY e.seq LIMIT ?2)"
);
/// Deliveries whose event never reached the log (its isolate died before the
/// flush), found through their attempts as those age out: run before them.
const PURGE_ORPHAN_DELIVERIES: &str = "DELETE FROM deliveries WHERE (event_id, route) IN \
(SELECT a.event_id, a.route FROM attempts a WHERE a.at < ?1 \
AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = a.event_id) LIMIT ?2)";
const PURGE_REDELIVERIES: &str = concat!(
    "DELETE FROM redeliveries WHERE event_id IN \
(SELECT r.event_id FROM redeliveries r WHERE r.last_at < ?1 AND NOT ",
    kept_failed!("r.event_id"),
    " LIMIT ?2)"
);
const PURGE_EVENTS: &str = concat!(
    "DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e WHERE ",
    purged_event!("e"),
    " ORDER BY e.seq LIMIT ?2)"
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
            Self::Rejected { at_ms, .. } => Shard::for_counts(*at_ms),
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

/// `?1` to `?6` of both event inserts: the event as the log keeps it.
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

/// The event, its deliveries and a queue route's attempt; not its counts.
pub(super) fn accepted_rows(event: &AcceptedEvent) -> Vec<Statement> {
    let id = || Param::from(event.id.as_str());
    let status = if event.routes.is_empty() {
        Status::Unrouted
    } else {
        Status::Pending
    };
    let mut params = event_params(event);
    params.push(status.as_str().into());
    let mut statements = vec![Statement::new(INSERT_EVENT, params)];
    for (route, kind) in &event.routes {
        match kind {
            RouteKind::Http => statements.push(Statement::new(
                INSERT_DELIVERY,
                vec![id(), route.as_str().into(), Status::Pending.as_str().into()],
            )),
            RouteKind::Queue => {
                statements.push(Statement::new(
                    SET_DELIVERY,
                    vec![
                        id(),
                        route.as_str().into(),
                        Status::Delivered.as_str().into(),
                    ],
                ));
                statements.push(attempt_row(&AttemptEntry::sent(
                    event.shard(),
                    &event.id,
                    route,
                    event.received_at_ms,
                )));
            }
        }
    }
    if !event.routes.is_empty() {
        statements.push(Statement::new(EVENT_STATUS, vec![id()]));
    }
    statements
}

/// One attempt of a delivery and the delivery's status after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEntry {
    /// Where its event is kept.
    pub shard: Shard,
    pub event_id: String,
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
    pub fn sent(shard: Shard, event_id: &str, route: &str, at_ms: i64) -> Self {
        Self {
            shard,
            event_id: event_id.to_string(),
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
}

fn attempt_row(entry: &AttemptEntry) -> Statement {
    Statement::new(
        INSERT_ATTEMPT,
        vec![
            entry.event_id.as_str().into(),
            entry.route.as_str().into(),
            entry.at_ms.into(),
            entry.duration_ms.into(),
            entry.outcome.as_str().into(),
            entry.status.map(i64::from).into(),
            entry.headers.clone().into(),
            entry.body.clone().into(),
            entry.error.into(),
        ],
    )
}

impl AttemptEntry {
    pub fn statements(&self) -> Vec<Statement> {
        let delivery = self.outcome.status();
        let mut statements = vec![
            attempt_row(self),
            Statement::new(
                SET_DELIVERY,
                vec![
                    self.event_id.as_str().into(),
                    self.route.as_str().into(),
                    delivery.as_str().into(),
                ],
            ),
            Statement::new(EVENT_STATUS, vec![self.event_id.as_str().into()]),
        ];
        if delivery != Status::Pending {
            statements.push(count(self.at_ms, delivery.as_str()));
        }
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
        let event = &self.event;
        let id = || Param::from(event.id.as_str());
        vec![
            Statement::new(INSERT_EVENT_IF_MISSING, event_params(event)),
            Statement::new(DEAD_LETTER_FAILED, vec![id(), self.route.as_str().into()]),
            Statement::new(EVENT_STATUS, vec![id()]),
            count(self.at_ms, Status::Failed.as_str()),
        ]
    }
}

/// A replay of `routes` of the event `id`, begun at `at_ms`: back to pending.
pub fn replay_pending(id: &str, routes: &[String], at_ms: i64) -> Vec<Statement> {
    let mut statements: Vec<Statement> = routes
        .iter()
        .map(|route| {
            Statement::new(
                REPLAY_PENDING,
                vec![id.into(), route.as_str().into(), at_ms.into()],
            )
        })
        .collect();
    statements.push(Statement::new(EVENT_STATUS, vec![id.into()]));
    statements
}

/// One round of the purge of a window past `EVENT_RETENTION_DAYS` that keeps
/// failed events: up to [`PURGE_CHUNK`] events that are not failed, with
/// their deliveries, as many attempts (with the deliveries of any whose event
/// never reached the log) and redelivery counts. Failed events stay with
/// their rows, and the window's counts stay, until the window is dropped
/// whole. The driver repeats it while [`purge_continues`] says so.
pub fn purge_all_but_failed() -> Vec<Statement> {
    // Later than any time kept; exact in a JavaScript number.
    const EVER_MS: i64 = 1 << 53;
    let args = || vec![Param::Int(EVER_MS), Param::Int(PURGE_CHUNK), Param::Int(0)];
    vec![
        Statement::new(
            PURGE_ORPHAN_DELIVERIES,
            vec![Param::Int(EVER_MS), Param::Int(PURGE_CHUNK)],
        ),
        Statement::new(PURGE_ATTEMPTS, args()),
        Statement::new(PURGE_REDELIVERIES, args()),
        Statement::new(PURGE_DELIVERIES, args()),
        Statement::new(PURGE_EVENTS, args()),
    ]
}

/// Whether another round is due, given how many rows each statement of the
/// last one deleted: one of them deleted a whole chunk.
pub fn purge_continues(deleted: &[i64]) -> bool {
    deleted.iter().any(|&n| n >= PURGE_CHUNK)
}

/// What a batch that could not be written takes with it, read from its
/// statements: the records it held (accepted events and delivery attempts, a
/// queue route's send included), counted `lost` where the log shows its
/// counts; and its counts and redeliveries, which are only sums, so
/// [`Pending`](super::Pending) adds them up again and writes them with the
/// next flush.
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
                (INSERT_EVENT | INSERT_ATTEMPT, _) => unwritten.records += 1,
                (COUNT, [Param::Int(hour), Param::Text(name), Param::Int(n)]) => {
                    unwritten.counts.push((shard, *hour, name.clone(), *n));
                }
                (COUNT_REDELIVERIES, [Param::Text(id), Param::Int(n), Param::Int(last)]) => {
                    unwritten
                        .redeliveries
                        .push((shard, id.clone(), *n, *last));
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
