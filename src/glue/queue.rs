//! The queue consumer: drives each message's [`DeliveryRun`] (one POST), then
//! settles it as the run decided. The same code consumes `DELIVERY_QUEUE` and, while it is drained, a
//! dead-letter queue: the message format is the same.
//!
//! A message leaves a queue only by `ack()` or by the platform moving it to the
//! consumer's `dead_letter_queue` once `max_retries` is spent. Cloudflare deletes
//! one that runs out of retries with no `dead_letter_queue`, and a handler that
//! returns normally acks every message it did not explicitly retry
//! (developers.cloudflare.com/queues/configuration/dead-letter-queues/ and
//! /javascript-apis/#consumer). So only a delivered message is acked, every other
//! one is retried, and when a retry cannot be recorded the handler fails, which
//! hands the batch back.
//!
//! Exported by hand rather than with `#[event(queue)]`: the message's
//! `attempts` count is not exposed by the `worker` crate, and its generated
//! handler panics on an error, which would take the isolate down.

use futures_util::future::join_all;
use wasm_bindgen::prelude::*;
use worker::Env;

use super::delivery::attempt;
use super::env::config;
use super::time::{now_ms, since};
use crate::config::Config;
use crate::deliver::{Decision, MAX_RETRY_DELAY_SECONDS};
use crate::delivery_run::{unsettled_line, while_misconfigured, DeliveryRun, RunNeed};

#[wasm_bindgen]
extern "C" {
    /// A batch handed to the queue handler.
    pub type QueueBatch;
    #[wasm_bindgen(method, getter)]
    fn messages(this: &QueueBatch) -> js_sys::Array;
    /// The name of the queue the batch came from.
    #[wasm_bindgen(method, getter, js_name = queue)]
    fn queue_name(this: &QueueBatch) -> JsValue;

    /// One message of a batch.
    pub type QueueMessage;
    #[wasm_bindgen(method, getter)]
    fn id(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn body(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn attempts(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method, catch)]
    fn ack(this: &QueueMessage) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn retry(this: &QueueMessage, options: &JsValue) -> Result<(), JsValue>;
}

/// The queue handler workerd calls. It rejects when a message that was not
/// delivered could not be marked for retry: returning normally would ack it.
#[wasm_bindgen]
pub fn queue(batch: QueueBatch, env: Env, _ctx: JsValue) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let name = batch.queue_name().as_string().unwrap_or_default();
        let messages: Vec<QueueMessage> = batch
            .messages()
            .iter()
            .map(JsCast::unchecked_into)
            .collect();
        let unsettled = consume(&name, &messages, &env).await;
        if unsettled == 0 {
            return Ok(JsValue::UNDEFINED);
        }
        worker::console_error!("{}", unsettled_line(&name, unsettled));
        // A failed handler hands back every message not explicitly acked (locally,
        // wrangler dev 4.86 redelivers the acked ones too: a duplicate, never a loss).
        Err(js_sys::Error::new("queue messages left unsettled; the batch is retried").into())
    })
}

/// Handles every message of a batch; returns how many are left unsettled.
async fn consume(queue: &str, messages: &[QueueMessage], env: &Env) -> usize {
    let loaded = config(env);
    let settled: Vec<bool> = match loaded.as_ref() {
        Ok(config) => {
            join_all(
                messages
                    .iter()
                    .map(|message| handle(config, queue, message)),
            )
            .await
        }
        Err(_) => messages
            .iter()
            .map(|message| {
                let id = message.id().as_string();
                let (decision, line) = while_misconfigured(attempts(message), queue, id.as_deref());
                worker::console_error!("{line}");
                settle(message, decision)
            })
            .collect(),
    };
    settled.iter().filter(|done| !**done).count()
}

/// One message, driven through its [`DeliveryRun`]. Returns whether it was settled.
async fn handle(config: &Config, queue: &str, message: &QueueMessage) -> bool {
    // Only bytes can be a delivery: `new Uint8Array(x)` of another producer's
    // object would read its `length`, however large.
    let bytes = message
        .body()
        .dyn_ref::<js_sys::Uint8Array>()
        .map(js_sys::Uint8Array::to_vec);
    let id = message.id().as_string();
    let mut run = DeliveryRun::queued(
        config,
        bytes.as_deref(),
        attempts(message),
        queue,
        id.as_deref(),
    );
    let decision = loop {
        match run.need() {
            RunNeed::Attempt {
                url,
                delivery,
                signing_key,
                timeout_seconds,
            } => {
                let started = now_ms();
                let outcome = attempt(url, delivery, signing_key, timeout_seconds).await;
                run.attempted(outcome, since(started));
            }
            // A queued run never waits itself: the platform brings it back.
            RunNeed::Wait { .. } => run.waited(),
            RunNeed::Settle(decision) => break decision,
        }
    };
    for line in run.take_lines() {
        worker::console_log!("{line}");
    }
    settle(message, decision)
}

/// The platform's count of deliveries of this message, 1 on the first.
fn attempts(message: &QueueMessage) -> u32 {
    message.attempts().as_f64().map_or(1, |n| n.max(1.0) as u32)
}

/// Performs a decision. False when the message is left unsettled.
fn settle(message: &QueueMessage, decision: Decision) -> bool {
    match decision {
        // A delivered message the platform fails to ack is acked when the
        // handler returns; at worst it is delivered again, under the same webhook-id.
        Decision::Ack => {
            let _ = message.ack();
            true
        }
        Decision::Retry { delay_seconds } => retry_after(message, delay_seconds),
        // The queue policy never parks: the platform does, through max_retries
        // and the dead-letter queue. Should it come, keep the message all the same.
        Decision::Park => retry_after(message, MAX_RETRY_DELAY_SECONDS),
    }
}

fn retry_after(message: &QueueMessage, seconds: u64) -> bool {
    let options = js_sys::Object::new();
    let delay = js_sys::Reflect::set(
        &options,
        &"delaySeconds".into(),
        &JsValue::from_f64(seconds as f64),
    );
    delay.is_ok() && message.retry(&options).is_ok()
}
