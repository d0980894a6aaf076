//! The worker's core driven exactly as the JavaScript driver drives it, with
//! the event log in its shards ([`Log`]): the ingress to its reply, then its entry kept with
//! the isolate's [`Pending`] writes and flushed when the core says; a queue
//! message through a [`DeliveryRun`], then its records written; an
//! [`AdminCall`] to its answer, each query run as one batch.

use std::cell::RefCell;

use leadnest_edge::admin::{AdminCall, AdminNeed, AdminRequest, Outgoing};
use leadnest_edge::attempts::{DeliveryRun, Outcome, RunNeed};
use leadnest_edge::config::{Config, DELIVERY_QUEUE_BINDING, EVENTS_BINDING};
use leadnest_edge::dedup::RecentKeys;
use leadnest_edge::delivery::{Answer, Decision, Delivery};
use leadnest_edge::event_log::time::rfc3339;
use leadnest_edge::event_log::{
    retry_wait, AcceptedEvent, Entry, FlushStep, HeldDelivery, Pending, Shard, Statement, Unwritten,
};
use leadnest_edge::ingress::{BodyRead, Ingress, QueueMessage, Reply, RequestHead, Unread};
use leadnest_edge::signature::sign;
use leadnest_edge::testing::{FakePlatform, FakeSource};
use serde_json::{json, Value};

use crate::store::Log;

/// 2025-12-02T13:00:00Z.
pub const NOW_MS: i64 = 1_764_680_400_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// LeadNest's secrets during a rotation: the first one signs.
pub const FIRST_SECRET: &str = "lnk_first_9f2c1e7a44b0";
pub const SECOND_SECRET: &str = "lnk_second_51d0c3aa8e67";
pub const ADMIN_TOKEN: &str = "adm_7c4e1f0a9b2d8e3f6a5c4b1d0e9f8a7b";
/// The Standard Webhooks secret of the `crm` route.
pub const CRM_SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Two HTTP routes and a queue route: `email.opened` goes to crm only,
/// `email.bounced` to all three, `subscriber.created` to billing, `sms.sent`
/// to analytics, `whatsapp.read` nowhere.
pub const ROUTES: &str = r#"[
  {"name":"crm","url":"https://crm.example.com/hooks","events":["email.*"],"signing_secret":"CRM_SIGNING_SECRET"},
  {"name":"billing","url":"https://billing.example.com/hooks","events":["email.bounced","subscriber.*"]},
  {"name":"analytics","queue":"ANALYTICS_QUEUE","events":["sms.*","email.bounced"]}
]"#;

/// The name of the delivery queue, as a batch names it.
pub const DELIVERY_QUEUE_NAME: &str = "leadnest-edge-deliveries";

/// The configuration of a worker with the event log, the admin API, a
/// delivery queue and the routes above.
pub fn source() -> FakeSource {
    source_with(Some(ADMIN_TOKEN), true)
}

/// The same worker with another `ADMIN_TOKEN` (or none), with or without `EVENTS`.
pub fn source_with(admin_token: Option<&str>, events: bool) -> FakeSource {
    configured(admin_token, events, true)
}

/// The same worker delivering after the answer: no `DELIVERY_QUEUE`.
pub fn source_without_delivery_queue() -> FakeSource {
    configured(Some(ADMIN_TOKEN), true, false)
}

fn configured(admin_token: Option<&str>, events: bool, delivery_queue: bool) -> FakeSource {
    let mut source = FakeSource::new()
        .with(
            "WEBHOOK_SECRET",
            &format!(" {FIRST_SECRET}, {SECOND_SECRET} "),
        )
        .with_kv("DEDUP")
        .with("ROUTES", ROUTES)
        .with("CRM_SIGNING_SECRET", CRM_SIGNING_SECRET)
        .with_queue("ANALYTICS_QUEUE");
    if delivery_queue {
        source = source.with_queue(DELIVERY_QUEUE_BINDING);
    }
    if let Some(token) = admin_token {
        source = source.with("ADMIN_TOKEN", token);
    }
    if events {
        source = source.with_durable_object(EVENTS_BINDING);
    }
    source
}

/// `X-LeadNest-Signature` of `body`, as LeadNest signs it.
pub fn signature(body: &str) -> String {
    sign(FIRST_SECRET.as_bytes(), body.as_bytes())
}

