//! One admin API call as a state machine that performs no I/O: it asks for
//! the log's directory, queries of its shards, hand-offs and an ingress run,
//! and is told what came of each.

use super::error::AdminError;
use super::fanout::{page, Asked, Directory};
use super::render::{self, JsonRow};
use super::request::{target, BodyCall, Call, Cursor, ListQuery, ReplayQuery, RouteAction, Target};
use super::route_state::{self, Health};
use super::rows::{self, int, optional, text, FromRow, Row};
use super::sample::sample;
use super::sql;
use crate::config::Config;
use crate::delivery::Delivery;
use crate::event_log::time::hour_of;
use crate::event_log::{replay_pending, AcceptedEvent, AttemptEntry, Shard, Statement};
use crate::ingress::{check_declared_length, BodyRead, Unread};
use crate::routes::{Destination, Route};
use crate::signature::sign;
use crate::text::joined;

/// Events a bulk replay loads and hands off at a time: bodies of up to 120 kB
/// each stay well inside an isolate's memory.
const REPLAY_CHUNK: u32 = 100;
/// The stats' default window.
const DAY_MS: i64 = 86_400_000;
/// Deliveries one replay call starts without a queue. They run after the
/// answer, in the 30 s the platform gives `waitUntil` work, over at most six
/// connections at once; each makes one attempt of at most 8 s, so two rounds
/// of six end in about 16 s. What a call leaves stays `failed`, for the next.
pub const DIRECT_REPLAY_DELIVERIES: usize = 12;

/// One thing to hand off for a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// To an HTTP route: through `DELIVERY_QUEUE`, or delivered after the answer.
    Delivery(Delivery),
    /// A queue route's payload, to the queue bound as `binding`.
    Payload { binding: String, body: String },
}

/// An admin request as it arrives, before any of its body is read.
#[derive(Debug, Clone, Copy)]
pub struct AdminRequest<'a> {
    pub method: &'a str,
    /// The path as sent, under `/admin/api/`.
    pub path: &'a str,
    /// The query's decoded pairs.
    pub query: &'a [(String, String)],
    pub authorization: Option<&'a str>,
    pub content_length: Option<&'a str>,
}

/// What the call needs next.
#[derive(Debug)]
pub enum AdminNeed<'a> {
    /// Read the body, at most `limit` bytes (stop past it, then let the rest go
    /// as `unread` says); report with [`AdminCall::body_read`]. `declared`: a
    /// `Content-Length` within the limit was sent.
    ReadBody {
        limit: usize,
        declared: bool,
        unread: Unread,
    },
    /// The log's directory: every shard that holds anything, with its
    /// figures; report with [`AdminCall::shards_found`].
    Shards,
    /// Run each shard's statements as one batch on that shard, all shards at
    /// once; report with [`AdminCall::queried`].
    Query(&'a [Ask]),
    /// Hand every item off (deliveries through `DELIVERY_QUEUE` when
    /// `via_queue`, else after the answer); report with [`AdminCall::handed_off`].
    Deliver {
        outgoing: &'a [Outgoing],
        via_queue: bool,
    },
    /// Post `body`, signed with `signature`, to the ingress; report with
    /// [`AdminCall::ingress_answered`].
    Ingress { body: &'a str, signature: &'a str },
    /// Ask each route's state object (`ROUTE_HEALTH`, by the route's name) for
    /// its `report(name, now_ms)`, all at once; report the texts, in this
    /// order, with [`AdminCall::routes_reported`].
    RouteReports { names: &'a [String], now_ms: i64 },
    /// Call the route's state object's `pause` or `resume` (`action`) with
    /// `(name, now_ms)`; report its text with [`AdminCall::routes_reported`].
    RouteControl {
        name: &'a str,
        action: RouteAction,
        now_ms: i64,
    },
    /// Answer; `allow` is a 405's `Allow` header; `unread`, what to do with a
    /// body the call did not read.
    Reply {
        status: u16,
        body: &'a str,
        allow: Option<&'static str>,
        unread: Option<Unread>,
    },
}

/// Statements for one shard.
pub type Ask = (Shard, Vec<Statement>);

#[derive(Debug)]
enum State {
    ReadBody(BodyCall),
    /// The call, waiting for the directory to say which shards there are.
    Locate(Call),
    List {
        query: ListQuery,
        bound: Option<i64>,
        asks: Vec<Ask>,
    },
    Get(Vec<Ask>),
    ReplayLoad {
        routes: Option<Vec<String>>,
        asks: Vec<Ask>,
    },
    ReplayOne {
        plan: Plan,
        /// The answer's routes.
        routes: Vec<String>,
    },
    ReplayOneMark {
        routes: Vec<String>,
        asks: Vec<Ask>,
    },
    BulkLoad {
        query: ReplayQuery,
        done: usize,
        bound: Option<i64>,
        asks: Vec<Ask>,
    },
    BulkDeliver {
        query: ReplayQuery,
        done: usize,
        plan: Plan,
        events: usize,
        more: Option<Cursor>,
    },
    BulkMark {
        query: ReplayQuery,
        done: usize,
        more: Option<Cursor>,
        asks: Vec<Ask>,
    },
    /// A dry run: how many events a bulk replay would take.
    BulkCount(Vec<Ask>),
    Stats {
        since_hour: i64,
        until_hour: i64,
        asks: Vec<Ask>,
    },
    Test {
        body: String,
        signature: String,
    },
    /// The routes' list, waiting for the reports of these (HTTP) routes.
    RouteReports(Vec<String>),
    /// A route's pause or resume, waiting for its object; `route`: its
    /// place in the configuration.
    RouteControl {
        route: usize,
        action: RouteAction,
    },
    Done {
        status: u16,
        body: String,
        allow: Option<&'static str>,
        unread: Option<Unread>,
    },
}

/// What a replay hands off, and what it writes once that worked.
#[derive(Debug)]
struct Plan {
    outgoing: Vec<Outgoing>,
    marks: Vec<Ask>,
}

/// One call to the admin API.
#[derive(Debug)]
pub struct AdminCall<'c> {
    config: &'c Config,
    now_ms: i64,
    /// Makes a test event's message id unique.
    nonce: String,
    /// The shards there are.
    directory: Directory,
    declared: bool,
    /// The call is whole without its body, which is never read: any body
    /// sent is let go of with the answer.
    bodiless: bool,
    state: State,
}

