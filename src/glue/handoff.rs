//! SPEC step 7: every matching route gets the event. Queue sends happen before
//! the answer (a failure answers 503 so LeadNest retries); without
//! `DELIVERY_QUEUE`, HTTP deliveries run after the answer.

use futures_util::future::{join_all, LocalBoxFuture};
use futures_util::FutureExt;
use js_sys::Uint8Array;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, Env};

use super::delivery::attempt;
use super::env::{binding, Loaded};
use super::time::{now_ms, since};
use crate::config::Config;
use crate::deliver::Delivery;
use crate::delivery_run::{DeliveryRun, RunNeed};
use crate::ingress::{QueueMessage, Send};

/// Performs the hand-off's sends, concurrently; returns how many failed.
/// `body` is the verified body, for queue routes' payloads.
pub(crate) async fn send_all(env: &Env, sends: &[Send], body: &Uint8Array) -> usize {
    let mut pending: Vec<LocalBoxFuture<Sent>> = Vec::with_capacity(sends.len());
    for send in sends {
        pending.push(match &send.message {
            QueueMessage::Payload => send_payload(env, &send.binding, body).boxed_local(),
            QueueMessage::Delivery(bytes) => send_bytes(env, &send.binding, bytes).boxed_local(),
        });
    }
    join_all(pending)
        .await
        .into_iter()
        .filter(Result::is_err)
        .count()
}

type Sent = Result<(), worker::Error>;

/// A queue route's message: the payload object as received.
async fn send_payload(env: &Env, binding: &str, body: &Uint8Array) -> Sent {
    let bytes = body.to_vec();
    let text = std::str::from_utf8(&bytes).map_err(|_| worker::Error::from("body is not UTF-8"))?;
    let payload = parse_keeping_numbers(text)?;
    send(env, binding, &payload, "json").await
}

/// A delivery message: raw bytes, so the body is not re-encoded.
async fn send_bytes(env: &Env, binding: &str, message: &[u8]) -> Sent {
    let bytes = Uint8Array::from(message);
    send(env, binding, &bytes, "v8").await
}

/// One `send` on the queue bound as `name`, called on the binding itself.
async fn send(env: &Env, name: &str, body: &JsValue, content_type: &str) -> Sent {
    let queue =
        binding(env, name).ok_or_else(|| worker::Error::from(format!("{name} is not bound")))?;
    JsFuture::from(send_as(&queue, body, content_type)?)
        .await
        .map(drop)
        .map_err(worker::Error::from)
}

#[wasm_bindgen(inline_js = "
export function send_as(queue, body, contentType) {
  return queue.send(body, { contentType });
}
")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn send_as(
        queue: &JsValue,
        body: &JsValue,
        content_type: &str,
    ) -> Result<js_sys::Promise, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    fn json_parse_with(text: &str, reviver: &js_sys::Function) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = JSON, js_name = rawJSON, catch)]
    fn json_raw(source: &JsValue) -> Result<JsValue, JsValue>;
}

/// `JSON.parse`, keeping each number as its source text (`JSON.rawJSON`), so the
/// queue's `JSON.stringify` writes it back unchanged: 2^53 + 1 keeps its digits,
/// `1e20` does not grow to 21 digits, and the message is never larger than the body.
/// Where the runtime lacks the source argument, numbers are plain JS numbers.
fn parse_keeping_numbers(text: &str) -> Result<JsValue, worker::Error> {
    let reviver = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> JsValue>::new(
        |_key: JsValue, value: JsValue, context: JsValue| {
            if value.as_f64().is_none() {
                return value;
            }
            js_sys::Reflect::get(&context, &JsValue::from_str("source"))
                .ok()
                .and_then(|source| json_raw(&source).ok())
                .unwrap_or(value)
        },
    );
    json_parse_with(text, reviver.as_ref().unchecked_ref()).map_err(worker::Error::from)
}

/// Best-effort delivery after the answer, for a worker without `DELIVERY_QUEUE`:
/// a few attempts with backoff, each logged.
pub(crate) async fn deliver_after_answer(loaded: Loaded, deliveries: Vec<Delivery>) {
    let Ok(config) = loaded.as_ref() else {
        return;
    };
    join_all(
        deliveries
            .iter()
            .map(|delivery| deliver_with_retries(config, delivery)),
    )
    .await;
}

async fn deliver_with_retries(config: &Config, delivery: &Delivery) {
    let mut run = DeliveryRun::direct(config, delivery.clone());
    loop {
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
            RunNeed::Wait { seconds } => {
                Delay::from(Duration::from_secs(seconds)).await;
                run.waited();
            }
            RunNeed::Settle(_) => break,
        }
        for line in run.take_lines() {
            worker::console_log!("{line}");
        }
    }
    for line in run.take_lines() {
        worker::console_log!("{line}");
    }
}
