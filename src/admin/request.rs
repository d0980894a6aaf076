//! What an admin request asks for, read and checked whole before any query runs.

use serde_json::Value;

use super::error::AdminError;
use crate::event_log::{time, Status};
use crate::routes::Pattern;
use crate::text::joined;

/// Where the admin API lives.
pub const API_PREFIX: &str = "/admin/api/";
/// Most events a page of the list holds.
pub const MAX_LIST_LIMIT: u32 = 200;
const DEFAULT_LIST_LIMIT: u32 = 50;
/// Most events one bulk replay call replays.
pub const MAX_REPLAY_LIMIT: u32 = 1_000;

/// Which events: every filter of the list, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub status: Option<Status>,
    pub event: Option<Pattern>,
    pub route: Option<String>,
    pub message_id: Option<String>,
    /// Received at or after, unix ms.
    pub since_ms: Option<i64>,
    /// Received before, unix ms.
    pub until_ms: Option<i64>,
    /// Only events after this one in the list's order.
    pub cursor: Option<Cursor>,
}

/// A place in the list's order, newest first: when the event was received,
/// then its id (the same order in every shard). An event written late (the
/// dead-letter consumer's, say) takes its place by when it was received, not
/// at the top. An empty id is a place before every event received at
/// `received_at`: where a page that stopped between windows goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub received_at: i64,
    pub id: String,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.received_at, self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub filters: Filters,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayQuery {
    /// `status` is always `failed`: the deliveries that failed are replayed.
    pub filters: Filters,
    pub limit: u32,
    /// Only count the events the replay would take.
    pub dry_run: bool,
}

/// One admin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    List(ListQuery),
    Get {
        id: String,
    },
    /// `routes`: `None` for every route of the event.
    Replay {
        id: String,
        routes: Option<Vec<String>>,
    },
    BulkReplay(ReplayQuery),
    Stats {
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    },
    Test {
        event: String,
    },
    /// Every route with its state (SPEC section 10).
    Routes,
    /// Pause or resume one route; `name` as the path gave it.
    RouteControl {
        name: String,
        action: RouteAction,
    },
}

impl Call {
    /// Whether the call reads the event log (and so needs it bound).
    pub fn reads_log(&self) -> bool {
        !matches!(
            self,
            Self::Test { .. } | Self::Routes | Self::RouteControl { .. }
        )
    }
}

/// What an operator does to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAction {
    Pause,
    Resume,
}

impl RouteAction {
    /// Its name in the path, which is also the route state object's method.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }
}

/// What a request's method and path ask for, known before any of its body is
/// read: a call complete as it stands, or one its body completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ready(Call),
    WithBody(BodyCall),
}

impl Target {
    /// Whether the call reads the event log (and so needs it bound).
    pub fn reads_log(&self) -> bool {
        match self {
            Self::Ready(call) => call.reads_log(),
            Self::WithBody(call) => !matches!(call, BodyCall::Test),
        }
    }
}

/// A call that takes a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyCall {
    Replay { id: String },
    BulkReplay,
    Test,
}

/// Reads a request to `path` (under `/admin/api/`), with its query's decoded
/// pairs and its body.
pub fn parse(
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: &str,
) -> Result<Call, AdminError> {
    match target(method, path, query)? {
        Target::Ready(call) => Ok(call),
        Target::WithBody(call) => call.read(body),
    }
}

