//! The routes' answers (SPEC section 10): each route's configuration with what
//! its state object reported. Written by hand, as the other answers are: a few
//! fields need no serializer.

use serde_json::Value;

use crate::event_log::time::rfc3339;
use crate::json_writer::{count, JsonObject};
use crate::routes::{Destination, Route};

/// The latest `since` a report may give: the end of year 9999, the last with
/// a four-digit RFC 3339 year.
const LATEST_MS: i64 = 253_402_300_799_999;

/// A route's state as its object keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteState {
    Active,
    /// By an operator.
    Paused,
    /// By the breaker.
    Tripped,
}

impl RouteState {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "tripped" => Some(Self::Tripped),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Tripped => "tripped",
        }
    }
}

/// What a route's state object reported, read whole or not at all: a report
/// with one field wrong is as unknown as one never received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub state: RouteState,
    /// When it entered that state, unix ms.
    pub since_ms: Option<i64>,
    /// Deliveries held while paused or tripped.
    pub held: u64,
    pub delivered_1h: u64,
    pub failed_1h: u64,
    pub last_error: Option<String>,
}

impl Report {
    /// `{"state","since","held","delivered_1h","failed_1h","last_error"}`, as
    /// the object's `report`, `pause` and `resume` answer; a missing `since`
    /// or `last_error` is null.
    pub fn parse(text: &str) -> Option<Self> {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let count = |name: &str| fields.get(name)?.as_u64();
        let nullable = |name: &str| fields.get(name).filter(|value| !value.is_null());
        let since_ms = match nullable("since") {
            None => None,
            Some(value) => Some(value.as_i64().filter(|ms| (0..=LATEST_MS).contains(ms))?),
        };
        let last_error = match nullable("last_error") {
            None => None,
            Some(value) => Some(value.as_str()?.to_string()),
        };
        Some(Self {
            state: RouteState::parse(fields.get("state")?.as_str()?)?,
            since_ms,
            held: count("held")?,
            delivered_1h: count("delivered_1h")?,
            failed_1h: count("failed_1h")?,
            last_error,
        })
    }
}

/// What an answer says of a route's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No state is kept: a queue route, or destination health is off. Such a
    /// route is always active and holds nothing.
    Untracked,
    /// Its object could not be asked, or its report could not be read.
    Unknown,
    Reported(Report),
}

impl Health {
    /// A report's text, or `None` for a call that failed.
    pub fn of(text: Option<&str>) -> Self {
        text.and_then(Report::parse)
            .map_or(Self::Unknown, Self::Reported)
    }
}

/// One route: `{name, kind, state, since, held, delivered_1h, failed_1h,
/// last_error, breaker, rate_limit}`.
pub fn entry(route: &Route, health: &Health) -> String {
    let mut out = String::with_capacity(256);
    push_entry(&mut out, route, health);
    out
}

/// `{"routes":[…]}`, each route with its health, in configuration order.
pub fn list<'r>(routes: impl Iterator<Item = (&'r Route, Health)>) -> String {
    let mut out = String::from("{\"routes\":[");
    for (i, (route, health)) in routes.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_entry(&mut out, route, &health);
    }
    out.push_str("]}");
    out
}

