//! `ROUTES`: where each event goes. Parsed and checked once with the rest of the
//! configuration; matching is pure.

use serde::Deserialize;
use std::collections::HashSet;

use crate::config::ConfigSource;
use crate::payload::is_event_name;
use crate::standard_webhooks::SigningKey;

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
    pub destination: Destination,
}

impl Route {
    /// Whether this route takes `event`.
    pub fn takes(&self, event: &str) -> bool {
        self.events.iter().any(|pattern| pattern.matches(event))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    signing_secret: Option<String>,
}

/// Parses `ROUTES` (a JSON array). Every problem found is returned, each naming
/// the route and the field.
pub fn parse_routes(text: &str, source: &impl ConfigSource) -> Result<Vec<Route>, Vec<String>> {
    let items: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| vec![format!("ROUTES is not a JSON array of routes: {e}.")])?;
    let mut problems = Vec::new();
    let mut names = HashSet::new();
    let mut routes = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let label = match item.get("name").and_then(|n| n.as_str()) {
            Some(name) => format!("ROUTES[{index}] ({name:?})"),
            None => format!("ROUTES[{index}]"),
        };
        let raw: RawRoute = match serde_json::from_value(item) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(format!("{label}: {e}."));
                continue;
            }
        };
        let before = problems.len();
        let mut problem =
            |field: &str, what: String| problems.push(format!("{label}.{field}: {what}"));

        if !is_route_name(&raw.name) {
            problem(
                "name",
                "must be non-empty and use only a-z, 0-9, _ and -.".into(),
            );
        } else if !names.insert(raw.name.clone()) {
            problem(
                "name",
                "is used by another route; names must be unique.".into(),
            );
        }

        let events = match raw.events {
            None => vec![Pattern::Any],
            Some(list) if list.is_empty() => {
                problem("events", "is empty, so the route would take nothing; use [\"*\"] for everything.".into());
                Vec::new()
            }
            Some(list) => list
                .iter()
                .filter_map(|text| {
                    let pattern = Pattern::parse(text);
                    if pattern.is_none() {
                        problem("events", format!("{text:?} is not \"*\", \"family.*\" or an event like \"email.opened\"."));
                    }
                    pattern
                })
                .collect(),
        };

        let destination = match (raw.url, raw.queue) {
            (Some(url), None) => {
                if let Err(why) = check_url(&url, source) {
                    problem("url", why);
                }
                let signing_key = raw.signing_secret.and_then(|secret_name| {
                    match source.text(&secret_name) {
                        None => {
                            problem("signing_secret", format!("names {secret_name}, which is not set; run `wrangler secret put {secret_name}`."));
                            None
                        }
                        Some(value) => match SigningKey::from_whsec(&value) {
                            Ok(key) => Some(key),
                            Err(why) => {
                                problem("signing_secret", format!("the secret {secret_name} {why}"));
                                None
                            }
                        },
                    }
                });
                Some(Destination::Http { url, signing_key })
            }
            (None, Some(binding)) => {
                if raw.signing_secret.is_some() {
                    problem("signing_secret", "applies to url routes only.".into());
                }
                if !source.has_queue(&binding) {
                    problem("queue", format!("names {binding}, which is not a bound queue producer; add it under [[queues.producers]] in wrangler.toml."));
                }
                Some(Destination::Queue { binding })
            }
            _ => {
                problem("url", "exactly one of `url` or `queue` is required.".into());
                None
            }
        };

        if let (Some(destination), true) = (destination, problems.len() == before) {
            routes.push(Route {
                name: raw.name,
                events,
                destination,
            });
        }
    }
    if problems.is_empty() {
        Ok(routes)
    } else {
        Err(problems)
    }
}

fn is_route_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// https anywhere; plain http only to this machine, for local testing.
fn check_url(text: &str, source: &impl ConfigSource) -> Result<(), String> {
    let url = source
        .parse_url(text)
        .ok_or_else(|| format!("{text:?} is not a URL."))?;
    let local = matches!(url.host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    match url.scheme.as_str() {
        "https" if !url.host.is_empty() => Ok(()),
        "http" if local => Ok(()),
        "http" => Err(
            "must use https; plain http is allowed only to localhost, 127.0.0.1 or [::1].".into(),
        ),
        _ => Err("must be an https URL.".into()),
    }
}

/// The routes that take `event`, in configuration order.
pub fn matching<'r>(routes: &'r [Route], event: &str) -> impl Iterator<Item = &'r Route> + 'r {
    let event = event.to_owned();
    routes.iter().filter(move |route| route.takes(&event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::FakeSource;

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
            ("{}", "ROUTES is not a JSON array"),
            ("[1]", "ROUTES[0]"),
            (r#"[{"url":"https://a.example"}]"#, "missing field `name`"),
            (
                r#"[{"name":"Bad Name","url":"https://a.example"}]"#,
                "ROUTES[0] (\"Bad Name\").name",
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
                "\"a\").events: \"email\"",
            ),
            (
                r#"[{"name":"a","url":"https://a.example","event":["*"]}]"#,
                "unknown field `event`",
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
                "\"a\").url: \"not a url\" is not a URL",
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
}
