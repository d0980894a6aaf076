//! The life of one request to `POST /webhooks/leadnest`, SPEC section 3, as a
//! state machine that performs no I/O and reads no clock (sans-IO, as `h11`
//! and `quinn-proto` are built). [`Ingress::need`] says what it needs next; the
//! caller performs it and reports the result with the matching method, until
//! the need is [`Need::Reply`]. The Worker glue drives it with the platform
//! (body stream, WebCrypto, KV or the Durable Object, queues, timers); native
//! tests drive the same machine with fakes. The order of the steps, every
//! answer and every log line are decided here, nowhere else.

use std::cell::RefCell;

use crate::config::{Config, DedupMode, DELIVERY_QUEUE_BINDING};
use crate::dedup::{Claim, DedupKey, RecentKeys};
use crate::delivery::Delivery;
use crate::error::Rejection;
use crate::event_log::{AcceptedEvent, Entry, RouteKind};
use crate::json_writer::JsonObject;
use crate::key_table::{shard_of, TableAnswer, TableRequest};
use crate::log::{IngressLog, WarningLog};
use crate::payload::{check_freshness, parse, Envelope};
use crate::routes::{taking, Destination, Route};
use crate::signature::{claimed_digest, Secrets, VerifiedBody, DIGEST_LEN};

/// The ingress path.
pub const INGRESS_PATH: &str = "/webhooks/leadnest";

/// How long a redelivery waits for another request that holds its event's
/// claim, and how often it asks again: "a few seconds", then 503 so LeadNest
/// retries later.
pub const CLAIM_WAIT_MS: u64 = 5_000;
pub const CLAIM_POLL_MS: u64 = 250;
/// Tries of a record or a release: a lost one costs a duplicate delivery or a
/// lease's wait, so a passing fault is worth a second and third try.
pub const STORE_WRITE_TRIES: u32 = 3;

/// What the request says before its body is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestHead<'a> {
    /// `Content-Length`, as sent.
    pub content_length: Option<&'a str>,
    /// `X-LeadNest-Signature`, as sent.
    pub signature: Option<&'a str>,
}

/// What to do with a request body the worker will not read (any more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Cancel it, so the answer goes out at once (production).
    Cancel,
    /// Read it out and drop it, within a bound: `DRAIN_REFUSED_BODIES`, for
    /// `wrangler dev`, whose proxy breaks the next request after an early answer.
    Drain,
}

impl Unread {
    /// The configured choice.
    pub fn of(drain_refused_bodies: bool) -> Self {
        if drain_refused_bodies {
            Self::Drain
        } else {
            Self::Cancel
        }
    }
}

/// What reading the body gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRead {
    /// The whole body, `len` bytes, at most the limit asked for.
    Complete { len: usize },
    /// More than the limit; reading stopped there.
    TooLarge,
    /// The client went away or the stream broke.
    Broken,
}

/// A message for a queue, sent before the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueMessage {
    /// A [`Delivery`] for `DELIVERY_QUEUE`, as bytes (never re-encoded).
    Delivery(Vec<u8>),
    /// A queue route's message: the payload JSON object as received.
    Payload,
}

/// One send of the hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// The queue producer binding.
    pub binding: String,
    pub message: QueueMessage,
}

