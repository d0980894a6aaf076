//! One call on a route's health, as the route's object makes it: the kept
//! text in, the new text out with what to do and the alerts to send. The
//! object stores the text and performs the rest; what goes in and comes out
//! is decided here.

use crate::config::Config;
use crate::log::WarningLog;
use crate::routes::Destination;

use super::alert::{alert_retry_delay_ms, Alert, AlertKind};
use super::state::{Change, Health, Limits, Tick};

/// What a call does to the route's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call<'a> {
    /// Whether each of `count` deliveries may be attempted now, in order.
    Admit { count: u32 },
    /// Admitted attempts ended, in the order they ended (`true` delivered);
    /// `failure`, what the last failure was; `unattempted` admissions were
    /// not used.
    Settle {
        outcomes: &'a [bool],
        failure: Option<&'a str>,
        unattempted: u32,
    },
    /// What the alarm does now.
    Tick,
    /// A probe ended.
    Probed {
        delivered: bool,
        failure: Option<&'a str>,
    },
    /// An operator paused the route.
    Pause,
    /// An operator resumed the route.
    Resume,
    /// `count` deliveries of the route were dead-lettered.
    DeadLettered { count: u64 },
    /// The admin API's view of the route (SPEC section 10); nothing changes.
    Report,
}

/// What a call came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The health to keep.
    pub text: String,
    /// For [`Call::Admit`]: each delivery's go, in order.
    pub go: Vec<bool>,
    /// For [`Call::Tick`]: what the alarm does.
    pub tick: Option<Tick>,
    /// For [`Call::Pause`], [`Call::Resume`] and [`Call::Report`]: the admin
    /// API's view after it.
    pub report: Option<String>,
    pub alerts: Vec<Outgoing>,
}

/// An alert to send: its log line, and with `ALERT_URL` its request.
#[derive(Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub line: String,
    pub post: Option<Post>,
}

/// An alert's POST, signed for the time it was raised.
#[derive(Debug, PartialEq, Eq)]
pub struct Post {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Runs `call` on the route `route`'s health kept as `text`, at `now_ms`,
/// with `held` deliveries held. A route gone from the configuration (or not
/// an HTTP route) neither trips, limits nor stays paused: what it holds
/// drains, and each delivery is told the route is gone.
pub fn run(
    config: Option<&Config>,
    route: &str,
    text: &str,
    now_ms: i64,
    held: u64,
    call: Call<'_>,
) -> Answer {
    let configured = config
        .and_then(|config| config.routes.iter().find(|r| r.name == route))
        .filter(|r| matches!(r.destination, Destination::Http { .. }));
    let limits = configured.map(Limits::from).unwrap_or_default();
    let mut health = Health::from_text(text);
    if config.is_some() && configured.is_none() {
        health.released(now_ms);
    }
    let mut answer = Answer::default();
    let changes = match call {
        Call::Admit { count } => {
            answer.go = (0..count).map(|_| health.admit(limits, now_ms)).collect();
            Vec::new()
        }
        Call::Settle {
            outcomes,
            failure,
            unattempted,
        } => {
            health.unattempted(unattempted);
            health.settled(limits, now_ms, outcomes, failure)
        }
        Call::Tick => {
            let (tick, changes) = health.tick(limits, now_ms, held);
            answer.tick = Some(tick);
            changes
        }
        Call::Probed { delivered, failure } => health.probed(now_ms, delivered, failure),
        Call::Pause => health.pause(now_ms),
        Call::Resume => health.resume(now_ms),
        Call::DeadLettered { count } => health.dead_lettered(now_ms, count),
        Call::Report => Vec::new(),
    };
    if matches!(call, Call::Pause | Call::Resume | Call::Report) {
        answer.report = Some(health.report(now_ms, held));
    }
    answer.alerts = changes
        .into_iter()
        .map(|change| outgoing(config, alert_of(change, route, now_ms, held), now_ms))
        .collect();
    answer.text = health.text();
    answer
}

/// The alert a change raises, with its fixed reason.
fn alert_of(change: Change, route: &str, at_ms: i64, held: u64) -> Alert {
    let (kind, reason, count) = match change {
        Change::Tripped { reason } => (AlertKind::Tripped, reason, None),
        Change::Recovered => (AlertKind::Recovered, "a probe was delivered".into(), None),
        Change::Paused => (AlertKind::Paused, "paused by an operator".into(), None),
        Change::Resumed => (AlertKind::Resumed, "resumed by an operator".into(), None),
        Change::Failed { count } => (
            AlertKind::DeliveryFailed,
            "deliveries spent their retries and were dead-lettered".into(),
            Some(count),
        ),
    };
    Alert {
        kind,
        route: route.to_string(),
        at_ms,
        reason,
        held,
        count,
    }
}

fn outgoing(config: Option<&Config>, alert: Alert, now_ms: i64) -> Outgoing {
    let post = config
        .and_then(|config| config.alerts.as_ref())
        .map(|target| Post {
            url: target.url.clone(),
            headers: alert.headers(target, now_ms / 1000),
            body: alert.body(),
        });
    Outgoing {
        line: alert.line(),
        post,
    }
}

/// What went wrong in a step of a route's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The route's object could not be asked.
    Unreachable,
    /// A drained delivery that failed could not go back to the queue: it
    /// stays held.
    RequeueFailed,
    /// An alert's POST got `status` (0: no answer) on try `tries`.
    AlertTried { status: u16, tries: u32 },
}

