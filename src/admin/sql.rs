//! The admin API's queries, each run on every shard of the log it concerns
//! (the call merges their rows). Every value is a bound parameter; only the
//! shape of the `WHERE` clause is built, from fixed fragments.

use std::borrow::Cow;

use super::request::Filters;
use crate::event_log::schema::{HELD, ID_KEY};
use crate::event_log::{Param, Shard, Statement, Status};
use crate::routes::Pattern;
use crate::text::joined;

// The answers are built by SQLite's JSON functions, so the worker only joins
// them: a row is `{"id":…,"at":…,"j":"<the event's JSON>"}`. `json(…)` around a
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
const EVENT_FIELDS: &str =
    concat!(
    "'id', e.id, 'event', e.event, 'message_id', e.message_id, 'timestamp', e.timestamp, ",
    "'received_at', ", time!("e.received_at"), ", 'status', e.status, ",
    "'redeliveries', COALESCE((SELECT r.count FROM redeliveries r WHERE r.event_id = e.id), 0), ",
    "'routes', json((SELECT json_group_array(json_object('name', d.key, 'status', ",
    crate::delivery_status!("d.value"),
    ", ",
    "'attempts', COALESCE(json_array_length(d.value, '$.attempts'), 0))) FROM ",
    "(SELECT key, value FROM json_each(e.routes) ORDER BY key) d))"
);

/// Each delivery of an event with every attempt, in order.
macro_rules! attempt {
    ($field:literal) => {
        concat!("json_extract(a.value, '$.", $field, "')")
    };
}
const DELIVERIES: &str = concat!(
    "'deliveries', json((SELECT json_group_array(json_object('route', d.key, 'status', ",
    crate::delivery_status!("d.value"),
    ", ",
    "'attempts', json((SELECT json_group_array(json_object('attempt', a.key + 1, ",
    "'at', ",
    time!("json_extract(a.value, '$.at')"),
    ", ",
    "'duration_ms', ",
    attempt!("ms"),
    ", 'outcome', ",
    attempt!("outcome"),
    ", ",
    "'status', ",
    attempt!("status"),
    ", 'headers', json(",
    attempt!("headers"),
    "), ",
    "'body', ",
    attempt!("body"),
    ", 'error', ",
    attempt!("error"),
    ")) ",
    "FROM json_each(d.value, '$.attempts') a)))) ",
    "FROM (SELECT key, value FROM json_each(e.routes) ORDER BY key) d))"
);

/// The list's order: by when events were received, ties by a hash of their
/// id, the same in every shard, so pages merged from many are in one order.
/// It is the table's own order (`seq`, see `Shard::seq`).
const NEWEST_FIRST: &str = "ORDER BY e.seq DESC";

/// `WHERE …` for `filters` in `shard`, its parameters appended to `params`.
/// `route_status`: with a status, the route filter asks for a delivery in that
/// status (bulk replay), else for any delivery to the route. Times and the
/// cursor are ranges of the shard's keys.
fn where_clause(
    filters: &Filters,
    params: &mut Vec<Param>,
    route_status: bool,
    shard: Shard,
) -> String {
    let mut clauses: Vec<String> = Vec::new();
    let bind = |params: &mut Vec<Param>, value: Param| {
        params.push(value);
        format!("?{}", params.len())
    };
    match filters.status {
        None => {}
        // Events with a held delivery (their own status is pending or
        // failed), by the expression of their partial index.
        Some(Status::Held) => clauses.push(HELD.to_string()),
        // A fixed word, written out so that `failed` walks its partial index.
        Some(status) => clauses.push(format!("e.status = '{}'", status.as_str())),
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
        clauses.push(match (route_status, filters.status) {
            (true, Some(status)) => format!(
                "json_extract(e.routes, '$.\"' || {route} || '\".status') = '{}'",
                status.as_str()
            ),
            _ => format!("json_type(e.routes, '$.\"' || {route} || '\"') IS NOT NULL"),
        });
    }
    if let Some(message_id) = &filters.message_id {
        clauses.push(format!(
            "e.message_id = {}",
            bind(params, message_id.as_str().into())
        ));
    }
    if let Some(since) = filters.since_ms {
        // Keys in decimal: a JavaScript number holds 53 bits.
        let from = shard.seq(since, "").to_string();
        clauses.push(format!(
            "e.seq >= CAST({} AS INTEGER)",
            bind(params, from.into())
        ));
    }
    if let Some(until) = filters.until_ms {
        let to = shard.seq(until, "").to_string();
        clauses.push(format!(
            "e.seq < CAST({} AS INTEGER)",
            bind(params, to.into())
        ));
    }
    if let Some(cursor) = &filters.cursor {
        let before = shard.seq(cursor.received_at, &cursor.id).to_string();
        clauses.push(format!(
            "e.seq < CAST({} AS INTEGER)",
            bind(params, before.into())
        ));
    }
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", joined(&clauses, " AND "))
    }
}

