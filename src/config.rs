//! The worker's configuration: read from vars, secrets and bindings once per
//! isolate, validated whole, every problem named (never a secret's value).

pub use crate::health::alert::AlertTarget;
use crate::routes::{check_url, parse_routes, route_label, Route};
use crate::signature::Secrets;
use crate::standard_webhooks::SigningKey;
use crate::text::joined;

/// KV namespace that remembers dedup keys.
pub const DEDUP_BINDING: &str = "DEDUP";
/// Durable Object namespace of the strict dedup mode.
pub const DEDUP_OBJECTS_BINDING: &str = "DEDUP_OBJECTS";
/// Optional queue producer that carries HTTP deliveries.
pub const DELIVERY_QUEUE_BINDING: &str = "DELIVERY_QUEUE";
/// Optional Durable Object namespace of the event log (SPEC section 8).
pub const EVENTS_BINDING: &str = "EVENTS";
/// The Durable Object namespace of the routes' health (SPEC section 10).
pub const ROUTE_HEALTH_BINDING: &str = "ROUTE_HEALTH";
/// The Durable Object namespace of the stores of held deliveries.
pub const HELD_DELIVERIES_BINDING: &str = "HELD_DELIVERIES";
/// Every binding the worker uses itself. A queue route may name none of them: its
/// events would land where the worker reads its own records (on `DELIVERY_QUEUE`,
/// taken for malformed deliveries and dead-lettered).
pub const INTERNAL_BINDINGS: [&str; 3] =
    [DEDUP_BINDING, DEDUP_OBJECTS_BINDING, DELIVERY_QUEUE_BINDING];

/// Default of `TIMESTAMP_TOLERANCE_SECONDS`.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// Default of `DEDUP_TTL_SECONDS`.
pub const DEFAULT_DEDUP_TTL_SECONDS: u64 = 86_400;
/// Default of `MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 65_536;
/// Largest `MAX_BODY_BYTES`: a body must fit a 128,000-byte queue message with its envelope.
pub const MAX_BODY_BYTES_LIMIT: u64 = 120_000;
/// KV refuses shorter expirations.
pub const KV_MIN_TTL_SECONDS: u64 = 60;
/// Default of `DELIVERY_RETRY_BASE_SECONDS`, the first retry delay.
pub const DEFAULT_RETRY_BASE_SECONDS: u64 = 5;
/// Default of `DELIVERY_TIMEOUT_SECONDS`, the longest wait for a backend's answer.
pub const DEFAULT_DELIVERY_TIMEOUT_SECONDS: u64 = 10;
/// Default of `DEDUP_MEMORY_KEYS`: keys an isolate remembers having recorded.
pub const DEFAULT_DEDUP_MEMORY_KEYS: u64 = 10_000;
/// Largest `DEDUP_MEMORY_KEYS`: at 24–48 bytes a key, at most about 10 MB of
/// an isolate's 128 MB.
pub const MAX_DEDUP_MEMORY_KEYS: usize = 200_000;
/// The secret that enables the admin API.
const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
/// The var naming where alerts are POSTed (SPEC section 10).
pub const ALERT_URL: &str = "ALERT_URL";
/// The secret alerts are signed with, a Standard Webhooks `whsec_` secret.
pub const ALERT_SIGNING_SECRET: &str = "ALERT_SIGNING_SECRET";
/// Default of `EVENT_RETENTION_DAYS`.
pub const DEFAULT_RETENTION_DAYS: u64 = 7;
/// Default of `FAILED_RETENTION_DAYS`: a failed event is what an operator needs.
pub const DEFAULT_FAILED_RETENTION_DAYS: u64 = 30;
/// Default of `DEAD_LETTER_QUEUE`: the delivery consumer's `dead_letter_queue`.
pub const DEFAULT_DEAD_LETTER_QUEUE: &str = "leadnest-edge-dead-letters";
/// Shortest `ADMIN_TOKEN`: a bearer token is all that guards the event log.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// The parts of a URL that route validation checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// Lowercase, without the colon: `https`.
    pub scheme: String,
    /// As the WHATWG URL standard serializes it: `example.com`, `127.0.0.1`, `[::1]`.
    pub host: String,
}

