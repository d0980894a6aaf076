//! `ROUTES`: where each event goes. Parsed and checked once with the rest of the
//! configuration; matching is pure.

use serde_json::{Map, Value};

use crate::config::{is_binding_name, ConfigSource, DELIVERY_QUEUE_BINDING, INTERNAL_BINDINGS};
use crate::filter::{Filter, FilterError};
use crate::payload::is_event_name;
use crate::standard_webhooks::SigningKey;
use crate::text::joined;

/// One event pattern: `*`, `family.*`, or an exact event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Any,
    Family(String),
    Exact(String),
}

impl Pattern {
    /// Parses a pattern; `None` when it is none of the three forms.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::Any);
        }
        if let Some(family) = text.strip_suffix(".*") {
            // The family alone must be a valid first half of an event name.
            return is_event_name(&format!("{family}.x")).then(|| Self::Family(family.into()));
        }
        is_event_name(text).then(|| Self::Exact(text.into()))
    }

    /// Whether `event` matches. `email.*` matches `email.sent`, not `emailing.sent`.
    pub fn matches(&self, event: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Family(family) => event
                .strip_prefix(family.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            Self::Exact(exact) => exact == event,
        }
    }
}

/// Where a route hands its events.
#[derive(Debug, Clone)]
pub enum Destination {
    /// POST to a URL, optionally with Standard Webhooks headers.
    Http {
        url: String,
        signing_key: Option<SigningKey>,
    },
    /// Send to a bound queue producer.
    Queue { binding: String },
}

/// A validated route.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub events: Vec<Pattern>,
    /// Matched against the payload once `events` matched.
    pub filter: Option<Filter>,
    pub destination: Destination,
    /// Trips the route after consecutive failed attempts (HTTP routes; on by
    /// default, `"breaker": false` turns it off).
    pub breaker: Option<Breaker>,
    /// The most attempts a second, across isolates.
    pub rate_limit: Option<RateLimit>,
    /// `ROUTES` gives this route's breaker (an object or `true`) rather than
    /// leaving the default: without `DELIVERY_QUEUE` that asks for something
    /// the worker cannot do, and `/health` says so.
    pub breaker_explicit: bool,
}

/// A route's breaker (SPEC section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// Consecutive failed attempts that trip the route.
    pub failures: u32,
    /// The first wait between probes of a tripped route; each failed probe
    /// doubles it, up to [`MAX_PROBE_SECONDS`].
    pub probe_seconds: u64,
}

/// The longest wait between probes.
pub const MAX_PROBE_SECONDS: u64 = 900;
/// The most consecutive failures a breaker may wait for.
pub const MAX_BREAKER_FAILURES: u32 = 1000;
/// The highest rate limit, attempts a second.
pub const MAX_PER_SECOND: u32 = 1000;

impl Default for Breaker {
    fn default() -> Self {
        Self {
            failures: 10,
            probe_seconds: 60,
        }
    }
}

/// A route's rate limit (SPEC section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// 1 to 1000 attempts a second.
    pub per_second: u32,
}

impl Route {
    /// Whether this route takes `event` by its `events` patterns.
    pub fn takes(&self, event: &str) -> bool {
        self.events.iter().any(|pattern| pattern.matches(event))
    }
}

/// The fields a route may have.
const FIELDS: [&str; 8] = [
    "name",
    "events",
    "url",
    "queue",
    "signing_secret",
    "filter",
    "breaker",
    "rate_limit",
];

// A problem never repeats what the configuration holds, except text whose shape makes
// it safe by construction (a valid route name, a binding's name): `/health` is public,
// and a secret's value pasted into the wrong field must not be published. serde's own
// messages quote values (`invalid type: string "whsec_…"`), so routes are read from a
// `Value` by hand.

/// Parses `ROUTES` (a JSON array). Every problem found is returned, each naming
/// the route and the field.
pub fn parse_routes(text: &str, source: &impl ConfigSource) -> Result<Vec<Route>, Vec<String>> {
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(other) => {
            return Err(vec![format!(
                "ROUTES must be a JSON array of routes, not {}.",
                kind(&other)
            )])
        }
        Err(e) => return Err(vec![not_json(&e)]),
    };
    let mut problems = Vec::new();
    // A list, not a hash set: a configuration names a few routes, and a
    // `HashSet<String>` was a kilobyte of the bundle.
    let mut names = Vec::new();
    let mut routes = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let mut found = RouteProblems {
            label: route_label(index, item.get("name").and_then(Value::as_str)),
            list: &mut problems,
            count: 0,
        };
        let Value::Object(fields) = item else {
            found.route(format!(
                "is {}, not a route (an object with a name and a url or a queue).",
                kind(item)
            ));
            continue;
        };
        let route = parse_route(fields, source, &mut names, &mut found);
        if let (Some(route), 0) = (route, found.count) {
            routes.push(route);
        }
    }
    if problems.is_empty() {
        Ok(routes)
    } else {
        Err(problems)
    }
}

