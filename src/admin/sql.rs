//! The admin API's queries. Every value is a bound parameter; only the shape of
//! the `WHERE` clause is built, from fixed fragments.

use std::borrow::Cow;

use super::request::Filters;
use crate::event_log::{Param, Statement};
use crate::routes::Pattern;

/// Each route of an event with its status and how many attempts it has had.
const ROUTES_OF: &str =
    "(SELECT json_group_array(json_object('name', d.route, 'status', d.status, 'attempts', \
(SELECT COUNT(*) FROM attempts a WHERE a.event_id = d.event_id AND a.route = d.route))) \
FROM deliveries d WHERE d.event_id = e.id)";
const LIST_COLUMNS: &str =
    "e.seq, e.id, e.event, e.message_id, e.timestamp, e.received_at, e.status, \
COALESCE((SELECT r.count FROM redeliveries r WHERE r.event_id = e.id), 0) AS redeliveries";

/// `WHERE …` for `filters`, its parameters appended to `params`. `routes_in`:
/// with a status, the route filter asks for a delivery in that status (bulk
/// replay), else for any delivery to the route.
fn where_clause(filters: &Filters, params: &mut Vec<Param>, route_status: bool) -> String {
    let mut clauses: Vec<String> = Vec::new();
    let bind = |params: &mut Vec<Param>, value: Param| {
        params.push(value);
        format!("?{}", params.len())
    };
    if let Some(status) = filters.status {
        clauses.push(format!("e.status = {}", bind(params, status.into())));
    }
    match &filters.event {
        None | Some(Pattern::Any) => {}
        Some(Pattern::Exact(event)) => {
            clauses.push(format!("e.event = {}", bind(params, event.as_str().into())))
        }
        Some(Pattern::Family(family)) => {
            // `email.` as a prefix, compared exactly (LIKE would read `_` as a wildcard).
            let prefix = format!("{family}.");
            let length = i64::try_from(prefix.len()).unwrap_or(i64::MAX);
            let length = bind(params, length.into());
            clauses.push(format!(
                "substr(e.event, 1, {length}) = {}",
                bind(params, prefix.into())
            ));
        }
    }
    if let Some(route) = &filters.route {
        let route = bind(params, route.as_str().into());
        let in_status = match (route_status, filters.status) {
            (true, Some(status)) => format!(" AND d.status = {}", bind(params, status.into())),
            _ => String::new(),
        };
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.route = {route}{in_status})"
        ));
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
        clauses.push(format!("e.seq < {}", bind(params, cursor.into())));
    }
    if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    }
}

/// A page of the list, newest first: one event more than `limit`, to know
/// whether there is a next page.
pub fn list(filters: &Filters, limit: u32) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, false);
    params.push(Param::Int(i64::from(limit) + 1));
    Statement {
        sql: Cow::Owned(format!(
            "SELECT {LIST_COLUMNS}, {ROUTES_OF} AS routes FROM events e{filter} ORDER BY e.seq DESC LIMIT ?{}",
            params.len()
        )),
        params,
    }
}

/// One event with its body, its deliveries and every attempt.
pub fn event(id: &str) -> Vec<Statement> {
    vec![
        Statement {
            sql: Cow::Owned(format!(
                "SELECT {LIST_COLUMNS}, {ROUTES_OF} AS routes, e.body FROM events e WHERE e.id = ?1"
            )),
            params: vec![id.into()],
        },
        Statement::new(
            "SELECT route, status FROM deliveries WHERE event_id = ?1 ORDER BY route",
            vec![id.into()],
        ),
        Statement::new(
            "SELECT route, attempt, at, duration_ms, outcome, status, headers, body, error \
FROM attempts WHERE event_id = ?1 ORDER BY route, attempt",
            vec![id.into()],
        ),
    ]
}

/// What a replay of one event needs: its text and its routes.
pub fn replay_one(id: &str) -> Vec<Statement> {
    vec![
        Statement::new(
            "SELECT seq, id, event, body, received_at FROM events WHERE id = ?1",
            vec![id.into()],
        ),
        Statement::new(
            "SELECT route, status FROM deliveries WHERE event_id = ?1 ORDER BY route",
            vec![id.into()],
        ),
    ]
}

/// The next `chunk` events of a bulk replay (one more, to know whether there
/// are more), each with the routes to replay: its deliveries in the status
/// asked for, on the route asked for if one was.
pub fn replay_chunk(filters: &Filters, chunk: u32) -> Statement {
    let mut params = Vec::new();
    let filter = where_clause(filters, &mut params, true);
    let mut routes =
        String::from("(SELECT json_group_array(d.route) FROM deliveries d WHERE d.event_id = e.id");
    if let Some(status) = filters.status {
        params.push(status.into());
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
            "SELECT e.seq, e.id, e.event, e.body, e.received_at, {routes} AS routes FROM events e{filter} ORDER BY e.seq DESC LIMIT ?{}",
            params.len()
        )),
        params,
    }
}

/// The counts of the hours from `since_hour` to before `until_hour` (unix seconds).
pub fn stats(since_hour: i64, until_hour: i64) -> Statement {
    Statement::new(
        "SELECT hour, name, count FROM counts WHERE hour >= ?1 AND hour < ?2 ORDER BY hour, name",
        vec![since_hour.into(), until_hour.into()],
    )
}
