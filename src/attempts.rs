//! One delivery's life within one invocation, as a state machine that performs
//! no I/O and reads no clock: a `DELIVERY_QUEUE` message handled by the
//! consumer (one attempt, then ack or retry), or a delivery after the answer
//! without a queue (attempts and waits until [`decide`] says stop). The glue
//! performs each [`RunNeed`] and prints the lines the run gives; every rule
//! (which route, which timeout, when it is delivered, what comes next, what is
//! logged) is here.

use crate::config::{Config, DEFAULT_RETRY_BASE_SECONDS};
use crate::delivery::{
    dead_letter_retry_delay, decide, is_success, retry_delay, Answer, Decision, Delivery, Handled,
    RetryPolicy, DIRECT_ATTEMPT_TIMEOUT_SECONDS,
};
use crate::event_log::{
    AcceptedEvent, AttemptEntry, AttemptOutcome, DeadLetter, Entry, HeldDelivery, Shard, Statement,
    Unwritten,
};
use crate::json_writer::value_text;
use crate::log::{DeliveryLog, QueueLog};
use crate::routes::Destination;
use crate::scrub::{self, scrub};
use crate::signature::SIGNATURE_HEADER;
use crate::standard_webhooks::SigningKey;

/// The word for a held delivery: its log line's `outcome`, and the queue a
/// drained one is said to come from.
pub const HELD: &str = "held";

/// How one attempt ended, as the glue saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The backend answered (any status; a redirect is not followed).
    Answered(Answer),
    /// No answer: `network error`, `timeout`, ….
    NoAnswer(&'static str),
}

impl Outcome {
    /// No answer, for the reason the driver gives (`timeout`, `network error`,
    /// …), as one of the fixed set the log uses.
    pub fn no_answer(reason: &str) -> Self {
        Self::NoAnswer(failure_named(reason))
    }

    fn handled(&self) -> Handled {
        match self {
            Self::Answered(answer) if is_success(answer.status) => Handled::Delivered,
            _ => Handled::Failed,
        }
    }
}

/// What a run needs next.
#[derive(Debug)]
pub enum RunNeed<'a> {
    /// POST the delivery to `url` with [`Delivery::headers`] signed at the
    /// attempt's time, giving up after `timeout_seconds`; report with
    /// [`DeliveryRun::attempted`].
    Attempt {
        url: &'a str,
        delivery: &'a Delivery,
        signing_key: Option<&'a SigningKey>,
        timeout_seconds: u64,
    },
    /// Wait, then report with [`DeliveryRun::waited`].
    Wait { seconds: u64 },
    /// Done: ack, retry after a delay, or let it rest.
    Settle(Decision),
}

#[derive(Debug)]
enum State {
    Attempt,
    Wait(u64),
    Done(Decision),
}

/// Where a run's message came from, for its lines.
#[derive(Debug, Clone)]
struct Message {
    queue: String,
    id: Option<String>,
}

/// One delivery in one invocation.
#[derive(Debug)]
pub struct DeliveryRun<'c> {
    config: &'c Config,
    policy: RetryPolicy,
    direct: bool,
    attempt: u32,
    delivery: Option<Delivery>,
    route: Option<(&'c str, Option<&'c SigningKey>)>,
    state: State,
    lines: Vec<String>,
    /// What to write to the event log so far (only with the log on).
    records: Vec<Statement>,
    /// What the records last taken holds, counted lost if its write fails.
    taken: Unwritten,
    /// Its event as the log keeps it (with the log on), and where.
    logged: Option<AcceptedEvent>,
    /// Deliveries settled, for the isolate's pending counts.
    counted: Vec<Entry>,
    /// A dead letter: acked only once its records is written.
    dead_letter: bool,
    /// The signatures the last attempt sent: a backend that echoes them must
    /// not get them into the log.
    sent_signatures: Vec<String>,
    /// The route whose health this run answers to (SPEC section 10): a queued
    /// delivery to an HTTP route, or its dead letter, with health on.
    health_route: Option<String>,
    /// Its route's health let it go (or its drain sent it).
    admitted: bool,
    /// A probe of a tripped route: a failed one stays held, spending no retry.
    probe: bool,
    /// The last attempt: delivered, and what a failure was.
    last: Option<(bool, Option<String>)>,
}

/// What a run tells its route's health once settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub route: String,
    /// The attempt's outcome, if one was made.
    pub delivered: Option<bool>,
    /// What the failed attempt came to (`HTTP 503`, `timeout`, …).
    pub failure: Option<String>,
    /// The delivery was dead-lettered.
    pub dead_lettered: bool,
}

impl<'c> DeliveryRun<'c> {
    /// A queue message: `body` is its bytes (`None` when it is not bytes at all),
    /// `attempts` the platform's count of its deliveries, 1 on the first, and
    /// `now_ms` when the batch arrived.
    ///
    /// With the event log on, a message of `DEAD_LETTER_QUEUE` is not attempted
    /// again: its retries are spent, so the log records the delivery as failed
    /// (replay from the admin API sends it again) and the message is acked once
    /// that is written ([`DeliveryRun::acks_after_records`]).
    pub fn queued(
        config: &'c Config,
        body: Option<&[u8]>,
        attempts: u32,
        queue: &str,
        message_id: Option<&str>,
        now_ms: i64,
    ) -> Self {
        let policy = RetryPolicy::queue(config.retry_base_seconds);
        let delivery = body.and_then(|bytes| Delivery::decode(bytes).ok());
        // A delivery released from a hold counts on from the attempts it made.
        let attempts = attempts
            .max(1)
            .saturating_add(delivery.as_ref().map_or(0, |delivery| delivery.spent));
        if config.event_log && queue == config.dead_letter_queue {
            if let Some(delivery) = delivery {
                return Self::dead_lettered(config, policy, attempts.max(1), delivery, now_ms);
            }
        }
        let mut run = Self::start(config, policy, false, attempts.max(1), delivery, now_ms);
        run.health_route = run
            .delivery
            .as_ref()
            .filter(|_| config.health && run.route.is_some())
            .map(|delivery| delivery.route.clone());
        if run.delivery.is_none() {
            let decision = decide(Handled::Malformed, run.attempt, policy);
            let message = Message {
                queue: queue.to_string(),
                id: message_id.map(str::to_string),
            };
            run.lines.push(queue_line(
                &message,
                "malformed_delivery",
                run.attempt,
                decision,
            ));
            run.state = State::Done(decision);
        }
        run
    }