/// How a problem or a notice names the route at `index` of `ROUTES`: with its
/// name when that may be repeated.
pub(crate) fn route_label(index: usize, name: Option<&str>) -> String {
    match name {
        // A route name needs no escaping: quoted as `{:?}` would, without its code.
        Some(name) if is_echoable_name(name) => format!("ROUTES[{index}] (\"{name}\")"),
        _ => format!("ROUTES[{index}]"),
    }
}

/// One route's problems, each prefixed with the route's label.
struct RouteProblems<'a> {
    label: String,
    list: &'a mut Vec<String>,
    count: usize,
}

impl RouteProblems<'_> {
    fn field(&mut self, field: &str, what: impl std::fmt::Display) {
        self.list.push(format!("{}.{field}: {what}", self.label));
        self.count += 1;
    }

    fn route(&mut self, what: impl std::fmt::Display) {
        self.list.push(format!("{}: {what}", self.label));
        self.count += 1;
    }
}

/// An optional string field.
enum Text<'v> {
    /// Absent or null, as serde's `Option` took it.
    Absent,
    Present(&'v str),
    /// Present but not a string; the problem is already named.
    Invalid,
}

fn optional_text<'v>(
    fields: &'v Map<String, Value>,
    field: &str,
    found: &mut RouteProblems<'_>,
) -> Text<'v> {
    match fields.get(field) {
        None | Some(Value::Null) => Text::Absent,
        Some(Value::String(text)) => Text::Present(text),
        Some(other) => {
            found.field(field, format!("is {}; it must be a string.", kind(other)));
            Text::Invalid
        }
    }
}

/// One route, or `None` with its problems named; `names` holds the names of the
/// routes before it.
fn parse_route(
    fields: &Map<String, Value>,
    source: &impl ConfigSource,
    names: &mut Vec<String>,
    found: &mut RouteProblems<'_>,
) -> Option<Route> {
    for key in fields.keys() {
        if FIELDS.contains(&key.as_str()) {
            continue;
        }
        // A typo like "event" would otherwise route everything.
        let what = "is not a route field (they are name, events, filter, url, queue, signing_secret, breaker and rate_limit).";
        if is_echoable_name(key) || is_binding_name(key) {
            found.field(key, what);
        } else {
            found.route(format!("a field {what}"));
        }
    }

    let name = match fields.get("name") {
        Some(Value::String(name)) if is_route_name(name) => {
            if names.contains(name) {
                found.field("name", "is used by another route; names must be unique.");
            } else {
                names.push(name.clone());
            }
            Some(name.clone())
        }
        Some(Value::String(_)) => {
            found.field("name", "must be non-empty and use only a-z, 0-9, _ and -.");
            None
        }
        None => {
            found.field("name", "is required: a unique name of a-z, 0-9, _ and -.");
            None
        }
        Some(other) => {
            found.field(
                "name",
                format!(
                    "is {}; it must be a string of a-z, 0-9, _ and -.",
                    kind(other)
                ),
            );
            None
        }
    };

    let events = match fields.get("events") {
        None | Some(Value::Null) => vec![Pattern::Any],
        Some(Value::Array(list)) if list.is_empty() => {
            found.field(
                "events",
                "is empty, so the route would take nothing; use [\"*\"] for everything.",
            );
            Vec::new()
        }
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let pattern = item.as_str().and_then(Pattern::parse);
                if pattern.is_none() {
                    let what = match item {
                        Value::String(_) => {
                            "is not \"*\", \"family.*\" or an event like \"email.opened\"."
                                .to_string()
                        }
                        other => format!("is {}, not a pattern like \"email.*\".", kind(other)),
                    };
                    found.field(&format!("events[{i}]"), what);
                }
                pattern
            })
            .collect(),
        Some(other) => {
            found.field(
                "events",
                format!(
                    "is {}; it must be an array of patterns like [\"email.*\"].",
                    kind(other)
                ),
            );
            Vec::new()
        }
    };

    let filter = match fields.get("filter") {
        None | Some(Value::Null) => None,
        Some(filter) => match Filter::compile(filter) {
            Ok(filter) => Some(filter),
            Err(FilterError { path, what }) if path.is_empty() => {
                found.field("filter", format!("{what}."));
                None
            }
            Err(FilterError { path, what }) => {
                found.field("filter", format!("at {path}: {what}."));
                None
            }
        },
    };

    let url = optional_text(fields, "url", found);
    let queue = optional_text(fields, "queue", found);
    let signing_secret = optional_text(fields, "signing_secret", found);
    let destination = match (url, queue) {
        (Text::Present(url), Text::Absent) => {
            if let Err(why) = check_url(url, source) {
                found.field("url", why);
            }
            let signing_key = match signing_secret {
                Text::Present(name) => signing_key(name, source, found),
                Text::Absent | Text::Invalid => None,
            };
            Some(Destination::Http {
                url: url.to_string(),
                signing_key,
            })
        }
        (Text::Absent, Text::Present(binding)) => {
            if let Text::Present(_) = signing_secret {
                found.field("signing_secret", "applies to url routes only.");
            }
            for field in ["breaker", "rate_limit"] {
                if fields.get(field).is_some_and(|value| !value.is_null()) {
                    found.field(field, "applies to url routes only.");
                }
            }
            check_queue(binding, source, found);
            Some(Destination::Queue {
                binding: binding.to_string(),
            })
        }
        // Its type problem is already named.
        (Text::Absent, Text::Invalid) | (Text::Invalid, Text::Absent) => None,
        _ => {
            found.field("url", "exactly one of `url` or `queue` is required.");
            None
        }
    };

    let destination = destination?;
    let (breaker, breaker_explicit, rate_limit) = match destination {
        Destination::Http { .. } => {
            let (breaker, explicit) = breaker(fields.get("breaker"), found);
            (
                breaker,
                explicit,
                rate_limit(fields.get("rate_limit"), found),
            )
        }
        // Refused above when set: a queue send has no backend to trip or throttle.
        Destination::Queue { .. } => (None, false, None),
    };
    Some(Route {
        name: name?,
        events,
        filter,
        destination,
        breaker,
        rate_limit,
        breaker_explicit,
    })
}