/// What `method` on `path` is, with its query checked: everything that can be
/// refused without the body.
pub fn target(method: &str, path: &str, query: &[(String, String)]) -> Result<Target, AdminError> {
    let rest = path
        .strip_prefix(API_PREFIX)
        .ok_or(AdminError::NotFound("admin endpoint"))?;
    let parts: Vec<&str> = rest.split('/').collect();
    let only = |allow: &'static str| {
        if method == allow || (allow == "GET" && method == "HEAD") {
            Ok(())
        } else {
            Err(AdminError::MethodNotAllowed { allow })
        }
    };
    let with_body = |call: BodyCall| -> Result<Target, AdminError> {
        only("POST")?;
        no_query(query)?;
        Ok(Target::WithBody(call))
    };
    match parts.as_slice() {
        ["events"] => {
            only("GET")?;
            let params = Params::read(
                query,
                &[
                    "status",
                    "event",
                    "route",
                    "message_id",
                    "since",
                    "until",
                    "limit",
                    "cursor",
                ],
            )?;
            Ok(Target::Ready(Call::List(ListQuery {
                filters: params.filters()?,
                limit: params.limit(DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?,
            })))
        }
        ["events", id] => {
            only("GET")?;
            no_query(query)?;
            Ok(Target::Ready(Call::Get { id: event_id(id)? }))
        }
        ["events", id, "replay"] => {
            only("POST")?;
            with_body(BodyCall::Replay { id: event_id(id)? })
        }
        ["replay"] => with_body(BodyCall::BulkReplay),
        ["stats"] => {
            only("GET")?;
            let params = Params::read(query, &["since", "until"])?;
            Ok(Target::Ready(Call::Stats {
                since_ms: params.time("since")?,
                until_ms: params.time("until")?,
            }))
        }
        ["test"] => with_body(BodyCall::Test),
        ["routes"] => {
            only("GET")?;
            no_query(query)?;
            Ok(Target::Ready(Call::Routes))
        }
        ["routes", name, action @ ("pause" | "resume")] => {
            // Nothing to send: the call is whole without a body.
            only("POST")?;
            no_query(query)?;
            Ok(Target::Ready(Call::RouteControl {
                name: (*name).to_string(),
                action: if *action == "pause" {
                    RouteAction::Pause
                } else {
                    RouteAction::Resume
                },
            }))
        }
        _ => Err(AdminError::NotFound("admin endpoint")),
    }
}

/// `names` each once, in the order first given. The names seen are kept in
/// a serde_json `Map` (a `BTreeMap` of `String`s): its code is in the bundle
/// already, for every JSON object read, where a `HashSet` was a kilobyte
/// more; and a search stays logarithmic however many names a body holds.
fn each_once(mut names: Vec<String>) -> Vec<String> {
    let mut seen = serde_json::Map::new();
    names.retain(|name| seen.insert(name.clone(), Value::Null).is_none());
    names
}

impl BodyCall {
    /// The call, completed by its body.
    pub fn read(self, body: &str) -> Result<Call, AdminError> {
        match self {
            Self::Replay { id } => {
                let routes = Body::read(body, &["routes"])?.texts("routes")?;
                // Each named route once.
                let routes = routes.map(each_once);
                if routes.as_ref().is_some_and(Vec::is_empty) {
                    return Err(AdminError::InvalidRequest(
                        "`routes` is empty: name at least one route, or leave it out to replay every route.".into(),
                    ));
                }
                Ok(Call::Replay { id, routes })
            }
            Self::BulkReplay => bulk(body),
            Self::Test => {
                let event = Body::read(body, &["event"])?
                    .text("event")?
                    .unwrap_or_default();
                if !super::sample_events().any(|known| known == event) {
                    let known: Vec<&str> = super::sample_events().collect();
                    return Err(AdminError::InvalidRequest(format!(
                        "`event` must be one of LeadNest's events: {}.",
                        joined(&known, ", ")
                    )));
                }
                Ok(Call::Test { event })
            }
        }
    }
}

/// A `webhook-id` as the worker makes them (`msg_` and hex); anything else
/// names no event.
fn event_id(text: &str) -> Result<String, AdminError> {
    let valid = text.len() <= 64
        && text.starts_with("msg_")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(text.to_string())
    } else {
        Err(AdminError::NotFound("event"))
    }
}

fn no_query(query: &[(String, String)]) -> Result<(), AdminError> {
    Params::read(query, &[]).map(|_| ())
}

/// A JSON object body whose fields are all among `known`.
struct Body(serde_json::Map<String, Value>);