/// A LeadNest event stamped `at_ms` (whole seconds).
pub fn event_body(event: &str, message_id: &str, at_ms: i64) -> String {
    let timestamp = rfc3339(at_ms.div_euclid(1000) * 1000).replace(".000Z", "Z");
    json!({"event": event, "timestamp": timestamp,
           "data": {"message_id": message_id, "email": "user@example.com"}})
    .to_string()
}

/// A LeadNest event stamped `at_ms` whose message id starts with `label`,
/// chosen so that the log keeps it in the shard `k` of its window: for tests
/// that need events written together.
pub fn body_in_shard(event: &str, label: &str, at_ms: i64, k: u32) -> String {
    (0..)
        .map(|j| event_body(event, &format!("{label}-{j}"), at_ms))
        .find(|body| {
            let mut probe = Worker::new();
            probe.now_ms = at_ms;
            Shard::of(at_ms, &probe.post_unlogged(body).id()).k == k
        })
        .unwrap()
}

/// A backend's answer.
pub fn answered(status: u16, body: &str) -> Outcome {
    Outcome::Answered(Answer {
        status,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Request-Id".into(), "req-42".into()),
        ],
        body: body.as_bytes().to_vec(),
        body_error: None,
    })
}

/// What the ingress did with one request.
#[derive(Debug)]
pub struct Posted {
    pub reply: Reply,
    /// The `DELIVERY_QUEUE` messages it sent, as bytes.
    pub messages: Vec<Vec<u8>>,
}

impl Posted {
    pub fn answer(&self) -> Value {
        serde_json::from_str(&self.reply.body).unwrap()
    }

    /// The event's `webhook-id`, as the log and its deliveries carry it.
    pub fn id(&self) -> String {
        if let Some(Entry::Accepted(event)) = &self.reply.log_entry {
            return event.id.clone();
        }
        if let Some(delivery) = self.reply.after_answer.first() {
            return delivery.webhook_id.clone();
        }
        let bytes = self.messages.first().expect("no delivery was sent");
        Delivery::decode(bytes).unwrap().webhook_id
    }

    /// Where the log keeps the event.
    pub fn shard(&self) -> Shard {
        let Some(Entry::Accepted(event)) = &self.reply.log_entry else {
            panic!("no event was accepted")
        };
        event.shard()
    }

    /// The message for `route`.
    pub fn message(&self, route: &str) -> Vec<u8> {
        self.messages
            .iter()
            .find(|bytes| Delivery::decode(bytes).unwrap().route == route)
            .unwrap_or_else(|| panic!("no delivery to {route}"))
            .clone()
    }
}

/// What a queue message's run came to.
#[derive(Debug)]
pub struct Consumed {
    pub decision: Decision,
    pub records: Option<(Shard, Vec<Statement>)>,
    /// The deliveries it settled, for the isolate's pending counts.
    pub counted: Vec<Entry>,
    pub acks_after_records: bool,
    /// Whether an attempt was made.
    pub attempted: bool,
}

/// An admin call's answer and what it did on the way.
#[derive(Debug, Default)]
pub struct AdminAnswer {
    pub status: u16,
    pub text: String,
    /// Every item handed off, in order.
    pub outgoing: Vec<Outgoing>,
    pub queries: usize,
    /// How many shards each query asked.
    pub shards_asked: Vec<usize>,
    /// How many times it read the log's directory.
    pub directory_reads: usize,
    pub hand_offs: usize,
    /// The test event posted to the ingress: body and signature.
    pub test_event: Option<(String, String)>,
    /// Whether the call asked for its body.
    pub body_read: bool,
    /// Every statement it ran, in order.
    pub statements: Vec<Statement>,
    /// A 405's `Allow`.
    pub allow: Option<&'static str>,
    /// What the driver does with a body the call did not read.
    pub unread: Option<Unread>,
}

/// A request body as the driver reads it: the bytes, or how reading ended.
#[derive(Debug, Clone, Copy)]
pub enum SentBody<'a> {
    Text(&'a str),
    TooLarge,
    Broken,
}