/// An HTTP route's `breaker`, and whether it is given explicitly (an object or
/// `true`): absent or null is the default, `false` none.
fn breaker(value: Option<&Value>, found: &mut RouteProblems<'_>) -> (Option<Breaker>, bool) {
    let fields = match value {
        None | Some(Value::Null) => return (Some(Breaker::default()), false),
        Some(Value::Bool(false)) => return (None, false),
        Some(Value::Bool(true)) => return (Some(Breaker::default()), true),
        Some(Value::Object(fields)) => fields,
        Some(other) => {
            found.field(
                "breaker",
                format!(
                    "is {}; it must be true, false or an object like {{\"failures\": 10, \"probe_seconds\": 60}}.",
                    kind(other)
                ),
            );
            return (None, true);
        }
    };
    unknown_keys("breaker", fields, &["failures", "probe_seconds"], found);
    let default = Breaker::default();
    let failures = whole(
        fields,
        "breaker",
        "failures",
        MAX_BREAKER_FAILURES.into(),
        found,
    )
    .and_then(|n| u32::try_from(n).ok())
    .unwrap_or(default.failures);
    let probe_seconds = whole(fields, "breaker", "probe_seconds", MAX_PROBE_SECONDS, found)
        .unwrap_or(default.probe_seconds);
    (
        Some(Breaker {
            failures,
            probe_seconds,
        }),
        true,
    )
}

/// An HTTP route's `rate_limit`: absent or null is none.
fn rate_limit(value: Option<&Value>, found: &mut RouteProblems<'_>) -> Option<RateLimit> {
    let fields = match value? {
        Value::Null => return None,
        Value::Object(fields) => fields,
        other => {
            found.field(
                "rate_limit",
                format!(
                    "is {}; it must be an object like {{\"per_second\": 10}}, or null for none.",
                    kind(other)
                ),
            );
            return None;
        }
    };
    unknown_keys("rate_limit", fields, &["per_second"], found);
    if fields.get("per_second").is_none_or(Value::is_null) {
        found.field(
            "rate_limit.per_second",
            format!("is required: attempts a second, from 1 to {MAX_PER_SECOND}."),
        );
        return None;
    }
    let per_second = whole(
        fields,
        "rate_limit",
        "per_second",
        MAX_PER_SECOND.into(),
        found,
    )?;
    Some(RateLimit {
        per_second: u32::try_from(per_second).ok()?,
    })
}

/// A key of `option` that is none of `known`: a typo would otherwise quietly
/// leave the default in place.
fn unknown_keys(
    option: &str,
    fields: &Map<String, Value>,
    known: &[&str],
    found: &mut RouteProblems<'_>,
) {
    for key in fields.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let what = format!(
            "is not a {option} field (they are {}).",
            joined(known, " and ")
        );
        if is_echoable_name(key) {
            found.field(&format!("{option}.{key}"), what);
        } else {
            found.field(option, format!("a field {what}"));
        }
    }
}

/// `option.field`, a whole number from 1 to `max`; `None` when absent or null,
/// or wrong (then named).
fn whole(
    fields: &Map<String, Value>,
    option: &str,
    field: &str,
    max: u64,
    found: &mut RouteProblems<'_>,
) -> Option<u64> {
    let value = fields.get(field).filter(|value| !value.is_null())?;
    if let Some(n) = value.as_u64().filter(|n| (1..=max).contains(n)) {
        return Some(n);
    }
    let what = match value {
        Value::Number(_) => format!("must be a whole number from 1 to {max}."),
        other => format!(
            "is {}; it must be a whole number from 1 to {max}.",
            kind(other)
        ),
    };
    found.field(&format!("{option}.{field}"), what);
    None
}

/// The key of the secret `name` names. Only a name of a binding's shape is repeated:
/// a `whsec_…` here is the secret itself, put where its name belongs.
fn signing_key(
    name: &str,
    source: &impl ConfigSource,
    found: &mut RouteProblems<'_>,
) -> Option<SigningKey> {
    let named = is_binding_name(name);
    match source.text(name) {
        None if named => found.field(
            "signing_secret",
            format!("names {name}, which is not set; run `wrangler secret put {name}`."),
        ),
        None => found.field(
            "signing_secret",
            "does not look like a secret's name (A-Z, 0-9 and _, like CRM_SIGNING_SECRET) — put the value in a secret and give its name here.",
        ),
        Some(value) => match SigningKey::from_whsec(&value) {
            Ok(key) => return Some(key),
            Err(why) if named => found.field("signing_secret", format!("the secret {name} {why}")),
            Err(why) => found.field("signing_secret", format!("the secret it names {why}")),
        },
    }
    None
}

