//! One delivery, for the driver: each report returns the next need of the
//! core's [`DeliveryRun`] as one value, with the lines to print and what to
//! write to the event log so far.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::env;
use super::event_log;
use super::js::{self, bytes, pairs, pairs_from, strings, Obj};
use crate::attempts::{failure_named, while_misconfigured, DeliveryRun, Outcome, RunNeed, HELD};
use crate::config::Config;
use crate::delivery::{Answer, Decision, RESPONSE_BODY_KEPT_BYTES};

#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum DeliveryStep {
    Attempt = 0,
    Wait = 1,
    Settle = 2,
}

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
    /// A delivery after the answer, begun by `run` at `now_ms`: `{ task,
    /// need }`, or `None` when the configuration is invalid.
    pub(crate) fn start(
        env: &JsValue,
        now_ms: f64,
        run: impl FnOnce(&'static Config) -> DeliveryRun<'static>,
    ) -> Option<JsValue> {
        let config = env::config(env).as_ref().ok()?;
        Some(Self::started(Inner::Run(Box::new(run(config))), now_ms))
    }

    fn started(inner: Inner, now_ms: f64) -> JsValue {
        let mut task = DeliveryTask { inner };
        let need = task.need(now_ms, None);
        js::started(task.into(), need)
    }

    /// The next need; `flush`, a flush loop already asked for.
    fn need(&mut self, now_ms: f64, flush: Option<u32>) -> JsValue {
        let settle = DeliveryStep::Settle as u32;
        let retry = |decision: Decision| decision.queue_retry_seconds().map(|s| s as f64);
        let run = match &mut self.inner {
            Inner::Run(run) => run,
            Inner::Decided(decision, lines) => {
                let lines = strings(std::mem::take(lines));
                return js::settle(
                    settle,
                    lines,
                    JsValue::UNDEFINED,
                    flush,
                    retry(*decision),
                    JsValue::UNDEFINED,
                );
            }
        };
        // Each settled delivery joins the isolate's pending counts; a flush
        // loop is asked for by the first that needs one.
        let flush = run.take_counted().into_iter().fold(flush, |asked, entry| {
            event_log::keep(entry, now_ms as i64).or(asked)
        });
        let log = run
            .take_records()
            .map_or(JsValue::UNDEFINED, |(shard, statements)| {
                event_log::batch(shard, statements)
            });
        let lines = strings(run.take_lines());
        let guard = run.guard().map(str::to_string);
        match run.need() {
            RunNeed::Attempt {
                url,
                delivery,
                timeout_seconds,
                ..
            } => {
                let (url, body) = (url.to_string(), bytes(&delivery.body));
                let headers = pairs(run.request_headers((now_ms / 1000.0) as i64));
                js::attempt(
                    DeliveryStep::Attempt as u32,
                    lines,
                    log,
                    flush,
                    &url,
                    headers,
                    body,
                    timeout_seconds as f64 * 1000.0,
                    RESPONSE_BODY_KEPT_BYTES as f64,
                    guard,
                )
            }
            RunNeed::Wait { seconds } => js::delivery_wait(
                DeliveryStep::Wait as u32,
                lines,
                log,
                flush,
                seconds as f64 * 1000.0,
            ),
            RunNeed::Settle(decision) => {
                // Off the hot path: a plain object, no constructor of its own.
                let report = run.health_report().map_or(JsValue::UNDEFINED, |report| {
                    Obj::new()
                        .set("route", report.route)
                        .maybe("delivered", report.delivered)
                        .maybe("failure", report.failure)
                        .set("dead_lettered", report.dead_lettered)
                        .into_value()
                });
                js::settle(settle, lines, log, flush, retry(decision), report)
            }
        }
    }

    fn attempted(&mut self, outcome: Outcome, at_ms: f64, duration_ms: f64) {
        if let Inner::Run(run) = &mut self.inner {
            run.attempted(outcome, at_ms as i64, duration_ms as u64);
        }
    }
}

