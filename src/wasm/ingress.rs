//! One ingress request, step by step, for the driver; see [`Ingress`].

use std::cell::{OnceCell, RefCell};

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::delivery::DeliveryTask;
use super::env;
use crate::config::{Config, DedupMode};
use crate::dedup::{Claim, RecentKeys};
use crate::ingress::{BodyRead, Ingress, Need, QueueMessage, RequestHead, Unread};
use crate::key_table::{shard_of, TableAnswer, TableRequest};

thread_local! {
    // The keys this isolate recorded, for its whole life.
    static MEMORY: OnceCell<&'static RefCell<RecentKeys>> = const { OnceCell::new() };
}

fn memory(capacity: usize) -> &'static RefCell<RecentKeys> {
    MEMORY.with(|cell| {
        *cell.get_or_init(|| Box::leak(Box::new(RefCell::new(RecentKeys::new(capacity)))))
    })
}

/// The steps, as [`IngressTask::step`] numbers them.
const READ_BODY: u8 = 0;
const VERIFY: u8 = 1;
const KV_GET: u8 = 2;
const KV_PUT: u8 = 3;
const OBJECT: u8 = 4;
const WAIT: u8 = 5;
const SEND: u8 = 6;
const REPLY: u8 = 7;

/// One request to the ingress.
#[wasm_bindgen]
pub struct IngressTask {
    config: &'static Config,
    run: Ingress<'static>,
}

#[wasm_bindgen]
impl IngressTask {
    /// A request with its `Content-Length` and `X-LeadNest-Signature` as sent,
    /// arriving at `now_ms`. `None` when the configuration is invalid (then
    /// [`super::refused`] answers).
    pub fn start(
        env: &JsValue,
        content_length: Option<String>,
        signature: Option<String>,
        now_ms: f64,
    ) -> Option<IngressTask> {
        let config = env::config(env).as_ref().ok()?;
        let run = Ingress::new(
            config,
            memory(config.dedup_memory_keys),
            RequestHead {
                content_length: content_length.as_deref(),
                signature: signature.as_deref(),
            },
            now_ms as i64,
        );
        let mut task = IngressTask { config, run };
        task.settle_locally();
        Some(task)
    }

    /// What to do next: READ_BODY 0, VERIFY 1, KV_GET 2, KV_PUT 3, OBJECT 4,
    /// WAIT 5, SEND 6, REPLY 7.
    pub fn step(&self) -> u8 {
        let durable = self.config.dedup_mode == DedupMode::Durable;
        match self.run.need() {
            Need::ReadBody { .. } => READ_BODY,
            Need::CheckSignature { .. } => VERIFY,
            Need::Claim { .. } | Need::Release { .. } | Need::Record { .. } if durable => OBJECT,
            Need::Claim { .. } => KV_GET,
            Need::Record { .. } => KV_PUT,
            // A KV claim holds nothing, so it has nothing to release.
            Need::Release { .. } => REPLY,
            Need::Wait { .. } => WAIT,
            Need::HandOff { .. } => SEND,
            Need::Reply(_) => REPLY,
        }
    }

    /// READ_BODY: the most bytes to read.
    pub fn limit(&self) -> usize {
        match self.run.need() {
            Need::ReadBody { limit, .. } => limit,
            _ => 0,
        }
    }

    /// READ_BODY: a `Content-Length` was sent (and is within the limit).
    pub fn declared(&self) -> bool {
        matches!(self.run.need(), Need::ReadBody { declared: true, .. })
    }

    /// READ_BODY: past the limit, read the rest out (under wrangler dev) rather
    /// than cancel it.
    pub fn drain(&self) -> bool {
        matches!(
            self.run.need(),
            Need::ReadBody {
                unread: Unread::Drain,
                ..
            }
        )
    }

    /// READ_BODY's result: 0 complete (`len` bytes), 1 too large, 2 broken.
    pub fn body_read(&mut self, result: u8, len: usize) {
        self.run.body_read(match result {
            0 => BodyRead::Complete { len },
            1 => BodyRead::TooLarge,
            _ => BodyRead::Broken,
        });
        self.settle_locally();
    }