/// What the machine needs next.
#[derive(Debug)]
pub enum Need<'a> {
    /// Read the body, at most `limit` bytes (stop past it, then let the rest go
    /// as `unread` says), and report it with [`Ingress::body_read`].
    /// `declared`: a `Content-Length` was sent (already checked against `limit`).
    ReadBody {
        limit: usize,
        declared: bool,
        unread: Unread,
    },
    /// Compute HMAC-SHA256 of the body under each configured secret and compare
    /// it with `claimed` in constant time; report with [`Ingress::signature_checked`].
    CheckSignature {
        secrets: &'a Secrets,
        claimed: &'a [u8; DIGEST_LEN],
    },
    /// Ask the dedup store (`store`) about `key`; report with
    /// [`Ingress::claimed`], or [`Ingress::table_answered`] for the key table
    /// ([`Ingress::table_request`] says what to ask it).
    Claim { key: &'a DedupKey, store: DedupMode },
    /// Wait `ms`, then report with [`Ingress::waited`].
    Wait { ms: u64 },
    /// Send every message, concurrently, then report how many failed with
    /// [`Ingress::handed_off`]. `delay_ms` first (fault tests only).
    HandOff { sends: &'a [Send], delay_ms: u64 },
    /// Give up the claim on `key` in the key table (only a claim there holds
    /// anything); report with [`Ingress::released`] or [`Ingress::table_answered`].
    Release { key: &'a DedupKey },
    /// Record `key` for `ttl_seconds` in `store`; report with
    /// [`Ingress::recorded`] or [`Ingress::table_answered`].
    Record {
        key: &'a DedupKey,
        event: &'a str,
        ttl_seconds: u64,
        store: DedupMode,
    },
    /// Answer: done.
    Reply(&'a Reply),
}

/// The answer to a request and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// JSON.
    pub body: String,
    /// The `Allow` header of a 405.
    pub allow: Option<&'static str>,
    /// The body was not read (to its end): let it go so.
    pub unread: Option<Unread>,
    /// Lines to print before the request's own line (warnings).
    pub warnings: Vec<String>,
    /// HTTP deliveries to make after the answer (no `DELIVERY_QUEUE`).
    pub after_answer: Vec<Delivery>,
    /// What the event log keeps of this request (only with the log on).
    pub log_entry: Option<Entry>,
    log: Option<Outcome>,
}

/// What the request's log line says, but its duration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    outcome: &'static str,
    reason: Option<&'static str>,
    event: Option<String>,
    message_id: Option<String>,
    routes: Option<Vec<String>>,
}

impl Reply {
    /// With the event log on, a refusal on the ingress path (one with a log
    /// line) takes its count in `/stats`, whichever step refused it.
    pub fn count_rejection(&mut self, event_log: bool, now_ms: i64) {
        if event_log && self.log_entry.is_none() {
            self.log_entry =
                self.log
                    .as_ref()
                    .and_then(|log| log.reason)
                    .map(|code| Entry::Rejected {
                        code,
                        at_ms: now_ms,
                    });
        }
    }

    /// A refusal, SPEC section 2's error body. `logged`: on the ingress path.
    pub fn refusal(rejection: &Rejection, unread: Option<Unread>, logged: bool) -> Self {
        let allow = match rejection {
            Rejection::MethodNotAllowed { allow } => Some(*allow),
            _ => None,
        };
        Self {
            status: rejection.status(),
            body: rejection.body(),
            allow,
            unread,
            warnings: Vec::new(),
            after_answer: Vec::new(),
            log_entry: None,
            log: logged.then(|| Outcome {
                outcome: "rejected",
                reason: Some(rejection.code()),
                event: None,
                message_id: None,
                routes: None,
            }),
        }
    }

    /// `accepted` with the routes that took the event, or `duplicate` without.
    fn handled(outcome: &'static str, envelope: &Envelope, routes: Option<Vec<String>>) -> Self {
        let body = match &routes {
            Some(names) => accepted_body(
                envelope,
                &names.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
            None => duplicate_body(envelope),
        };
        Self {
            status: 200,
            body,
            allow: None,
            unread: None,
            warnings: Vec::new(),
            after_answer: Vec::new(),
            log_entry: None,
            log: Some(Outcome {
                outcome,
                reason: None,
                event: Some(envelope.event.clone()),
                message_id: envelope.message_id.clone(),
                routes,
            }),
        }
    }

    /// The request's log line (SPEC section 6), if it has one, given how long
    /// it took.
    pub fn log_line(&self, duration_ms: u64) -> Option<String> {
        let outcome = self.log.as_ref()?;
        let routes: Option<Vec<&str>> = outcome
            .routes
            .as_ref()
            .map(|names| names.iter().map(String::as_str).collect());
        let unrouted = routes.as_ref().is_some_and(Vec::is_empty);
        Some(
            IngressLog {
                outcome: outcome.outcome,
                status: self.status,
                reason: outcome.reason,
                event: outcome.event.as_deref(),
                message_id: outcome.message_id.as_deref(),
                routes,
                unrouted,
                duration_ms,
            }
            .line(),
        )
    }
}

/// An authentic, fresh, well-formed event and where it goes.
#[derive(Debug)]
pub struct Admitted<'c> {
    pub envelope: Envelope,
    pub dedup_key: DedupKey,
    /// The routes that take the event, in configuration order.
    pub routes: Vec<&'c Route>,
}

impl Admitted<'_> {
    /// The names of the routes, for the answer and the log.
    pub fn route_names(&self) -> Vec<String> {
        self.routes.iter().map(|r| r.name.clone()).collect()
    }
}