    /// A held delivery its route's drain sends (SPEC section 10): attempted as
    /// a queue message would be, its health already asked.
    pub fn drained(config: &'c Config, body: &[u8], attempts: u32, now_ms: i64) -> Self {
        let mut run = Self::queued(config, Some(body), attempts, HELD, None, now_ms);
        run.admitted = true;
        run
    }

    /// A held delivery attempted as a probe of its tripped route: if it
    /// fails it stays held (its route's object keeps it), and the log says so.
    pub fn probe(config: &'c Config, body: &[u8], attempts: u32, now_ms: i64) -> Self {
        let mut run = Self::drained(config, body, attempts, now_ms);
        run.probe = true;
        run
    }

    /// A delivery after the answer, without a queue, starting at `now_ms`.
    pub fn direct(config: &'c Config, delivery: Delivery, now_ms: i64) -> Self {
        Self::start(
            config,
            RetryPolicy::direct(),
            true,
            1,
            Some(delivery),
            now_ms,
        )
    }

    /// A replay without a queue: one attempt after the answer, its outcome
    /// written as final (see [`RetryPolicy::direct_replay`]).
    pub fn direct_replay(config: &'c Config, delivery: Delivery, now_ms: i64) -> Self {
        Self::start(
            config,
            RetryPolicy::direct_replay(),
            true,
            1,
            Some(delivery),
            now_ms,
        )
    }

    fn dead_lettered(
        config: &'c Config,
        policy: RetryPolicy,
        attempt: u32,
        delivery: Delivery,
        now_ms: i64,
    ) -> Self {
        let mut run = Self::new(config, policy, false, attempt, None);
        run.lines.push(
            DeliveryLog {
                route: &delivery.route,
                attempt,
                webhook_id: &delivery.webhook_id,
                event: Some(&delivery.event),
                outcome: AttemptOutcome::Failed.as_str(),
                error: Some("retries exhausted"),
                ..Default::default()
            }
            .line(),
        );
        let event = logged_event(&delivery, now_ms);
        run.health_route = Some(delivery.route.clone()).filter(|_| config.health);
        let dead_letter = DeadLetter {
            route: delivery.route,
            at_ms: now_ms,
            event,
        };
        run.records = dead_letter.statements();
        run.logged = Some(dead_letter.event);
        run.dead_letter = true;
        run.state = State::Done(Decision::Ack);
        run
    }

    fn new(
        config: &'c Config,
        policy: RetryPolicy,
        direct: bool,
        attempt: u32,
        delivery: Option<Delivery>,
    ) -> Self {
        let route = delivery
            .as_ref()
            .and_then(|delivery| http_route(config, &delivery.route));
        let logged = delivery
            .as_ref()
            .filter(|_| config.event_log)
            .map(|delivery| logged_event(delivery, delivery.received_at_ms));
        Self {
            config,
            policy,
            direct,
            attempt,
            delivery,
            route,
            state: State::Attempt,
            lines: Vec::new(),
            records: Vec::new(),
            taken: Unwritten::default(),
            logged,
            counted: Vec::new(),
            dead_letter: false,
            sent_signatures: Vec::new(),
            health_route: None,
            admitted: false,
            probe: false,
            last: None,
        }
    }

    fn start(
        config: &'c Config,
        policy: RetryPolicy,
        direct: bool,
        attempt: u32,
        delivery: Option<Delivery>,
        now_ms: i64,
    ) -> Self {
        let mut run = Self::new(config, policy, direct, attempt, delivery);
        if run.delivery.is_some() && run.route.is_none() {
            let decision = decide(Handled::RouteRemoved, run.attempt, policy);
            run.log_attempt(
                &Outcome::NoAnswer("route no longer configured"),
                decision,
                now_ms,
                0,
            );
            run.state = State::Done(decision);
        }
        run
    }