/// A queue route's binding: bound, and not one the worker uses itself.
fn check_queue(binding: &str, source: &impl ConfigSource, found: &mut RouteProblems<'_>) {
    if let Some(own) = INTERNAL_BINDINGS.iter().find(|own| **own == binding) {
        let what = if *own == DELIVERY_QUEUE_BINDING {
            "carries the worker's own HTTP deliveries, whose consumer would take these events for malformed deliveries and dead-letter them"
        } else {
            "is a binding the worker uses itself"
        };
        found.field(
            "queue",
            format!("names {own}, which {what}; bind another queue producer for this route."),
        );
    } else if source.has_queue(binding) {
        // Bound: nothing to say.
    } else if is_binding_name(binding) {
        found.field("queue", format!("names {binding}, which is not a bound queue producer; add it under [[queues.producers]] in wrangler.toml."));
    } else {
        found.field("queue", "is not a bound queue producer and does not look like a binding's name (A-Z, 0-9 and _, like ANALYTICS_QUEUE); give the binding of a queue producer in wrangler.toml.");
    }
}

fn is_route_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A route name, or an unknown field's name, that a problem may repeat: of a
/// name's shape, and not a Standard Webhooks secret pasted in its place.
fn is_echoable_name(name: &str) -> bool {
    is_route_name(name) && !name.contains("whsec_")
}

/// What JSON value `value` is, without its content.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn not_json(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        // A syntax error's text is one of serde_json's fixed phrases and a position;
        // only data errors (none when reading a `Value`) quote the input.
        Category::Syntax | Category::Eof => format!("ROUTES is not valid JSON: {error}."),
        Category::Data | Category::Io => "ROUTES is not valid JSON.".into(),
    }
}

/// https anywhere; plain http only to this machine, for local testing. The URL is
/// never repeated: it may hold credentials or a token.
pub(crate) fn check_url(text: &str, source: &impl ConfigSource) -> Result<(), &'static str> {
    let url = source.parse_url(text).ok_or("is not an absolute URL.")?;
    let local = matches!(url.host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme.as_str() {
        "https" if !url.host.is_empty() => Ok(()),
        "http" if local => Ok(()),
        "http" => {
            Err("must use https; plain http is allowed only to localhost, 127.0.0.1 or [::1].")
        }
        _ => Err("must be an https URL."),
    }
}

/// The routes that take `event`, in configuration order.
pub fn matching<'r>(routes: &'r [Route], event: &str) -> impl Iterator<Item = &'r Route> + 'r {
    let event = event.to_owned();
    routes.iter().filter(move |route| route.takes(&event))
}