impl<'c> AdminCall<'c> {
    /// A request at `now_ms`. Who may call, which call it is and a declared
    /// length are checked here, before any of the body is read: an anonymous
    /// caller cannot make the isolate buffer anything.
    pub fn new(config: &'c Config, request: AdminRequest<'_>, now_ms: i64, nonce: &str) -> Self {
        let mut call = Self {
            config,
            now_ms,
            nonce: nonce.to_string(),
            directory: Directory::default(),
            declared: request.content_length.is_some(),
            bodiless: false,
            state: State::Done {
                status: 0,
                body: String::new(),
                allow: None,
                unread: None,
            },
        };
        call.state = match call.begin(&request) {
            Ok(state) => state,
            Err(error) => call.refused_unread(&error),
        };
        call.bodiless = !matches!(call.state, State::ReadBody(_));
        call
    }

    fn unread(&self) -> Unread {
        Unread::of(self.config.drain_refused_bodies)
    }

    /// A refusal before the body was read: the body is let go of.
    fn refused_unread(&self, error: &AdminError) -> State {
        State::Done {
            status: error.status(),
            body: error.body(),
            allow: error.allow(),
            unread: Some(self.unread()),
        }
    }

    fn begin(&self, request: &AdminRequest<'_>) -> Result<State, AdminError> {
        let Some(token) = &self.config.admin_token else {
            return Err(AdminError::NotFound("endpoint"));
        };
        // Before anything about the request is looked at.
        if !super::authorized(token, request.authorization) {
            return Err(AdminError::Unauthorized);
        }
        let target = target(request.method, request.path, request.query)?;
        if target.reads_log() && !self.config.event_log {
            return Err(AdminError::LogDisabled);
        }
        // Every call, with a body to read or not: a call that reads none
        // refuses a large one as one that does, before anything is asked.
        check_declared_length(request.content_length, super::MAX_BODY_BYTES)
            .map_err(|_| AdminError::PayloadTooLarge)?;
        match target {
            Target::Ready(call) => self.locate(call),
            Target::WithBody(call) => Ok(State::ReadBody(call)),
        }
    }

    /// The body as read: the call it completes starts.
    pub fn body_read(&mut self, read: BodyRead, body: &[u8]) {
        let State::ReadBody(call) = &self.state else {
            return;
        };
        let call = call.clone();
        let started = match read {
            BodyRead::Complete { len } if len <= super::MAX_BODY_BYTES => std::str::from_utf8(body)
                .map_err(|_| AdminError::InvalidRequest("The body is not a JSON object.".into()))
                .and_then(|text| call.read(text))
                .and_then(|call| self.locate(call)),
            BodyRead::Complete { .. } | BodyRead::TooLarge => Err(AdminError::PayloadTooLarge),
            BodyRead::Broken => Err(AdminError::InvalidRequest(
                "The body could not be read to its end; send it again.".into(),
            )),
        };
        self.state = started.unwrap_or_else(|error| refused(&error));
    }

    /// A call that reads the log first asks which shards there are.
    fn locate(&self, call: Call) -> Result<State, AdminError> {
        if call.reads_log() {
            Ok(State::Locate(call))
        } else {
            self.start(call)
        }
    }

    /// The directory's answer (`[{"name":…,…}]`), or why it could not be read.
    pub fn shards_found(&mut self, text: Result<&str, String>) {
        let state = std::mem::replace(
            &mut self.state,
            refused(&AdminError::Unavailable("The event log")),
        );
        let (State::Locate(call), Ok(text)) = (state, text) else {
            return;
        };
        let Some(directory) = Directory::parse(text) else {
            return;
        };
        self.directory = directory;
        self.state = self.start(call).unwrap_or_else(|error| refused(&error));
    }