impl Body {
    fn read(text: &str, known: &[&str]) -> Result<Self, AdminError> {
        if text.trim().is_empty() {
            return Ok(Self(serde_json::Map::new()));
        }
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
            return Err(AdminError::InvalidRequest(
                "The body is not a JSON object.".into(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(AdminError::InvalidRequest(format!(
                "Unknown field `{}`; this call takes {}.",
                unknown.chars().take(40).collect::<String>(),
                joined(known, ", ")
            )));
        }
        Ok(Self(fields))
    }

    fn wrong(name: &str, what: &str) -> AdminError {
        AdminError::InvalidRequest(format!("`{name}` is {what}."))
    }

    fn text(&self, name: &str) -> Result<Option<String>, AdminError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(Self::wrong(name, "text")),
        }
    }

    fn texts(&self, name: &str) -> Result<Option<Vec<String>>, AdminError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| Self::wrong(name, "a list of route names")),
            Some(_) => Err(Self::wrong(name, "a list of route names")),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, AdminError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(Self::wrong(name, "true or false")),
        }
    }

    fn number(&self, name: &str) -> Result<Option<u64>, AdminError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| Self::wrong(name, "a whole number")),
        }
    }

    /// RFC 3339 text or unix seconds; unix milliseconds.
    fn time(&self, name: &str) -> Result<Option<i64>, AdminError> {
        let wrong = || {
            Self::wrong(
                name,
                "an RFC 3339 time (2026-12-02T13:00:00Z) or unix seconds",
            )
        };
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => time::parse(text).map(Some).ok_or_else(wrong),
            Some(value) => value
                .as_u64()
                .and_then(|s| i64::try_from(s).ok())
                .and_then(|s| s.checked_mul(1000))
                .map(Some)
                .ok_or_else(wrong),
        }
    }
}

fn bulk(body: &str) -> Result<Call, AdminError> {
    let body = Body::read(
        body,
        &[
            "status", "route", "event", "since", "until", "limit", "cursor", "dry_run",
        ],
    )?;
    // Only failures are re-sent in bulk: one mistaken call must never re-send
    // delivered events to a backend, nor duplicate deliveries still retrying.
    let status = match body.0.get("status").and_then(Value::as_str) {
        Some(text) if text == Status::Failed.as_str() => Status::Failed,
        _ => {
            return Err(AdminError::InvalidRequest(
                "A bulk replay takes `\"status\":\"failed\"`: only failed deliveries are re-sent in bulk; replay any other event one at a time.".into(),
            ))
        }
    };
    let limit = match body.number("limit")? {
        None => MAX_REPLAY_LIMIT,
        Some(n) if (1..=u64::from(MAX_REPLAY_LIMIT)).contains(&n) => {
            u32::try_from(n).unwrap_or(MAX_REPLAY_LIMIT)
        }
        Some(_) => {
            return Err(AdminError::InvalidRequest(format!(
                "`limit` is from 1 to {MAX_REPLAY_LIMIT}."
            )))
        }
    };
    Ok(Call::BulkReplay(ReplayQuery {
        filters: Filters {
            status: Some(status),
            event: body.text("event")?.as_deref().map(pattern).transpose()?,
            route: body.text("route")?,
            message_id: None,
            since_ms: body.time("since")?,
            until_ms: body.time("until")?,
            cursor: body.text("cursor")?.as_deref().map(cursor).transpose()?,
        },
        limit,
        dry_run: body.flag("dry_run")?,
    }))
}

fn status(text: &str) -> Result<Status, AdminError> {
    Status::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        AdminError::InvalidQuery(format!("`status` is one of {}.", joined(&names, ", ")))
    })
}

fn pattern(text: &str) -> Result<Pattern, AdminError> {
    Pattern::parse(text).ok_or_else(|| {
        AdminError::InvalidQuery(
            "`event` is an event (email.opened), a family (email.*) or *.".into(),
        )
    })
}

fn cursor(text: &str) -> Result<Cursor, AdminError> {
    // Parsed as u64, as every number here is: one parser's code.
    let number = |part: &str| {
        let n = part.parse::<u64>().ok()?;
        i64::try_from(n).ok().filter(|n| *n > 0)
    };
    let id = |part: &str| {
        (part.len() <= 128 && part.bytes().all(|b| b.is_ascii_graphic())).then(|| part.to_string())
    };
    text.split_once('-')
        .and_then(|(received_at, rest)| {
            Some(Cursor {
                received_at: number(received_at)?,
                id: id(rest)?,
            })
        })
        .ok_or_else(|| {
            AdminError::InvalidQuery("`cursor` is the next_cursor of an earlier answer.".into())
        })
}