impl AdminAnswer {
    pub fn body(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    /// The deliveries handed off.
    pub fn deliveries(&self) -> Vec<&Delivery> {
        self.outgoing
            .iter()
            .filter_map(|item| match item {
                Outgoing::Delivery(delivery) => Some(delivery),
                Outgoing::Payload { .. } => None,
            })
            .collect()
    }
}

/// What the ingress answers a test event, in these tests.
pub const TEST_EVENT_ANSWER: &str = r#"{"status":"accepted","event":"email.opened","message_id":"msg_test_nonce","routes":["crm"]}"#;

/// What happens while a replay hands off: `true` when every send worked.
pub type HandOff<'h> = &'h mut dyn FnMut(&mut Worker, &[Outgoing]) -> bool;

/// The fate of each try of a write to the log, given its statements and when
/// it ends: `true` when the shard takes it.
pub type Fate = Box<dyn FnMut(&[Statement], i64) -> bool>;

/// One try of a write to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Try {
    /// When it ended.
    pub at_ms: i64,
    pub statements: usize,
    pub written: bool,
}

/// A flush loop as the driver runs it: when it next calls the core, and the
/// batch it is writing, with the tries so far.
struct FlushLoop {
    id: u32,
    wake_ms: i64,
    /// Whether its next batch begins a flush: it is new, or slept since.
    fresh: bool,
    writing: Option<((Shard, Vec<Statement>), u32)>,
    /// Whether its last batch was written, for its next step.
    written: Option<bool>,
}

/// One worker: its configuration, the isolate's memory of recorded keys, the
/// dedup store, the event log and a clock.
pub struct Worker {
    pub config: Config,
    pub log: Log,
    pub now_ms: i64,
    memory: RefCell<RecentKeys>,
    platform: FakePlatform<'static>,
    requests: u64,
    /// Every admin answer's body.
    pub answers: Vec<String>,
    /// The isolate's ingress entries not yet written.
    pending: Pending,
    /// The flush loops the core asked for, still running.
    loops: Vec<FlushLoop>,
    /// The driver's clock: the test's, or ahead of it where loops that ran
    /// at once slept; it never goes back, as the platform's does not.
    driver_ms: i64,
    /// Whether the flush loops the core asks for run to their end at once,
    /// however long they sleep (else on [`Worker::flush`] or
    /// [`Worker::advance`], on the clock).
    pub flush_at_once: bool,
    /// The batches the flushes wrote, by size.
    pub flushed: Vec<usize>,
    /// Every batch a flush took: when, and its size.
    pub taken: Vec<(i64, usize)>,
    /// When each flush began.
    pub flush_starts: Vec<i64>,
    /// Every try of a write to the log by a flush or a consumer.
    pub tries: Vec<Try>,
    /// Decides each try; every one is written unless a test says otherwise.
    pub fate: Fate,
    /// How long a try of a flush's write takes.
    pub write_ms: i64,
}

impl Worker {
    pub fn new() -> Self {
        Self::with(source())
    }

    pub fn with(source: FakeSource) -> Self {
        let config = Config::load(&source).unwrap();
        Self {
            memory: RefCell::new(RecentKeys::new(config.dedup_memory_keys)),
            config,
            log: Log::default(),
            now_ms: NOW_MS,
            platform: FakePlatform::new("", NOW_MS),
            requests: 0,
            answers: Vec::new(),
            pending: Pending::default(),
            loops: Vec::new(),
            driver_ms: NOW_MS,
            flush_at_once: true,
            flushed: Vec::new(),
            taken: Vec::new(),
            flush_starts: Vec::new(),
            tries: Vec::new(),
            fate: Box::new(|_, _| true),
            write_ms: 0,
        }
    }

    /// Posts `body` signed by LeadNest, and keeps what the ingress records.
    pub fn post(&mut self, body: &str) -> Posted {
        let posted = self.post_unlogged(body);
        self.keep(&posted);
        posted
    }

    /// Posts `body` signed by LeadNest; its records is left to the caller.
    pub fn post_unlogged(&mut self, body: &str) -> Posted {
        self.submit(body, Some(&signature(body)))
    }

    /// What the driver does after the answer: the request's entry joins the
    /// isolate's pending writes, and a flush runs if the core asks for one.
    pub fn keep(&mut self, posted: &Posted) {
        let Some(entry) = posted.reply.log_entry.clone() else {
            return;
        };
        self.keep_entry(entry);
    }