/// A page of the list from one shard, newest first: one event more than
/// `limit`, to know whether there is a next page. The page is found first,
/// from the indexes alone; only its events are then built as JSON.
pub fn list(filters: &Filters, limit: u32, shard: Shard) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, false, shard);
    params.push(Param::Int(i64::from(limit) + 1));
    Statement {
        sql: Cow::Owned(format!(
            "SELECT e.id AS id, e.received_at AS at, json_object({EVENT_FIELDS}) AS j FROM events e \
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
            "SELECT e.id AS id, e.received_at AS at, json_object({EVENT_FIELDS}, 'body', e.body, {DELIVERIES}) AS j FROM events e WHERE e.id_key = {ID_KEY}"
        )),
        params: vec![id.into()],
    }]
}

/// What a replay of one event needs: its text and the names of its routes.
pub fn replay_one(id: &str) -> Vec<Statement> {
    vec![Statement {
        sql: Cow::Owned(format!(
            "SELECT e.id, e.event, e.message_id, e.timestamp, e.body, e.received_at, \
(SELECT json_group_array(key) FROM (SELECT key FROM json_each(e.routes) ORDER BY key)) AS routes \
FROM events e WHERE e.id_key = {ID_KEY}"
        )),
        params: vec![id.into()],
    }]
}

/// The next `chunk` events of a bulk replay from one shard (one more, to know
/// whether there are more), each with the routes to replay: its deliveries in
/// the status asked for, on the route asked for if one was.
pub fn replay_chunk(filters: &Filters, chunk: u32, shard: Shard) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, true, shard);
    let mut routes =
        String::from("(SELECT json_group_array(d.key) FROM json_each(e.routes) d WHERE true");
    if let Some(status) = filters.status {
        routes.push_str(&format!(
            " AND json_extract(d.value, '$.status') = '{}'",
            status.as_str()
        ));
    }
    if let Some(route) = &filters.route {
        params.push(route.as_str().into());
        routes.push_str(&format!(" AND d.key = ?{}", params.len()));
    }
    routes.push(')');
    params.push(Param::Int(i64::from(chunk) + 1));
    Statement {
        sql: Cow::Owned(format!(
            "SELECT e.id, e.event, e.message_id, e.timestamp, e.body, e.received_at, {routes} AS routes FROM events e{filter} {NEWEST_FIRST} LIMIT ?{}",
            params.len()
        )),
        params,
    }
}

/// How many events a bulk replay of `filters` would take in one shard (a dry
/// run): the same events as [`replay_chunk`], counted.
pub fn replay_count(filters: &Filters, shard: Shard) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, true, shard);
    Statement {
        sql: Cow::Owned(format!("SELECT COUNT(*) AS n FROM events e{filter}")),
        params,
    }
}

/// A shard's counts of the hours from `since_hour` to before `until_hour`
/// (unix seconds), each name summed: the call adds up the shards'.
pub fn stats(since_hour: i64, until_hour: i64) -> Vec<Statement> {
    vec![Statement::new(
        "SELECT hour, name, SUM(count) AS n FROM counts WHERE hour >= ?1 AND hour < ?2 GROUP BY hour, name",
        vec![since_hour.into(), until_hour.into()],
    )]
}