    /// What the run needs next.
    pub fn need(&self) -> RunNeed<'_> {
        match (&self.state, &self.delivery, self.route) {
            (State::Attempt, Some(delivery), Some((url, signing_key))) => RunNeed::Attempt {
                url,
                delivery,
                signing_key,
                timeout_seconds: if self.direct {
                    self.config
                        .delivery_timeout_seconds
                        .min(DIRECT_ATTEMPT_TIMEOUT_SECONDS)
                } else {
                    self.config.delivery_timeout_seconds
                },
            },
            (State::Wait(seconds), ..) => RunNeed::Wait { seconds: *seconds },
            (State::Done(decision), ..) => RunNeed::Settle(*decision),
            // Unreachable by construction: no delivery or route means Done.
            (State::Attempt, ..) => RunNeed::Settle(Decision::Retry {
                delay_seconds: self.policy.base_seconds,
            }),
        }
    }

    /// The route whose health must let this delivery go before it is
    /// attempted ([`admitted`](Self::admitted) or [`held`](Self::held)).
    pub fn guard(&self) -> Option<&str> {
        match self.state {
            State::Attempt if !self.admitted => self.health_route.as_deref(),
            _ => None,
        }
    }

    /// Its route's health could not be asked: the message is kept for a
    /// retry on the backoff schedule, never attempted unasked.
    pub fn unadmitted(&mut self) {
        if !matches!(self.state, State::Attempt) {
            return;
        }
        let decision = Decision::Retry {
            delay_seconds: retry_delay(self.attempt, self.policy.base_seconds),
        };
        self.unattempted_line(
            decision.outcome(),
            Some("route health unreachable"),
            decision.retry_in_seconds(),
        );
        self.state = State::Done(decision);
    }

    /// The line of a delivery settled without an attempt.
    fn unattempted_line(&mut self, outcome: &str, error: Option<&str>, retry: Option<u64>) {
        let Some(delivery) = &self.delivery else {
            return;
        };
        let line = DeliveryLog {
            route: &delivery.route,
            attempt: self.attempt,
            webhook_id: &delivery.webhook_id,
            event: Some(&delivery.event),
            outcome,
            error,
            retry_in_seconds: retry,
            ..Default::default()
        }
        .line();
        self.lines.push(line);
    }

    /// The queue message that sends this delivery again after a failed
    /// attempt its route's drain made: the attempts it made go with it.
    pub fn requeued(&self) -> Option<Vec<u8>> {
        let mut delivery = self.delivery.clone()?;
        delivery.spent = self.attempt;
        Some(delivery.encode())
    }

    /// Its route's health let it go.
    pub fn admitted(&mut self) {
        self.admitted = true;
    }

    /// Its route holds it (paused, tripped or at its rate limit): the route's
    /// object keeps it, so the message is done with, no retry spent, and the
    /// log shows the delivery `held`.
    pub fn held(&mut self, now_ms: i64) {
        let (State::Attempt, Some(delivery)) = (&self.state, &self.delivery) else {
            return;
        };
        let route = delivery.route.clone();
        self.unattempted_line(HELD, None, None);
        if let Some(event) = &self.logged {
            self.records = HeldDelivery {
                event: event.clone(),
                route,
                at_ms: now_ms,
            }
            .statements();
        }
        self.state = State::Done(Decision::Ack);
    }

    /// What its route's health is told, once settled: the attempt's outcome
    /// or the dead letter.
    pub fn health_report(&self) -> Option<HealthReport> {
        let route = self.health_route.clone()?;
        if !matches!(self.state, State::Done(_)) || (self.last.is_none() && !self.dead_letter) {
            return None;
        }
        Some(HealthReport {
            route,
            delivered: self.last.as_ref().map(|(delivered, _)| *delivered),
            failure: self.last.as_ref().and_then(|(_, failure)| failure.clone()),
            dead_lettered: self.dead_letter,
        })
    }

    /// An attempt that began at `at_ms` ended; `duration_ms` is how long it took.
    pub fn attempted(&mut self, outcome: Outcome, at_ms: i64, duration_ms: u64) {
        if !matches!(self.state, State::Attempt) {
            return;
        }
        self.last = Some(match &outcome {
            Outcome::Answered(answer) if is_success(answer.status) => (true, None),
            // As a u32: no formatting of u16s of its own in the bundle.
            Outcome::Answered(answer) => {
                (false, Some(format!("HTTP {}", u32::from(answer.status))))
            }
            Outcome::NoAnswer(why) => (false, Some((*why).to_string())),
        });
        let decision = decide(outcome.handled(), self.attempt, self.policy);
        self.log_attempt(&outcome, decision, at_ms, duration_ms);
        if self.probe && decision != Decision::Ack {
            // After the attempt's record, so the delivery reads held again.
            let records = std::mem::take(&mut self.records);
            self.held(at_ms + i64::try_from(duration_ms).unwrap_or(0) + 1);
            self.records.splice(0..0, records);
            return;
        }
        self.state = match decision {
            // Without a queue the run waits and tries again itself; under a
            // queue the platform brings the message back.
            Decision::Retry { delay_seconds } if self.direct => State::Wait(delay_seconds),
            decision => State::Done(decision),
        };
    }

    /// The attempt's request headers, signed for `now` (unix seconds); the
    /// signatures among them are kept out of what the log stores of the answer.
    pub fn request_headers(&mut self, now: i64) -> Vec<(&'static str, String)> {
        let RunNeed::Attempt {
            delivery,
            signing_key,
            ..
        } = self.need()
        else {
            return Vec::new();
        };
        let headers = delivery.headers(signing_key, now);
        self.sent_signatures = headers
            .iter()
            .filter(|(name, _)| *name == SIGNATURE_HEADER || *name == "webhook-signature")
            .flat_map(|(_, value)| scrub::signatures(value))
            .map(str::to_string)
            .collect();
        headers
    }

    /// The wait is over: attempt again.
    pub fn waited(&mut self) {
        if matches!(self.state, State::Wait(_)) {
            self.attempt += 1;
            self.state = State::Attempt;
        }
    }

    /// The lines to print so far (SPEC section 6), each one JSON object.
    pub fn take_lines(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    /// What to write to the event log so far, and the shard it goes to.
    pub fn take_records(&mut self) -> Option<(Shard, Vec<Statement>)> {
        let records = std::mem::take(&mut self.records);
        let shard = self
            .logged
            .as_ref()
            .filter(|_| !records.is_empty())?
            .shard();
        // A dead letter's is not lost when unwritten: its message is retried.
        if !self.dead_letter {
            self.taken = Unwritten::of(shard, &records);
        }
        Some((shard, records))
    }

    /// The deliveries it settled so far, as counts for the isolate's pending
    /// writes ([`Pending`](crate::event_log::Pending)).
    pub fn take_counted(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.counted)
    }

    /// Whether the settle decision stands only once the records is written (a
    /// dead letter: it must not leave its queue without a trace). If the write
    /// fails, the driver says so with [`records_unwritten`](Self::records_unwritten).
    pub fn acks_after_records(&self) -> bool {
        self.dead_letter
    }

    /// The records last taken could not be written, even after the last try.
    /// A dead letter's message is retried on [`dead_letter_retry_delay`]'s
    /// schedule, which ends well within the queue's retention; anything else
    /// is lost, and what it held is returned to be counted
    /// ([`Pending::lose`](crate::event_log::Pending::lose)).
    pub fn records_unwritten(&mut self) -> Unwritten {
        if self.dead_letter {
            self.state = State::Done(Decision::Retry {
                delay_seconds: dead_letter_retry_delay(self.attempt),
            });
        }
        std::mem::take(&mut self.taken)
    }

    fn log_attempt(&mut self, outcome: &Outcome, decision: Decision, at_ms: i64, duration_ms: u64) {
        let Some(delivery) = &self.delivery else {
            return;
        };
        if let Some(event) = &self.logged {
            let mut entry = attempt_entry(
                event,
                delivery,
                outcome,
                decision,
                at_ms,
                duration_ms,
                &self.sent_signatures,
            );
            // What a backend answered matters when it did not take the event;
            // a delivered attempt keeps its status and duration (SPEC section 8).
            if decision == Decision::Ack && !self.config.log_all_responses {
                entry.headers = None;
                entry.body = None;
            }
            self.records.push(entry.record());
            self.counted.extend(entry.counted());
        }
        let (status, error) = match outcome {
            Outcome::Answered(answer) => (Some(answer.status), None),
            Outcome::NoAnswer(why) => (None, Some(*why)),
        };
        self.lines.push(
            DeliveryLog {
                route: &delivery.route,
                attempt: self.attempt,
                webhook_id: &delivery.webhook_id,
                event: Some(&delivery.event),
                status,
                outcome: decision.outcome(),
                error,
                retry_in_seconds: decision.retry_in_seconds(),
                duration_ms,
            }
            .line(),
        );
    }
}