    pub fn keep_entry(&mut self, entry: Entry) {
        self.pending.add(entry);
        self.schedule();
    }

    /// What the driver does with a write that failed its last try: the core
    /// counts it, and may ask for a flush loop.
    pub fn lose(&mut self, unwritten: Unwritten) {
        let now = self.clock();
        self.pending.lose(unwritten, now);
        self.schedule();
    }

    fn clock(&mut self) -> i64 {
        self.driver_ms = self.driver_ms.max(self.now_ms);
        self.driver_ms
    }

    fn schedule(&mut self) {
        let now = self.clock();
        if let Some(id) = self.pending.schedule(now) {
            self.loops.push(FlushLoop {
                id,
                wake_ms: now,
                fresh: true,
                writing: None,
                written: None,
            });
        }
        if self.flush_at_once {
            self.flush();
        }
    }

    /// Every flush loop run to its end, each sleeping what the core says on a
    /// clock of its own (the test's stays where it is).
    pub fn flush(&mut self) {
        self.run_loops(i64::MAX);
    }

    /// The clock moves on to `to_ms`, the flush loops running on the way.
    pub fn advance(&mut self, to_ms: i64) {
        self.run_loops(to_ms);
        self.now_ms = self.now_ms.max(to_ms);
    }

    /// Each flush loop's steps due by `until_ms`, in the order of their times,
    /// as the driver runs one: ask the core, sleep, write the batch (each try
    /// taking `write_ms`, tried again when the core says), report.
    fn run_loops(&mut self, until_ms: i64) {
        loop {
            let Some(i) = (0..self.loops.len())
                .filter(|&i| self.loops[i].wake_ms <= until_ms)
                .min_by_key(|&i| self.loops[i].wake_ms)
            else {
                return;
            };
            let id = self.loops[i].id;
            self.driver_ms = self.driver_ms.max(self.loops[i].wake_ms);
            let at = self.driver_ms;
            match self.loops[i].writing.take() {
                None => match self.pending.step(id, self.loops[i].written.take(), at) {
                    None => {
                        self.loops.remove(i);
                    }
                    Some(FlushStep::Sleep(wait)) if wait > 0 => {
                        self.loops[i].wake_ms = at + wait;
                        self.loops[i].fresh = true;
                    }
                    // Nothing to write after all: asked again at once.
                    Some(FlushStep::Sleep(_)) => self.taken.push((at, 0)),
                    Some(FlushStep::Write(shard, statements)) => {
                        if std::mem::take(&mut self.loops[i].fresh) {
                            self.flush_starts.push(at);
                        }
                        self.taken.push((at, statements.len()));
                        self.loops[i].writing = Some(((shard, statements), 1));
                        self.loops[i].wake_ms = at + self.write_ms;
                    }
                },
                Some((batch, tries)) => {
                    if self.try_write(&batch, at) {
                        self.flushed.push(batch.1.len());
                        self.loops[i].written = Some(true);
                    } else if let Some(wait) = retry_wait(tries) {
                        self.loops[i].writing = Some((batch, tries + 1));
                        self.loops[i].wake_ms = at + wait + self.write_ms;
                    } else {
                        self.loops[i].written = Some(false);
                    }
                }
            }
        }
    }

    /// One try of a write, ending at `at_ms`, as [`Worker::fate`] decides.
    fn try_write(&mut self, batch: &(Shard, Vec<Statement>), at_ms: i64) -> bool {
        let (shard, statements) = batch;
        let written = (self.fate)(statements, at_ms);
        self.tries.push(Try {
            at_ms,
            statements: statements.len(),
            written,
        });
        if written {
            // What the driver reads from the platform's meter of the batch
            // (`rowsWritten`): here SQLite's count of rows changed, index
            // entries aside.
            let changed = self
                .log
                .batch(*shard, statements)
                .unwrap_or_else(|e| panic!("{e}"));
            let rows = changed.changes.iter().sum::<u64>();
            self.pending.metered(i64::try_from(rows).unwrap(), at_ms);
        }
        written
    }

