//! SPEC step 7: every matching route gets the event. Queue sends happen before
//! the answer (a failure answers 503 so LeadNest retries); without
//! `DELIVERY_QUEUE`, HTTP deliveries run after the answer.

use futures_util::future::{join_all, LocalBoxFuture};
use futures_util::FutureExt;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{Delay, Env};

use super::delivery::{attempt, http_route, log_attempt, log_undeliverable};
use super::env::{binding, Loaded};
use super::time::now_ms;
use crate::config::{Config, DELIVERY_QUEUE_BINDING};
use crate::deliver::{retry_delay, Delivery, DIRECT_ATTEMPTS, DIRECT_ATTEMPT_TIMEOUT_SECONDS};
use crate::error::Rejection;
use crate::ingress::{Admitted, HandOff};
use crate::log::WarningLog;
use crate::routes::Destination;

/// The configured routes of one request, with what they forward.
pub(crate) struct Routes<'a> {
    pub(crate) env: &'a Env,
    pub(crate) config: &'a Config,
    /// `X-LeadNest-Signature` as received.
    pub(crate) signature: &'a str,
    /// The body as received.
    pub(crate) body: &'a [u8],
}

impl HandOff for Routes<'_> {
    /// Hands the event to every matching route. Sends go out concurrently. Returns
    /// the HTTP deliveries still to make after the answer (no `DELIVERY_QUEUE`).
    async fn hand_off(&self, admitted: &Admitted<'_>) -> Result<Vec<Delivery>, Rejection> {
        let Self {
            env,
            config,
            signature,
            body,
        } = *self;
        if config.test_handoff_delay_ms > 0 {
            Delay::from(Duration::from_millis(config.test_handoff_delay_ms)).await;
        }
        let webhook_id = admitted.dedup_key.webhook_id();
        let mut direct = Vec::new();
        let mut sends: Vec<LocalBoxFuture<Sent>> = Vec::new();
        for route in &admitted.routes {
            match &route.destination {
                Destination::Queue { binding } => {
                    sends.push(send_payload(env, binding, body).boxed_local());
                }
                Destination::Http { .. } => {
                    let delivery = Delivery {
                        route: route.name.clone(),
                        event: admitted.envelope.event.clone(),
                        signature: signature.to_string(),
                        webhook_id: webhook_id.clone(),
                        body: body.to_vec(),
                    };
                    if config.delivery_queue {
                        sends.push(
                            send_bytes(env, DELIVERY_QUEUE_BINDING, delivery.encode())
                                .boxed_local(),
                        );
                    } else {
                        direct.push(delivery);
                    }
                }
            }
        }
        let failed = join_all(sends)
            .await
            .into_iter()
            .filter(|sent| sent.is_err())
            .count();
        if failed > 0 {
            let line = WarningLog {
                warning: "queue_send_failed",
                event: Some(&admitted.envelope.event),
                failed: Some(u32::try_from(failed).unwrap_or(u32::MAX)),
                ..Default::default()
            }
            .line();
            worker::console_error!("{line}");
            return Err(Rejection::Unavailable("A queue"));
        }
        Ok(direct)
    }
}

type Sent = Result<(), worker::Error>;

/// A queue route's message: the payload object as received.
async fn send_payload(env: &Env, binding: &str, body: &[u8]) -> Sent {
    let text = std::str::from_utf8(body).map_err(|_| worker::Error::from("body is not UTF-8"))?;
    let payload = parse_keeping_numbers(text)?;
    send(env, binding, &payload, "json").await
}

/// A delivery message: raw bytes, so the body is not re-encoded.
async fn send_bytes(env: &Env, binding: &str, message: Vec<u8>) -> Sent {
    let bytes = js_sys::Uint8Array::from(message.as_slice());
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
    let Some((url, signing_key)) = http_route(config, &delivery.route) else {
        log_undeliverable(delivery, 1, "failed", "route no longer configured");
        return;
    };
    for number in 1..=DIRECT_ATTEMPTS {
        let started = now_ms();
        let result = attempt(
            url,
            delivery,
            signing_key,
            config
                .delivery_timeout_seconds
                .min(DIRECT_ATTEMPT_TIMEOUT_SECONDS),
        )
        .await;
        if result.delivered() {
            log_attempt(delivery, number, &result, started, "delivered", None);
            return;
        }
        if number == DIRECT_ATTEMPTS {
            log_attempt(delivery, number, &result, started, "failed", None);
            return;
        }
        // Short waits: waitUntil work must end within 30 s of the answer.
        let wait = retry_delay(number, 1);
        log_attempt(delivery, number, &result, started, "retry", Some(wait));
        Delay::from(Duration::from_secs(wait)).await;
    }
}