    fn tolerance_ms(&self) -> i64 {
        i64::try_from(self.config.tolerance_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// The same statements for each of `shards`.
    fn ask(shards: Vec<Shard>, statements: &[Statement]) -> Vec<Ask> {
        shards
            .into_iter()
            .map(|shard| (shard, statements.to_vec()))
            .collect()
    }

    /// Each of `shards` its own statement (its keys differ).
    fn ask_each(shards: Vec<Shard>, statement: impl Fn(Shard) -> Statement) -> Vec<Ask> {
        shards
            .into_iter()
            .map(|shard| (shard, vec![statement(shard)]))
            .collect()
    }

    fn list(&self, query: ListQuery) -> State {
        let Asked { shards, bound } = self.directory.for_list(&query.filters, self.tolerance_ms());
        let asks = Self::ask_each(shards, |shard| {
            sql::list(&query.filters, query.limit, shard)
        });
        State::List { query, bound, asks }
    }

    fn start(&self, call: Call) -> Result<State, AdminError> {
        Ok(match call {
            Call::List(query) => self.list(query),
            Call::Get { id } => {
                State::Get(Self::ask(self.directory.for_event(&id), &sql::event(&id)))
            }
            Call::Replay { id, routes } => State::ReplayLoad {
                routes,
                asks: Self::ask(self.directory.for_event(&id), &sql::replay_one(&id)),
            },
            Call::BulkReplay(query) if query.dry_run => {
                let shards = self
                    .directory
                    .for_count(&query.filters, self.tolerance_ms());
                State::BulkCount(Self::ask_each(shards, |shard| {
                    sql::replay_count(&query.filters, shard)
                }))
            }
            Call::BulkReplay(query) => self.bulk_load(query, 0),
            Call::Stats { since_ms, until_ms } => {
                let until = until_ms.unwrap_or(self.now_ms + 1);
                let since = since_ms.unwrap_or(until - DAY_MS);
                // Whole hours: an hour is counted when any of it is in the window.
                let since_hour = hour_of(since);
                let until_hour = hour_of(until - 1) + 3_600;
                let shards = self.directory.for_hours(
                    since_hour * 1000,
                    until_hour * 1000,
                    self.tolerance_ms(),
                );
                State::Stats {
                    since_hour,
                    until_hour,
                    asks: Self::ask(shards, &sql::stats(since_hour, until_hour)),
                }
            }
            Call::Routes => self.routes(),
            Call::RouteControl { name, action } => self.control(name, action)?,
            Call::Test { event } => {
                let message_id = format!("msg_test_{}", self.nonce);
                let body = sample(&event, self.now_ms, &message_id)
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
            State::ReadBody(_) => AdminNeed::ReadBody {
                limit: super::MAX_BODY_BYTES,
                declared: self.declared,
                unread: self.unread(),
            },
            State::Locate(_) => AdminNeed::Shards,
            State::List { asks, .. }
            | State::Get(asks)
            | State::Stats { asks, .. }
            | State::BulkCount(asks)
            | State::ReplayLoad { asks, .. }
            | State::ReplayOneMark { asks, .. }
            | State::BulkLoad { asks, .. }
            | State::BulkMark { asks, .. } => AdminNeed::Query(asks),
            State::ReplayOne { plan, .. } | State::BulkDeliver { plan, .. } => AdminNeed::Deliver {
                outgoing: &plan.outgoing,
                via_queue: self.config.delivery_queue,
            },
            State::Test { body, signature } => AdminNeed::Ingress { body, signature },
            State::RouteReports(names) => AdminNeed::RouteReports {
                names,
                now_ms: self.now_ms,
            },
            State::RouteControl { route, action } => AdminNeed::RouteControl {
                name: self
                    .config
                    .routes
                    .get(*route)
                    .map_or("", |route| route.name.as_str()),
                action: *action,
                now_ms: self.now_ms,
            },
            State::Done {
                status,
                body,
                allow,
                unread,
            } => AdminNeed::Reply {
                status: *status,
                body,
                allow: *allow,
                unread: unread.or_else(|| self.bodiless.then(|| self.unread())),
            },
        }
    }

    /// `GET /admin/api/routes`: with destination health on, each HTTP
    /// route's object is asked for its report; otherwise every route is
    /// answered from the configuration alone.
    fn routes(&self) -> State {
        let names: Vec<String> = self
            .config
            .routes
            .iter()
            .filter(|route| self.tracked(route))
            .map(|route| route.name.clone())
            .collect();
        if names.is_empty() {
            done(200, self.routes_list(&[]))
        } else {
            State::RouteReports(names)
        }
    }

    /// Whether a route's state is kept by an object: an HTTP route, with
    /// destination health on.
    fn tracked(&self, route: &Route) -> bool {
        self.config.health && matches!(route.destination, Destination::Http { .. })
    }

    /// Every route, in configuration order; the tracked ones (those asked,
    /// in that order) each with its report.
    fn routes_list(&self, reports: &[Option<String>]) -> String {
        let mut reports = reports.iter();
        route_state::list(self.config.routes.iter().map(|route| {
            let health = if self.tracked(route) {
                Health::of(reports.next().and_then(Option::as_deref))
            } else {
                Health::Untracked
            };
            (route, health)
        }))
    }

    /// A pause or resume of `name`: an HTTP route, with destination health on.
    fn control(&self, name: String, action: RouteAction) -> Result<State, AdminError> {
        let at = self
            .config
            .routes
            .iter()
            .position(|route| route.name == name)
            .ok_or(AdminError::NotFound("route"))?;
        let route = &self.config.routes[at];
        if let Destination::Queue { .. } = route.destination {
            return Err(AdminError::Conflict(
                "This route hands its events to a queue: only HTTP routes are paused and resumed.",
            ));
        }
        if !self.config.health {
            return Err(AdminError::Conflict(if self.config.delivery_queue {
                "Pausing and resuming a route needs destination health: DELIVERY_QUEUE, ROUTE_HEALTH and HELD_DELIVERIES (the Durable Object classes RouteHealth and HeldDeliveries) bound in wrangler.toml; ROUTE_HEALTH or HELD_DELIVERIES is not bound."
            } else {
                "Pausing and resuming a route needs destination health: DELIVERY_QUEUE, ROUTE_HEALTH and HELD_DELIVERIES (the Durable Object classes RouteHealth and HeldDeliveries) bound in wrangler.toml; DELIVERY_QUEUE is not bound."
            }));
        }
        Ok(State::RouteControl { route: at, action })
    }

    /// What the routes' state objects answered, in the order asked (a pause
    /// or resume asks one): each its JSON text, or `None` where the call
    /// failed. In the list, a report missing or unreadable makes only that
    /// route's state unknown. A pause or resume whose answer cannot be read
    /// is 503: its new state is not known, and calling again is harmless
    /// (pausing a paused route changes nothing).
    pub fn routes_reported(&mut self, reports: &[Option<String>]) {
        self.state = match &self.state {
            State::RouteReports(_) => done(200, self.routes_list(reports)),
            State::RouteControl { route, .. } => {
                let report = reports
                    .first()
                    .and_then(Option::as_deref)
                    .and_then(route_state::Report::parse);
                match (self.config.routes.get(*route), report) {
                    (Some(route), Some(report)) => {
                        done(200, route_state::entry(route, &Health::Reported(report)))
                    }
                    _ => refused(&AdminError::RouteStateUnavailable),
                }
            }
            _ => return,
        };
    }

    /// The batches' results, in the order asked: per shard, per statement,
    /// its rows, as JSON (`[[[{…},…],…],…]`), or why one failed.
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
            State::List { query, bound, .. } => {
                let rows: Vec<JsonRow> = first_rows(text).ok_or_else(unreadable)?;
                let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
                let (rows, next) = page(rows, |row| (row.at, row.id.as_str()), limit, bound);
                done(200, render::list(&rows, next))
            }
            State::Get(_) => {
                let rows: Vec<JsonRow> = first_rows(text).ok_or_else(unreadable)?;
                let row = rows
                    .into_iter()
                    .next()
                    .ok_or(AdminError::NotFound("event"))?;
                done(200, row.j)
            }
            State::Stats {
                since_hour,
                until_hour,
                ..
            } => {
                let counts: Vec<render::CountRow> = first_rows(text).ok_or_else(unreadable)?;
                let (shards, bytes, events, oldest) = self.directory.storage();
                let storage = render::Storage {
                    shards,
                    bytes_stored: bytes,
                    events_kept: events,
                    oldest_event: oldest,
                };
                done(
                    200,
                    render::stats(&counts, since_hour, until_hour, &storage),
                )
            }
            State::BulkCount(_) => {
                let rows: Vec<CountRow> = first_rows(text).ok_or_else(unreadable)?;
                done(
                    200,
                    render::would_replay(rows.iter().map(|row| row.n).sum()),
                )
            }
            State::ReplayLoad { routes, asks } => {
                let events = replay_rows(text, &asks).ok_or_else(unreadable)?;
                let event = events.first().ok_or(AdminError::NotFound("event"))?;
                let known = route_names(event.routes.as_deref()).ok_or_else(unreadable)?;
                let routes = match routes {
                    None => known,
                    Some(asked) => {
                        if let Some(stranger) = asked.iter().find(|r| !known.contains(r)) {
                            return Err(AdminError::InvalidRequest(format!(
                                "This event was not routed to `{}`; its routes are: {}.",
                                stranger.chars().take(64).collect::<String>(),
                                joined(&known, ", ")
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
                query,
                done: count,
                bound,
                asks,
            } => {
                let rows = replay_rows(text, &asks).ok_or_else(unreadable)?;
                let chunk = self.chunk_of(&query, count);
                let chunk = usize::try_from(chunk).unwrap_or(usize::MAX);
                let (page, mut more) =
                    page(rows, |row| (row.received_at, row.id.as_str()), chunk, bound);
                let mut picked: Vec<(&ReplayRow, Vec<String>)> = Vec::new();
                let mut deliveries = 0;
                for (i, row) in page.iter().enumerate() {
                    let Some(routes) = route_names(row.routes.as_deref()) else {
                        continue;
                    };
                    // Without a queue, what one invocation can send: the
                    // rest stays failed, behind the answer's cursor.
                    deliveries += routes.len();
                    if !self.config.delivery_queue
                        && deliveries > DIRECT_REPLAY_DELIVERIES
                        && !picked.is_empty()
                    {
                        more = i
                            .checked_sub(1)
                            .and_then(|last| page.get(last))
                            .map(ReplayRow::cursor);
                        break;
                    }
                    if !routes.is_empty() {
                        picked.push((row, routes));
                    }
                }
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
            } => self.bulk_next(query, count, more),
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
                asks: plan.marks,
            },
            State::BulkDeliver {
                query,
                done: count,
                plan,
                events,
                more,
            } => {
                if plan.marks.is_empty() {
                    self.bulk_next(query, count + events, more)
                } else {
                    State::BulkMark {
                        query,
                        done: count + events,
                        more,
                        asks: plan.marks,
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
    /// routes back to pending under a queue, a queue route's send as a
    /// delivered attempt. Without a queue an HTTP route keeps its status until
    /// its one attempt writes the new one: a run the platform cuts off leaves
    /// it `failed`, for the next replay to find, never `pending` forever.
    fn plan(&self, events: &[(&ReplayRow, Vec<String>)]) -> Plan {
        let secret = self.config.secrets.raw_keys().next().unwrap_or_default();
        let mut outgoing = Vec::new();
        let mut marks: Vec<Ask> = Vec::new();
        for (event, routes) in events {
            let mut writes = Vec::new();
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
                        writes.extend(
                            AttemptEntry::sent(&event.accepted(), route, self.now_ms).statements(),
                        );
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
                            spent: 0,
                            body: event.body.as_bytes().to_vec(),
                        }));
                        http.push(route.clone());
                    }
                }
            }
            if !http.is_empty() && self.config.delivery_queue {
                writes.extend(replay_pending(&event.id, &http, self.now_ms));
            }
            if writes.is_empty() {
                continue;
            }
            match marks.iter_mut().find(|(shard, _)| *shard == event.shard) {
                Some((_, statements)) => statements.extend(writes),
                None => marks.push((event.shard, writes)),
            }
        }
        Plan { outgoing, marks }
    }
}

/// A row loaded for a replay.
#[derive(Debug)]
struct ReplayRow {
    /// The shard it came from.
    shard: Shard,
    id: String,
    event: String,
    message_id: Option<String>,
    timestamp: String,
    body: String,
    received_at: i64,
    /// Bulk replay: the routes to replay, as a JSON array.
    routes: Option<String>,
}

impl FromRow for ReplayRow {
    fn from_row(row: &Row) -> Option<Self> {
        let optional_text = |name| optional(row, name, |v| v.as_str().map(str::to_string));
        Some(Self {
            shard: no_shard(),
            id: text(row, "id")?,
            event: text(row, "event")?,
            message_id: optional_text("message_id")?,
            timestamp: text(row, "timestamp")?,
            body: text(row, "body")?,
            received_at: int(row, "received_at")?,
            routes: optional_text("routes")?,
        })
    }
}

impl ReplayRow {
    /// The event as the log keeps it, for a write that names it whole.
    fn accepted(&self) -> AcceptedEvent {
        AcceptedEvent {
            id: self.id.clone(),
            event: self.event.clone(),
            message_id: self.message_id.clone(),
            timestamp: self.timestamp.clone(),
            received_at_ms: self.received_at,
            body: self.body.clone(),
            routes: Vec::new(),
        }
    }

    fn cursor(&self) -> Cursor {
        Cursor {
            received_at: self.received_at,
            id: self.id.clone(),
        }
    }
}

/// A row's routes, a JSON array of names (none when missing).
fn route_names(text: Option<&str>) -> Option<Vec<String>> {
    let serde_json::Value::Array(names) = serde_json::from_str(text.unwrap_or("[]")).ok()? else {
        return None;
    };
    names
        .iter()
        .map(|name| name.as_str().map(str::to_string))
        .collect()
}

fn no_shard() -> Shard {
    Shard::in_window(0, 0)
}

/// Every shard's rows of its first statement, in one list.
fn first_rows<T: FromRow>(text: &str) -> Option<Vec<T>> {
    rows::first(text)
}

/// A replay's rows from every shard, each knowing the shard it came from.
fn replay_rows(text: &str, asks: &[Ask]) -> Option<Vec<ReplayRow>> {
    let shards = rows::per_shard(text, 1)?;
    (shards.len() == asks.len()).then_some(())?;
    shards
        .into_iter()
        .zip(asks)
        .flat_map(|(lists, (shard, _))| {
            lists.into_iter().flatten().map(move |row| {
                let mut row = ReplayRow::from_row(&row)?;
                row.shard = *shard;
                Some(row)
            })
        })
        .collect()
}

/// `SELECT COUNT(*) AS n`.
#[derive(Debug)]
struct CountRow {
    n: usize,
}

impl FromRow for CountRow {
    fn from_row(row: &Row) -> Option<Self> {
        let n = row.get("n")?.as_u64()?;
        Some(Self {
            n: usize::try_from(n).ok()?,
        })
    }
}

/// A refusal once the body was read (or never needed).
fn refused(error: &AdminError) -> State {
    State::Done {
        status: error.status(),
        body: error.body(),
        allow: error.allow(),
        unread: None,
    }
}

fn done(status: u16, body: String) -> State {
    State::Done {
        status,
        body,
        allow: None,
        unread: None,
    }
}

impl AdminCall<'_> {
    /// Events to load next: what the limit leaves, a chunk at a time; without a
    /// queue, no more than one call can send (each event has a delivery at least).
    fn chunk_of(&self, query: &ReplayQuery, done: usize) -> u32 {
        let left = u32::try_from(done)
            .map(|done| query.limit.saturating_sub(done))
            .unwrap_or(0);
        let chunk = if self.config.delivery_queue {
            REPLAY_CHUNK
        } else {
            u32::try_from(DIRECT_REPLAY_DELIVERIES).unwrap_or(REPLAY_CHUNK)
        };
        left.min(chunk)
    }

    fn bulk_load(&self, query: ReplayQuery, done: usize) -> State {
        let Asked { shards, bound } = self.directory.for_list(&query.filters, self.tolerance_ms());
        let chunk = self.chunk_of(&query, done);
        State::BulkLoad {
            asks: Self::ask_each(shards, |shard| {
                sql::replay_chunk(&query.filters, chunk, shard)
            }),
            query,
            done,
            bound,
        }
    }

    /// After a chunk: the next one while there are more and the limit allows
    /// (one chunk only without a queue), else the answer, with a cursor when
    /// events were left.
    fn bulk_next(&self, mut query: ReplayQuery, done: usize, more: Option<Cursor>) -> State {
        match more {
            Some(cursor) if self.config.delivery_queue && self.chunk_of(&query, done) > 0 => {
                query.filters.cursor = Some(cursor);
                self.bulk_load(query, done)
            }
            more => self::done(202, render::replayed_count(done, more)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DELIVERY_QUEUE_BINDING, HELD_DELIVERIES_BINDING, ROUTE_HEALTH_BINDING};
    use crate::testing::FakeSource;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn config() -> Config {
        Config::load(
            &FakeSource::minimal()
                .with("ADMIN_TOKEN", TOKEN)
                .with_durable_object("EVENTS"),
        )
        .unwrap()
    }

    fn reply(call: &AdminCall<'_>) -> Option<(u16, String, Option<&'static str>, Option<Unread>)> {
        match call.need() {
            AdminNeed::Reply {
                status,
                body,
                allow,
                unread,
            } => Some((status, body.to_string(), allow, unread)),
            _ => None,
        }
    }

    fn request<'a>(
        method: &'a str,
        path: &'a str,
        authorization: Option<&'a str>,
        content_length: Option<&'a str>,
    ) -> AdminRequest<'a> {
        AdminRequest {
            method,
            path,
            query: &[],
            authorization,
            content_length,
        }
    }

    fn reads_body(call: &AdminCall<'_>) -> bool {
        matches!(call.need(), AdminNeed::ReadBody { .. })
    }

    #[test]
    fn nothing_of_the_body_is_read_before_the_token() {
        let config = config();
        let wrong = format!("Bearer {TOKEN}x");
        for authorization in [None, Some(wrong.as_str()), Some(TOKEN)] {
            for length in [Some("50000000"), Some("10"), None] {
                let call = AdminCall::new(
                    &config,
                    request("POST", "/admin/api/replay", authorization, length),
                    0,
                    "n",
                );
                let (status, body, _, unread) = reply(&call).unwrap();
                assert_eq!((status, unread), (401, Some(Unread::Cancel)));
                assert!(body.contains("unauthorized"));
            }
        }
    }

    #[test]
    fn a_body_over_64_kib_is_413_declared_before_it_is_read_or_streamed_once_past_it() {
        let config = config();
        let bearer = format!("Bearer {TOKEN}");
        let post = |length| {
            AdminCall::new(
                &config,
                request("POST", "/admin/api/replay", Some(&bearer), length),
                0,
                "n",
            )
        };
        for length in ["65537", "50000000", "99999999999999999999999"] {
            let (status, body, _, unread) = reply(&post(Some(length))).unwrap();
            assert_eq!((status, unread), (413, Some(Unread::Cancel)), "{length}");
            assert!(body.contains("payload_too_large"));
        }
        assert!(reads_body(&post(Some("65536"))));
        let mut streamed = post(None);
        assert!(matches!(
            streamed.need(),
            AdminNeed::ReadBody {
                limit: 65_536,
                declared: false,
                ..
            }
        ));
        streamed.body_read(BodyRead::TooLarge, &[]);
        let (status, body, _, unread) = reply(&streamed).unwrap();
        assert_eq!((status, unread), (413, None));
        assert!(body.contains("payload_too_large"));
    }

    #[test]
    fn a_body_not_read_whole_or_not_text_is_400_never_taken_as_empty() {
        let config = config();
        let bearer = format!("Bearer {TOKEN}");
        for (read, bytes) in [
            (BodyRead::Broken, &b""[..]),
            (BodyRead::Complete { len: 2 }, &b"\xff{"[..]),
        ] {
            let mut call = AdminCall::new(
                &config,
                request(
                    "POST",
                    "/admin/api/events/msg_00/replay",
                    Some(&bearer),
                    None,
                ),
                0,
                "n",
            );
            call.body_read(read, bytes);
            let (status, body, ..) = reply(&call).unwrap();
            assert_eq!(status, 400);
            assert!(body.contains("invalid_request"), "{body}");
        }
    }

    #[test]
    fn every_admin_path_answers_another_method_405_with_allow_before_reading() {
        let config = config();
        let bearer = format!("Bearer {TOKEN}");
        for (method, path, allow) in [
            ("DELETE", "/admin/api/events/msg_1", "GET"),
            ("POST", "/admin/api/events", "GET"),
            ("PUT", "/admin/api/events", "GET"),
            ("POST", "/admin/api/stats", "GET"),
            ("GET", "/admin/api/events/msg_1/replay", "POST"),
            ("GET", "/admin/api/replay", "POST"),
            ("DELETE", "/admin/api/replay", "POST"),
            ("GET", "/admin/api/test", "POST"),
        ] {
            refused_405(&config, &bearer, method, path, allow);
        }
    }

    /// `method` on `path` is answered 405 with `allow`, its body never read.
    fn refused_405(config: &Config, bearer: &str, method: &str, path: &str, allow: &str) {
        let call = AdminCall::new(
            config,
            request(method, path, Some(bearer), Some("100000")),
            0,
            "n",
        );
        let (status, body, allowed, unread) = reply(&call).unwrap();
        assert_eq!(
            (status, allowed, unread),
            (405, Some(allow), Some(Unread::Cancel)),
            "{method} {path}"
        );
        assert!(body.contains("method_not_allowed"));
    }

    #[test]
    fn reads_ask_for_no_body() {
        let config = config();
        let bearer = format!("Bearer {TOKEN}");
        for path in [
            "/admin/api/events",
            "/admin/api/events/msg_1",
            "/admin/api/stats",
        ] {
            let call = AdminCall::new(&config, request("GET", path, Some(&bearer), None), 0, "n");
            assert!(matches!(call.need(), AdminNeed::Shards), "{path}");
        }
    }

    const ROUTES: &str = r#"[
        {"name":"crm","url":"https://crm.example/hooks","events":["email.*"]},
        {"name":"warehouse","queue":"WAREHOUSE","events":["*"]},
        {"name":"analytics","url":"https://analytics.example/in","events":["sms.*"]}
    ]"#;
    const BEARER: &str = "Bearer 0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_796_220_187_123;

    /// Routes of both kinds; destination health on when `health`; no event log.
    fn routes_config(delivery_queue: bool, health: bool) -> Config {
        let mut source = FakeSource::minimal()
            .with("ADMIN_TOKEN", TOKEN)
            .with("ROUTES", ROUTES)
            .with_queue("WAREHOUSE");
        if delivery_queue {
            source = source.with_queue(DELIVERY_QUEUE_BINDING);
        }
        if health {
            source = source
                .with_durable_object(ROUTE_HEALTH_BINDING)
                .with_durable_object(HELD_DELIVERIES_BINDING);
        }
        let config = Config::load(&source).unwrap();
        assert_eq!(config.health, delivery_queue && health);
        assert!(!config.event_log);
        config
    }

    fn call<'c>(config: &'c Config, method: &str, path: &str) -> AdminCall<'c> {
        AdminCall::new(config, request(method, path, Some(BEARER), None), NOW, "n")
    }

    fn json_reply(call: &AdminCall<'_>) -> (u16, serde_json::Value) {
        let (status, body, ..) = reply(call).expect("a reply");
        (status, serde_json::from_str(&body).expect("JSON"))
    }

    const PAUSED: &str = r#"{"state":"paused","since":1796220187123,"held":3,"delivered_1h":97,"failed_1h":3,"last_error":"HTTP 500"}"#;

    #[test]
    fn the_routes_without_health_come_from_the_configuration_alone() {
        for (queue, health) in [(false, false), (true, false), (false, true)] {
            let config = routes_config(queue, health);
            let call = call(&config, "GET", "/admin/api/routes");
            let (status, answer) = json_reply(&call);
            assert_eq!(status, 200);
            assert_eq!(
                answer,
                serde_json::json!({"routes": [
                    {"name": "crm", "kind": "http", "state": "active", "since": null, "held": 0,
                     "delivered_1h": null, "failed_1h": null, "last_error": null,
                     "breaker": {"failures": 10, "probe_seconds": 60}, "rate_limit": null},
                    {"name": "warehouse", "kind": "queue", "state": "active", "since": null, "held": 0,
                     "delivered_1h": null, "failed_1h": null, "last_error": null,
                     "breaker": false, "rate_limit": null},
                    {"name": "analytics", "kind": "http", "state": "active", "since": null, "held": 0,
                     "delivered_1h": null, "failed_1h": null, "last_error": null,
                     "breaker": {"failures": 10, "probe_seconds": 60}, "rate_limit": null},
                ]})
            );
        }
        // No route at all: an empty list, with or without health.
        let config = Config::load(
            &FakeSource::minimal()
                .with("ADMIN_TOKEN", TOKEN)
                .with_queue(DELIVERY_QUEUE_BINDING)
                .with_durable_object(ROUTE_HEALTH_BINDING)
                .with_durable_object(HELD_DELIVERIES_BINDING),
        )
        .unwrap();
        let (status, body, ..) = reply(&call(&config, "GET", "/admin/api/routes")).unwrap();
        assert_eq!((status, body.as_str()), (200, r#"{"routes":[]}"#));
    }

    #[test]
    fn with_health_each_http_route_is_asked_and_its_report_rendered() {
        let config = routes_config(true, true);
        for method in ["GET", "HEAD"] {
            let mut call = call(&config, method, "/admin/api/routes");
            let AdminNeed::RouteReports { names, now_ms } = call.need() else {
                panic!("{:?}", call.need());
            };
            assert_eq!(
                (names, now_ms),
                (&["crm".into(), "analytics".into()][..], NOW)
            );
            call.routes_reported(&[Some(PAUSED.into()), None]);
            let (status, answer) = json_reply(&call);
            assert_eq!(status, 200);
            let routes = answer["routes"].as_array().unwrap();
            let names: Vec<&str> = routes.iter().map(|r| r["name"].as_str().unwrap()).collect();
            assert_eq!(
                names,
                ["crm", "warehouse", "analytics"],
                "configuration order"
            );
            assert_eq!(
                routes[0],
                serde_json::json!({"name": "crm", "kind": "http", "state": "paused",
                    "since": "2026-12-02T14:03:07.123Z", "held": 3, "delivered_1h": 97,
                    "failed_1h": 3, "last_error": "HTTP 500",
                    "breaker": {"failures": 10, "probe_seconds": 60}, "rate_limit": null})
            );
            assert_eq!(routes[1]["state"], "active", "a queue route keeps no state");
            assert_eq!(routes[1]["held"], 0);
            // The failed call: that route unknown, every field of its state null.
            assert_eq!(
                routes[2],
                serde_json::json!({"name": "analytics", "kind": "http", "state": "unknown",
                    "since": null, "held": null, "delivered_1h": null, "failed_1h": null,
                    "last_error": null, "breaker": {"failures": 10, "probe_seconds": 60},
                    "rate_limit": null})
            );
        }
    }

    #[test]
    fn a_report_unreadable_or_missing_makes_that_route_unknown_only() {
        let config = routes_config(true, true);
        for reports in [
            vec![Some("{".to_string())],
            vec![],
            vec![Some("<html>502</html>".into()), Some("null".into())],
            vec![
                Some(String::new()),
                Some(PAUSED.into()),
                Some(PAUSED.into()),
            ],
        ] {
            let mut call = call(&config, "GET", "/admin/api/routes");
            call.routes_reported(&reports);
            let (status, answer) = json_reply(&call);
            assert_eq!(status, 200, "{reports:?}");
            let states: Vec<&str> = answer["routes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["state"].as_str().unwrap())
                .collect();
            let second = if reports.get(1).is_some_and(|r| r.as_deref() == Some(PAUSED)) {
                "paused"
            } else {
                "unknown"
            };
            assert_eq!(states, ["unknown", "active", second], "{reports:?}");
        }
    }

    #[test]
    fn pause_and_resume_ask_the_routes_object_and_answer_its_entry() {
        let config = routes_config(true, true);
        for (path, action) in [
            ("/admin/api/routes/crm/pause", RouteAction::Pause),
            ("/admin/api/routes/crm/resume", RouteAction::Resume),
        ] {
            let mut call = call(&config, "POST", path);
            let AdminNeed::RouteControl {
                name,
                action: asked,
                now_ms,
            } = call.need()
            else {
                panic!("{:?}", call.need());
            };
            assert_eq!((name, asked, now_ms), ("crm", action, NOW));
            let report = if action == RouteAction::Pause {
                PAUSED.to_string()
            } else {
                PAUSED
                    .replace("paused", "active")
                    .replace("1796220187123", "null")
            };
            call.routes_reported(&[Some(report)]);
            let (status, entry) = json_reply(&call);
            assert_eq!(status, 200);
            assert_eq!(entry["name"], "crm");
            assert_eq!(entry["kind"], "http");
            assert_eq!(entry["held"], 3);
            assert_eq!(entry["breaker"]["failures"], 10);
            assert_eq!(
                entry["state"],
                if action == RouteAction::Pause {
                    "paused"
                } else {
                    "active"
                }
            );
            assert_eq!(action.as_str(), path.rsplit('/').next().unwrap());
        }
    }

    #[test]
    fn a_pause_that_fails_or_answers_what_cannot_be_read_is_503_unavailable() {
        let config = routes_config(true, true);
        for answered in [
            vec![None],
            vec![],
            vec![Some(String::new())],
            vec![Some("{\"state\":\"paused\"}".to_string())],
            vec![Some("Internal error: overloaded".to_string())],
            vec![None, Some(PAUSED.to_string())],
        ] {
            let mut call = call(&config, "POST", "/admin/api/routes/analytics/pause");
            call.routes_reported(&answered);
            let (status, body) = json_reply(&call);
            assert_eq!(
                (status, &body["error"]),
                (503, &"unavailable".into()),
                "{answered:?}"
            );
            assert!(body["message"].as_str().unwrap().contains("retry"));
            // What the object said is never repeated.
            assert!(!body.to_string().contains("overloaded"));
        }
    }

    #[test]
    fn pause_of_an_unknown_route_is_404_of_a_queue_route_or_without_health_409() {
        let with_health = routes_config(true, true);
        for name in ["nope", "CRM", "crm%20", "crm.x", "%63rm"] {
            let path = format!("/admin/api/routes/{name}/pause");
            let (status, body) = json_reply(&call(&with_health, "POST", &path));
            assert_eq!(
                (status, &body["error"]),
                (404, &"not_found".into()),
                "{name}"
            );
            assert_eq!(body["message"], "No such route.");
        }
        for action in ["pause", "resume"] {
            let path = format!("/admin/api/routes/warehouse/{action}");
            let (status, body) = json_reply(&call(&with_health, "POST", &path));
            assert_eq!((status, &body["error"]), (409, &"conflict".into()));
            assert!(body["message"]
                .as_str()
                .unwrap()
                .contains("only HTTP routes"));
        }
        for (config, missing) in [
            (
                routes_config(true, false),
                "ROUTE_HEALTH or HELD_DELIVERIES is not bound",
            ),
            (routes_config(false, true), "DELIVERY_QUEUE is not bound"),
            (routes_config(false, false), "DELIVERY_QUEUE is not bound"),
        ] {
            let (status, body) = json_reply(&call(&config, "POST", "/admin/api/routes/crm/resume"));
            assert_eq!((status, &body["error"]), (409, &"conflict".into()));
            let message = body["message"].as_str().unwrap();
            assert!(message.contains("DELIVERY_QUEUE") && message.contains("ROUTE_HEALTH"));
            assert!(message.ends_with(&format!("{missing}.")), "{message}");
        }
        // Still 404 for an unknown route with health off: the route is looked up first.
        let off = routes_config(true, false);
        assert_eq!(
            json_reply(&call(&off, "POST", "/admin/api/routes/nope/pause")).0,
            404
        );
    }

    #[test]
    fn the_routes_paths_answer_another_method_405_with_allow_and_other_paths_404() {
        let config = routes_config(true, true);
        for (method, path, allow) in [
            ("POST", "/admin/api/routes", "GET"),
            ("DELETE", "/admin/api/routes", "GET"),
            ("GET", "/admin/api/routes/crm/pause", "POST"),
            ("PUT", "/admin/api/routes/crm/pause", "POST"),
            ("HEAD", "/admin/api/routes/crm/resume", "POST"),
            ("GET", "/admin/api/routes/nope/resume", "POST"),
        ] {
            refused_405(&config, BEARER, method, path, allow);
        }
        for path in [
            "/admin/api/routes/",
            "/admin/api/routes/crm",
            "/admin/api/routes/crm/",
            "/admin/api/routes/crm/stop",
            "/admin/api/routes/crm/pause/now",
            "/admin/api/routes//pause",
        ] {
            let (status, body) = json_reply(&call(&config, "POST", path));
            assert_eq!(
                (status, &body["error"]),
                (404, &"not_found".into()),
                "{path}"
            );
        }
        let query = [("state".to_string(), "tripped".to_string())];
        for (method, path) in [
            ("GET", "/admin/api/routes"),
            ("POST", "/admin/api/routes/crm/pause"),
        ] {
            let call = AdminCall::new(
                &config,
                AdminRequest {
                    method,
                    path,
                    query: &query,
                    authorization: Some(BEARER),
                    content_length: None,
                },
                NOW,
                "n",
            );
            let (status, body) = json_reply(&call);
            assert_eq!(
                (status, &body["error"]),
                (400, &"invalid_query".into()),
                "{path}"
            );
        }
    }

    #[test]
    fn the_routes_calls_check_the_token_first_and_read_no_body() {
        let config = routes_config(true, true);
        let wrong = format!("{BEARER}x");
        for (method, path) in [
            ("GET", "/admin/api/routes"),
            ("POST", "/admin/api/routes/crm/pause"),
            ("POST", "/admin/api/routes/nope/resume"),
            ("GET", "/admin/api/routes/crm/pause"),
        ] {
            for authorization in [None, Some(wrong.as_str()), Some(TOKEN)] {
                let call = AdminCall::new(
                    &config,
                    request(method, path, authorization, Some("99999999")),
                    NOW,
                    "n",
                );
                let (status, body, _, unread) = reply(&call).unwrap();
                assert_eq!(
                    (status, unread),
                    (401, Some(Unread::Cancel)),
                    "{method} {path}"
                );
                assert!(body.contains("unauthorized"));
            }
        }
        // A declared body over 64 KiB is refused before the object is asked.
        for length in ["65537", "99999999999999999999999"] {
            let call = AdminCall::new(
                &config,
                request(
                    "POST",
                    "/admin/api/routes/crm/pause",
                    Some(BEARER),
                    Some(length),
                ),
                NOW,
                "n",
            );
            let (status, body, _, unread) = reply(&call).unwrap();
            assert_eq!((status, unread), (413, Some(Unread::Cancel)));
            assert!(body.contains("payload_too_large"));
        }
        // A smaller body is never asked for: the answer lets it go.
        let mut pause = AdminCall::new(
            &config,
            request(
                "POST",
                "/admin/api/routes/crm/pause",
                Some(BEARER),
                Some("2"),
            ),
            NOW,
            "n",
        );
        assert!(matches!(pause.need(), AdminNeed::RouteControl { .. }));
        pause.routes_reported(&[Some(PAUSED.into())]);
        let (status, _, _, unread) = reply(&pause).unwrap();
        assert_eq!((status, unread), (200, Some(Unread::Cancel)));
        let mut list = call(&config, "GET", "/admin/api/routes");
        list.routes_reported(&[]);
        assert_eq!(reply(&list).map(|r| r.3), Some(Some(Unread::Cancel)));
        // Under `npm run dev` a body left unread is read out instead.
        let drained = Config::load(
            &FakeSource::minimal()
                .with("ADMIN_TOKEN", TOKEN)
                .with("ROUTES", ROUTES)
                .with("DRAIN_REFUSED_BODIES", "true")
                .with_queue("WAREHOUSE"),
        )
        .unwrap();
        assert_eq!(
            reply(&call(&drained, "POST", "/admin/api/routes/warehouse/pause")).map(|r| (r.0, r.3)),
            Some((409, Some(Unread::Drain)))
        );
        assert_eq!(
            reply(&call(&drained, "GET", "/admin/api/routes")).map(|r| (r.0, r.3)),
            Some((200, Some(Unread::Drain)))
        );
    }

    #[test]
    fn reports_out_of_turn_change_nothing() {
        let config = routes_config(true, true);
        let mut pause = call(&config, "POST", "/admin/api/routes/crm/pause");
        pause.ingress_answered(200, "{}".into());
        assert!(matches!(pause.need(), AdminNeed::RouteControl { .. }));
        pause.routes_reported(&[Some(PAUSED.into())]);
        // Once answered, a late report changes nothing.
        pause.routes_reported(&[None]);
        assert_eq!(json_reply(&pause).0, 200);
        let mut list = call(&config, "GET", "/admin/api/routes");
        list.routes_reported(&[None, None]);
        list.routes_reported(&[Some(PAUSED.into()), Some(PAUSED.into())]);
        let (status, answer) = json_reply(&list);
        assert_eq!(
            (status, &answer["routes"][0]["state"]),
            (200, &"unknown".into())
        );
    }

    #[test]
    fn every_call_refuses_a_declared_body_over_64_kib_and_a_read_lets_a_body_go() {
        let config = config();
        for path in [
            "/admin/api/events",
            "/admin/api/stats",
            "/admin/api/events/msg_1",
        ] {
            let call = AdminCall::new(
                &config,
                request("GET", path, Some(BEARER), Some("65537")),
                0,
                "n",
            );
            assert_eq!(
                reply(&call).map(|r| (r.0, r.3)),
                Some((413, Some(Unread::Cancel))),
                "{path}"
            );
        }
        let mut list = AdminCall::new(
            &config,
            request("GET", "/admin/api/events", Some(BEARER), Some("10")),
            0,
            "n",
        );
        assert!(matches!(list.need(), AdminNeed::Shards));
        list.shards_found(Ok("[]"));
        list.queried(Ok("[]"));
        assert_eq!(
            reply(&list).map(|r| (r.0, r.3)),
            Some((200, Some(Unread::Cancel)))
        );
    }
}