/// A query's parameters, each at most once and each one known.
struct Params<'q>(Vec<(&'q str, &'q str)>);

impl<'q> Params<'q> {
    fn read(query: &'q [(String, String)], known: &[&str]) -> Result<Self, AdminError> {
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for (name, value) in query {
            if !known.contains(&name.as_str()) {
                return Err(AdminError::InvalidQuery(if known.is_empty() {
                    "This call takes no query parameters.".into()
                } else {
                    format!(
                        "Unknown query parameter; this call takes {}.",
                        joined(known, ", ")
                    )
                }));
            }
            if seen.iter().any(|(seen, _)| seen == name) {
                return Err(AdminError::InvalidQuery(format!(
                    "`{name}` is given twice."
                )));
            }
            seen.push((name, value));
        }
        Ok(Self(seen))
    }

    /// A parameter; an empty one counts as absent (a form's blank field).
    fn get(&self, name: &str) -> Option<&'q str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .filter(|v| !v.is_empty())
    }

    fn time(&self, name: &str) -> Result<Option<i64>, AdminError> {
        self.get(name)
            .map(|text| {
                time::parse(text).ok_or_else(|| {
                    AdminError::InvalidQuery(format!(
                        "`{name}` is an RFC 3339 time (2026-12-02T13:00:00Z) or unix seconds."
                    ))
                })
            })
            .transpose()
    }

    fn limit(&self, default: u32, max: u32) -> Result<u32, AdminError> {
        match self.get("limit") {
            None => Ok(default),
            Some(text) => text
                .parse::<u64>()
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| AdminError::InvalidQuery(format!("`limit` is from 1 to {max}."))),
        }
    }

    fn filters(&self) -> Result<Filters, AdminError> {
        let text = |name: &str| -> Result<Option<String>, AdminError> {
            match self.get(name) {
                Some(value) if value.len() > 200 => Err(AdminError::InvalidQuery(format!(
                    "`{name}` is longer than 200 characters."
                ))),
                value => Ok(value.map(str::to_string)),
            }
        };
        Ok(Filters {
            status: self.get("status").map(status).transpose()?,
            event: self.get("event").map(pattern).transpose()?,
            route: text("route")?,
            message_id: text("message_id")?,
            since_ms: self.time("since")?,
            until_ms: self.time("until")?,
            cursor: self.get("cursor").map(cursor).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn list(pairs: &[(&str, &str)]) -> Result<Call, AdminError> {
        parse("GET", "/admin/api/events", &query(pairs), "")
    }

    #[test]
    fn list_with_every_filter() {
        let Ok(Call::List(list)) = list(&[
            ("status", "failed"),
            ("event", "email.*"),
            ("route", "crm"),
            ("message_id", "m1"),
            ("since", "2026-12-01T00:00:00Z"),
            ("until", "1764720000"),
            ("limit", "200"),
            ("cursor", "1764720000000-42"),
        ]) else {
            panic!("not a list");
        };
        assert_eq!(list.limit, 200);
        assert_eq!(list.filters.status, Some(Status::Failed));
        assert_eq!(list.filters.event, Some(Pattern::Family("email".into())));
        assert_eq!(list.filters.since_ms, Some(1_796_083_200_000));
        assert_eq!(list.filters.until_ms, Some(1_764_720_000_000));
        assert_eq!(
            list.filters.cursor,
            Some(Cursor {
                received_at: 1_764_720_000_000,
                id: "42".into()
            })
        );
        // Blank form fields are no filter.
        assert_eq!(
            list_default(&[("status", ""), ("event", "")]),
            ListQuery {
                filters: Filters::default(),
                limit: 50
            }
        );
    }

    fn list_default(pairs: &[(&str, &str)]) -> ListQuery {
        match list(pairs) {
            Ok(Call::List(list)) => list,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_list_takes_held_and_names_it_among_the_statuses() {
        assert_eq!(
            list_default(&[("status", "held")]).filters.status,
            Some(Status::Held)
        );
        let error = list(&[("status", "paused")]).unwrap_err();
        assert_eq!(
            error.message(),
            "`status` is one of pending, delivered, failed, unrouted, held."
        );
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (pairs, named) in [
            (vec![("status", "lost")], "status"),
            (vec![("event", "email")], "event"),
            (vec![("since", "yesterday")], "since"),
            (vec![("until", "2026-13-01T00:00:00Z")], "until"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "201")], "limit"),
            (vec![("cursor", "abc")], "cursor"),
            (vec![("cursor", "-1")], "cursor"),
            (vec![("cursor", "42")], "cursor"),
            (vec![("cursor", "1-a b")], "cursor"),
            (vec![("limit", "1"), ("limit", "2")], "limit"),
            (vec![("stauts", "failed")], "Unknown"),
        ] {
            let error = list(&pairs).unwrap_err();
            assert_eq!(error.code(), "invalid_query");
            assert!(
                error.message().contains(named),
                "{pairs:?}: {}",
                error.message()
            );
        }
    }

    #[test]
    fn paths_and_methods() {
        let call = |method: &str, path: &str, body: &str| parse(method, path, &[], body);
        assert_eq!(
            call("GET", "/admin/api/events/msg_00ff", ""),
            Ok(Call::Get {
                id: "msg_00ff".into()
            })
        );
        assert_eq!(
            call("POST", "/admin/api/events/msg_00ff/replay", ""),
            Ok(Call::Replay {
                id: "msg_00ff".into(),
                routes: None
            })
        );
        assert_eq!(
            call(
                "POST",
                "/admin/api/events/msg_00ff/replay",
                r#"{"routes":["crm"]}"#
            ),
            Ok(Call::Replay {
                id: "msg_00ff".into(),
                routes: Some(vec!["crm".into()])
            })
        );
        assert_eq!(
            call(
                "POST",
                "/admin/api/events/msg_00ff/replay",
                r#"{"routes":["crm","q","crm"]}"#
            ),
            Ok(Call::Replay {
                id: "msg_00ff".into(),
                routes: Some(vec!["crm".into(), "q".into()])
            })
        );
        assert_eq!(
            call("POST", "/admin/api/test", r#"{"event":"sms.failed"}"#),
            Ok(Call::Test {
                event: "sms.failed".into()
            })
        );
        for (method, path, body, status) in [
            ("POST", "/admin/api/events", "", 405),
            ("DELETE", "/admin/api/events/msg_1", "", 405),
            ("GET", "/admin/api/events/msg_1/replay", "", 405),
            ("GET", "/admin/api/events/<script>", "", 404),
            ("GET", "/admin/api/events/msg_1/x", "", 404),
            ("GET", "/admin/api/nope", "", 404),
            ("GET", "/admin/api/", "", 404),
            ("POST", "/admin/api/events/msg_1/replay", "{", 400),
            (
                "POST",
                "/admin/api/events/msg_1/replay",
                r#"{"routes":[]}"#,
                400,
            ),
            (
                "POST",
                "/admin/api/events/msg_1/replay",
                r#"{"route":"crm"}"#,
                400,
            ),
            (
                "POST",
                "/admin/api/test",
                r#"{"event":"email.exploded"}"#,
                400,
            ),
            ("POST", "/admin/api/test", "", 400),
            ("POST", "/admin/api/replay", r#"{"status":"unrouted"}"#, 400),
            ("POST", "/admin/api/replay", r#"{"limit":1001}"#, 400),
            ("POST", "/admin/api/replay", r#"{"since":"soon"}"#, 400),
        ] {
            assert_eq!(
                call(method, path, body).map_err(|e| e.status()),
                Err(status),
                "{method} {path} {body}"
            );
        }
    }

    #[test]
    fn bulk_replay_takes_only_failed_and_1000_by_default() {
        let Ok(Call::BulkReplay(replay)) =
            parse("POST", "/admin/api/replay", &[], r#"{"status":"failed"}"#)
        else {
            panic!("not a bulk replay");
        };
        assert_eq!(
            (replay.filters.status, replay.limit, replay.dry_run),
            (Some(Status::Failed), 1000, false)
        );
        // Anything but failed re-sends nothing: delivered events, deliveries
        // still retrying, or a call that forgot to say.
        for body in [
            "",
            "{}",
            r#"{"status":"delivered"}"#,
            r#"{"status":"pending"}"#,
            r#"{"status":"unrouted"}"#,
            r#"{"status":"held"}"#,
            r#"{"status":"FAILED"}"#,
            r#"{"status":null}"#,
            r#"{"status":["failed"]}"#,
        ] {
            let error = parse("POST", "/admin/api/replay", &[], body).unwrap_err();
            assert_eq!(
                (error.status(), error.code()),
                (400, "invalid_request"),
                "{body}"
            );
            assert!(error.message().contains("failed"), "{body}");
        }
        let Ok(Call::BulkReplay(count)) = parse(
            "POST",
            "/admin/api/replay",
            &[],
            r#"{"status":"failed","dry_run":true}"#,
        ) else {
            panic!("not a bulk replay");
        };
        assert!(count.dry_run);
        let error = parse(
            "POST",
            "/admin/api/replay",
            &[],
            r#"{"status":"failed","dry_run":"yes"}"#,
        )
        .unwrap_err();
        assert!(error.message().contains("dry_run"));
        let Ok(Call::BulkReplay(replay)) = parse(
            "POST",
            "/admin/api/replay",
            &[],
            r#"{"status":"failed","route":"crm","event":"sms.*","since":1764547200,"until":"2026-12-02T00:00:00Z","limit":10,"cursor":"1764547200000-7"}"#,
        ) else {
            panic!("not a bulk replay");
        };
        assert_eq!(replay.limit, 10);
        assert_eq!(replay.filters.route.as_deref(), Some("crm"));
        assert_eq!(replay.filters.since_ms, Some(1_764_547_200_000));
        assert_eq!(replay.filters.cursor.map(|c| c.id), Some("7".into()));
    }

    #[test]
    fn routes_paths() {
        let call = |method: &str, path: &str| parse(method, path, &[], "");
        assert_eq!(call("GET", "/admin/api/routes"), Ok(Call::Routes));
        assert_eq!(call("HEAD", "/admin/api/routes"), Ok(Call::Routes));
        for (action, expected) in [
            ("pause", RouteAction::Pause),
            ("resume", RouteAction::Resume),
        ] {
            assert_eq!(
                call("POST", &format!("/admin/api/routes/crm/{action}")),
                Ok(Call::RouteControl {
                    name: "crm".into(),
                    action: expected
                })
            );
        }
        // Whether the route exists is the call's to say, with the configuration.
        assert!(matches!(
            call("POST", "/admin/api/routes/<b>/pause"),
            Ok(Call::RouteControl { .. })
        ));
        for (method, path, status) in [
            ("POST", "/admin/api/routes", 405),
            ("GET", "/admin/api/routes/crm/pause", 405),
            ("DELETE", "/admin/api/routes/crm/resume", 405),
            ("GET", "/admin/api/routes/crm", 404),
            ("POST", "/admin/api/routes/crm/halt", 404),
            ("POST", "/admin/api/routes/crm/pause/", 404),
        ] {
            assert_eq!(
                call(method, path).map_err(|e| e.status()),
                Err(status),
                "{method} {path}"
            );
        }
        let with_query = parse(
            "GET",
            "/admin/api/routes",
            &query(&[("state", "tripped")]),
            "",
        );
        assert_eq!(with_query.map_err(|e| e.code()), Err("invalid_query"));
        // Neither reads the event log: both answer with it unbound.
        assert!(!Call::Routes.reads_log());
        assert!(!Target::Ready(Call::Routes).reads_log());
        assert!(Target::WithBody(BodyCall::BulkReplay).reads_log());
        assert!(!Target::WithBody(BodyCall::Test).reads_log());
    }
}