fn push_entry(out: &mut String, route: &Route, health: &Health) {
    let (state, report) = match health {
        Health::Untracked => ("active", None),
        Health::Unknown => ("unknown", None),
        Health::Reported(report) => (report.state.as_str(), Some(report)),
    };
    // Nothing is held where no state is kept.
    let held = match health {
        Health::Untracked => Some(0),
        _ => report.map(|r| r.held),
    };
    let since = report.and_then(|r| r.since_ms).map(rfc3339);
    let number = |n: Option<u64>| n.map(count);
    let mut entry = JsonObject::new();
    entry
        .text("name", &route.name)
        .text(
            "kind",
            match route.destination {
                Destination::Http { .. } => "http",
                Destination::Queue { .. } => "queue",
            },
        )
        .text("state", state)
        .text_or_null("since", since.as_deref())
        .number_or_null("held", number(held))
        .number_or_null("delivered_1h", number(report.map(|r| r.delivered_1h)))
        .number_or_null("failed_1h", number(report.map(|r| r.failed_1h)))
        .text_or_null("last_error", report.and_then(|r| r.last_error.as_deref()));
    match route.breaker {
        Some(breaker) => entry.raw(
            "breaker",
            &JsonObject::new()
                .number("failures", breaker.failures.into())
                .number("probe_seconds", count(breaker.probe_seconds))
                .end(),
        ),
        None => entry.raw("breaker", "false"),
    };
    match route.rate_limit {
        Some(limit) => entry.raw(
            "rate_limit",
            &JsonObject::new()
                .number("per_second", limit.per_second.into())
                .end(),
        ),
        None => entry.raw("rate_limit", "null"),
    };
    out.push_str(&entry.end());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::{Breaker, RateLimit};

    fn route(name: &str, http: bool) -> Route {
        let destination = if http {
            Destination::Http {
                url: "https://crm.example/hooks".into(),
                signing_key: None,
            }
        } else {
            Destination::Queue {
                binding: "WAREHOUSE".into(),
            }
        };
        Route {
            name: name.into(),
            events: Vec::new(),
            filter: None,
            breaker: http.then(Breaker::default),
            rate_limit: None,
            breaker_explicit: false,
            destination,
        }
    }

    const REPORT: &str = r#"{"state":"tripped","since":1796220187123,"held":42,"delivered_1h":97,"failed_1h":12,"last_error":"HTTP 503"}"#;

    #[test]
    fn a_report_known_answer() {
        let report = Report::parse(REPORT).unwrap();
        assert_eq!(
            report,
            Report {
                state: RouteState::Tripped,
                since_ms: Some(1_796_220_187_123),
                held: 42,
                delivered_1h: 97,
                failed_1h: 12,
                last_error: Some("HTTP 503".into()),
            }
        );
        let mut crm = route("crm", true);
        crm.breaker = Some(Breaker {
            failures: 5,
            probe_seconds: 30,
        });
        crm.rate_limit = Some(RateLimit { per_second: 20 });
        let entry = entry(&crm, &Health::Reported(report));
        assert_eq!(
            entry,
            r#"{"name":"crm","kind":"http","state":"tripped","since":"2026-12-02T14:03:07.123Z","held":42,"delivered_1h":97,"failed_1h":12,"last_error":"HTTP 503","breaker":{"failures":5,"probe_seconds":30},"rate_limit":{"per_second":20}}"#
        );
        assert!(serde_json::from_str::<Value>(&entry).is_ok());
    }

    #[test]
    fn each_state_and_null_fields_read() {
        for (state, expected) in [
            ("active", RouteState::Active),
            ("paused", RouteState::Paused),
            ("tripped", RouteState::Tripped),
        ] {
            let text = format!(
                r#"{{"state":"{state}","since":null,"held":0,"delivered_1h":0,"failed_1h":0,"last_error":null}}"#
            );
            let report = Report::parse(&text).unwrap();
            assert_eq!((report.state, report.since_ms), (expected, None));
            assert_eq!(report.state.as_str(), state);
        }
        // A report that leaves out the nullable fields says they are null.
        let short = r#"{"state":"active","held":1,"delivered_1h":2,"failed_1h":3}"#;
        assert_eq!(
            Report::parse(short).map(|r| (r.since_ms, r.last_error)),
            Some((None, None))
        );
    }

    #[test]
    fn a_report_with_any_field_wrong_is_unknown() {
        for text in [
            "",
            "null",
            "[]",
            "not json",
            r#""active""#,
            r#"{"state":"active"}"#,
            r#"{"state":"sleeping","held":0,"delivered_1h":0,"failed_1h":0}"#,
            r#"{"state":"ACTIVE","held":0,"delivered_1h":0,"failed_1h":0}"#,
            r#"{"state":null,"held":0,"delivered_1h":0,"failed_1h":0}"#,
            r#"{"state":"active","held":-1,"delivered_1h":0,"failed_1h":0}"#,
            r#"{"state":"active","held":1.5,"delivered_1h":0,"failed_1h":0}"#,
            r#"{"state":"active","held":"3","delivered_1h":0,"failed_1h":0}"#,
            r#"{"state":"active","held":0,"delivered_1h":null,"failed_1h":0}"#,
            r#"{"state":"active","held":0,"delivered_1h":0}"#,
            r#"{"state":"active","held":0,"delivered_1h":0,"failed_1h":0,"since":"yesterday"}"#,
            r#"{"state":"active","held":0,"delivered_1h":0,"failed_1h":0,"since":-5}"#,
            r#"{"state":"active","held":0,"delivered_1h":0,"failed_1h":0,"since":1e300}"#,
            r#"{"state":"active","held":0,"delivered_1h":0,"failed_1h":0,"since":253402300800000}"#,
            r#"{"state":"active","held":0,"delivered_1h":0,"failed_1h":0,"last_error":42}"#,
            r#"{"state":"active","held":0,"delivered_1h":0,"failed_1h":0,"last_error":{"a":1}}"#,
            r#"{"state":"active","held":99999999999999999999999,"delivered_1h":0,"failed_1h":0}"#,
        ] {
            assert_eq!(Report::parse(text), None, "{text}");
            assert_eq!(Health::of(Some(text)), Health::Unknown, "{text}");
        }
        assert_eq!(Health::of(None), Health::Unknown);
    }

    #[test]
    fn an_unknown_or_untracked_route_renders_its_nulls() {
        assert_eq!(
            entry(&route("crm", true), &Health::Unknown),
            r#"{"name":"crm","kind":"http","state":"unknown","since":null,"held":null,"delivered_1h":null,"failed_1h":null,"last_error":null,"breaker":{"failures":10,"probe_seconds":60},"rate_limit":null}"#
        );
        assert_eq!(
            entry(&route("warehouse", false), &Health::Untracked),
            r#"{"name":"warehouse","kind":"queue","state":"active","since":null,"held":0,"delivered_1h":null,"failed_1h":null,"last_error":null,"breaker":false,"rate_limit":null}"#
        );
    }

    #[test]
    fn a_last_error_is_escaped_json_text() {
        let report = Report {
            state: RouteState::Tripped,
            since_ms: None,
            held: 0,
            delivered_1h: 0,
            failed_1h: 1,
            last_error: Some("</script>\"\n\u{0}<b>".into()),
        };
        let text = entry(&route("crm", true), &Health::Reported(report));
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["last_error"], "</script>\"\n\u{0}<b>");
    }

    #[test]
    fn the_list_keeps_the_order_given() {
        let (a, b) = (route("b-first", true), route("a-second", false));
        let text = list([(&a, Health::Unknown), (&b, Health::Untracked)].into_iter());
        let value: Value = serde_json::from_str(&text).unwrap();
        let names: Vec<&str> = value["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["b-first", "a-second"]);
        assert_eq!(list(std::iter::empty()), r#"{"routes":[]}"#);
    }
}
