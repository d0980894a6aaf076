//! The admin API's queries. Every value is a bound parameter; only the shape of
//! the `WHERE` clause is built, from fixed fragments.

use std::borrow::Cow;

use super::request::Filters;
use crate::event_log::{Param, Statement};
use crate::routes::Pattern;

// The answers are built by SQLite's JSON functions, so the worker only joins
// them: a row is `{"seq":…,"j":"<the event's JSON>"}`. `json(…)` around a
// subquery keeps its result JSON rather than text.

/// A unix-milliseconds column as RFC 3339 with milliseconds, in integers only.
macro_rules! time {
    ($column:literal) => {
        concat!(
            "(strftime('%Y-%m-%dT%H:%M:%S', ",
            $column,
            " / 1000, 'unixepoch') || printf('.%03dZ', ",
            $column,
            " % 1000))"
        )
    };
}

/// The fields of an event in the list, each route with its status and how many
/// attempts it has had.
const EVENT_FIELDS: &str = concat!(
    "'id', e.id, 'event', e.event, 'message_id', e.message_id, 'timestamp', e.timestamp, ",
    "'received_at', ", time!("e.received_at"), ", 'status', e.status, ",
    "'redeliveries', COALESCE((SELECT r.count FROM redeliveries r WHERE r.event_id = e.id), 0), ",
    "'routes', json((SELECT json_group_array(json_object('name', d.route, 'status', d.status, 'attempts', ",
    "(SELECT COUNT(*) FROM attempts a WHERE a.event_id = d.event_id AND a.route = d.route))) ",
    "FROM (SELECT * FROM deliveries WHERE event_id = e.id ORDER BY route) d))"
);

/// Each delivery of an event with every attempt, in order.
const DELIVERIES: &str = concat!(
    "'deliveries', json((SELECT json_group_array(json_object('route', d.route, 'status', d.status, ",
    "'attempts', json((SELECT json_group_array(json_object('attempt', a.attempt, 'at', ", time!("a.at"), ", ",
    "'duration_ms', a.duration_ms, 'outcome', a.outcome, 'status', a.status, 'headers', json(a.headers), ",
    "'body', a.body, 'error', a.error)) ",
    "FROM (SELECT * FROM attempts WHERE event_id = d.event_id AND route = d.route ORDER BY attempt) a)))) ",
    "FROM (SELECT * FROM deliveries WHERE event_id = e.id ORDER BY route) d))"
);

/// An hour's counts, each kind summed, rejections per code.
const HOUR_FIELDS: &str = concat!(
    "'hour', ", time!("(c.hour * 1000)"), ", ",
    "'accepted', SUM(CASE WHEN c.name = 'accepted' THEN c.count ELSE 0 END), ",
    "'duplicate', SUM(CASE WHEN c.name = 'duplicate' THEN c.count ELSE 0 END), ",
    "'rejected', json(COALESCE(json_group_object(substr(c.name, 10), c.count) FILTER (WHERE c.name LIKE 'rejected:%'), '{}')), ",
    "'delivered', SUM(CASE WHEN c.name = 'delivered' THEN c.count ELSE 0 END), ",
    "'failed', SUM(CASE WHEN c.name = 'failed' THEN c.count ELSE 0 END), ",
    "'log_writes_lost', SUM(CASE WHEN c.name = 'lost' THEN c.count ELSE 0 END)"
);

/// What the log holds and what it cost, from its own tables: the events kept,
/// the oldest of them, rows written (as the platform metered each write) and
/// events accepted in the window, and log writes lost since the first one.
/// `?1`/`?2` the window's hours. The bytes stored come from the platform's
/// meter of the query itself (D1's `size_after`).
const STORAGE: &str = concat!(
    "SELECT 0 AS seq, json_object(",
    "'shards', 1, ",
    "'events_kept', (SELECT COUNT(*) FROM events), ",
    "'oldest_event', (SELECT ", time!("MIN(received_at)"), " FROM events), ",
    "'rows_written', w.written, 'events_accepted', w.accepted, ",
    "'rows_written_per_event', CASE WHEN w.accepted > 0 THEN round(1.0 * w.written / w.accepted, 2) END, ",
    "'log_writes_lost', (SELECT COALESCE(SUM(count), 0) FROM counts WHERE name = 'lost'), ",
    "'lost_since', (SELECT ", time!("(MIN(hour) * 1000)"), " FROM counts WHERE name = 'lost')",
    ") AS j FROM (SELECT ",
    "(SELECT COALESCE(SUM(count), 0) FROM counts WHERE name = 'rows_written' AND hour >= ?1 AND hour < ?2) AS written, ",
    "(SELECT COALESCE(SUM(count), 0) FROM counts WHERE name = 'accepted' AND hour >= ?1 AND hour < ?2) AS accepted) w"
);