    /// A write as the consumer makes it: tried again, on the test's clock,
    /// while the core says. Whether it was written.
    fn write_tried(&mut self, records: &Option<(Shard, Vec<Statement>)>) -> bool {
        let Some(batch) = records else {
            return true;
        };
        let mut tries = 1;
        loop {
            let now = self.clock();
            if self.try_write(batch, now) {
                return true;
            }
            let Some(wait) = retry_wait(tries) else {
                return false;
            };
            self.now_ms += wait;
            tries += 1;
        }
    }

    /// Posts `body` with `signature`; its records is left to the caller.
    pub fn submit(&mut self, body: &str, signature: Option<&str>) -> Posted {
        self.requests += 1;
        self.platform.body = body.as_bytes().to_vec();
        self.platform.now_ms = self.now_ms;
        self.platform.sent.clear();
        let length = body.len().to_string();
        let ingress = Ingress::new(
            &self.config,
            &self.memory,
            RequestHead {
                content_length: Some(&length),
                signature,
            },
            self.now_ms,
        );
        let reply = self
            .platform
            .drive(ingress, &format!("request-{}", self.requests));
        let messages = self
            .platform
            .sent
            .iter()
            .filter_map(|send| match &send.message {
                QueueMessage::Delivery(bytes) => Some(bytes.clone()),
                QueueMessage::Payload => None,
            })
            .collect();
        Posted { reply, messages }
    }

    /// The delivery consumer takes `message` (its `attempts`-th delivery) from
    /// `queue`; an attempt, if one is asked for, ends with `outcome`. The
    /// records is left to the caller.
    pub fn run_message(
        &self,
        queue: &str,
        message: &[u8],
        attempts: u32,
        outcome: Outcome,
    ) -> Consumed {
        let mut run = DeliveryRun::queued(
            &self.config,
            Some(message),
            attempts,
            queue,
            Some("queue-message-1"),
            self.now_ms,
        );
        let attempted = matches!(run.need(), RunNeed::Attempt { .. });
        if attempted {
            run.attempted(outcome, self.now_ms, 35);
        }
        let RunNeed::Settle(decision) = run.need() else {
            panic!("a queued run settles after one attempt")
        };
        Consumed {
            decision,
            records: run.take_records(),
            counted: run.take_counted(),
            acks_after_records: run.acks_after_records(),
            attempted,
        }
    }

    /// A message of `queue` as the consumer runs it: an attempt, if one is
    /// asked for, ending with `outcome`; its records written as the driver
    /// writes it, each try's fate decided by [`Worker::fate`]; if it never is,
    /// the run says what that means (a dead letter: retried; anything else:
    /// counted lost). The decision it settles on.
    pub fn consume(
        &mut self,
        queue: &str,
        message: &[u8],
        attempts: u32,
        outcome: Outcome,
    ) -> Decision {
        let config = self.config.clone();
        let mut run = DeliveryRun::queued(
            &config,
            Some(message),
            attempts,
            queue,
            Some("queue-message-1"),
            self.now_ms,
        );
        if matches!(run.need(), RunNeed::Attempt { .. }) {
            run.attempted(outcome, self.now_ms, 35);
        }
        let records = run.take_records();
        if !self.write_tried(&records) {
            let unwritten = run.records_unwritten();
            self.lose(unwritten);
        }
        for counted in run.take_counted() {
            self.keep_entry(counted);
        }
        let RunNeed::Settle(decision) = run.need() else {
            panic!("a queued run settles after one attempt")
        };
        decision
    }

    /// A delivery attempt from `DELIVERY_QUEUE`, with its records written,
    /// and its count as the isolate's next flush writes it.
    pub fn deliver(&self, message: &[u8], attempts: u32, outcome: Outcome) -> Decision {
        let consumed = self.run_message(DELIVERY_QUEUE_NAME, message, attempts, outcome);
        self.log.write(&consumed.records);
        self.count_now(consumed.counted);
        consumed.decision
    }

    /// Counts written at once where a flush writes them (the tests that need
    /// the flush's timing keep them pending: [`Worker::consume`]).
    fn count_now(&self, counted: Vec<Entry>) {
        for entry in counted {
            self.log.write(&Some((entry.shard(), entry.statements())));
        }
    }

