//! One admin API call as a state machine that performs no I/O: it asks for
//! D1 queries, hand-offs and an ingress run, and is told what came of each.

use serde::Deserialize;

use super::error::AdminError;
use super::render::{self, JsonRow};
use super::request::{parse, Call, ListQuery, ReplayQuery};
use super::sample::sample;
use super::sql;
use crate::config::Config;
use crate::deliver::Delivery;
use crate::event_log::time::hour_of;
use crate::event_log::{replay_pending, AttemptEntry, Statement};
use crate::routes::Destination;
use crate::signature::sign;

/// Events a bulk replay loads and hands off at a time: bodies of up to 120 kB
/// each stay well inside an isolate's memory.
const REPLAY_CHUNK: u32 = 100;
/// The stats' default window.
const DAY_MS: i64 = 86_400_000;

/// One thing to hand off for a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// To an HTTP route: through `DELIVERY_QUEUE`, or delivered after the answer.
    Delivery(Delivery),
    /// A queue route's payload, to the queue bound as `binding`.
    Payload { binding: String, body: String },
}

/// What the call needs next.
#[derive(Debug)]
pub enum AdminNeed<'a> {
    /// Run the statements as one D1 batch; report with [`AdminCall::queried`].
    Query(&'a [Statement]),
    /// Hand every item off (deliveries through `DELIVERY_QUEUE` when
    /// `via_queue`, else after the answer); report with [`AdminCall::handed_off`].
    Deliver {
        outgoing: &'a [Outgoing],
        via_queue: bool,
    },
    /// Post `body`, signed with `signature`, to the ingress; report with
    /// [`AdminCall::ingress_answered`].
    Ingress { body: &'a str, signature: &'a str },
    /// Answer.
    Reply { status: u16, body: &'a str },
}

#[derive(Debug)]
enum State {
    List(ListQuery, Vec<Statement>),
    Get(Vec<Statement>),
    ReplayLoad {
        routes: Option<Vec<String>>,
        statements: Vec<Statement>,
    },
    ReplayOne {
        plan: Plan,
        /// The answer's routes.
        routes: Vec<String>,
    },
    ReplayOneMark {
        routes: Vec<String>,
        statements: Vec<Statement>,
    },
    BulkLoad {
        query: ReplayQuery,
        done: usize,
        statements: Vec<Statement>,
    },
    BulkDeliver {
        query: ReplayQuery,
        done: usize,
        plan: Plan,
        events: usize,
        more: Option<i64>,
    },
    BulkMark {
        query: ReplayQuery,
        done: usize,
        more: Option<i64>,
        statements: Vec<Statement>,
    },
    Stats(Vec<Statement>),
    Test {
        body: String,
        signature: String,
    },
    Done {
        status: u16,
        body: String,
    },
}

/// What a replay hands off, and what it writes once that worked.
#[derive(Debug)]
struct Plan {
    outgoing: Vec<Outgoing>,
    marks: Vec<Statement>,
}

/// One call to the admin API.
#[derive(Debug)]
pub struct AdminCall<'c> {
    config: &'c Config,
    now_ms: i64,
    state: State,
}