/// The list's order: by when events were received, ties in the order written.
const NEWEST_FIRST: &str = "ORDER BY e.received_at DESC, e.seq DESC";

/// How a route filter finds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteScan {
    /// From the route's deliveries (their index), then sorted: for a route few
    /// events take.
    FromRoute,
    /// Walking the events newest first, each checked for a delivery to the
    /// route: for a route many events take, a page fills within a few hundred.
    FromNewest,
}

impl RouteScan {
    /// The way for a route with `deliveries` among `events`: walking pays off
    /// from one event in eight.
    pub fn for_share(deliveries: u64, events: u64) -> Self {
        if deliveries.saturating_mul(8) >= events {
            Self::FromNewest
        } else {
            Self::FromRoute
        }
    }
}

/// How many deliveries the route `route` has, among how many events: what
/// [`RouteScan::for_share`] decides on. Both counted on an index.
pub fn route_share(route: &str) -> Statement {
    Statement::new(
        "SELECT (SELECT COUNT(*) FROM deliveries WHERE route = ?1) AS deliveries, \
(SELECT COUNT(*) FROM events) AS events",
        vec![route.into()],
    )
}

/// `WHERE …` for `filters`, its parameters appended to `params`. `routes_in`:
/// with a status, the route filter asks for a delivery in that status (bulk
/// replay), else for any delivery to the route, found as `scan` says.
fn where_clause(
    filters: &Filters,
    params: &mut Vec<Param>,
    route_status: bool,
    scan: RouteScan,
) -> String {
    let mut clauses: Vec<String> = Vec::new();
    let bind = |params: &mut Vec<Param>, value: Param| {
        params.push(value);
        format!("?{}", params.len())
    };
    if let Some(status) = filters.status {
        clauses.push(format!(
            "e.status = {}",
            bind(params, status.as_str().into())
        ));
    }
    match &filters.event {
        None | Some(Pattern::Any) => {}
        Some(Pattern::Exact(event)) => {
            clauses.push(format!("e.event = {}", bind(params, event.as_str().into())))
        }
        Some(Pattern::Family(family)) => {
            // Names that start with `email.`, as a range the index can walk: from
            // `email.` to before `email/` (`/` follows `.`), compared byte for byte.
            let from = bind(params, format!("{family}.").into());
            let to = bind(params, format!("{family}/").into());
            clauses.push(format!("e.event >= {from} AND e.event < {to}"));
        }
    }
    if let Some(route) = &filters.route {
        let route = bind(params, route.as_str().into());
        let in_status = match (route_status, filters.status) {
            (true, Some(status)) => {
                format!(" AND d.status = {}", bind(params, status.as_str().into()))
            }
            _ => String::new(),
        };
        clauses.push(match scan {
            RouteScan::FromRoute => format!(
                "e.id IN (SELECT d.event_id FROM deliveries d WHERE d.route = {route}{in_status})"
            ),
            RouteScan::FromNewest => format!(
                "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.route = {route}{in_status})"
            ),
        });
    }
    if let Some(message_id) = &filters.message_id {
        clauses.push(format!(
            "e.message_id = {}",
            bind(params, message_id.as_str().into())
        ));
    }
    if let Some(since) = filters.since_ms {
        clauses.push(format!("e.received_at >= {}", bind(params, since.into())));
    }
    if let Some(until) = filters.until_ms {
        clauses.push(format!("e.received_at < {}", bind(params, until.into())));
    }
    if let Some(cursor) = filters.cursor {
        let at = bind(params, cursor.received_at.into());
        let seq = bind(params, cursor.seq.into());
        clauses.push(format!(
            "(e.received_at < {at} OR (e.received_at = {at} AND e.seq < {seq}))"
        ));
    }
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// A page of the list, newest first: one event more than `limit`, to know
/// whether there is a next page. The page is found first, from the indexes
/// alone; only its events are then built as JSON.
pub fn list(filters: &Filters, limit: u32, scan: RouteScan) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, false, scan);
    params.push(Param::Int(i64::from(limit) + 1));
    Statement {
        sql: Cow::Owned(format!(
            "SELECT e.seq AS seq, e.received_at AS at, json_object({EVENT_FIELDS}) AS j FROM events e \
WHERE e.seq IN (SELECT e.seq FROM events e{filter} {NEWEST_FIRST} LIMIT ?{}) {NEWEST_FIRST}",
            params.len()
        )),
        params,
    }
}