/// Whether `text` has the shape of a binding's or secret's name (`CRM_SIGNING_SECRET`).
/// Only such text is repeated in a problem: anything else in a name's place may be
/// a secret's value pasted there by mistake, and `/health` is public.
pub fn is_binding_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase())
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Where configuration comes from: the Worker's env in production, a map in tests.
pub trait ConfigSource {
    /// A var or secret as text; a JSON var arrives serialized.
    fn text(&self, name: &str) -> Option<String>;
    /// Whether a KV namespace is bound under `name`.
    fn has_kv(&self, name: &str) -> bool;
    /// Whether a queue producer is bound under `name`.
    fn has_queue(&self, name: &str) -> bool;
    /// Whether a Durable Object namespace is bound under `name`.
    fn has_durable_object(&self, name: &str) -> bool;
    /// Parses a URL as `fetch` will. The Worker uses the runtime's own parser, so
    /// the bundle carries none; `None` when it is not a valid absolute URL.
    fn parse_url(&self, url: &str) -> Option<UrlParts>;
}

/// Where dedup keys are kept (`DEDUP_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DedupMode {
    /// Workers KV: cheap and fast; eventually consistent, check-then-write.
    Kv,
    /// Durable Objects, 256 shards picked by the key's hash: each runs one request
    /// at a time, so check-and-claim is atomic.
    Durable,
}

/// A valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub secrets: Secrets,
    pub dedup_mode: DedupMode,
    pub tolerance_seconds: u64,
    pub dedup_ttl_seconds: u64,
    pub max_body_bytes: usize,
    pub routes: Vec<Route>,
    /// HTTP deliveries go through `DELIVERY_QUEUE` when it is bound.
    pub delivery_queue: bool,
    /// First retry delay of a failed delivery; each later one doubles.
    pub retry_base_seconds: u64,
    /// Longest wait for a backend's answer, per attempt.
    pub delivery_timeout_seconds: u64,
    /// How many recorded keys an isolate remembers (0: none).
    pub dedup_memory_keys: usize,
    /// Fault tests only (`TEST_HANDOFF_DELAY_MS`): how long the hand-off waits
    /// before its sends, so a test can cut LeadNest's connection after the
    /// claim. 0, the default, everywhere else.
    pub test_handoff_delay_ms: u64,
    /// `DRAIN_REFUSED_BODIES`: see [`ConfigError::drain_refused_bodies`].
    pub drain_refused_bodies: bool,
    /// The event log is kept: `EVENTS` is bound.
    pub event_log: bool,
    /// `EVENT_RETENTION_DAYS`: older events are purged.
    pub retention_days: u64,
    /// `FAILED_RETENTION_DAYS`: events with a failed delivery are kept this long
    /// (at least `retention_days`), unless a replay delivers them.
    pub failed_retention_days: u64,
    /// `LOG_RESPONSES=all`: a delivered attempt keeps the backend's headers and
    /// body too; by default only an attempt that did not deliver keeps them.
    pub log_all_responses: bool,
    /// `DEAD_LETTER_QUEUE`: batches from this queue are dead letters.
    pub dead_letter_queue: String,
    /// The admin API and console, when `ADMIN_TOKEN` is set and long enough.
    pub admin_token: Option<AdminToken>,
    /// Destination health (SPEC section 10): `DELIVERY_QUEUE`, `ROUTE_HEALTH`
    /// and `HELD_DELIVERIES` all bound.
    pub health: bool,
    /// Where alerts are POSTed, when `ALERT_URL` is set; without it they are
    /// only log lines.
    pub alerts: Option<AlertTarget>,
    /// What is wrong but leaves the ingress working (a too-short `ADMIN_TOKEN`):
    /// `/health` names it.
    pub notices: Vec<String>,
}

/// `ADMIN_TOKEN`, kept only as its SHA-256, so comparing a presented token
/// takes the same time whatever its length or content.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(pub [u8; 32]);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// Everything wrong with a configuration, one sentence per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
    /// Read refused bodies to their end (bounded) rather than cancel them: only
    /// for `wrangler dev`, whose proxy breaks the next request after an early
    /// answer. Kept here too, as a misconfigured worker still refuses bodies.
    pub drain_refused_bodies: bool,
    /// `EVENTS` is bound: a misconfigured worker's refusals are still counted.
    pub event_log: bool,
}