/// The routes that take an event: its `events` patterns, then its `filter`
/// against the payload. `payload` is read at most once, and only when a route
/// the event's name matched has a filter; `None` (a payload nested beyond what
/// can be read) matches no filter.
pub fn taking<'r>(
    routes: &'r [Route],
    event: &str,
    payload: impl FnOnce() -> Option<Value>,
) -> Vec<&'r Route> {
    let named: Vec<&Route> = matching(routes, event).collect();
    if named.iter().all(|route| route.filter.is_none()) {
        return named;
    }
    let payload = payload();
    named
        .into_iter()
        .filter(|route| match &route.filter {
            None => true,
            Some(filter) => payload.as_ref().is_some_and(|p| filter.matches(Some(p))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSource;

    fn names(routes: &[Route], event: &str) -> Vec<String> {
        matching(routes, event).map(|r| r.name.clone()).collect()
    }

    #[test]
    fn patterns() {
        let family = Pattern::parse("email.*").unwrap();
        assert!(family.matches("email.sent"));
        assert!(!family.matches("emailing.sent"));
        assert!(!family.matches("email"));
        assert!(!family.matches("sms.sent"));
        assert!(Pattern::parse("*").unwrap().matches("anything.new"));
        let exact = Pattern::parse("subscriber.created").unwrap();
        assert!(exact.matches("subscriber.created"));
        assert!(!exact.matches("subscriber.created2"));
        for bad in [
            "",
            "email",
            "*.sent",
            "email.*.*",
            ".*",
            "email.",
            "e mail.*",
            "**",
        ] {
            assert_eq!(Pattern::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn spec_example_routes() {
        let source = FakeSource::new()
            .with(
                "CRM_SIGNING_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            )
            .with_queue("ANALYTICS_QUEUE");
        let routes = parse_routes(
            r#"[ {"name": "crm", "url": "https://crm.example.com/hooks/leadnest",
                  "events": ["email.*", "subscriber.created"], "signing_secret": "CRM_SIGNING_SECRET"},
                 {"name": "analytics", "queue": "ANALYTICS_QUEUE", "events": ["*"]} ]"#,
            &source,
        )
        .unwrap();
        assert_eq!(names(&routes, "email.opened"), ["crm", "analytics"]);
        assert_eq!(names(&routes, "subscriber.created"), ["crm", "analytics"]);
        assert_eq!(names(&routes, "subscriber.deleted"), ["analytics"]);
        assert!(matches!(
            &routes[0].destination,
            Destination::Http {
                signing_key: Some(_),
                ..
            }
        ));
        assert!(
            matches!(&routes[1].destination, Destination::Queue { binding } if binding == "ANALYTICS_QUEUE")
        );
    }

    #[test]
    fn events_default_to_everything_and_local_http_is_allowed() {
        let source = FakeSource::new();
        for url in [
            "http://localhost:8788/x",
            "http://127.0.0.1:9/",
            "http://[::1]/hook",
        ] {
            let json = format!(r#"[{{"name":"local","url":"{url}"}}]"#);
            let routes = parse_routes(&json, &source).unwrap();
            assert_eq!(names(&routes, "whatsapp.read"), ["local"], "{url}");
        }
        assert!(parse_routes("[]", &source).unwrap().is_empty());
    }

    fn problems(json: &str) -> Vec<String> {
        let source = FakeSource::new()
            .with("BAD_SECRET", "not-whsec")
            .with_queue("Q");
        parse_routes(json, &source).unwrap_err()
    }

    #[test]
    fn each_problem_names_route_and_field() {
        let cases = [
            ("{}", "ROUTES must be a JSON array of routes, not an object"),
            ("[1]", "ROUTES[0]"),
            (
                r#"[{"url":"https://a.example"}]"#,
                "ROUTES[0].name: is required",
            ),
            (
                r#"[{"name":"Bad Name","url":"https://a.example"}]"#,
                "ROUTES[0].name: must be",
            ),
            (
                r#"[{"name":"a","url":"https://a.example"},{"name":"a","url":"https://b.example"}]"#,
                "ROUTES[1] (\"a\").name: is used",
            ),
            (
                r#"[{"name":"a","url":"https://a.example","events":[]}]"#,
                "\"a\").events: is empty",
            ),
            (
                r#"[{"name":"a","url":"https://a.example","events":["email"]}]"#,
                "\"a\").events[0]: is not",
            ),
            (
                r#"[{"name":"a","url":"https://a.example","event":["*"]}]"#,
                "\"a\").event: is not a route field",
            ),
            (r#"[{"name":"a"}]"#, "\"a\").url: exactly one"),
            (
                r#"[{"name":"a","url":"https://a.example","queue":"Q"}]"#,
                "\"a\").url: exactly one",
            ),
            (
                r#"[{"name":"a","url":"http://crm.example.com/x"}]"#,
                "\"a\").url: must use https",
            ),
            (
                r#"[{"name":"a","url":"http://127.0.0.2/x"}]"#,
                "\"a\").url: must use https",
            ),
            (
                r#"[{"name":"a","url":"ftp://a.example/x"}]"#,
                "\"a\").url: must be an https",
            ),
            (
                r#"[{"name":"a","url":"not a url"}]"#,
                "\"a\").url: is not an absolute URL",
            ),
            (
                r#"[{"name":"a","queue":"MISSING"}]"#,
                "\"a\").queue: names MISSING",
            ),
            (
                r#"[{"name":"a","queue":"Q","signing_secret":"BAD_SECRET"}]"#,
                "\"a\").signing_secret: applies to url",
            ),
            (
                r#"[{"name":"a","url":"https://a.example","signing_secret":"UNSET"}]"#,
                "\"a\").signing_secret: names UNSET",
            ),
            (
                r#"[{"name":"a","url":"https://a.example","signing_secret":"BAD_SECRET"}]"#,
                "\"a\").signing_secret: the secret BAD_SECRET",
            ),
        ];
        for (json, expected) in cases {
            let found = problems(json);
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{json}: {found:?}"
            );
            assert!(
                found.iter().all(|p| !p.contains("not-whsec")),
                "secret value leaked: {found:?}"
            );
        }
    }

    // A secret's value, pasted where a name belongs. `/health` is public, so no
    // problem may repeat it, whatever field it sits in.
    const LEAK: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// The problems of `json`: one contains `expected`, and none repeats any of `hidden`.
    fn problems_hiding(json: &str, hidden: &[&str], expected: &str) {
        let found = problems(json);
        for value in hidden {
            assert!(
                found.iter().all(|p| !p.contains(value)),
                "{value} repeated: {found:?}"
            );
        }
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected} not in {found:?}"
        );
    }

    #[test]
    fn a_secret_value_in_signing_secret_is_not_repeated() {
        let json =
            format!(r#"[{{"name":"a","url":"https://a.example","signing_secret":"{LEAK}"}}]"#);
        problems_hiding(
            &json,
            &[LEAK, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "(\"a\").signing_secret: does not look like a secret's name",
        );
    }

    #[test]
    fn a_url_is_never_repeated() {
        for url in [
            // Does not parse (a space in the host).
            "https://crm-user:hunter2-pass@billing example.net/in?token=tok-5678abcd#frag-9999",
            // Parses, but plain http to another machine.
            "http://crm-user:hunter2-pass@billing.example.net/in?token=tok-5678abcd#frag-9999",
        ] {
            let json = format!(r#"[{{"name":"a","url":"{url}"}}]"#);
            problems_hiding(
                &json,
                &[
                    "crm-user",
                    "hunter2-pass",
                    "tok-5678abcd",
                    "frag-9999",
                    "billing",
                ],
                "(\"a\").url: ",
            );
        }
    }

    #[test]
    fn routes_of_the_wrong_type_are_not_quoted() {
        problems_hiding(
            &format!("\"{LEAK}\""),
            &[LEAK],
            "ROUTES must be a JSON array of routes, not a string",
        );
        problems_hiding("98765432101", &["98765432101"], "not a number");
        problems_hiding(&format!(r#"{{"{LEAK}": 1}}"#), &[LEAK], "not an object");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_not_quoted() {
        for (json, expected) in [
            (
                format!(r#"[{{"name":"a","url":"https://a.example","events":"{LEAK}"}}]"#),
                "(\"a\").events: is a string",
            ),
            (
                format!(r#"[{{"name":"a","url":"https://a.example","events":[["{LEAK}"]]}}]"#),
                "(\"a\").events[0]: is an array",
            ),
            (
                format!(r#"[{{"name":"a","url":["{LEAK}"]}}]"#),
                "(\"a\").url: is an array",
            ),
            (
                format!(r#"[{{"name":"a","queue":{{"k":"{LEAK}"}}}}]"#),
                "(\"a\").queue: is an object",
            ),
            (format!(r#"["{LEAK}"]"#), "ROUTES[0]: is a string"),
            (
                r#"[{"name":98765432101,"url":"https://a.example"}]"#.to_string(),
                "ROUTES[0].name: is a number",
            ),
        ] {
            problems_hiding(&json, &[LEAK, "98765432101"], expected);
        }
    }

    #[test]
    fn an_unknown_field_is_named_only_when_it_looks_like_a_name() {
        let json = format!(r#"[{{"name":"a","url":"https://a.example","{LEAK}":true}}]"#);
        problems_hiding(&json, &[LEAK], "(\"a\"): a field is not a route field");
        problems_hiding(
            r#"[{"name":"a","url":"https://a.example","event":["*"]}]"#,
            &[],
            "(\"a\").event: is not a route field",
        );
    }

    #[test]
    fn an_invalid_route_name_is_not_repeated() {
        problems_hiding(
            &format!(r#"[{{"name":"{LEAK}","url":"https://a.example"}}]"#),
            &[LEAK],
            "ROUTES[0].name: must be non-empty",
        );
        // Of a name's shape, but a secret all the same: the route works, and a
        // problem of it does not quote it.
        problems_hiding(
            r#"[{"name":"whsec_abcdefgh","url":"ftp://a.example"}]"#,
            &["whsec_abcdefgh"],
            "ROUTES[0].url: must be an https URL",
        );
    }

    /// The one route of `json`, which must be valid.
    fn one_route(json: &str) -> Route {
        let source = FakeSource::new().with_queue("Q");
        let mut routes = parse_routes(json, &source).unwrap_or_else(|p| panic!("{json}: {p:?}"));
        assert_eq!(routes.len(), 1);
        routes.remove(0)
    }

    #[test]
    fn breaker_forms() {
        let default = Breaker {
            failures: 10,
            probe_seconds: 60,
        };
        for (options, breaker, explicit) in [
            ("", Some(default), false),
            (r#","breaker":null"#, Some(default), false),
            (r#","breaker":true"#, Some(default), true),
            (r#","breaker":false"#, None, false),
            (r#","breaker":{}"#, Some(default), true),
            (
                r#","breaker":{"failures":3}"#,
                Some(Breaker {
                    failures: 3,
                    probe_seconds: 60,
                }),
                true,
            ),
            (
                r#","breaker":{"probe_seconds":900,"failures":null}"#,
                Some(Breaker {
                    failures: 10,
                    probe_seconds: 900,
                }),
                true,
            ),
            (
                r#","breaker":{"failures":1,"probe_seconds":1}"#,
                Some(Breaker {
                    failures: 1,
                    probe_seconds: 1,
                }),
                true,
            ),
            (
                r#","breaker":{"failures":1000,"probe_seconds":30}"#,
                Some(Breaker {
                    failures: 1000,
                    probe_seconds: 30,
                }),
                true,
            ),
        ] {
            let json = format!(r#"[{{"name":"a","url":"https://a.example"{options}}}]"#);
            let route = one_route(&json);
            assert_eq!(route.breaker, breaker, "{json}");
            assert_eq!(route.breaker_explicit, explicit, "{json}");
            assert_eq!(route.rate_limit, None, "{json}");
        }
    }

    #[test]
    fn rate_limit_forms() {
        for (options, rate_limit) in [
            ("", None),
            (r#","rate_limit":null"#, None),
            (
                r#","rate_limit":{"per_second":1}"#,
                Some(RateLimit { per_second: 1 }),
            ),
            (
                r#","rate_limit":{"per_second":1000}"#,
                Some(RateLimit { per_second: 1000 }),
            ),
        ] {
            let json = format!(r#"[{{"name":"a","url":"https://a.example"{options}}}]"#);
            let route = one_route(&json);
            assert_eq!(route.rate_limit, rate_limit, "{json}");
            // A rate limit leaves the breaker as it was.
            assert_eq!(route.breaker, Some(Breaker::default()), "{json}");
            assert!(!route.breaker_explicit, "{json}");
        }
    }

    #[test]
    fn a_queue_route_has_neither_breaker_nor_rate_limit() {
        for options in ["", r#","breaker":null,"rate_limit":null"#] {
            let route = one_route(&format!(r#"[{{"name":"a","queue":"Q"{options}}}]"#));
            assert_eq!((route.breaker, route.rate_limit), (None, None));
            assert!(!route.breaker_explicit);
        }
    }

    #[test]
    fn each_breaker_and_rate_limit_problem_names_route_and_field() {
        for (options, expected) in [
            (r#""breaker":"on""#, "(\"a\").breaker: is a string; it must be true, false or an object"),
            (r#""breaker":1"#, "(\"a\").breaker: is a number"),
            (r#""breaker":[]"#, "(\"a\").breaker: is an array"),
            (r#""breaker":{"failures":0}"#, "(\"a\").breaker.failures: must be a whole number from 1 to 1000."),
            (r#""breaker":{"failures":1001}"#, "(\"a\").breaker.failures: must be a whole number from 1 to 1000."),
            (r#""breaker":{"failures":-1}"#, "(\"a\").breaker.failures: must be a whole number"),
            (r#""breaker":{"failures":2.5}"#, "(\"a\").breaker.failures: must be a whole number"),
            (r#""breaker":{"failures":"5"}"#, "(\"a\").breaker.failures: is a string; it must be a whole number from 1 to 1000."),
            (r#""breaker":{"failures":5000000000}"#, "(\"a\").breaker.failures: must be a whole number"),
            (r#""breaker":{"probe_seconds":0}"#, "(\"a\").breaker.probe_seconds: must be a whole number from 1 to 900."),
            (r#""breaker":{"probe_seconds":901}"#, "(\"a\").breaker.probe_seconds: must be a whole number from 1 to 900."),
            (r#""breaker":{"probe_seconds":true}"#, "(\"a\").breaker.probe_seconds: is a boolean"),
            (r#""breaker":{"failure":3}"#, "(\"a\").breaker.failure: is not a breaker field (they are failures and probe_seconds)."),
            (r#""rate_limit":true"#, "(\"a\").rate_limit: is a boolean; it must be an object like {\"per_second\": 10}, or null for none."),
            (r#""rate_limit":10"#, "(\"a\").rate_limit: is a number"),
            (r#""rate_limit":{}"#, "(\"a\").rate_limit.per_second: is required"),
            (r#""rate_limit":{"per_second":null}"#, "(\"a\").rate_limit.per_second: is required"),
            (r#""rate_limit":{"per_second":0}"#, "(\"a\").rate_limit.per_second: must be a whole number from 1 to 1000."),
            (r#""rate_limit":{"per_second":1001}"#, "(\"a\").rate_limit.per_second: must be a whole number from 1 to 1000."),
            (r#""rate_limit":{"per_second":"10"}"#, "(\"a\").rate_limit.per_second: is a string"),
            (r#""rate_limit":{"per_second":10,"burst":5}"#, "(\"a\").rate_limit.burst: is not a rate_limit field (they are per_second)."),
            (r#""ratelimit":{"per_second":10}"#, "(\"a\").ratelimit: is not a route field (they are name, events, filter, url, queue, signing_secret, breaker and rate_limit)."),
        ] {
            let json = format!(r#"[{{"name":"a","url":"https://a.example",{options}}}]"#);
            problems_hiding(&json, &[], expected);
        }
    }

    #[test]
    fn breaker_and_rate_limit_apply_to_url_routes_only() {
        for options in [
            r#""breaker":false"#,
            r#""breaker":true"#,
            r#""breaker":{"failures":3}"#,
            r#""breaker":"whatever""#,
        ] {
            let json = format!(r#"[{{"name":"a","queue":"Q",{options}}}]"#);
            problems_hiding(&json, &[], "(\"a\").breaker: applies to url routes only.");
        }
        for options in [r#""rate_limit":{"per_second":5}"#, r#""rate_limit":0"#] {
            let json = format!(r#"[{{"name":"a","queue":"Q",{options}}}]"#);
            problems_hiding(
                &json,
                &[],
                "(\"a\").rate_limit: applies to url routes only.",
            );
        }
        let found = problems(
            r#"[{"name":"a","queue":"Q","breaker":{"failures":3},"rate_limit":{"per_second":5}}]"#,
        );
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn a_value_in_breaker_or_rate_limit_is_not_repeated() {
        for options in [
            format!(r#""breaker":"{LEAK}""#),
            format!(r#""breaker":{{"failures":"{LEAK}"}}"#),
            format!(r#""breaker":{{"probe_seconds":["{LEAK}"]}}"#),
            r#""breaker":{"failures":98765432101}"#.to_string(),
            r#""breaker":{"probe_seconds":98765432101.5}"#.to_string(),
            format!(r#""rate_limit":"{LEAK}""#),
            format!(r#""rate_limit":{{"per_second":"{LEAK}"}}"#),
            r#""rate_limit":{"per_second":98765432101}"#.to_string(),
        ] {
            let json = format!(r#"[{{"name":"a","url":"https://a.example",{options}}}]"#);
            problems_hiding(&json, &[LEAK, "98765432101"], "(\"a\")");
        }
        // A key of a secret's shape is not named; one of a name's shape is.
        for option in ["breaker", "rate_limit"] {
            let json =
                format!(r#"[{{"name":"a","url":"https://a.example","{option}":{{"{LEAK}":1}}}}]"#);
            problems_hiding(
                &json,
                &[LEAK],
                &format!("(\"a\").{option}: a field is not a {option} field"),
            );
        }
    }

    #[test]
    fn an_invalid_pattern_is_not_repeated() {
        let json =
            format!(r#"[{{"name":"a","url":"https://a.example","events":["email.*","{LEAK}"]}}]"#);
        problems_hiding(&json, &[LEAK], "(\"a\").events[1]: is not \"*\"");
    }

    #[test]
    fn a_queue_is_named_only_when_it_looks_like_a_binding() {
        problems_hiding(
            &format!(r#"[{{"name":"a","queue":"{LEAK}"}}]"#),
            &[LEAK],
            "(\"a\").queue: is not a bound queue producer and does not look like",
        );
        problems_hiding(
            r#"[{"name":"a","queue":"MISSING"}]"#,
            &[],
            "(\"a\").queue: names MISSING, which is not a bound queue producer",
        );
    }

    #[test]
    fn a_queue_route_may_not_name_a_binding_of_the_worker() {
        use crate::config::{DEDUP_BINDING, DEDUP_OBJECTS_BINDING, DELIVERY_QUEUE_BINDING};
        for binding in [DELIVERY_QUEUE_BINDING, DEDUP_BINDING, DEDUP_OBJECTS_BINDING] {
            // Bound, and even bound as a queue: still refused.
            let source = FakeSource::new().with_queue(binding);
            let json = format!(r#"[{{"name":"a","queue":"{binding}"}}]"#);
            let found = parse_routes(&json, &source).err().unwrap_or_default();
            assert!(
                found
                    .iter()
                    .any(|p| p
                        .starts_with(&format!("ROUTES[0] (\"a\").queue: names {binding}, which"))),
                "{binding}: {found:?}"
            );
        }
        let source = FakeSource::new().with_queue(DELIVERY_QUEUE_BINDING);
        let found = parse_routes(r#"[{"name":"a","queue":"DELIVERY_QUEUE"}]"#, &source)
            .err()
            .unwrap_or_default();
        assert!(found[0].contains("HTTP deliveries"), "{found:?}");
    }

    #[test]
    fn a_malformed_filter_names_the_route_and_the_path() {
        let found = problems(
            r#"[{"name":"crm","url":"https://a.example","filter":{"data":{"amount":{"$gt":{}}}}},
                {"name":"b","url":"https://b.example","filter":[1]},
                {"name":"c","url":"https://c.example","filter":{"$or":[{"data":{"x":{"$regex":"whsec_zzzz"}}}]}}]"#,
        );
        assert!(
            found.iter().any(|p| p.starts_with(
                "ROUTES[0] (\"crm\").filter: at /data/amount/$gt: takes a number or a string"
            )),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("ROUTES[1] (\"b\").filter: must be a JSON object")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("(\"c\").filter: at /$or/0/data/x/*: is not an operator")),
            "{found:?}"
        );
        assert!(found.iter().all(|p| !p.contains("whsec_zzzz")));
    }

    #[test]
    fn a_filter_narrows_what_its_events_match() {
        let routes = parse_routes(
            r#"[{"name":"hard","url":"https://a.example","events":["email.bounced"],"filter":{"data":{"bounce_type":"hard"}}},
                {"name":"all","url":"https://b.example"}]"#,
            &FakeSource::new(),
        )
        .unwrap();
        let names = |event: &str, payload: serde_json::Value| -> Vec<String> {
            taking(&routes, event, || Some(payload))
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        let hard = serde_json::json!({"data": {"bounce_type": "hard"}});
        let soft = serde_json::json!({"data": {"bounce_type": "soft"}});
        assert_eq!(names("email.bounced", hard.clone()), ["hard", "all"]);
        assert_eq!(names("email.bounced", soft), ["all"]);
        assert_eq!(names("email.opened", hard), ["all"]);
        // The payload is read only when a filtered route's events matched.
        let read = std::cell::Cell::new(0);
        let count = || {
            read.set(read.get() + 1);
            None
        };
        assert_eq!(taking(&routes, "email.opened", count).len(), 1);
        assert_eq!(read.get(), 0);
        // A payload that cannot be read matches no filter.
        assert_eq!(taking(&routes, "email.bounced", || None).len(), 1);
    }
}