    /// VERIFY: the digest the request claims.
    pub fn claimed(&self) -> Vec<u8> {
        match self.run.need() {
            Need::CheckSignature { claimed, .. } => claimed.to_vec(),
            _ => Vec::new(),
        }
    }

    /// VERIFY's result: 1 or 0 per secret, in `WEBHOOK_SECRET`'s order. The body
    /// is copied into wasm only when a secret matched.
    pub fn verdict(&mut self, matched: &[u8], body: &Uint8Array) {
        let matched: Vec<bool> = matched.iter().map(|&m| m == 1).collect();
        self.run.signature_checked(&matched, || body.to_vec());
        self.settle_locally();
    }

    /// KV_GET, KV_PUT: the dedup key.
    pub fn key(&self) -> String {
        match self.run.need() {
            Need::Claim { key } | Need::Release { key } | Need::Record { key, .. } => {
                key.as_str().to_string()
            }
            _ => String::new(),
        }
    }

    /// KV_PUT: the value stored with the key.
    pub fn event(&self) -> String {
        match self.run.need() {
            Need::Record { event, .. } => event.to_string(),
            _ => String::new(),
        }
    }

    /// KV_PUT: seconds to keep the key.
    pub fn ttl(&self) -> f64 {
        match self.run.need() {
            Need::Record { ttl_seconds, .. } => ttl_seconds as f64,
            _ => 0.0,
        }
    }

    /// KV_GET's result: whether the key was found; `error` when the read failed.
    pub fn kv_found(&mut self, found: bool, error: Option<String>) {
        self.run.claimed(match error {
            Some(error) => Err(error),
            None if found => Ok(Claim::Duplicate),
            None => Ok(Claim::New),
        });
        self.settle_locally();
    }

    /// KV_PUT's result; `error` when the write failed.
    pub fn kv_put(&mut self, error: Option<String>) {
        self.run.recorded(error.map_or(Ok(()), Err));
        self.settle_locally();
    }

    /// OBJECT: the Durable Object to ask.
    pub fn shard(&self) -> String {
        shard_of(&self.key())
    }