    /// A delivery after the answer (no `DELIVERY_QUEUE`), every attempt ending
    /// with `outcome`, its records written after each attempt and at the end,
    /// as the driver writes it. The decision it settles on.
    pub fn deliver_after_answer(&mut self, delivery: Delivery, outcome: &Outcome) -> Decision {
        let config = self.config.clone();
        self.run_after_answer(DeliveryRun::direct(&config, delivery, self.now_ms), outcome)
    }

    /// A replay without `DELIVERY_QUEUE`, run as the driver runs it.
    pub fn replay_after_answer(&mut self, delivery: Delivery, outcome: &Outcome) -> Decision {
        let config = self.config.clone();
        self.run_after_answer(
            DeliveryRun::direct_replay(&config, delivery, self.now_ms),
            outcome,
        )
    }

    fn run_after_answer(&mut self, mut run: DeliveryRun<'_>, outcome: &Outcome) -> Decision {
        loop {
            match run.need() {
                RunNeed::Attempt { .. } => {
                    run.attempted(outcome.clone(), self.now_ms, 20);
                    self.log.write(&run.take_records());
                    self.count_now(run.take_counted());
                }
                RunNeed::Wait { seconds } => {
                    self.now_ms += i64::try_from(seconds).unwrap() * 1000;
                    run.waited();
                }
                RunNeed::Settle(decision) => {
                    self.log.write(&run.take_records());
                    self.count_now(run.take_counted());
                    return decision;
                }
            }
        }
    }

    /// `message` arrives on the dead-letter queue; its records is written.
    pub fn dead_letter(&self, message: &[u8]) -> Consumed {
        let queue = self.config.dead_letter_queue.clone();
        let consumed = self.run_message(&queue, message, 1, answered(500, "unused"));
        self.log.write(&consumed.records);
        consumed
    }

    /// The route of `message` is paused or tripped: its state holds the
    /// delivery at the test's clock, and the driver writes that it is held
    /// (SPEC section 10). The statements, as run.
    pub fn hold(&self, message: &[u8]) -> Vec<Statement> {
        let held = self.held(message);
        let statements = held.statements();
        self.log.write(&Some((held.shard(), statements.clone())));
        statements
    }

    /// The record of `message` held at the test's clock, its event read from
    /// the message as the consumer reads it.
    pub fn held(&self, message: &[u8]) -> HeldDelivery {
        let delivery = Delivery::decode(message).unwrap();
        let head = leadnest_edge::payload::head(&delivery.body);
        HeldDelivery {
            event: AcceptedEvent {
                id: delivery.webhook_id.clone(),
                event: delivery.event.clone(),
                message_id: head.message_id,
                timestamp: head.timestamp,
                received_at_ms: delivery.received_at_ms,
                body: String::from_utf8(delivery.body.clone()).unwrap(),
                routes: Vec::new(),
            },
            route: delivery.route,
            at_ms: self.now_ms,
        }
    }

    /// An admin call with the token, every hand-off working.
    pub fn admin(&mut self, method: &str, target: &str, body: &str) -> AdminAnswer {
        self.admin_as(Some(&format!("Bearer {ADMIN_TOKEN}")), method, target, body)
    }

    pub fn get(&mut self, target: &str) -> AdminAnswer {
        self.admin("GET", target, "")
    }

    pub fn admin_as(
        &mut self,
        authorization: Option<&str>,
        method: &str,
        target: &str,
        body: &str,
    ) -> AdminAnswer {
        self.admin_with(authorization, method, target, body, &mut |_, _| true)
    }

    /// An admin call to `target` (a path under `/admin/api/`, with its query),
    /// driven to its answer; `hand_off` performs each hand-off.
    pub fn admin_with(
        &mut self,
        authorization: Option<&str>,
        method: &str,
        target: &str,
        body: &str,
        hand_off: HandOff<'_>,
    ) -> AdminAnswer {
        let length = body.len().to_string();
        self.admin_sent(
            authorization,
            method,
            target,
            Some(&length),
            SentBody::Text(body),
            hand_off,
        )
    }