/// What to do about a [`Trouble`]: the line to print, if any, and for an
/// alert's try the wait before the next (none: it is done, sent or given up).
#[derive(Debug, PartialEq, Eq)]
pub struct Handling {
    pub line: Option<String>,
    pub retry_ms: Option<i64>,
}

/// How `trouble` with the route `route` is handled; `error`, the platform's
/// message.
pub fn handle(trouble: Trouble, route: &str, error: Option<&str>) -> Handling {
    let line = |code: &str, status: Option<u16>, tries: Option<u32>| {
        Some(
            WarningLog {
                warning: code,
                route: Some(route),
                error,
                status: status.filter(|&status| status > 0),
                tries,
                ..Default::default()
            }
            .line(),
        )
    };
    let (line, retry_ms) = match trouble {
        Trouble::Unreachable => (line("health_unreachable", None, None), None),
        Trouble::RequeueFailed => (line("requeue_failed", None, None), None),
        Trouble::AlertTried { status, .. } if (200..300).contains(&status) => (None, None),
        Trouble::AlertTried { status, tries } => match alert_retry_delay_ms(tries) {
            Some(ms) => (None, Some(ms)),
            None => (line("alert_not_delivered", Some(status), Some(tries)), None),
        },
    };
    Handling { line, retry_ms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSource;
    use serde_json::Value;

    const NOW: i64 = 1_780_000_000_000;

    fn routes(alerts: bool) -> Config {
        let mut source = FakeSource::minimal().with_queue("EVENTS_QUEUE").with(
            "ROUTES",
            r#"[{"name":"crm","url":"https://crm.example/hook","breaker":{"failures":2}},
                {"name":"q","queue":"EVENTS_QUEUE"}]"#,
        );
        if alerts {
            source = source.with("ALERT_URL", "https://alerts.example/in").with(
                "ALERT_SIGNING_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            );
        }
        Config::load(&source).unwrap_or_else(|error| unreachable!("{}", error.message()))
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or(Value::Null)
    }

    /// Settles `n` failures of `crm`, from `text`.
    fn fail(config: &Config, text: &str, n: usize) -> Answer {
        let outcomes = vec![false; n];
        run(
            Some(config),
            "crm",
            text,
            NOW,
            3,
            Call::Settle {
                outcomes: &outcomes,
                failure: Some("status 503"),
                unattempted: 0,
            },
        )
    }

    #[test]
    fn a_trip_raises_one_alert_posted_to_alert_url() {
        let config = routes(true);
        let answer = fail(&config, "", 2);
        assert_eq!(answer.alerts.len(), 1);
        let alert = &answer.alerts[0];
        assert_eq!(json(&alert.line)["alert"], "route.tripped");
        let post = alert.post.as_ref().unwrap();
        assert_eq!(post.url, "https://alerts.example/in");
        let body = json(&post.body);
        assert_eq!(
            (body["type"].as_str(), body["held"].as_u64()),
            (Some("route.tripped"), Some(3))
        );
        let names: Vec<&str> = post.headers.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "content-type",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
        // Kept: the next report says tripped.
        let report = run(Some(&config), "crm", &answer.text, NOW, 3, Call::Report);
        assert_eq!(json(&report.report.unwrap())["state"], "tripped");
        assert!(report.alerts.is_empty() && report.go.is_empty() && report.tick.is_none());
    }

    #[test]
    fn without_alert_url_an_alert_is_its_line_alone() {
        let answer = fail(&routes(false), "", 2);
        assert_eq!(answer.alerts.len(), 1);
        assert!(answer.alerts[0].post.is_none());
    }

    #[test]
    fn each_change_has_its_alert_and_reason() {
        let config = routes(false);
        let paused = run(Some(&config), "crm", "", NOW, 0, Call::Pause);
        let resumed = run(Some(&config), "crm", &paused.text, NOW + 1, 0, Call::Resume);
        let failed = run(
            Some(&config),
            "crm",
            "",
            NOW,
            0,
            Call::DeadLettered { count: 4 },
        );
        let lines: Vec<Value> = [&paused, &resumed, &failed]
            .iter()
            .map(|answer| json(&answer.alerts[0].line))
            .collect();
        assert_eq!(lines[0]["reason"], "paused by an operator");
        assert_eq!(lines[1]["reason"], "resumed by an operator");
        assert_eq!(
            (lines[2]["alert"].as_str(), lines[2]["count"].as_u64()),
            (Some("delivery.failed"), Some(4))
        );
        assert_eq!(json(paused.report.as_deref().unwrap())["state"], "paused");
        assert_eq!(json(resumed.report.as_deref().unwrap())["state"], "active");
        // A probe delivered brings a tripped route back.
        let tripped = fail(&config, "", 2);
        let recovered = run(
            Some(&config),
            "crm",
            &tripped.text,
            NOW + 1,
            0,
            Call::Probed {
                delivered: true,
                failure: None,
            },
        );
        assert_eq!(
            json(&recovered.alerts[0].line)["reason"],
            "a probe was delivered"
        );
    }

    #[test]
    fn admit_answers_each_delivery_and_tick_what_the_alarm_does() {
        let config = routes(false);
        let admitted = run(Some(&config), "crm", "", NOW, 0, Call::Admit { count: 3 });
        assert_eq!(admitted.go, [true, true, true]);
        let paused = run(Some(&config), "crm", &admitted.text, NOW, 0, Call::Pause);
        let held = run(
            Some(&config),
            "crm",
            &paused.text,
            NOW,
            2,
            Call::Admit { count: 2 },
        );
        assert_eq!(held.go, [false, false]);
        let tick = run(Some(&config), "crm", &paused.text, NOW, 2, Call::Tick);
        assert_eq!(tick.tick, Some(Tick::Wait(NOW + 3_600_000)));
    }

    #[test]
    fn a_route_gone_or_not_http_neither_trips_nor_limits() {
        let config = routes(false);
        for route in ["gone", "q"] {
            let answer = fail_route(&config, route);
            assert!(answer.alerts.is_empty(), "{route}");
            let report = run(Some(&config), route, &answer.text, NOW, 0, Call::Report);
            assert_eq!(json(&report.report.unwrap())["state"], "active", "{route}");
        }
        // Nor without a configuration.
        assert!(fail_route_without_config().alerts.is_empty());
    }

    fn fail_route(config: &Config, route: &str) -> Answer {
        run(
            Some(config),
            route,
            "",
            NOW,
            0,
            Call::Settle {
                outcomes: &[false; 20],
                failure: Some("status 503"),
                unattempted: 0,
            },
        )
    }

    fn fail_route_without_config() -> Answer {
        run(
            None,
            "crm",
            "",
            NOW,
            0,
            Call::Settle {
                outcomes: &[false; 20],
                failure: None,
                unattempted: 0,
            },
        )
    }

    #[test]
    fn a_paused_or_tripped_route_gone_from_the_configuration_drains() {
        let config = routes(false);
        let paused = run(Some(&config), "crm", "", NOW, 4, Call::Pause);
        let tripped = fail(&config, "", 2);
        let removed = routes_without_crm();
        for text in [&paused.text, &tripped.text] {
            let tick = run(Some(&removed), "crm", text, NOW + 1, 4, Call::Tick);
            assert_eq!(tick.tick, Some(Tick::Drain(4)));
            assert!(tick.alerts.is_empty());
        }
        // A configuration that did not load changes nothing.
        let kept = run(None, "crm", &paused.text, NOW + 1, 4, Call::Tick);
        assert_eq!(kept.tick, Some(Tick::Wait(NOW + 1 + 3_600_000)));
    }

    fn routes_without_crm() -> Config {
        let source = FakeSource::minimal()
            .with_queue("EVENTS_QUEUE")
            .with("ROUTES", r#"[{"name":"q","queue":"EVENTS_QUEUE"}]"#);
        Config::load(&source).unwrap_or_else(|error| unreachable!("{}", error.message()))
    }

    #[test]
    fn an_alert_is_tried_again_then_given_up_with_a_line() {
        let tried = |status, tries| handle(Trouble::AlertTried { status, tries }, "crm", None);
        assert_eq!(
            tried(204, 1),
            Handling {
                line: None,
                retry_ms: None
            }
        );
        assert_eq!(tried(500, 1).retry_ms, Some(5_000));
        assert_eq!(tried(0, 3).retry_ms, Some(120_000));
        let given_up = tried(500, 4);
        assert_eq!(given_up.retry_ms, None);
        let line = json(&given_up.line.unwrap());
        assert_eq!(
            (
                line["warning"].as_str(),
                line["status"].as_u64(),
                line["tries"].as_u64()
            ),
            (Some("alert_not_delivered"), Some(500), Some(4))
        );
        // No answer at all: no status in the line.
        assert!(json(&tried(0, 4).line.unwrap()).get("status").is_none());
    }

    #[test]
    fn the_objects_troubles_are_lines_with_the_route_and_error() {
        for (trouble, code) in [
            (Trouble::Unreachable, "health_unreachable"),
            (Trouble::RequeueFailed, "requeue_failed"),
        ] {
            let handling = handle(trouble, "crm", Some("Network connection lost."));
            assert_eq!(handling.retry_ms, None);
            let line = json(&handling.line.unwrap());
            assert_eq!(line["warning"], code);
            assert_eq!(line["route"], "crm");
            assert_eq!(line["error"], "Network connection lost.");
        }
    }
}