/// One event with its body, its deliveries and every attempt.
pub fn event(id: &str) -> Vec<Statement> {
    vec![Statement {
        sql: Cow::Owned(format!(
            "SELECT e.seq AS seq, json_object({EVENT_FIELDS}, 'body', e.body, {DELIVERIES}) AS j FROM events e WHERE e.id = ?1"
        )),
        params: vec![id.into()],
    }]
}

/// What a replay of one event needs: its text and the names of its routes.
pub fn replay_one(id: &str) -> Vec<Statement> {
    vec![Statement::new(
        "SELECT e.seq, e.id, e.event, e.body, e.received_at, \
(SELECT json_group_array(route) FROM (SELECT route FROM deliveries WHERE event_id = e.id ORDER BY route)) AS routes \
FROM events e WHERE e.id = ?1",
        vec![id.into()],
    )]
}

/// The next `chunk` events of a bulk replay (one more, to know whether there
/// are more), each with the routes to replay: its deliveries in the status
/// asked for, on the route asked for if one was.
pub fn replay_chunk(filters: &Filters, chunk: u32) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, true, RouteScan::FromRoute);
    let mut routes =
        String::from("(SELECT json_group_array(d.route) FROM deliveries d WHERE d.event_id = e.id");
    if let Some(status) = filters.status {
        params.push(status.as_str().into());
        routes.push_str(&format!(" AND d.status = ?{}", params.len()));
    }
    if let Some(route) = &filters.route {
        params.push(route.as_str().into());
        routes.push_str(&format!(" AND d.route = ?{}", params.len()));
    }
    routes.push(')');
    params.push(Param::Int(i64::from(chunk) + 1));
    Statement {
        sql: Cow::Owned(format!(
            "SELECT e.seq, e.id, e.event, e.body, e.received_at, {routes} AS routes FROM events e{filter} {NEWEST_FIRST} LIMIT ?{}",
            params.len()
        )),
        params,
    }
}

/// How many events a bulk replay of `filters` would take (a dry run): the
/// same events as [`replay_chunk`], counted.
pub fn replay_count(filters: &Filters) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, true, RouteScan::FromRoute);
    Statement {
        sql: Cow::Owned(format!("SELECT COUNT(*) AS n FROM events e{filter}")),
        params,
    }
}

/// The counts of the hours from `since_hour` to before `until_hour` (unix
/// seconds), then what the log holds ([`STORAGE`]).
pub fn stats(since_hour: i64, until_hour: i64) -> Vec<Statement> {
    let window = || vec![since_hour.into(), until_hour.into()];
    vec![
        Statement {
            sql: Cow::Owned(format!(
                "SELECT c.hour AS seq, json_object({HOUR_FIELDS}) AS j FROM counts c \
WHERE c.hour >= ?1 AND c.hour < ?2 GROUP BY c.hour ORDER BY c.hour"
            )),
            params: window(),
        },
        Statement::new(STORAGE, window()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_one_event_in_eight_takes_is_walked_newest_first_a_rarer_one_from_its_index() {
        assert_eq!(RouteScan::for_share(1, 8), RouteScan::FromNewest);
        assert_eq!(
            RouteScan::for_share(200_000, 200_000),
            RouteScan::FromNewest
        );
        assert_eq!(RouteScan::for_share(24_999, 200_000), RouteScan::FromRoute);
        assert_eq!(RouteScan::for_share(0, 10), RouteScan::FromRoute);
        // An empty log: either way finds nothing at once.
        assert_eq!(RouteScan::for_share(0, 0), RouteScan::FromNewest);
    }
}