#[wasm_bindgen]
impl DeliveryTask {
    /// A message of the queue `queue`: its body when it is bytes, the
    /// platform's count of its deliveries (1 on the first) and its id;
    /// `now_ms`, when its batch arrived.
    #[wasm_bindgen(unchecked_return_type = "DeliveryStart")]
    pub fn queued(
        env: &JsValue,
        body: Option<Uint8Array>,
        attempts: u32,
        queue: &str,
        id: Option<String>,
        now_ms: f64,
    ) -> JsValue {
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
        Self::started(inner, now_ms)
    }

    /// A held delivery its route's drain sends (`probe`: as the probe of its
    /// tripped route): the message's bytes and the attempt it is at.
    #[wasm_bindgen(unchecked_return_type = "DeliveryStart")]
    pub fn drained(env: &JsValue, body: &[u8], attempts: u32, probe: bool, now_ms: f64) -> JsValue {
        let inner = match env::config(env) {
            Ok(config) => {
                let now = now_ms as i64;
                Inner::Run(Box::new(if probe {
                    DeliveryRun::probe(config, body, attempts, now)
                } else {
                    DeliveryRun::drained(config, body, attempts, now)
                }))
            }
            Err(_) => {
                let (decision, line) = while_misconfigured(attempts, HELD, None);
                Inner::Decided(decision, vec![line])
            }
        };
        Self::started(inner, now_ms)
    }

    /// The queue message that sends a drained delivery again after its failed
    /// attempt, counting on from the attempts it made.
    pub fn requeued(&self) -> Option<Vec<u8>> {
        match &self.inner {
            Inner::Run(run) => run.requeued(),
            Inner::Decided(..) => None,
        }
    }

    /// Its route's health could not be asked: the need settles it for a retry.
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn unadmitted(&mut self, now_ms: f64) -> JsValue {
        if let Inner::Run(run) = &mut self.inner {
            run.unadmitted();
        }
        self.need(now_ms, None)
    }

    /// Its route's health let it go: the need is its attempt.
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn admitted(&mut self, now_ms: f64) -> JsValue {
        if let Inner::Run(run) = &mut self.inner {
            run.admitted();
        }
        self.need(now_ms, None)
    }

    /// Its route holds it: the route's object keeps it; the need settles the
    /// message and logs the delivery held.
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn held(&mut self, now_ms: f64) -> JsValue {
        if let Inner::Run(run) = &mut self.inner {
            run.held(now_ms as i64);
        }
        self.need(now_ms, None)
    }

    /// The backend answered: its status, headers as `[[name, value], …]`, the
    /// first bytes of its body and why the body stopped early if it did; the
    /// attempt began at `at_ms` and took `duration_ms`.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn answered(
        &mut self,
        status: u16,
        headers: &JsValue,
        body: &[u8],
        body_error: Option<String>,
        at_ms: f64,
        duration_ms: f64,
        now_ms: f64,
    ) -> JsValue {
        let mut answer = Answer {
            status,
            headers: pairs_from(headers),
            body_error: body_error.as_deref().map(failure_named),
            ..Answer::default()
        };
        answer.keep(body);
        self.attempted(Outcome::Answered(answer), at_ms, duration_ms);
        self.need(now_ms, None)
    }

    /// No answer came: `timeout`, `network error`, ….
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn no_answer(
        &mut self,
        reason: &str,
        at_ms: f64,
        duration_ms: f64,
        now_ms: f64,
    ) -> JsValue {
        self.attempted(Outcome::no_answer(reason), at_ms, duration_ms);
        self.need(now_ms, None)
    }

    /// The wait is over.
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn waited(&mut self, now_ms: f64) -> JsValue {
        if let Inner::Run(run) = &mut self.inner {
            run.waited();
        }
        self.need(now_ms, None)
    }

    /// The last need's `log` could not be written, even after the last try. A
    /// dead letter is retried on the core's schedule instead; what anything
    /// else held is counted lost with the isolate's pending writes.
    #[wasm_bindgen(unchecked_return_type = "DeliveryNeed")]
    pub fn log_unwritten(&mut self, now_ms: f64) -> JsValue {
        let flush = match &mut self.inner {
            Inner::Run(run) => event_log::lose(run.records_unwritten(), now_ms as i64),
            Inner::Decided(..) => None,
        };
        self.need(now_ms, flush)
    }
}