impl ConfigError {
    /// All problems as one message.
    pub fn message(&self) -> String {
        format!(
            "The worker is misconfigured: {}",
            joined(&self.problems, " ")
        )
    }
}

impl Config {
    /// Reads and validates every item; collects all problems rather than stopping
    /// at the first, so one deploy can fix them all.
    pub fn load(source: &impl ConfigSource) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();

        let secrets = source
            .text("WEBHOOK_SECRET")
            .and_then(|list| Secrets::parse(&list));
        if secrets.is_none() {
            problems.push(
                "WEBHOOK_SECRET is not set: run `wrangler secret put WEBHOOK_SECRET` (locally, put it in .dev.vars)."
                    .to_string(),
            );
        }

        let mut number = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            let Some(text) = source.text(name) else {
                return default;
            };
            match text.trim().trim_matches('"').parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    problems.push(format!(
                        "{name} must be a whole number from {min} to {max}."
                    ));
                    default
                }
            }
        };
        let tolerance_seconds = number(
            "TIMESTAMP_TOLERANCE_SECONDS",
            DEFAULT_TOLERANCE_SECONDS,
            1,
            86_400 * 7,
        );
        let dedup_ttl_seconds = number(
            "DEDUP_TTL_SECONDS",
            DEFAULT_DEDUP_TTL_SECONDS,
            KV_MIN_TTL_SECONDS,
            86_400 * 365,
        );
        let max_body_bytes = number(
            "MAX_BODY_BYTES",
            DEFAULT_MAX_BODY_BYTES,
            1,
            MAX_BODY_BYTES_LIMIT,
        );
        let retry_base_seconds = number(
            "DELIVERY_RETRY_BASE_SECONDS",
            DEFAULT_RETRY_BASE_SECONDS,
            0,
            3_600,
        );
        let delivery_timeout_seconds = number(
            "DELIVERY_TIMEOUT_SECONDS",
            DEFAULT_DELIVERY_TIMEOUT_SECONDS,
            1,
            60,
        );
        let dedup_memory_keys = number(
            "DEDUP_MEMORY_KEYS",
            DEFAULT_DEDUP_MEMORY_KEYS,
            0,
            MAX_DEDUP_MEMORY_KEYS as u64,
        );

        let test_handoff_delay_ms = number("TEST_HANDOFF_DELAY_MS", 0, 0, 10_000);
        let retention_days = number("EVENT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, 1, 3_650);
        let failed_retention_days = number(
            "FAILED_RETENTION_DAYS",
            DEFAULT_FAILED_RETENTION_DAYS.max(retention_days),
            1,
            3_650,
        );
        if failed_retention_days < retention_days {
            problems.push(format!(
                "FAILED_RETENTION_DAYS ({failed_retention_days}) must be at least EVENT_RETENTION_DAYS ({retention_days}): failed events are kept longer, never shorter."
            ));
        }

        // A key must outlive the window in which its event can still be replayed.
        if dedup_ttl_seconds < tolerance_seconds {
            problems.push(format!(
                "DEDUP_TTL_SECONDS ({dedup_ttl_seconds}) must be at least TIMESTAMP_TOLERANCE_SECONDS ({tolerance_seconds}), or a replay inside the window would pass."
            ));
        }

        let dedup_mode = match source.text("DEDUP_MODE").as_deref().map(str::trim) {
            None | Some("" | "kv") => DedupMode::Kv,
            Some("durable") => DedupMode::Durable,
            Some(_) => {
                problems.push("DEDUP_MODE must be \"kv\" or \"durable\".".into());
                DedupMode::Kv
            }
        };
        match dedup_mode {
            DedupMode::Kv if !source.has_kv(DEDUP_BINDING) => problems.push(format!(
                "The KV namespace {DEDUP_BINDING} is not bound: add it under [[kv_namespaces]] in wrangler.toml."
            )),
            DedupMode::Durable if !source.has_durable_object(DEDUP_OBJECTS_BINDING) => {
                problems.push(format!(
                    "DEDUP_MODE is durable but {DEDUP_OBJECTS_BINDING} is not bound: add it under [[durable_objects.bindings]] with class_name \"DedupObject\"."
                ))
            }
            _ => {}
        }

        let log_all_responses = match source.text("LOG_RESPONSES").as_deref().map(str::trim) {
            None | Some("" | "failures") => false,
            Some("all") => true,
            Some(_) => {
                problems.push(
                    "LOG_RESPONSES must be \"failures\" (the default: what a backend answered is kept for attempts that did not deliver) or \"all\".".into(),
                );
                false
            }
        };

        // Off unless set: production answers a refusal without reading on.
        let drain_refused_bodies = match source
            .text("DRAIN_REFUSED_BODIES")
            .as_deref()
            .map(|v| v.trim().trim_matches('"'))
        {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(_) => {
                problems.push(
                    "DRAIN_REFUSED_BODIES must be true or false (true only for wrangler dev)."
                        .into(),
                );
                false
            }
        };

        let routes = match source.text("ROUTES") {
            None => Vec::new(),
            Some(text) if text.trim().is_empty() => Vec::new(),
            Some(text) => parse_routes(&text, source).unwrap_or_else(|found| {
                problems.extend(found);
                Vec::new()
            }),
        };

        let mut notices = Vec::new();
        let delivery_queue = source.has_queue(DELIVERY_QUEUE_BINDING);
        if !delivery_queue {
            notices.extend(routes.iter().enumerate().filter_map(unqueued_options));
        }
        let alerts = alert_target(source, &mut problems, &mut notices);
        let admin_token = source
            .text(ADMIN_TOKEN)
            .filter(|token| !token.is_empty())
            .and_then(|token| {
                if token.chars().count() < MIN_ADMIN_TOKEN_LEN {
                    notices.push(format!(
                        "ADMIN_TOKEN is shorter than {MIN_ADMIN_TOKEN_LEN} characters, so the admin API and console are off: set a longer one with `wrangler secret put ADMIN_TOKEN` (e.g. `openssl rand -hex 32`)."
                    ));
                    return None;
                }
                Some(AdminToken(crate::admin::digest(&token)))
            });
        let dead_letter_queue = source
            .text("DEAD_LETTER_QUEUE")
            .map(|name| name.trim().trim_matches('"').to_string())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| DEFAULT_DEAD_LETTER_QUEUE.to_string());

        match secrets {
            Some(secrets) if problems.is_empty() => Ok(Self {
                secrets,
                dedup_mode,
                tolerance_seconds,
                dedup_ttl_seconds,
                // At most MAX_BODY_BYTES_LIMIT, so it fits any usize.
                max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
                routes,
                delivery_queue,
                retry_base_seconds,
                delivery_timeout_seconds,
                // At most MAX_DEDUP_MEMORY_KEYS, so it fits any usize.
                dedup_memory_keys: usize::try_from(dedup_memory_keys).unwrap_or(usize::MAX),
                test_handoff_delay_ms,
                drain_refused_bodies,
                event_log: source.has_durable_object(EVENTS_BINDING),
                retention_days,
                failed_retention_days,
                log_all_responses,
                dead_letter_queue,
                admin_token,
                health: delivery_queue
                    && source.has_durable_object(ROUTE_HEALTH_BINDING)
                    && source.has_durable_object(HELD_DELIVERIES_BINDING),
                alerts,
                notices,
            }),
            _ => Err(ConfigError {
                problems,
                drain_refused_bodies,
                event_log: source.has_durable_object(EVENTS_BINDING),
            }),
        }
    }
}