impl<'c> AdminCall<'c> {
    /// A request to `path` under `/admin/api/`, at `now_ms`; `body` is `None`
    /// when it could not be read whole (too large, or broken). `nonce` makes a
    /// test event's message id unique.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &'c Config,
        method: &str,
        path: &str,
        query: &[(String, String)],
        authorization: Option<&str>,
        body: Option<&str>,
        now_ms: i64,
        nonce: &str,
    ) -> Self {
        let mut call = Self {
            config,
            now_ms,
            state: State::Done {
                status: 0,
                body: String::new(),
            },
        };
        call.state = match call.begin(method, path, query, authorization, body, nonce) {
            Ok(state) => state,
            Err(error) => refused(&error),
        };
        call
    }

    fn begin(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        authorization: Option<&str>,
        body: Option<&str>,
        nonce: &str,
    ) -> Result<State, AdminError> {
        let Some(token) = &self.config.admin_token else {
            return Err(AdminError::NotFound("endpoint"));
        };
        // Before anything about the request is looked at.
        if !super::authorized(token, authorization) {
            return Err(AdminError::Unauthorized);
        }
        // Never read as no body: an empty replay body means every route.
        let body = body.ok_or_else(|| {
            AdminError::InvalidRequest(format!(
                "The body could not be read whole; admin calls take JSON of at most {} bytes.",
                super::MAX_BODY_BYTES
            ))
        })?;
        let call = parse(method, path, query, body)?;
        if !self.config.event_log && !matches!(call, Call::Test { .. }) {
            return Err(AdminError::LogDisabled);
        }
        Ok(match call {
            Call::List(query) => {
                let statement = sql::list(&query.filters, query.limit);
                State::List(query, vec![statement])
            }
            Call::Get { id } => State::Get(sql::event(&id)),
            Call::Replay { id, routes } => State::ReplayLoad {
                routes,
                statements: sql::replay_one(&id),
            },
            Call::BulkReplay(query) => bulk_load(query, 0),
            Call::Stats { since_ms, until_ms } => {
                let until = until_ms.unwrap_or(self.now_ms + 1);
                let since = since_ms.unwrap_or(until - DAY_MS);
                // Whole hours: an hour is counted when any of it is in the window.
                let until_hour = hour_of(until - 1) + 3_600;
                State::Stats(vec![sql::stats(hour_of(since), until_hour)])
            }
            Call::Test { event } => {
                let body = sample(&event, self.now_ms, nonce)
                    .ok_or(AdminError::NotFound("sample event"))?;
                let secret = self.config.secrets.raw_keys().next().unwrap_or_default();
                State::Test {
                    signature: sign(secret, body.as_bytes()),
                    body,
                }
            }
        })
    }

    pub fn need(&self) -> AdminNeed<'_> {
        match &self.state {
            State::List(_, statements)
            | State::Get(statements)
            | State::Stats(statements)
            | State::ReplayLoad { statements, .. }
            | State::ReplayOneMark { statements, .. }
            | State::BulkLoad { statements, .. }
            | State::BulkMark { statements, .. } => AdminNeed::Query(statements),
            State::ReplayOne { plan, .. } | State::BulkDeliver { plan, .. } => AdminNeed::Deliver {
                outgoing: &plan.outgoing,
                via_queue: self.config.delivery_queue,
            },
            State::Test { body, signature } => AdminNeed::Ingress { body, signature },
            State::Done { status, body } => AdminNeed::Reply {
                status: *status,
                body,
            },
        }
    }

    /// The batch's results: per statement, its rows, as JSON (`[[{…},…],…]`),
    /// or why it failed.
    pub fn queried(&mut self, results: Result<&str, String>) {
        let state = std::mem::replace(
            &mut self.state,
            refused(&AdminError::Unavailable("The event log")),
        );
        let Ok(text) = results else {
            return;
        };
        self.state = match self.after_query(state, text) {
            Ok(state) => state,
            Err(error) => refused(&error),
        };
    }

    fn after_query(&self, state: State, text: &str) -> Result<State, AdminError> {
        let unreadable = || AdminError::Unavailable("The event log");
        Ok(match state {
            State::List(query, _) => {
                let (rows,): (Vec<JsonRow>,) =
                    serde_json::from_str(text).map_err(|_| unreadable())?;
                done(200, render::list(&rows, query.limit))
            }
            State::Get(_) => {
                let (rows,): (Vec<JsonRow>,) =
                    serde_json::from_str(text).map_err(|_| unreadable())?;
                let row = rows
                    .into_iter()
                    .next()
                    .ok_or(AdminError::NotFound("event"))?;
                done(200, row.j)
            }
            State::Stats(_) => {
                let (rows,): (Vec<JsonRow>,) =
                    serde_json::from_str(text).map_err(|_| unreadable())?;
                done(200, render::stats(&rows))
            }
            State::ReplayLoad { routes, .. } => {
                let (events,): (Vec<ReplayRow>,) =
                    serde_json::from_str(text).map_err(|_| unreadable())?;
                let event = events.first().ok_or(AdminError::NotFound("event"))?;
                let known: Vec<String> =
                    serde_json::from_str(event.routes.as_deref().unwrap_or("[]"))
                        .map_err(|_| unreadable())?;
                let routes = match routes {
                    None => known,
                    Some(asked) => {
                        if let Some(stranger) = asked.iter().find(|r| !known.contains(r)) {
                            return Err(AdminError::InvalidRequest(format!(
                                "This event was not routed to `{}`; its routes are: {}.",
                                stranger.chars().take(64).collect::<String>(),
                                known.join(", ")
                            )));
                        }
                        asked
                    }
                };
                if routes.is_empty() {
                    return Err(AdminError::InvalidRequest(
                        "This event matched no route, so there is nothing to replay.".into(),
                    ));
                }
                State::ReplayOne {
                    plan: self.plan(&[(event, routes.clone())]),
                    routes,
                }
            }
            State::BulkLoad {
                query, done: count, ..
            } => {
                let (rows,): (Vec<ReplayRow>,) =
                    serde_json::from_str(text).map_err(|_| unreadable())?;
                let chunk = chunk_of(&query, count);
                let chunk = usize::try_from(chunk).unwrap_or(usize::MAX);
                let page = rows.get(..chunk.min(rows.len())).unwrap_or_default();
                let more = (rows.len() > chunk)
                    .then(|| page.last().map(|r| r.seq))
                    .flatten();
                let picked: Vec<(&ReplayRow, Vec<String>)> = page
                    .iter()
                    .filter_map(|row| {
                        let routes: Vec<String> =
                            serde_json::from_str(row.routes.as_deref().unwrap_or("[]")).ok()?;
                        (!routes.is_empty()).then_some((row, routes))
                    })
                    .collect();
                State::BulkDeliver {
                    events: picked.len(),
                    plan: self.plan(&picked),
                    query,
                    done: count,
                    more,
                }
            }
            State::ReplayOneMark { routes, .. } => done(202, render::replayed_routes(&routes)),
            State::BulkMark {
                query,
                done: count,
                more,
                ..
            } => bulk_next(query, count, more),
            // Not a query state: nothing to do with rows.
            state => state,
        })
    }

    /// The hand-off's result.
    pub fn handed_off(&mut self, ok: bool) {
        let state = std::mem::replace(
            &mut self.state,
            refused(&AdminError::Unavailable("The delivery queue")),
        );
        if !ok {
            return;
        }
        self.state = match state {
            State::ReplayOne { plan, routes } => State::ReplayOneMark {
                routes,
                statements: plan.marks,
            },
            State::BulkDeliver {
                query,
                done: count,
                plan,
                events,
                more,
            } => {
                if plan.marks.is_empty() {
                    bulk_next(query, count + events, more)
                } else {
                    State::BulkMark {
                        query,
                        done: count + events,
                        more,
                        statements: plan.marks,
                    }
                }
            }
            state => state,
        };
    }

    /// What the ingress answered a test event.
    pub fn ingress_answered(&mut self, status: u16, body: String) {
        if matches!(self.state, State::Test { .. }) {
            self.state = done(status, body);
        }
    }

    /// What replaying `routes` of each event hands off and then writes: HTTP
    /// routes back to pending, a queue route's send as a delivered attempt.
    fn plan(&self, events: &[(&ReplayRow, Vec<String>)]) -> Plan {
        let secret = self.config.secrets.raw_keys().next().unwrap_or_default();
        let mut outgoing = Vec::new();
        let mut marks = Vec::new();
        for (event, routes) in events {
            // The body LeadNest signed, signed again with the current secret: the
            // same header LeadNest sent, while that secret is unchanged.
            let signature = sign(secret, event.body.as_bytes());
            let mut http = Vec::new();
            for route in routes {
                let configured = self.config.routes.iter().find(|r| &r.name == route);
                match configured.map(|r| &r.destination) {
                    Some(Destination::Queue { binding }) => {
                        outgoing.push(Outgoing::Payload {
                            binding: binding.clone(),
                            body: event.body.clone(),
                        });
                        marks
                            .extend(AttemptEntry::sent(&event.id, route, self.now_ms).statements());
                    }
                    // A route no longer configured goes the normal way too: its
                    // attempt says so, and it is retried until the route is back.
                    _ => {
                        outgoing.push(Outgoing::Delivery(Delivery {
                            route: route.clone(),
                            event: event.event.clone(),
                            signature: signature.clone(),
                            webhook_id: event.id.clone(),
                            received_at_ms: event.received_at,
                            body: event.body.as_bytes().to_vec(),
                        }));
                        http.push(route.clone());
                    }
                }
            }
            if !http.is_empty() {
                marks.extend(replay_pending(&event.id, &http, self.now_ms));
            }
        }
        Plan { outgoing, marks }
    }
}