/// An admitted event with its verified bytes, on its way through steps 6 to 8.
#[derive(Debug)]
struct Event<'c> {
    admitted: Admitted<'c>,
    body: Vec<u8>,
}

#[derive(Debug)]
enum State<'c> {
    ReadBody,
    CheckSignature {
        claimed: [u8; DIGEST_LEN],
    },
    /// Body read, signature matched: waiting for the bytes.
    Claim {
        event: Event<'c>,
        waited_ms: u64,
    },
    Wait {
        event: Event<'c>,
        waited_ms: u64,
    },
    HandOff {
        event: Event<'c>,
        sends: Vec<Send>,
        after_answer: Vec<Delivery>,
    },
    Release {
        key: DedupKey,
        reply: Reply,
        tries: u32,
    },
    Record {
        event: Event<'c>,
        after_answer: Vec<Delivery>,
        tries: u32,
    },
    Done(Reply),
}

/// One request to the ingress.
#[derive(Debug)]
pub struct Ingress<'c> {
    config: &'c Config,
    memory: &'c RefCell<RecentKeys>,
    /// Unix seconds when the request arrived: the clock is read once.
    now: i64,
    /// The same instant in milliseconds, for the event log.
    now_ms: i64,
    signature: Option<String>,
    declared: bool,
    body_len: usize,
    state: State<'c>,
}

impl<'c> Ingress<'c> {
    /// A request with a valid configuration. `memory` is the isolate's keys
    /// (see [`RecentKeys`]); `now_ms` is unix milliseconds from the platform's clock.
    pub fn new(
        config: &'c Config,
        memory: &'c RefCell<RecentKeys>,
        head: RequestHead<'_>,
        now_ms: i64,
    ) -> Self {
        // Step 1 on the declared length, before any byte is read.
        let state = match check_declared_length(head.content_length, config.max_body_bytes) {
            Ok(()) => State::ReadBody,
            Err(too_large) => State::Done(Reply::refusal(
                &too_large,
                Some(Unread::of(config.drain_refused_bodies)),
                true,
            )),
        };
        Self {
            config,
            memory,
            now: now_ms.div_euclid(1000),
            now_ms,
            signature: head.signature.map(str::to_owned),
            // Only a length the runtime frames the body by bounds the read.
            declared: declared_length(head.content_length).is_some(),
            body_len: 0,
            state,
        }
    }