/// The notice for a route that sets `breaker` or `rate_limit` though
/// `DELIVERY_QUEUE` is not bound: the options would quietly do nothing.
/// `index` is the route's place in `ROUTES` (every route is valid here).
fn unqueued_options((index, route): (usize, &Route)) -> Option<String> {
    let (set, them) = match (route.breaker_explicit, route.rate_limit.is_some()) {
        (true, true) => ("breaker and rate_limit, which need", "them"),
        (true, false) => ("breaker, which needs", "it"),
        (false, true) => ("rate_limit, which needs", "it"),
        (false, false) => return None,
    };
    Some(format!(
        "{} sets {set} {DELIVERY_QUEUE_BINDING}: delivery is best effort without it. Bind {DELIVERY_QUEUE_BINDING} under [[queues.producers]] in wrangler.toml, or remove {them}.",
        route_label(index, Some(&route.name))
    ))
}

/// `ALERT_URL` and `ALERT_SIGNING_SECRET`. A problem names the variable, never
/// its value: a URL may hold a token, and `/health` is public.
fn alert_target(
    source: &impl ConfigSource,
    problems: &mut Vec<String>,
    notices: &mut Vec<String>,
) -> Option<AlertTarget> {
    let url = source
        .text(ALERT_URL)
        .map(|url| url.trim().trim_matches('"').to_string())
        .filter(|url| !url.is_empty());
    let secret = source
        .text(ALERT_SIGNING_SECRET)
        .filter(|secret| !secret.trim().is_empty());
    let Some(url) = url else {
        if secret.is_some() {
            notices.push(format!(
                "{ALERT_SIGNING_SECRET} is set but {ALERT_URL} is not, so alerts are only log lines: set {ALERT_URL} to have them posted."
            ));
        }
        return None;
    };
    if let Err(why) = check_url(&url, source) {
        problems.push(format!("{ALERT_URL} {why}"));
    }
    let signing_key = secret.and_then(|secret| match SigningKey::from_whsec(&secret) {
        Ok(key) => Some(key),
        Err(why) => {
            problems.push(format!("The secret {ALERT_SIGNING_SECRET} {why}"));
            None
        }
    });
    Some(AlertTarget { url, signing_key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSource;

    fn problems(source: FakeSource) -> Vec<String> {
        Config::load(&source).unwrap_err().problems
    }

    #[test]
    fn defaults() {
        let config = Config::load(&FakeSource::minimal()).unwrap();
        assert_eq!(config.tolerance_seconds, 300);
        assert_eq!(config.dedup_ttl_seconds, 86_400);
        assert_eq!(config.max_body_bytes, 65_536);
        assert!(config.routes.is_empty());
        assert!(!config.delivery_queue);
        assert_eq!(config.secrets.len(), 1);
        assert_eq!(config.dedup_memory_keys, 10_000);
        assert_eq!(config.test_handoff_delay_ms, 0);
        assert!(!config.drain_refused_bodies);
    }

    #[test]
    fn responses_are_logged_for_failures_unless_all_is_asked() {
        let load = |value: &str| Config::load(&FakeSource::minimal().with("LOG_RESPONSES", value));
        assert!(
            !Config::load(&FakeSource::minimal())
                .unwrap()
                .log_all_responses
        );
        assert!(!load("failures").unwrap().log_all_responses);
        assert!(load("all").unwrap().log_all_responses);
        let problems = load("everything").unwrap_err().problems;
        assert!(
            problems[0].starts_with("LOG_RESPONSES must be"),
            "{problems:?}"
        );
        assert!(!problems[0].contains("everything"));
    }

    #[test]
    fn failed_events_are_kept_30_days_and_never_shorter_than_the_others() {
        let load = |pairs: &[(&str, &str)]| {
            let mut source = FakeSource::minimal();
            for (name, value) in pairs {
                source = source.with(name, value);
            }
            Config::load(&source)
        };
        let days = |pairs: &[(&str, &str)]| {
            let config = load(pairs).unwrap();
            (config.retention_days, config.failed_retention_days)
        };
        assert_eq!(days(&[]), (7, 30));
        assert_eq!(days(&[("EVENT_RETENTION_DAYS", "60")]), (60, 60));
        assert_eq!(days(&[("FAILED_RETENTION_DAYS", "90")]), (7, 90));
        let problems = load(&[
            ("EVENT_RETENTION_DAYS", "14"),
            ("FAILED_RETENTION_DAYS", "10"),
        ])
        .unwrap_err()
        .problems;
        assert!(
            problems[0].contains("FAILED_RETENTION_DAYS (10)"),
            "{problems:?}"
        );
    }

    #[test]
    fn drain_refused_bodies_is_a_boolean_kept_when_misconfigured() {
        let drain = |value: &str| {
            Config::load(&FakeSource::minimal().with("DRAIN_REFUSED_BODIES", value))
                .unwrap()
                .drain_refused_bodies
        };
        // `--var NAME:true` and `NAME = true` in [vars] both arrive as `true`.
        assert!(drain("true"));
        assert!(drain("\"true\""));
        assert!(!drain("false"));
        assert!(
            problems(FakeSource::minimal().with("DRAIN_REFUSED_BODIES", "yes"))[0]
                .starts_with("DRAIN_REFUSED_BODIES")
        );
        let misconfigured = Config::load(&FakeSource::new().with("DRAIN_REFUSED_BODIES", "true"));
        assert!(misconfigured.unwrap_err().drain_refused_bodies);
    }

    #[test]
    fn values_as_strings_or_json_numbers() {
        let source = FakeSource::minimal()
            .with("TIMESTAMP_TOLERANCE_SECONDS", " 60 ")
            .with("DEDUP_TTL_SECONDS", "\"120\"")
            .with("MAX_BODY_BYTES", "120000")
            .with("DEDUP_MEMORY_KEYS", "0")
            .with("WEBHOOK_SECRET", "a, b")
            .with_queue(DELIVERY_QUEUE_BINDING);
        let config = Config::load(&source).unwrap();
        assert_eq!(
            (
                config.tolerance_seconds,
                config.dedup_ttl_seconds,
                config.max_body_bytes
            ),
            (60, 120, 120_000)
        );
        assert_eq!(config.secrets.len(), 2);
        assert_eq!(config.dedup_memory_keys, 0);
        assert!(config.delivery_queue);
    }

    #[test]
    fn missing_required_items() {
        let found = problems(FakeSource::new());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("WEBHOOK_SECRET"));
        assert!(found[1].contains("DEDUP"));
        assert!(
            problems(FakeSource::minimal().with("WEBHOOK_SECRET", " , "))[0]
                .contains("WEBHOOK_SECRET")
        );
    }

    #[test]
    fn each_bad_number_is_named() {
        for (name, value) in [
            ("TIMESTAMP_TOLERANCE_SECONDS", "0"),
            ("TIMESTAMP_TOLERANCE_SECONDS", "five"),
            ("DEDUP_TTL_SECONDS", "59"),
            ("DEDUP_TTL_SECONDS", "-1"),
            ("MAX_BODY_BYTES", "120001"),
            ("MAX_BODY_BYTES", "1.5"),
            ("DEDUP_MEMORY_KEYS", "200001"),
            ("DEDUP_MEMORY_KEYS", "many"),
            ("TEST_HANDOFF_DELAY_MS", "10001"),
        ] {
            let found = problems(FakeSource::minimal().with(name, value));
            assert!(
                found.iter().any(|p| p.starts_with(name)),
                "{name}={value}: {found:?}"
            );
        }
    }

    #[test]
    fn ttl_must_cover_the_tolerance() {
        let found = problems(
            FakeSource::minimal()
                .with("TIMESTAMP_TOLERANCE_SECONDS", "600")
                .with("DEDUP_TTL_SECONDS", "300"),
        );
        assert!(
            found[0].contains("at least TIMESTAMP_TOLERANCE_SECONDS"),
            "{found:?}"
        );
    }

    #[test]
    fn dedup_modes() {
        assert_eq!(
            Config::load(&FakeSource::minimal()).unwrap().dedup_mode,
            DedupMode::Kv
        );
        let durable = FakeSource::new()
            .with("WEBHOOK_SECRET", "s")
            .with("DEDUP_MODE", "durable")
            .with_durable_object(DEDUP_OBJECTS_BINDING);
        assert_eq!(
            Config::load(&durable).unwrap().dedup_mode,
            DedupMode::Durable
        );
        let unbound = FakeSource::minimal().with("DEDUP_MODE", "durable");
        assert!(problems(unbound)[0].contains("DEDUP_OBJECTS is not bound"));
        assert!(
            problems(FakeSource::minimal().with("DEDUP_MODE", "redis"))[0]
                .starts_with("DEDUP_MODE")
        );
    }

    const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn alerts_go_to_alert_url_signed_when_a_secret_is_set() {
        let config = Config::load(&FakeSource::minimal()).unwrap();
        assert!(config.alerts.is_none());
        for url in [
            "https://alerts.example/hook",
            "http://localhost:9000/alerts",
            "http://127.0.0.1/a",
            "http://[::1]:8080/",
        ] {
            let config = Config::load(&FakeSource::minimal().with(ALERT_URL, url)).unwrap();
            let target = config.alerts.unwrap();
            assert_eq!(target.url, url);
            assert!(target.signing_key.is_none());
            assert!(config.notices.is_empty());
        }
        let config = Config::load(
            &FakeSource::minimal()
                .with(ALERT_URL, " https://alerts.example/hook ")
                .with(ALERT_SIGNING_SECRET, WHSEC),
        )
        .unwrap();
        let target = config.alerts.unwrap();
        assert_eq!(target.url, "https://alerts.example/hook");
        assert!(target.signing_key.is_some());
        // Empty is unset.
        let config = Config::load(
            &FakeSource::minimal()
                .with(ALERT_URL, "")
                .with(ALERT_SIGNING_SECRET, ""),
        )
        .unwrap();
        assert!(config.alerts.is_none() && config.notices.is_empty());
    }

    #[test]
    fn a_bad_alert_url_or_secret_is_named_never_quoted() {
        for (url, secret, expected) in [
            ("not a url", None, "ALERT_URL is not an absolute URL."),
            (
                "http://alerts.example/hook?token=tok-5678abcd",
                None,
                "ALERT_URL must use https; plain http is allowed only to localhost",
            ),
            (
                "ftp://alerts.example/tok-5678abcd",
                None,
                "ALERT_URL must be an https URL.",
            ),
            (
                "https://alerts.example/hook",
                Some("alert-secret-value"),
                "The secret ALERT_SIGNING_SECRET does not start with whsec_",
            ),
            (
                "https://alerts.example/hook",
                Some("whsec_not base64 alert-secret-value"),
                "The secret ALERT_SIGNING_SECRET is not whsec_ followed by base64.",
            ),
        ] {
            let mut source = FakeSource::minimal().with(ALERT_URL, url);
            if let Some(secret) = secret {
                source = source.with(ALERT_SIGNING_SECRET, secret);
            }
            let message = Config::load(&source).unwrap_err().message();
            assert!(message.contains(expected), "{expected} not in {message}");
            for hidden in ["alerts.example", "tok-5678abcd", "alert-secret-value"] {
                assert!(!message.contains(hidden), "{hidden} in {message}");
            }
        }
    }

    #[test]
    fn an_alert_secret_without_a_url_is_a_notice() {
        let config = Config::load(
            &FakeSource::minimal().with(ALERT_SIGNING_SECRET, "whsec_not base64 alert-secret"),
        )
        .unwrap();
        assert!(config.alerts.is_none());
        assert_eq!(config.notices.len(), 1, "{:?}", config.notices);
        assert!(config.notices[0].starts_with("ALERT_SIGNING_SECRET is set but ALERT_URL is not"));
        assert!(!config.notices[0].contains("alert-secret"));
    }

    #[test]
    fn breaker_or_rate_limit_without_the_delivery_queue_is_a_notice() {
        let routes = r#"[{"name":"crm","url":"https://crm.example","breaker":{"failures":3}},
            {"name":"quiet","url":"https://q.example"},
            {"name":"off","url":"https://o.example","breaker":false},
            {"name":"slow","url":"https://s.example","rate_limit":{"per_second":5}},
            {"name":"both","url":"https://b.example","breaker":true,"rate_limit":{"per_second":5}}]"#;
        let unqueued = Config::load(&FakeSource::minimal().with("ROUTES", routes)).unwrap();
        assert_eq!(
            unqueued.notices,
            [
                "ROUTES[0] (\"crm\") sets breaker, which needs DELIVERY_QUEUE: delivery is best effort without it. Bind DELIVERY_QUEUE under [[queues.producers]] in wrangler.toml, or remove it.",
                "ROUTES[3] (\"slow\") sets rate_limit, which needs DELIVERY_QUEUE: delivery is best effort without it. Bind DELIVERY_QUEUE under [[queues.producers]] in wrangler.toml, or remove it.",
                "ROUTES[4] (\"both\") sets breaker and rate_limit, which need DELIVERY_QUEUE: delivery is best effort without it. Bind DELIVERY_QUEUE under [[queues.producers]] in wrangler.toml, or remove them.",
            ]
        );
        // `/health` names them.
        let (status, body) = crate::endpoint::health(&Ok(unqueued));
        assert_eq!(status, 503);
        assert!(
            body.contains("ROUTES[0] (\\\"crm\\\") sets breaker"),
            "{body}"
        );
        let queued = FakeSource::minimal()
            .with("ROUTES", routes)
            .with_queue(DELIVERY_QUEUE_BINDING);
        assert!(Config::load(&queued).unwrap().notices.is_empty());
        // A route whose name is not repeated is named by its place.
        let secret_named = Config::load(&FakeSource::minimal().with(
            "ROUTES",
            r#"[{"name":"whsec_abcdefgh","url":"https://a.example","breaker":true}]"#,
        ))
        .unwrap();
        assert!(
            secret_named.notices[0].starts_with("ROUTES[0] sets breaker"),
            "{:?}",
            secret_named.notices
        );
    }

    #[test]
    fn bad_routes_make_it_invalid() {
        let found = problems(FakeSource::minimal().with("ROUTES", "[{\"name\":\"x\"}]"));
        assert!(found[0].contains("ROUTES[0]"), "{found:?}");
    }

    #[test]
    fn problems_never_hold_a_secret() {
        let source = FakeSource::new()
            .with("WEBHOOK_SECRET", "super-secret-value")
            .with("CRM", "whsec_not base64 super-secret-value")
            .with(
                "ROUTES",
                r#"[{"name":"a","url":"https://a.example","signing_secret":"CRM"}]"#,
            );
        let error = Config::load(&source).unwrap_err();
        assert!(
            !error.message().contains("super-secret-value"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn no_value_of_a_var_is_repeated() {
        // Every var holds something secret-like; ROUTES also puts the secrets' values
        // where names belong, and a URL carries credentials and a token.
        let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let routes = format!(
            r#"[{{"name":"crm","url":"https://crm-user:hunter2-pass@crm example.com/?token=tok-5678abcd","signing_secret":"{whsec}"}},
                {{"name":"analytics","queue":"webhook-secret-value-1"}},
                {{"name":"billing","url":"https://b.example","signing_secret":"CRM_SIGNING_SECRET","events":"numeric-guess-123456"}}]"#
        );
        let values = [
            (
                "WEBHOOK_SECRET",
                "webhook-secret-value-1, webhook-secret-value-2",
            ),
            ("CRM_SIGNING_SECRET", "whsec_not base64 crm-secret-value"),
            ("TIMESTAMP_TOLERANCE_SECONDS", "tolerance-secret-value"),
            ("DEDUP_TTL_SECONDS", "98765432101"),
            ("MAX_BODY_BYTES", "max-body-secret-value"),
            ("DELIVERY_RETRY_BASE_SECONDS", "-123456789"),
            ("DELIVERY_TIMEOUT_SECONDS", "timeout-secret-value"),
            ("DEDUP_MEMORY_KEYS", "memory-secret-value"),
            ("DEDUP_MODE", "dedup-mode-secret-value"),
        ];
        let mut source = FakeSource::minimal().with("ROUTES", &routes);
        for (name, value) in values {
            source = source.with(name, value);
        }
        let message = Config::load(&source).unwrap_err().message();
        for hidden in [
            whsec,
            "webhook-secret-value",
            "crm-secret-value",
            "tolerance-secret-value",
            "98765432101",
            "max-body-secret-value",
            "123456789",
            "timeout-secret-value",
            "memory-secret-value",
            "dedup-mode-secret-value",
            "crm-user",
            "hunter2-pass",
            "tok-5678abcd",
            "numeric-guess-123456",
        ] {
            assert!(!message.contains(hidden), "{hidden} in: {message}");
        }
        // Each problem is still named.
        for named in [
            "TIMESTAMP_TOLERANCE_SECONDS must",
            "DEDUP_TTL_SECONDS must",
            "DEDUP_MODE must",
            "ROUTES[0] (\"crm\").url",
            "ROUTES[0] (\"crm\").signing_secret",
            "ROUTES[1] (\"analytics\").queue",
            "ROUTES[2] (\"billing\").signing_secret: the secret CRM_SIGNING_SECRET",
            "ROUTES[2] (\"billing\").events",
        ] {
            assert!(message.contains(named), "{named} not in: {message}");
        }
    }
}