    /// OBJECT: the request to POST to it; `token` names this request to the
    /// key table, the same for all its steps.
    pub fn object_request(&self, token: String) -> String {
        let key = self.key();
        let request = match self.run.need() {
            Need::Claim { .. } => TableRequest::Claim { key, token },
            Need::Release { .. } => TableRequest::Release { key, token },
            Need::Record { ttl_seconds, .. } => TableRequest::Record {
                key,
                token,
                ttl_ms: i64::try_from(ttl_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            },
            _ => return String::new(),
        };
        serde_json::to_string(&request).unwrap_or_default()
    }

    /// OBJECT's result: the answer's text when it answered 200, else `None`.
    /// An answer that is not one of the table's is an error, never a duplicate.
    pub fn object_answer(&mut self, text: Option<String>) {
        let answer = text.and_then(|text| serde_json::from_str::<TableAnswer>(&text).ok());
        let failed = || "the dedup object did not answer as expected".to_string();
        match self.run.need() {
            Need::Claim { .. } => self.run.claimed(match answer {
                Some(TableAnswer::Claimed) => Ok(Claim::New),
                Some(TableAnswer::Duplicate) => Ok(Claim::Duplicate),
                Some(TableAnswer::Busy) => Ok(Claim::Busy),
                _ => Err(failed()),
            }),
            Need::Record { .. } => self.run.recorded(match answer {
                Some(TableAnswer::Recorded) => Ok(()),
                _ => Err(failed()),
            }),
            Need::Release { .. } => self.run.released(matches!(
                answer,
                Some(TableAnswer::Released | TableAnswer::NotHeld)
            )),
            _ => {}
        }
        self.settle_locally();
    }

    /// WAIT: milliseconds.
    pub fn wait_ms(&self) -> f64 {
        match self.run.need() {
            Need::Wait { ms } => ms as f64,
            _ => 0.0,
        }
    }

    /// WAIT is over.
    pub fn waited(&mut self) {
        self.run.waited();
        self.settle_locally();
    }

    /// SEND: fault tests only, a wait before the sends.
    pub fn send_delay_ms(&self) -> f64 {
        match self.run.need() {
            Need::HandOff { delay_ms, .. } => delay_ms as f64,
            _ => 0.0,
        }
    }

    /// SEND: how many messages.
    pub fn sends(&self) -> usize {
        match self.run.need() {
            Need::HandOff { sends, .. } => sends.len(),
            _ => 0,
        }
    }

    /// SEND: message `i`'s queue producer binding.
    pub fn send_binding(&self, i: usize) -> String {
        match self.run.need() {
            Need::HandOff { sends, .. } => {
                sends.get(i).map(|s| s.binding.clone()).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    /// SEND: message `i`'s bytes (a delivery), or `None` for a queue route,
    /// whose message is the payload JSON object as received.
    pub fn send_bytes(&self, i: usize) -> Option<Vec<u8>> {
        match self.run.need() {
            Need::HandOff { sends, .. } => match sends.get(i).map(|s| &s.message) {
                Some(QueueMessage::Delivery(bytes)) => Some(bytes.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    /// SEND's result: how many sends failed.
    pub fn handed_off(&mut self, failed: usize) {
        self.run.handed_off(failed);
        self.settle_locally();
    }

    /// REPLY: the answer; the task is done.
    pub fn reply(self) -> Reply {
        Reply::new(self.run.into_reply().unwrap_or_else(|| {
            crate::ingress::Reply::refusal(
                &crate::error::Rejection::Unavailable("The ingress"),
                None,
                true,
            )
        }))
    }

    /// Meets the needs that take no I/O here: releasing a KV claim, which holds nothing.
    fn settle_locally(&mut self) {
        while self.config.dedup_mode == DedupMode::Kv
            && matches!(self.run.need(), Need::Release { .. })
        {
            self.run.released(true);
        }
    }
}

/// An answer, with its lines and the deliveries that follow it.
#[wasm_bindgen]
pub struct Reply {
    reply: crate::ingress::Reply,
}

impl Reply {
    pub(crate) fn new(reply: crate::ingress::Reply) -> Self {
        Self { reply }
    }
}

#[wasm_bindgen]
impl Reply {
    pub fn status(&self) -> u16 {
        self.reply.status
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        self.reply.body.clone()
    }

    /// The `Allow` header of a 405.
    pub fn allow(&self) -> Option<String> {
        self.reply.allow.map(str::to_string)
    }

    /// What to do with a body left unread: 0 nothing, 1 cancel, 2 drain.
    pub fn unread(&self) -> u8 {
        match self.reply.unread {
            None => 0,
            Some(Unread::Cancel) => 1,
            Some(Unread::Drain) => 2,
        }
    }

    /// Lines to print first, one a line, then [`log_line`](Self::log_line).
    pub fn warnings(&self) -> Option<String> {
        (!self.reply.warnings.is_empty()).then(|| self.reply.warnings.join("\n"))
    }

    /// The request's log line, given its duration.
    pub fn log_line(&self, duration_ms: f64) -> Option<String> {
        self.reply.log_line(duration_ms as u64)
    }

    /// How many deliveries follow the answer (no `DELIVERY_QUEUE`).
    pub fn deliveries(&self) -> usize {
        self.reply.after_answer.len()
    }

    /// Delivery `i`, to run after the answer, from `now_ms`.
    pub fn delivery(&self, env: &JsValue, i: usize, now_ms: f64) -> Option<DeliveryTask> {
        let delivery = self.reply.after_answer.get(i)?.clone();
        DeliveryTask::after_answer(
            env,
            crate::delivery_run::DeliveryRun::direct,
            delivery,
            now_ms,
        )
    }

    /// Hands what the event log keeps of the request to the isolate's pending
    /// writes. Returns the number of the flush loop the caller must run
    /// ([`super::journal::journal_wait`]), or `undefined` when one on its way
    /// writes it or there is nothing to write.
    pub fn keep_journal(&mut self, now_ms: f64) -> Option<u32> {
        let entry = self.reply.journal.take()?;
        super::journal::keep(entry, now_ms as i64)
    }
}