    /// What the machine needs next.
    pub fn need(&self) -> Need<'_> {
        match &self.state {
            State::ReadBody => Need::ReadBody {
                limit: self.config.max_body_bytes,
                declared: self.declared,
                unread: Unread::of(self.config.drain_refused_bodies),
            },
            State::CheckSignature { claimed } => Need::CheckSignature {
                secrets: &self.config.secrets,
                claimed,
            },
            State::Claim { event, .. } => Need::Claim {
                key: &event.admitted.dedup_key,
                store: self.config.dedup_mode,
            },
            State::Wait { .. } => Need::Wait { ms: CLAIM_POLL_MS },
            State::HandOff { sends, .. } => Need::HandOff {
                sends,
                delay_ms: self.config.test_handoff_delay_ms,
            },
            State::Release { key, .. } => Need::Release { key },
            State::Record { event, .. } => Need::Record {
                key: &event.admitted.dedup_key,
                event: &event.admitted.envelope.event,
                ttl_seconds: self.record_ttl(&event.admitted.envelope),
                store: self.config.dedup_mode,
            },
            State::Done(reply) => Need::Reply(reply),
        }
    }

    /// The reply, once [`Need::Reply`] is reached. With the event log on, a
    /// refusal on the ingress path takes its count there.
    pub fn into_reply(self) -> Option<Reply> {
        match self.state {
            State::Done(mut reply) => {
                reply.count_rejection(self.config.event_log, self.now_ms);
                Some(reply)
            }
            _ => None,
        }
    }

    /// `duplicate`, with its redelivery counted in the event log.
    fn duplicate(&self, admitted: &Admitted<'_>) -> Reply {
        let mut reply = Reply::handled("duplicate", &admitted.envelope, None);
        if self.config.event_log {
            reply.log_entry = Some(Entry::Duplicate {
                id: admitted.dedup_key.webhook_id(),
                timestamp: admitted.envelope.timestamp.clone(),
                at_ms: self.now_ms,
            });
        }
        reply
    }

    fn refuse(&mut self, rejection: &Rejection) {
        self.state = State::Done(Reply::refusal(rejection, None, true));
    }

    /// Step 1 on the bytes read, then steps 2 and 3 up to the comparison.
    pub fn body_read(&mut self, read: BodyRead) {
        if !matches!(self.state, State::ReadBody) {
            return;
        }
        let limit = self.config.max_body_bytes;
        match read {
            BodyRead::Complete { len } if len <= limit => {
                self.body_len = len;
                match claimed_digest(self.signature.as_deref()) {
                    Ok(claimed) => self.state = State::CheckSignature { claimed },
                    Err(rejection) => self.refuse(&rejection),
                }
            }
            BodyRead::Complete { .. } | BodyRead::TooLarge => {
                self.refuse(&Rejection::PayloadTooLarge { limit });
            }
            BodyRead::Broken => self.refuse(&Rejection::InvalidPayload(
                "The body could not be read to its end; resend the event.".into(),
            )),
        }
    }

    /// Step 3's verdict: `matched[i]` for secret `i`. Any match passes (every
    /// secret was tried, so timing does not tell which). `body` gives the bytes,
    /// asked for only once they proved authentic. Then steps 4 and 5, the dedup
    /// key, the routes, and the isolate's memory of recorded keys.
    pub fn signature_checked(&mut self, matched: &[bool], body: impl FnOnce() -> Vec<u8>) {
        if !matches!(self.state, State::CheckSignature { .. }) {
            return;
        }
        if self.config.secrets.verdict(matched, &[]).is_err() {
            return self.refuse(&Rejection::InvalidSignature);
        }
        let body = body();
        if body.len() != self.body_len {
            return self.refuse(&Rejection::InvalidPayload(
                "The body could not be read to its end; resend the event.".into(),
            ));
        }
        let verified = match self.config.secrets.verdict(matched, &body) {
            Ok(verified) => verified,
            Err(rejection) => return self.refuse(&rejection),
        };
        let admitted = match admit_verified(self.config, verified, self.now) {
            Ok(admitted) => admitted,
            Err(rejection) => return self.refuse(&rejection),
        };
        if self
            .memory
            .borrow()
            .contains(&admitted.dedup_key, self.now_unsigned())
        {
            self.state = State::Done(self.duplicate(&admitted));
            return;
        }
        self.state = State::Claim {
            event: Event { admitted, body },
            waited_ms: 0,
        };
    }

    /// Step 6: what the dedup store said. A store that cannot be read answers
    /// 503 (the key table's claim given up first, in case it was taken); a
    /// claim another request holds is waited on, a few seconds at most.
    pub fn claimed(&mut self, claim: Result<Claim, String>) {
        let State::Claim { event, waited_ms } = std::mem::replace(&mut self.state, State::ReadBody)
        else {
            return;
        };
        self.state = match claim {
            // The key table may have taken the claim and its answer been
            // lost: given up, so LeadNest's retry need not wait out the lease.
            Err(_) => self.giving_up(
                event.admitted.dedup_key,
                Reply::refusal(&Rejection::Unavailable("The dedup store"), None, true),
            ),
            Ok(Claim::Duplicate) => State::Done(self.duplicate(&event.admitted)),
            Ok(Claim::Busy) if waited_ms >= CLAIM_WAIT_MS => {
                State::Done(Reply::refusal(&Rejection::InProgress, None, true))
            }
            Ok(Claim::Busy) => State::Wait { event, waited_ms },
            Ok(Claim::New) => {
                let (sends, after_answer) = self.plan(&event);
                State::HandOff {
                    event,
                    sends,
                    after_answer,
                }
            }
        };
    }

    /// The wait asked for by [`Need::Wait`] is over: ask the store again.
    pub fn waited(&mut self) {
        if let State::Wait { event, waited_ms } =
            std::mem::replace(&mut self.state, State::ReadBody)
        {
            self.state = State::Claim {
                event,
                waited_ms: waited_ms + CLAIM_POLL_MS,
            };
        }
    }

    /// Step 7: every matching route gets the event. A queue message per HTTP
    /// route with `DELIVERY_QUEUE`, else a delivery after the answer; the
    /// payload for a queue route.
    fn plan(&self, event: &Event<'_>) -> (Vec<Send>, Vec<Delivery>) {
        let admitted = &event.admitted;
        let webhook_id = admitted.dedup_key.webhook_id();
        let mut sends = Vec::new();
        let mut after_answer = Vec::new();
        for route in &admitted.routes {
            match &route.destination {
                Destination::Queue { binding } => sends.push(Send {
                    binding: binding.clone(),
                    message: QueueMessage::Payload,
                }),
                Destination::Http { .. } => {
                    let delivery = Delivery {
                        route: route.name.clone(),
                        event: admitted.envelope.event.clone(),
                        // Verified, so the header is present.
                        signature: self.signature.clone().unwrap_or_default(),
                        webhook_id: webhook_id.clone(),
                        received_at_ms: self.now_ms,
                        spent: 0,
                        body: event.body.clone(),
                    };
                    if self.config.delivery_queue {
                        sends.push(Send {
                            binding: DELIVERY_QUEUE_BINDING.to_string(),
                            message: QueueMessage::Delivery(delivery.encode()),
                        });
                    } else {
                        after_answer.push(delivery);
                    }
                }
            }
        }
        (sends, after_answer)
    }

    /// The hand-off's result: how many sends failed. Any failure answers 503
    /// with nothing recorded (and the claim released), so LeadNest retries.
    pub fn handed_off(&mut self, failed: usize) {
        let State::HandOff {
            event,
            after_answer,
            ..
        } = std::mem::replace(&mut self.state, State::ReadBody)
        else {
            return;
        };
        self.state = if failed == 0 {
            State::Record {
                event,
                after_answer,
                tries: 0,
            }
        } else {
            let mut reply = Reply::refusal(&Rejection::Unavailable("A queue"), None, true);
            reply.warnings.push(
                WarningLog {
                    warning: "queue_send_failed",
                    event: Some(&event.admitted.envelope.event),
                    failed: Some(u32::try_from(failed).unwrap_or(u32::MAX)),
                    ..Default::default()
                }
                .line(),
            );
            self.giving_up(event.admitted.dedup_key, reply)
        };
    }

    /// `reply`, once the key table's claim of `key` is given up (a KV claim is
    /// a read: it holds nothing to give up).
    fn giving_up(&self, key: DedupKey, reply: Reply) -> State<'c> {
        match self.config.dedup_mode {
            DedupMode::Kv => State::Done(reply),
            DedupMode::Durable => State::Release {
                key,
                reply,
                tries: 0,
            },
        }
    }

    /// What to ask the key table (`DEDUP_MODE=durable`) for the need at hand,
    /// and the shard that holds its key; `token` gives what names this request,
    /// the same for all its steps, asked only when the need is the table's (a
    /// KV request makes none). `None` when the need is not the key table's.
    pub fn table_request(&self, token: impl FnOnce() -> String) -> Option<(String, TableRequest)> {
        let request = match self.need() {
            Need::Claim {
                key,
                store: DedupMode::Durable,
            } => TableRequest::Claim {
                key: key.as_str().into(),
                token: token(),
            },
            Need::Release { key } => TableRequest::Release {
                key: key.as_str().into(),
                token: token(),
            },
            Need::Record {
                key,
                ttl_seconds,
                store: DedupMode::Durable,
                ..
            } => TableRequest::Record {
                key: key.as_str().into(),
                token: token(),
                ttl_ms: i64::try_from(ttl_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            },
            _ => return None,
        };
        Some((shard_of(request.key()), request))
    }

    /// The key table's answer to [`table_request`](Self::table_request), or
    /// `None` when it did not answer as the table does: then an error, never a
    /// duplicate.
    pub fn table_answered(&mut self, answer: Option<TableAnswer>) {
        let failed = || "the dedup object did not answer as expected".to_string();
        match self.need() {
            Need::Claim { .. } => self.claimed(match answer {
                Some(TableAnswer::Claimed) => Ok(Claim::New),
                Some(TableAnswer::Duplicate) => Ok(Claim::Duplicate),
                Some(TableAnswer::Busy) => Ok(Claim::Busy),
                _ => Err(failed()),
            }),
            Need::Record { .. } => self.recorded(match answer {
                Some(TableAnswer::Recorded) => Ok(()),
                _ => Err(failed()),
            }),
            Need::Release { .. } => self.released(matches!(
                answer,
                Some(TableAnswer::Released | TableAnswer::NotHeld)
            )),
            _ => {}
        }
    }

    /// Whether the claim was given up. Tried again a few times: a claim not
    /// released holds LeadNest's retry off until its lease ends (the retry
    /// waits, then gets 503), never a duplicate.
    pub fn released(&mut self, ok: bool) {
        let State::Release { key, reply, tries } =
            std::mem::replace(&mut self.state, State::ReadBody)
        else {
            return;
        };
        let tries = tries + 1;
        self.state = if ok || tries >= STORE_WRITE_TRIES {
            State::Done(reply)
        } else {
            State::Release { key, reply, tries }
        };
    }

    /// Step 8: the record's result. Tried again a few times; a record that
    /// still fails is logged, and the answer stays 200: the event is handed off.
    pub fn recorded(&mut self, result: Result<(), String>) {
        let State::Record {
            event,
            after_answer,
            tries,
        } = std::mem::replace(&mut self.state, State::ReadBody)
        else {
            return;
        };
        let tries = tries + 1;
        let warning = match result {
            Ok(()) => {
                let ttl = self.record_ttl(&event.admitted.envelope);
                let now = self.now_unsigned();
                self.memory.borrow_mut().insert(
                    &event.admitted.dedup_key,
                    now,
                    now.saturating_add(ttl),
                );
                None
            }
            Err(_) if tries < STORE_WRITE_TRIES => {
                self.state = State::Record {
                    event,
                    after_answer,
                    tries,
                };
                return;
            }
            // The event is handed off; a redelivery may pass dedup, which the
            // backends' webhook-id dedup absorbs.
            Err(error) => Some(
                WarningLog {
                    warning: "dedup_record_failed",
                    event: Some(&event.admitted.envelope.event),
                    error: Some(&error),
                    ..Default::default()
                }
                .line(),
            ),
        };
        let admitted = &event.admitted;
        let mut reply =
            Reply::handled("accepted", &admitted.envelope, Some(admitted.route_names()));
        reply.warnings.extend(warning);
        reply.after_answer = after_answer;
        if self.config.event_log {
            reply.log_entry = self.accepted_entry(event);
        }
        self.state = State::Done(reply);
    }

    /// The accepted event as the log keeps it: its body moves there.
    fn accepted_entry(&self, event: Event<'_>) -> Option<Entry> {
        let Event { admitted, body } = event;
        let routes = admitted
            .routes
            .iter()
            .map(|route| {
                let kind = match route.destination {
                    Destination::Http { .. } => RouteKind::Http,
                    Destination::Queue { .. } => RouteKind::Queue,
                };
                (route.name.clone(), kind)
            })
            .collect();
        // Verified UTF-8 by the payload's parse.
        let body = String::from_utf8(body).ok()?;
        Some(Entry::Accepted(AcceptedEvent {
            id: admitted.dedup_key.webhook_id(),
            event: admitted.envelope.event,
            message_id: admitted.envelope.message_id,
            timestamp: admitted.envelope.timestamp,
            received_at_ms: self.now_ms,
            body,
            routes,
        }))
    }

    /// How long a key is remembered: `DEDUP_TTL_SECONDS`, and at least until
    /// the event's timestamp leaves the window. A timestamp ahead of the clock
    /// stays fresh for up to twice the tolerance after it arrived, and a replay
    /// inside the window must find the key.
    fn record_ttl(&self, envelope: &Envelope) -> u64 {
        let window_ends = envelope
            .unix_seconds
            .saturating_add_unsigned(self.config.tolerance_seconds);
        let fresh_for = u64::try_from(window_ends.saturating_sub(self.now)).unwrap_or_default();
        self.config
            .dedup_ttl_seconds
            .max(fresh_for.saturating_add(1))
    }

    fn now_unsigned(&self) -> u64 {
        u64::try_from(self.now).unwrap_or_default()
    }
}

