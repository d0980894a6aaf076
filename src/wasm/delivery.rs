//! One delivery, step by step, for the driver; see [`DeliveryRun`].

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::env;
use crate::config::Config;
use crate::deliver::{Answer, Decision, Delivery};
use crate::delivery_run::{unsettled_line, while_misconfigured, DeliveryRun, Outcome, RunNeed};

/// The steps, as [`DeliveryTask::step`] numbers them.
const ATTEMPT: u8 = 0;
const WAIT: u8 = 1;
const SETTLE: u8 = 2;

enum Inner {
    Run(Box<DeliveryRun<'static>>),
    /// Decided without a run: the configuration is invalid.
    Decided(Decision, Vec<String>),
}

/// One delivery: a queue message, or a delivery after the answer.
#[wasm_bindgen]
pub struct DeliveryTask {
    inner: Inner,
}

impl DeliveryTask {
    /// A delivery after the answer, begun by `run` (`DeliveryRun::direct`, or
    /// `direct_replay` for a replay).
    pub(crate) fn after_answer(
        env: &JsValue,
        run: fn(&'static Config, Delivery, i64) -> DeliveryRun<'static>,
        delivery: Delivery,
        now_ms: f64,
    ) -> Option<Self> {
        let config = env::config(env).as_ref().ok()?;
        Some(Self {
            inner: Inner::Run(Box::new(run(config, delivery, now_ms as i64))),
        })
    }

    fn need(&self) -> Option<RunNeed<'_>> {
        match &self.inner {
            Inner::Run(run) => Some(run.need()),
            Inner::Decided(..) => None,
        }
    }

    fn decided(&self) -> Option<Decision> {
        match (&self.inner, self.need()) {
            (Inner::Decided(decision, _), _) => Some(*decision),
            (_, Some(RunNeed::Settle(decision))) => Some(decision),
            _ => None,
        }
    }
}

/// The description of a failed attempt, from the fixed set the log uses.
fn why(text: &str) -> &'static str {
    match text {
        "timeout" => "timeout",
        "header not accepted" => "header not accepted",
        "request not built" => "request not built",
        "read error" => "read error",
        _ => "network error",
    }
}

#[wasm_bindgen]
impl DeliveryTask {
    /// A message of the queue `queue`: its body when it is bytes, the platform's
    /// count of its deliveries (1 on the first) and its id; `now_ms`, when its
    /// batch arrived.
    pub fn queued(
        env: &JsValue,
        body: Option<Uint8Array>,
        attempts: u32,
        queue: &str,
        id: Option<String>,
        now_ms: f64,
    ) -> DeliveryTask {
        let inner = match env::config(env) {
            Ok(config) => {
                let bytes = body.map(|body| body.to_vec());
                Inner::Run(Box::new(DeliveryRun::queued(
                    config,
                    bytes.as_deref(),
                    attempts,
                    queue,
                    id.as_deref(),
                    now_ms as i64,
                )))
            }
            Err(_) => {
                let (decision, line) = while_misconfigured(attempts, queue, id.as_deref());
                Inner::Decided(decision, vec![line])
            }
        };
        DeliveryTask { inner }
    }

    /// What to do next: ATTEMPT 0, WAIT 1, SETTLE 2.
    pub fn step(&self) -> u8 {
        match self.need() {
            Some(RunNeed::Attempt { .. }) => ATTEMPT,
            Some(RunNeed::Wait { .. }) => WAIT,
            _ => SETTLE,
        }
    }

    /// ATTEMPT: the URL to POST to.
    pub fn url(&self) -> String {
        match self.need() {
            Some(RunNeed::Attempt { url, .. }) => url.to_string(),
            _ => String::new(),
        }
    }

    /// ATTEMPT: the request headers, signed for `now_ms`, as [name, value, name, value, …].
    pub fn headers(&mut self, now_ms: f64) -> Vec<String> {
        let Inner::Run(run) = &mut self.inner else {
            return Vec::new();
        };
        run.request_headers((now_ms / 1000.0) as i64)
            .into_iter()
            .flat_map(|(name, value)| [name.to_string(), value])
            .collect()
    }

    /// ATTEMPT: the body, byte for byte as received.
    pub fn body(&self) -> Vec<u8> {
        match self.need() {
            Some(RunNeed::Attempt { delivery, .. }) => delivery.body.clone(),
            _ => Vec::new(),
        }
    }

    /// ATTEMPT: give up after this long.
    pub fn timeout_ms(&self) -> f64 {
        match self.need() {
            Some(RunNeed::Attempt {
                timeout_seconds, ..
            }) => timeout_seconds as f64 * 1000.0,
            _ => 0.0,
        }
    }