/// A row loaded for a replay.
#[derive(Debug, Deserialize)]
struct ReplayRow {
    seq: i64,
    id: String,
    event: String,
    body: String,
    received_at: i64,
    /// Bulk replay: the routes to replay, as a JSON array.
    #[serde(default)]
    routes: Option<String>,
}

fn refused(error: &AdminError) -> State {
    done(error.status(), error.body())
}

fn done(status: u16, body: String) -> State {
    State::Done { status, body }
}

fn chunk_of(query: &ReplayQuery, done: usize) -> u32 {
    let left = u32::try_from(done)
        .map(|done| query.limit.saturating_sub(done))
        .unwrap_or(0);
    left.min(REPLAY_CHUNK)
}

fn bulk_load(query: ReplayQuery, done: usize) -> State {
    let statements = vec![sql::replay_chunk(&query.filters, chunk_of(&query, done))];
    State::BulkLoad {
        query,
        done,
        statements,
    }
}

/// After a chunk: the next one while there are more and the limit allows,
/// else the answer, with a cursor when events were left.
fn bulk_next(mut query: ReplayQuery, done: usize, more: Option<i64>) -> State {
    match more {
        Some(seq) if chunk_of(&query, done) > 0 => {
            query.filters.cursor = Some(seq);
            bulk_load(query, done)
        }
        more => self::done(202, render::replayed_count(done, more)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSource;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn config() -> Config {
        Config::load(
            &FakeSource::minimal()
                .with("ADMIN_TOKEN", TOKEN)
                .with_d1("EVENTS"),
        )
        .unwrap()
    }

    fn reply(call: &AdminCall<'_>) -> Option<(u16, String)> {
        match call.need() {
            AdminNeed::Reply { status, body } => Some((status, body.to_string())),
            _ => None,
        }
    }

    #[test]
    fn a_body_not_read_whole_is_refused_after_the_token_never_taken_as_empty() {
        let config = config();
        let bearer = format!("Bearer {TOKEN}");
        let call = |authorization: Option<&str>| {
            AdminCall::new(
                &config,
                "POST",
                "/admin/api/events/msg_00/replay",
                &[],
                authorization,
                None,
                0,
                "n",
            )
        };
        assert_eq!(reply(&call(None)).map(|(status, _)| status), Some(401));
        let (status, body) = reply(&call(Some(&bearer))).unwrap();
        assert_eq!(status, 400);
        assert!(body.contains("invalid_request") && body.contains("65536"));
    }
}