/// The path of a serialized WHATWG URL (`Request.url`), as sent: not decoded,
/// without query or fragment. Serialization never leaves `?` or `#` unescaped
/// in a path, and a special scheme's path always starts with the first `/`
/// after the host.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let Some(start) = url[after_scheme..].find('/') else {
        return "/";
    };
    let path = &url[after_scheme + start..];
    path.find(['?', '#']).map_or(path, |end| &path[..end])
}

/// A `Content-Length` that is a number: all digits (too many for `u64` is
/// `u64::MAX`, too large rather than unreadable).
fn declared_length(content_length: Option<&str>) -> Option<u64> {
    content_length
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .map(|v| v.parse::<u64>().unwrap_or(u64::MAX))
}

/// Step 1 on the declared `Content-Length`, before any byte is read. A header
/// that is not a number is left to the check on the bytes read.
pub fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), Rejection> {
    match declared_length(content_length) {
        Some(length) if length > limit as u64 => Err(Rejection::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// Steps 1 (on the bytes read) to 5 in one call, then the dedup key and the
/// matching routes: the pure part of the ingress, for benchmarks and fuzzing.
/// `now` is unix seconds.
pub fn admit<'c>(
    config: &'c Config,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Admitted<'c>, Rejection> {
    if body.len() > config.max_body_bytes {
        return Err(Rejection::PayloadTooLarge {
            limit: config.max_body_bytes,
        });
    }
    let verified = config.secrets.verify(signature, body)?;
    admit_verified(config, verified, now)
}

/// Steps 4 and 5, then the dedup key and the matching routes, for a body whose
/// signature has passed.
fn admit_verified<'c>(
    config: &'c Config,
    verified: VerifiedBody<'_>,
    now: i64,
) -> Result<Admitted<'c>, Rejection> {
    let envelope = parse(verified)?;
    check_freshness(envelope.unix_seconds, now, config.tolerance_seconds)?;
    let dedup_key = DedupKey::of(&envelope, verified);
    // The payload is parsed again, whole, only when a route's filter needs it.
    let routes = taking(&config.routes, &envelope.event, || {
        // `parse` has read it as UTF-8; as text, like every JSON the core reads.
        let text = std::str::from_utf8(verified.bytes()).ok()?;
        serde_json::from_str(text).ok()
    });
    Ok(Admitted {
        envelope,
        dedup_key,
        routes,
    })
}

/// `200 {"status":"accepted","event":…,"message_id":…,"routes":[…]}`.
pub fn accepted_body(envelope: &Envelope, routes: &[&str]) -> String {
    status_body("accepted", envelope)
        .texts("routes", routes)
        .end()
}

/// `{"status":…,"event":…,"message_id":…`, the start of a 200's body.
fn status_body(status: &str, envelope: &Envelope) -> JsonObject {
    let mut body = JsonObject::new();
    body.text("status", status)
        .text("event", &envelope.event)
        .text_or_null("message_id", envelope.message_id.as_deref());
    body
}

/// `200 {"status":"duplicate","event":…,"message_id":…}`.
pub fn duplicate_body(envelope: &Envelope) -> String {
    status_body("duplicate", envelope).end()
}