    /// ATTEMPT's result when the backend answered: its status, headers as
    /// [name, value, …], the first bytes of its body, why the body stopped
    /// early if it did, when the attempt began and how long it took.
    pub fn answered(
        &mut self,
        status: u16,
        headers: Vec<String>,
        body: Vec<u8>,
        body_error: Option<String>,
        at_ms: f64,
        duration_ms: f64,
    ) {
        let headers = headers
            .chunks(2)
            .filter_map(|pair| Some((pair.first()?.clone(), pair.get(1)?.clone())))
            .collect();
        let mut answer = Answer {
            status,
            headers,
            body_error: body_error.as_deref().map(why),
            ..Answer::default()
        };
        answer.keep(&body);
        if let Inner::Run(run) = &mut self.inner {
            run.attempted(Outcome::Answered(answer), at_ms as i64, duration_ms as u64);
        }
    }

    /// ATTEMPT's result when no answer came: `timeout`, `network error`, ….
    pub fn no_answer(&mut self, reason: &str, at_ms: f64, duration_ms: f64) {
        if let Inner::Run(run) = &mut self.inner {
            run.attempted(
                Outcome::NoAnswer(why(reason)),
                at_ms as i64,
                duration_ms as u64,
            );
        }
    }

    /// What to write to the event log so far: `[shard, [[sql, ...params], ...]]`,
    /// or `undefined` when there is nothing (or no log).
    pub fn journal(&mut self) -> Option<js_sys::Array> {
        match &mut self.inner {
            Inner::Run(run) => {
                let (shard, batch) = run.take_journal()?;
                Some(super::journal::ask(shard, batch))
            }
            Inner::Decided(..) => None,
        }
    }

    /// The deliveries settled so far, added to the isolate's pending counts at
    /// `now_ms`; `Some(loop)` when the caller must run that flush loop.
    pub fn keep_counts(&mut self, now_ms: f64) -> Option<u32> {
        let Inner::Run(run) = &mut self.inner else {
            return None;
        };
        // Each kept; a loop is asked for by the first, if one is needed.
        run.take_counted().into_iter().fold(None, |asked, entry| {
            super::journal::keep(entry, now_ms as i64).or(asked)
        })
    }

    /// SETTLE: the decision stands only once [`journal`](Self::journal) is
    /// written; if the write fails, retry the message instead.
    pub fn acks_after_journal(&self) -> bool {
        match &self.inner {
            Inner::Run(run) => run.acks_after_journal(),
            Inner::Decided(..) => false,
        }
    }

    /// The journal last taken could not be written, even after the last try,
    /// at `now_ms`. A message that [`acks_after_journal`](Self::acks_after_journal)
    /// is retried on the core's schedule instead; what any other held is
    /// counted lost with the isolate's pending writes. Returns the number of
    /// the flush loop the caller must run, if one is needed.
    pub fn journal_unwritten(&mut self, now_ms: f64) -> Option<u32> {
        let Inner::Run(run) = &mut self.inner else {
            return None;
        };
        super::journal::lose(run.journal_unwritten(), now_ms as i64)
    }

    /// How much of an answer's body an attempt keeps: read this much, cancel the rest.
    pub fn kept_bytes() -> usize {
        crate::deliver::RESPONSE_BODY_KEPT_BYTES
    }

    /// WAIT: seconds.
    pub fn wait_seconds(&self) -> f64 {
        match self.need() {
            Some(RunNeed::Wait { seconds }) => seconds as f64,
            _ => 0.0,
        }
    }

    /// WAIT is over.
    pub fn waited(&mut self) {
        if let Inner::Run(run) = &mut self.inner {
            run.waited();
        }
    }

    /// SETTLE: 0 ack, 1 retry after [`delay_seconds`](Self::delay_seconds), 2 rest.
    pub fn decision(&self) -> u8 {
        match self.decided() {
            Some(Decision::Ack) => 0,
            Some(Decision::Retry { .. }) => 1,
            _ => 2,
        }
    }

    /// SETTLE: the retry's delay.
    pub fn delay_seconds(&self) -> f64 {
        self.decided()
            .and_then(Decision::retry_in_seconds)
            .unwrap_or(crate::deliver::MAX_RETRY_DELAY_SECONDS) as f64
    }

    /// The lines to print so far.
    pub fn lines(&mut self) -> Vec<String> {
        match &mut self.inner {
            Inner::Run(run) => run.take_lines(),
            Inner::Decided(_, lines) => std::mem::take(lines),
        }
    }
}

/// The line of a batch handed back because `messages` of it could not be settled.
#[wasm_bindgen]
pub fn unsettled(queue: &str, messages: usize) -> String {
    unsettled_line(queue, messages)
}