    /// An admin call as it arrives: its `Content-Length` (if any) and what
    /// reading its body gives, should the call ask for it.
    pub fn admin_sent(
        &mut self,
        authorization: Option<&str>,
        method: &str,
        target: &str,
        content_length: Option<&str>,
        body: SentBody<'_>,
        hand_off: HandOff<'_>,
    ) -> AdminAnswer {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        // The call reads this configuration while the hand-off acts on the worker.
        let config = self.config.clone();
        let path = format!("/admin/api/{path}");
        let request = AdminRequest {
            method,
            path: &path,
            query: &query,
            authorization,
            content_length,
        };
        let mut call = AdminCall::new(&config, request, self.now_ms, "nonce");
        let mut answer = AdminAnswer::default();
        for _ in 0..1_000 {
            match call.need() {
                AdminNeed::ReadBody { .. } => {
                    assert!(!answer.body_read, "the body is read once");
                    answer.body_read = true;
                    match body {
                        SentBody::Text(text) => {
                            call.body_read(BodyRead::Complete { len: text.len() }, text.as_bytes())
                        }
                        SentBody::TooLarge => call.body_read(BodyRead::TooLarge, &[]),
                        SentBody::Broken => call.body_read(BodyRead::Broken, &[]),
                    }
                }
                AdminNeed::Shards => {
                    answer.directory_reads += 1;
                    call.shards_found(Ok(&self.log.directory()));
                }
                AdminNeed::Query(asks) => {
                    answer.queries += 1;
                    answer.shards_asked.push(asks.len());
                    for (_, statements) in asks {
                        answer.statements.extend(statements.iter().cloned());
                    }
                    // Writes (a replay's marks) make their shard; reads ask
                    // only shards that exist, as the directory named them.
                    let results: Result<Vec<String>, String> = asks
                        .iter()
                        .map(|(shard, statements)| {
                            let reads = statements.iter().all(|s| s.sql.starts_with("SELECT"));
                            let batch = if reads {
                                self.log.query(*shard, statements)
                            } else {
                                self.log.batch(*shard, statements)
                            };
                            batch.map(|batch| batch.json())
                        })
                        .collect();
                    let results = results.map(|each| format!("[{}]", each.join(",")));
                    call.queried(results.as_deref().map_err(Clone::clone));
                }
                AdminNeed::Deliver { outgoing, .. } => {
                    answer.hand_offs += 1;
                    let outgoing = outgoing.to_vec();
                    let ok = hand_off(self, &outgoing);
                    answer.outgoing.extend(outgoing);
                    call.handed_off(ok);
                }
                AdminNeed::Ingress { body, signature } => {
                    answer.test_event = Some((body.to_string(), signature.to_string()));
                    call.ingress_answered(200, TEST_EVENT_ANSWER.to_string());
                }
                // These tests keep no route state objects (the admin call's own
                // tests drive those steps): every call to one fails.
                AdminNeed::RouteReports { names, .. } => {
                    let none = vec![None; names.len()];
                    call.routes_reported(&none);
                }
                AdminNeed::RouteControl { .. } => call.routes_reported(&[None]),
                AdminNeed::Reply {
                    status,
                    body,
                    allow,
                    unread,
                } => {
                    answer.status = status;
                    answer.text = body.to_string();
                    answer.allow = allow;
                    answer.unread = unread;
                    self.answers.push(answer.text.clone());
                    return answer;
                }
            }
        }
        panic!("the admin call never answered")
    }

    /// An event's row in the list, by id.
    pub fn listed(&mut self, id: &str) -> Value {
        let page = self.get("events?limit=200").body();
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|event| event["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
            .clone()
    }

    /// `GET /admin/api/events/{id}`.
    pub fn event(&mut self, id: &str) -> Value {
        let answer = self.get(&format!("events/{id}"));
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.body()
    }

    /// A delivery's status in the log.
    pub fn delivery_status(&self, id: &str, route: &str) -> String {
        let rows = self.log.rows(&format!(
            "SELECT status FROM deliveries WHERE event_id = '{id}' AND route = '{route}'"
        ));
        rows[0]["status"].as_str().unwrap().to_string()
    }

    /// An event's status in the log.
    pub fn event_status(&self, id: &str) -> String {
        let rows = self
            .log
            .rows(&format!("SELECT status FROM events WHERE id = '{id}'"));
        rows[0]["status"].as_str().unwrap().to_string()
    }
}