/// The event a delivery carries, as the log keeps it: its fields read from its
/// body, received at `received_at_ms` (0 from an older version: `fallback_ms`).
fn logged_event(delivery: &Delivery, fallback_ms: i64) -> AcceptedEvent {
    let head = crate::payload::head(&delivery.body);
    AcceptedEvent {
        id: delivery.webhook_id.clone(),
        event: delivery.event.clone(),
        message_id: head.message_id,
        timestamp: head.timestamp,
        received_at_ms: if delivery.received_at_ms > 0 {
            delivery.received_at_ms
        } else {
            fallback_ms
        },
        body: String::from_utf8_lossy(&delivery.body).into_owned(),
        routes: Vec::new(),
    }
}

/// One attempt as the event log keeps it, without the signatures it sent
/// (`sent_signatures`, which a backend may echo in its answer).
fn attempt_entry(
    event: &AcceptedEvent,
    delivery: &Delivery,
    outcome: &Outcome,
    decision: Decision,
    at_ms: i64,
    duration_ms: u64,
    sent_signatures: &[String],
) -> AttemptEntry {
    let (status, headers, body, error) = match outcome {
        Outcome::Answered(answer) => (
            Some(answer.status),
            Some(headers_json(&answer.headers, sent_signatures)),
            Some(scrub(&String::from_utf8_lossy(&answer.body), sent_signatures).into_owned()),
            answer.body_error,
        ),
        Outcome::NoAnswer(why) => (None, None, None, Some(*why)),
    };
    AttemptEntry {
        event: event.clone(),
        route: delivery.route.clone(),
        at_ms,
        duration_ms: i64::try_from(duration_ms).unwrap_or(i64::MAX),
        outcome: decision.attempt_outcome(),
        status,
        headers,
        body,
        error,
    }
}

/// Response headers kept by the log, as a JSON object. A repeated name keeps its
/// values joined as the Fetch standard joins them; a cookie a backend sets is
/// not kept, since it may be a credential. Names and values are scrubbed of
/// `sent_signatures` before they are encoded, so the object stays valid JSON
/// (the admin API reads it with SQL's `json()`).
fn headers_json(headers: &[(String, String)], sent_signatures: &[String]) -> String {
    let mut object = serde_json::Map::new();
    for (name, value) in headers {
        let name = scrub(&name.to_ascii_lowercase(), sent_signatures).into_owned();
        let value = if name == "set-cookie" {
            "(not kept)".to_string()
        } else {
            scrub(value, sent_signatures).into_owned()
        };
        match object.get_mut(&name) {
            Some(serde_json::Value::String(kept)) if name != "set-cookie" => {
                kept.push_str(", ");
                kept.push_str(&value);
            }
            _ => {
                object.insert(name, serde_json::Value::String(value));
            }
        }
    }
    value_text(&serde_json::Value::Object(object))
}

/// The description of a failed attempt or read, from the fixed set the log
/// uses: anything the driver names otherwise is a network error.
pub fn failure_named(text: &str) -> &'static str {
    match text {
        "timeout" => "timeout",
        "header not accepted" => "header not accepted",
        "request not built" => "request not built",
        "read error" => "read error",
        _ => "network error",
    }
}

/// What the consumer does with a message while the configuration is invalid:
/// nothing can be attempted, so it is kept, on the default schedule since the
/// configured one is unknown. Returns the decision and its line.
pub fn while_misconfigured(
    attempts: u32,
    queue: &str,
    message_id: Option<&str>,
) -> (Decision, String) {
    let attempt = attempts.max(1);
    let decision = decide(
        Handled::ConfigInvalid,
        attempt,
        RetryPolicy::queue(DEFAULT_RETRY_BASE_SECONDS),
    );
    let message = Message {
        queue: queue.to_string(),
        id: message_id.map(str::to_string),
    };
    (
        decision,
        queue_line(&message, "misconfigured", attempt, decision),
    )
}

/// The line of a batch handed back because some of its messages could not be
/// settled.
pub fn unsettled_line(queue: &str, messages: usize) -> String {
    QueueLog {
        warning: "unsettled",
        queue,
        messages: Some(messages),
        outcome: "batch_retried",
        ..Default::default()
    }
    .line()
}

fn queue_line(message: &Message, warning: &str, attempt: u32, decision: Decision) -> String {
    QueueLog {
        warning,
        queue: &message.queue,
        queue_message_id: message.id.as_deref(),
        attempt: Some(attempt),
        outcome: decision.outcome(),
        retry_in_seconds: decision.retry_in_seconds(),
        ..Default::default()
    }
    .line()
}

/// The URL and signing key of the HTTP route named `name`, if it still exists.
pub fn http_route<'c>(config: &'c Config, name: &str) -> Option<(&'c str, Option<&'c SigningKey>)> {
    config
        .routes
        .iter()
        .find_map(|route| match &route.destination {
            Destination::Http { url, signing_key } if route.name == name => {
                Some((url.as_str(), signing_key.as_ref()))
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_the_driver_names_is_one_of_the_logs_words() {
        for word in [
            "timeout",
            "header not accepted",
            "request not built",
            "read error",
        ] {
            assert_eq!(failure_named(word), word);
        }
        // Anything else, a runtime's message included, is a network error.
        for other in ["TypeError: fetch failed", "", "Timeout"] {
            assert_eq!(failure_named(other), "network error");
            assert_eq!(
                Outcome::no_answer(other),
                Outcome::NoAnswer("network error")
            );
        }
    }
    use crate::delivery::MAX_RETRY_DELAY_SECONDS;
    use crate::event_log::Param;
    use crate::testing::FakeSource;
    use serde_json::Value;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut source = FakeSource::minimal().with(
            "ROUTES",
            r#"[{"name":"crm","url":"https://crm.example.com/hook"},{"name":"q","queue":"Q"}]"#,
        );
        source = source.with_queue("Q");
        for (name, value) in extra {
            source = source.with(name, value);
        }
        Config::load(&source).unwrap()
    }

    fn delivery(route: &str) -> Delivery {
        Delivery {
            route: route.into(),
            event: "email.opened".into(),
            signature: "abc".into(),
            webhook_id: "msg_1".into(),
            received_at_ms: 0,
            spent: 0,
            body: b"{}".to_vec(),
        }
    }

    fn health_config() -> Config {
        Config::load(
            &FakeSource::minimal()
                .with(
                    "ROUTES",
                    r#"[{"name":"crm","url":"https://crm.example.com/hook"},{"name":"q","queue":"Q"}]"#,
                )
                .with_queue("Q")
                .with_queue("DELIVERY_QUEUE")
                .with_durable_object("ROUTE_HEALTH")
                .with_durable_object("HELD_DELIVERIES")
                .with_durable_object("EVENTS"),
        )
        .unwrap()
    }

    #[test]
    fn with_health_on_a_queued_delivery_asks_its_route_first_and_tells_it_the_outcome() {
        let config = health_config();
        assert!(config.health);
        let message = delivery("crm").encode();
        let mut run = DeliveryRun::queued(&config, Some(&message), 2, "deliveries", None, 0);
        assert_eq!(run.guard(), Some("crm"));
        assert_eq!(
            run.health_report(),
            None,
            "nothing to tell before it settles"
        );
        run.admitted();
        assert_eq!(run.guard(), None);
        assert!(matches!(run.need(), RunNeed::Attempt { .. }));
        run.attempted(answered(503), 10, 5);
        assert_eq!(
            run.health_report(),
            Some(HealthReport {
                route: "crm".into(),
                delivered: Some(false),
                failure: Some("HTTP 503".into()),
                dead_lettered: false,
            })
        );
        let mut run = DeliveryRun::queued(&config, Some(&message), 1, "deliveries", None, 0);
        run.admitted();
        run.attempted(Outcome::no_answer("timeout"), 10, 5);
        assert_eq!(
            run.health_report().unwrap().failure.as_deref(),
            Some("timeout")
        );
        let mut run = DeliveryRun::queued(&config, Some(&message), 1, "deliveries", None, 0);
        run.admitted();
        run.attempted(answered(204), 10, 5);
        let report = run.health_report().unwrap();
        assert_eq!((report.delivered, report.failure), (Some(true), None));
    }

    #[test]
    fn a_held_delivery_is_acked_logged_held_and_spends_no_attempt() {
        let config = health_config();
        let message = delivery("crm").encode();
        let mut run = DeliveryRun::queued(&config, Some(&message), 3, "deliveries", None, 0);
        run.held(1_000);
        assert!(matches!(run.need(), RunNeed::Settle(Decision::Ack)));
        assert_eq!(run.guard(), None);
        assert_eq!(run.health_report(), None, "no attempt to tell of");
        let lines = run.take_lines();
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            (&line["outcome"], &line["attempt"], &line["route"]),
            (&Value::from("held"), &Value::from(3), &Value::from("crm"))
        );
        let (_, records) = run.take_records().expect("the held record");
        let sql = &records[0].sql;
        assert!(sql.contains("held"), "{sql}");
        // Held twice is still one settling, and an attempt after it is ignored.
        run.held(2_000);
        run.attempted(answered(200), 3_000, 1);
        assert!(run.take_lines().is_empty());
    }

    #[test]
    fn a_failed_probe_stays_held_and_the_log_says_so_after_its_attempt() {
        let config = health_config();
        let message = delivery("crm").encode();
        let mut run = DeliveryRun::probe(&config, &message, 4, 0);
        assert_eq!(run.guard(), None);
        run.attempted(answered(503), 1_000, 20);
        assert!(
            matches!(run.need(), RunNeed::Settle(Decision::Ack)),
            "the object keeps it"
        );
        let report = run.health_report().unwrap();
        assert_eq!(report.delivered, Some(false));
        let (_, records) = run.take_records().unwrap();
        assert_eq!(records.len(), 2, "the attempt, then held");
        assert!(records[1].sql.contains("held"));
        assert_eq!(records[1].params.last(), Some(&Param::Int(1_021)));
        let outcomes: Vec<Value> = run
            .take_lines()
            .iter()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["outcome"].clone())
            .collect();
        assert_eq!(outcomes, ["retry", "held"]);
        // A delivered probe settles as any delivery.
        let mut run = DeliveryRun::probe(&config, &message, 4, 0);
        run.attempted(answered(200), 1_000, 20);
        assert!(matches!(run.need(), RunNeed::Settle(Decision::Ack)));
        assert_eq!(run.take_records().unwrap().1.len(), 1);
    }

    #[test]
    fn a_drained_delivery_that_fails_goes_back_counting_on_from_its_attempts() {
        let config = health_config();
        let message = delivery("crm").encode();
        // Held at its 2nd attempt, drained, failed: the next message says 2 were made.
        let mut run = DeliveryRun::drained(&config, &message, 2, 0);
        run.attempted(answered(500), 1_000, 5);
        let again = run.requeued().unwrap();
        assert_eq!(Delivery::decode(&again).unwrap().spent, 2);
        // Its first delivery from the queue is attempt 3, on attempt 3's backoff.
        let mut run = DeliveryRun::queued(&config, Some(&again), 1, "deliveries", None, 0);
        run.admitted();
        run.attempted(answered(500), 2_000, 5);
        let line: Value = serde_json::from_str(&run.take_lines()[0]).unwrap();
        assert_eq!(line["attempt"], 3);
        assert!(matches!(
            run.need(),
            RunNeed::Settle(Decision::Retry { delay_seconds: 20 })
        ));
        // Held again from there: its row's attempt plus what it carries.
        let mut run = DeliveryRun::drained(&config, &again, 2, 0);
        run.attempted(answered(500), 3_000, 5);
        assert_eq!(Delivery::decode(&run.requeued().unwrap()).unwrap().spent, 4);
    }

    #[test]
    fn a_route_whose_health_cannot_be_asked_is_retried_on_the_backoff_never_attempted() {
        let config = health_config();
        let message = delivery("crm").encode();
        let mut run = DeliveryRun::queued(&config, Some(&message), 3, "deliveries", None, 0);
        run.unadmitted();
        assert!(matches!(
            run.need(),
            RunNeed::Settle(Decision::Retry { delay_seconds: 20 })
        ));
        let line: Value = serde_json::from_str(&run.take_lines()[0]).unwrap();
        assert_eq!(line["error"], "route health unreachable");
    }

    #[test]
    fn only_a_queued_http_delivery_with_health_on_is_guarded() {
        // Health off: no guard.
        let off = config(&[]);
        let message = delivery("crm").encode();
        let run = DeliveryRun::queued(&off, Some(&message), 1, "deliveries", None, 0);
        assert_eq!(run.guard(), None);
        let on = health_config();
        // A drained delivery was let go by its route already.
        let run = DeliveryRun::drained(&on, &message, 4, 0);
        assert_eq!(run.guard(), None);
        assert!(matches!(run.need(), RunNeed::Attempt { .. }));
        // A route no longer configured: nothing to ask, it settles as before.
        let gone = delivery("gone").encode();
        let run = DeliveryRun::queued(&on, Some(&gone), 1, "deliveries", None, 0);
        assert_eq!(run.guard(), None);
        // A direct delivery (no queue) is never guarded.
        let run = DeliveryRun::direct(&on, delivery("crm"), 0);
        assert_eq!(run.guard(), None);
        // A dead letter tells its route it was dead-lettered.
        let queue = on.dead_letter_queue.clone();
        let run = DeliveryRun::queued(&on, Some(&message), 11, &queue, None, 0);
        assert_eq!(run.guard(), None);
        assert_eq!(
            run.health_report(),
            Some(HealthReport {
                route: "crm".into(),
                delivered: None,
                failure: None,
                dead_lettered: true,
            })
        );
    }

    #[test]
    fn a_dead_letter_not_recorded_is_retried_on_a_schedule_that_ends_inside_the_retention() {
        let config = Config::load(
            &FakeSource::minimal()
                .with(
                    "ROUTES",
                    r#"[{"name":"crm","url":"https://crm.example.com/hook"}]"#,
                )
                .with_durable_object("EVENTS"),
        )
        .unwrap();
        let message = delivery("crm").encode();
        let queue = config.dead_letter_queue.clone();
        let retried = |attempt: u32| {
            let mut run = DeliveryRun::queued(&config, Some(&message), attempt, &queue, None, 0);
            assert!(run.acks_after_records());
            assert!(matches!(run.need(), RunNeed::Settle(Decision::Ack)));
            run.records_unwritten();
            match run.need() {
                RunNeed::Settle(Decision::Retry { delay_seconds }) => delay_seconds,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            [1, 2, 3, 6, 7, 100].map(retried),
            [60, 120, 240, 1_800, 1_800, 1_800]
        );
        // Every try the dead-letter consumer's max_retries allows, before the
        // platform deletes the message: half of its retention at most.
        let toml = include_str!("../wrangler.toml");
        let consumer = toml
            .split("[[queues.consumers]]")
            .find(|block| block.contains(&format!("queue = \"{queue}\"")))
            .unwrap();
        let max_retries: u32 = consumer
            .lines()
            .find_map(|line| line.strip_prefix("max_retries = "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let spanned: u64 = (1..=max_retries).map(retried).sum();
        assert!(
            spanned <= crate::delivery::QUEUE_RETENTION_SECONDS / 2,
            "{max_retries} tries span {spanned} s"
        );
    }

    fn answered(status: u16) -> Outcome {
        Outcome::Answered(Answer {
            status,
            ..Answer::default()
        })
    }

    fn lines(run: &mut DeliveryRun<'_>) -> Vec<Value> {
        run.take_lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Drives a direct run with one outcome per attempt; returns the decision and
    /// the waits.
    fn direct(outcomes: &[Outcome]) -> (Decision, Vec<u64>, Vec<Value>) {
        let config = config(&[]);
        let mut run = DeliveryRun::direct(&config, delivery("crm"), 0);
        let (mut outcomes, mut waits) = (outcomes.iter(), Vec::new());
        loop {
            match run.need() {
                RunNeed::Attempt {
                    url,
                    timeout_seconds,
                    ..
                } => {
                    assert_eq!((url, timeout_seconds), ("https://crm.example.com/hook", 8));
                    run.attempted(outcomes.next().unwrap().clone(), 0, 5);
                }
                RunNeed::Wait { seconds } => {
                    waits.push(seconds);
                    run.waited();
                }
                RunNeed::Settle(decision) => return (decision, waits, lines(&mut run)),
            }
        }
    }

    #[test]
    fn direct_delivery_tries_three_times_one_and_two_seconds_apart() {
        let (decision, waits, lines) =
            direct(&[answered(503), Outcome::NoAnswer("timeout"), answered(204)]);
        assert_eq!((decision, waits), (Decision::Ack, vec![1, 2]));
        let outcomes: Vec<_> = lines
            .iter()
            .map(|l| (l["attempt"].clone(), l["outcome"].clone()))
            .collect();
        assert_eq!(
            outcomes,
            [
                (1.into(), "retry".into()),
                (2.into(), "retry".into()),
                (3.into(), "delivered".into())
            ]
        );
        assert_eq!(lines[1]["error"], "timeout");
        assert_eq!(lines[0]["status"], 503);

        let (decision, waits, lines) = direct(&[answered(500), answered(302), answered(404)]);
        assert_eq!((decision, waits), (Decision::Park, vec![1, 2]));
        assert_eq!(lines[2]["outcome"], "failed");
    }

    #[test]
    fn a_queued_message_is_attempted_once_and_settled_by_the_one_policy() {
        let config = config(&[
            ("DELIVERY_RETRY_BASE_SECONDS", "5"),
            ("DELIVERY_TIMEOUT_SECONDS", "10"),
        ]);
        let bytes = delivery("crm").encode();
        for (attempts, outcome, expected) in [
            (1, answered(200), Decision::Ack),
            (1, answered(500), Decision::Retry { delay_seconds: 5 }),
            (
                3,
                Outcome::NoAnswer("network error"),
                Decision::Retry { delay_seconds: 20 },
            ),
            (
                30,
                answered(301),
                Decision::Retry {
                    delay_seconds: MAX_RETRY_DELAY_SECONDS,
                },
            ),
        ] {
            let mut run =
                DeliveryRun::queued(&config, Some(&bytes), attempts, "deliveries", Some("m1"), 0);
            let RunNeed::Attempt {
                timeout_seconds,
                delivery,
                ..
            } = run.need()
            else {
                panic!()
            };
            assert_eq!((timeout_seconds, delivery.route.as_str()), (10, "crm"));
            run.attempted(outcome, 0, 12);
            let RunNeed::Settle(decision) = run.need() else {
                panic!()
            };
            assert_eq!(decision, expected);
            let line = &lines(&mut run)[0];
            assert_eq!(
                (line["attempt"].as_u64(), line["duration_ms"].as_u64()),
                (Some(attempts as u64), Some(12))
            );
        }
    }

    #[test]
    fn a_message_that_is_no_delivery_or_whose_route_is_gone_waits_on_the_schedule() {
        let config = config(&[]);
        for body in [None, Some(&b"not a delivery"[..])] {
            let mut run = DeliveryRun::queued(&config, body, 2, "deliveries", Some("m1"), 0);
            assert!(matches!(
                run.need(),
                RunNeed::Settle(Decision::Retry { delay_seconds: 10 })
            ));
            let line = &lines(&mut run)[0];
            assert_eq!(
                (line["warning"].as_str(), line["queue_message_id"].as_str()),
                (Some("malformed_delivery"), Some("m1"))
            );
        }
        // A queue route's name, or one removed from ROUTES: no HTTP route.
        for route in ["q", "gone"] {
            let bytes = delivery(route).encode();
            let mut run = DeliveryRun::queued(&config, Some(&bytes), 1, "deliveries", None, 0);
            assert!(matches!(
                run.need(),
                RunNeed::Settle(Decision::Retry { .. })
            ));
            assert_eq!(lines(&mut run)[0]["error"], "route no longer configured");
            // Without a queue it rests at once.
            let run = DeliveryRun::direct(&config, delivery(route), 0);
            assert!(matches!(run.need(), RunNeed::Settle(Decision::Park)));
        }
    }

    #[test]
    fn while_misconfigured_every_message_is_kept() {
        let (decision, line) = while_misconfigured(1, "deliveries", Some("m1"));
        assert_eq!(
            decision,
            Decision::Retry {
                delay_seconds: DEFAULT_RETRY_BASE_SECONDS
            }
        );
        let line: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(line["warning"], "misconfigured");
        let line: Value = serde_json::from_str(&unsettled_line("q", 2)).unwrap();
        assert_eq!(
            (line["messages"].as_u64(), line["outcome"].as_str()),
            (Some(2), Some("batch_retried"))
        );
    }

    #[test]
    fn a_delivered_attempt_keeps_its_status_and_duration_and_a_failed_one_the_answer_too() {
        let stored = |log_responses: &str, status: u16| {
            let source = FakeSource::minimal()
                .with(
                    "ROUTES",
                    r#"[{"name":"crm","url":"https://crm.example.com/hook"}]"#,
                )
                .with("LOG_RESPONSES", log_responses)
                .with_durable_object("EVENTS");
            let config = Config::load(&source).unwrap();
            let mut run = DeliveryRun::direct(&config, delivery("crm"), 0);
            let answer = Answer {
                status,
                headers: vec![("x-backend".into(), "crm-7".into())],
                body: b"stored, thanks".to_vec(),
                body_error: None,
            };
            run.attempted(Outcome::Answered(answer), 0, 5);
            let (_, records) = run.take_records().unwrap();
            let attempt = records.into_iter().next().unwrap();
            // The attempt as its delivery keeps it: status, headers, body.
            let Param::Text(json) = &attempt.params[8] else {
                panic!("{attempt:?}")
            };
            let json: Value = serde_json::from_str(json).unwrap();
            (
                json["status"].clone(),
                json["headers"].clone(),
                json["body"].clone(),
            )
        };
        let kept = |status: u16| {
            (
                Value::from(status),
                Value::from(r#"{"x-backend":"crm-7"}"#),
                Value::from("stored, thanks"),
            )
        };
        assert_eq!(
            stored("failures", 200),
            (Value::from(200), Value::Null, Value::Null)
        );
        assert_eq!(stored("failures", 500), kept(500));
        assert_eq!(stored("all", 200), kept(200));
    }

    /// A route that signs with Standard Webhooks, and the log keeping every
    /// answer: a delivered attempt's answer is scrubbed too.
    fn signing_config() -> Config {
        let source = FakeSource::minimal()
            .with(
                "ROUTES",
                r#"[{"name":"crm","url":"https://crm.example.com/hook","signing_secret":"CRM_KEY"}]"#,
            )
            .with("CRM_KEY", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .with("LOG_RESPONSES", "all")
            .with_durable_object("EVENTS");
        Config::load(&source).unwrap()
    }

    /// A run forwarding `signature`, its request headers made: and the
    /// `webhook-signature` it sent.
    fn signed_run<'c>(config: &'c Config, signature: &str) -> (DeliveryRun<'c>, String) {
        let mut run = DeliveryRun::direct(
            config,
            Delivery {
                signature: signature.to_string(),
                ..delivery("crm")
            },
            0,
        );
        let headers = run.request_headers(1_614_265_330);
        let webhook_signature = headers
            .iter()
            .find(|(name, _)| *name == "webhook-signature")
            .map(|(_, value)| value.clone())
            .unwrap();
        (run, webhook_signature)
    }

    #[test]
    fn signatures_a_backend_echoes_stay_out_of_the_log() {
        let config = signing_config();
        let signature = "9f".repeat(32);
        let (mut run, webhook_signature) = signed_run(&config, &signature);
        let echoed = format!("{signature} {webhook_signature}");
        run.attempted(
            Outcome::Answered(Answer {
                status: 200,
                headers: vec![("X-Echo".into(), echoed.clone())],
                body: echoed.into_bytes(),
                body_error: None,
            }),
            0,
            5,
        );
        let stored = format!("{:?}", run.take_records());
        assert!(stored.contains("(signature)"), "{stored}");
        assert!(!stored.contains(&signature), "{stored}");
        let base64 = webhook_signature.trim_start_matches("v1,");
        assert!(!stored.contains(base64), "{stored}");
    }

    #[test]
    fn signatures_echoed_in_another_spelling_stay_out_of_the_log() {
        use crate::delivery::RESPONSE_BODY_KEPT_BYTES;
        use crate::event_log::Param;

        let config = signing_config();
        let hex = "9fa3".repeat(16);
        // Forwarded as received: with its label.
        let forwarded = format!("sha256={hex}");
        let (mut run, webhook_signature) = signed_run(&config, &forwarded);
        let base64 = webhook_signature.trim_start_matches("v1,").to_string();
        // A JSON body echoing both, upper-cased and `\/`-escaped, then the hex again,
        // cut by the kept bytes.
        let mut body = format!(
            r#"{{"hex":"{}","sig":"v1,{}","pad":""#,
            hex.to_uppercase(),
            base64.replace('/', "\\/"),
        );
        body.push_str(&"x".repeat(RESPONSE_BODY_KEPT_BYTES - body.len() - 30));
        body.push_str(&hex);
        let mut answer = Answer {
            status: 500,
            headers: vec![
                ("X-Echo".into(), forwarded.clone()),
                ("X-Echo-Upper".into(), webhook_signature.to_uppercase()),
                (
                    "X-Quoted".into(),
                    format!("\"{}\"", base64.replace('/', "\\/")),
                ),
            ],
            ..Answer::default()
        };
        assert!(answer.keep(body.as_bytes()));
        run.attempted(Outcome::Answered(answer), 0, 5);

        let (_, records) = run.take_records().unwrap();
        let texts: Vec<String> = records
            .iter()
            .flat_map(|statement| &statement.params)
            .filter_map(|param| match param {
                Param::Text(text) => Some(text.to_lowercase()),
                _ => None,
            })
            .collect();
        let stored = texts.join("\n");
        assert!(stored.contains("(signature)"), "{stored}");
        let base64 = base64.trim_end_matches('=').to_lowercase();
        for form in [
            hex.clone(),
            base64.clone(),
            base64.replace('/', "\\/"),
            hex[..16].to_string(),
            base64[..16].to_string(),
        ] {
            assert!(!stored.contains(&form), "{form} in {stored}");
        }
        // The headers are still a JSON object, in the attempt's JSON.
        let attempt = texts.iter().find(|text| text.contains("x-echo")).unwrap();
        let attempt: Value = serde_json::from_str(attempt).unwrap();
        let headers: Value = serde_json::from_str(attempt["headers"].as_str().unwrap()).unwrap();
        assert_eq!(headers["x-echo"], "sha256=(signature)");
    }
}
