//! The `DELIVERY_QUEUE` consumer: one POST per message; ack on 2xx, otherwise
//! retry with exponential backoff until the queue's `max_retries` moves the
//! message to the dead-letter queue.
//!
//! Exported by hand rather than with `#[event(queue)]`: the message's
//! `attempts` count is not exposed by the `worker` crate, and its generated
//! handler panics on an error, which would take the isolate down.

use futures_util::future::join_all;
use wasm_bindgen::prelude::*;
use worker::Env;

use super::delivery::{attempt, http_route, log_attempt, log_undeliverable};
use super::env::config;
use super::time::now_ms;
use crate::deliver::{retry_delay, Delivery};

#[wasm_bindgen]
extern "C" {
    /// A batch handed to the queue handler.
    pub type QueueBatch;
    #[wasm_bindgen(method, getter)]
    fn messages(this: &QueueBatch) -> js_sys::Array;

    /// One message of a batch.
    pub type QueueMessage;
    #[wasm_bindgen(method, getter)]
    fn body(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn attempts(this: &QueueMessage) -> JsValue;
    #[wasm_bindgen(method, catch)]
    fn ack(this: &QueueMessage) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn retry(this: &QueueMessage, options: &JsValue) -> Result<(), JsValue>;
}

/// The queue handler workerd calls.
#[wasm_bindgen]
pub fn queue(batch: QueueBatch, env: Env, _ctx: JsValue) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        consume(batch, env).await;
        Ok(JsValue::UNDEFINED)
    })
}

async fn consume(batch: QueueBatch, env: Env) {
    let messages: Vec<QueueMessage> = batch
        .messages()
        .iter()
        .map(JsCast::unchecked_into)
        .collect();
    let loaded = config(&env);
    let Ok(config) = loaded.as_ref() else {
        // Nothing can be delivered until the configuration is fixed; keep it all.
        for message in &messages {
            retry_after(message, 60);
        }
        return;
    };
    join_all(messages.iter().map(|message| deliver(config, message))).await;
}

async fn deliver(config: &crate::config::Config, message: &QueueMessage) {
    // 1 on the first delivery.
    let number = message.attempts().as_f64().map_or(1, |n| n.max(1.0) as u32);
    let bytes = js_sys::Uint8Array::new(&message.body()).to_vec();
    let Ok(delivery) = Delivery::decode(&bytes) else {
        worker::console_error!("{{\"warning\":\"malformed_delivery\",\"attempt\":{number}}}");
        // Retried without delay, it reaches the dead-letter queue: kept, not dropped.
        retry_after(message, 0);
        return;
    };
    let Some((url, signing_key)) = http_route(config, &delivery.route) else {
        log_undeliverable(
            &delivery,
            number,
            "dead_letter",
            "route no longer configured",
        );
        retry_after(message, 0);
        return;
    };
    let started = now_ms();
    let result = attempt(url, &delivery, signing_key, config.delivery_timeout_seconds).await;
    if result.delivered() {
        log_attempt(&delivery, number, &result, started, "delivered", None);
        let _ = message.ack();
    } else {
        let wait = retry_delay(number, config.retry_base_seconds);
        log_attempt(&delivery, number, &result, started, "retry", Some(wait));
        retry_after(message, wait);
    }
}

fn retry_after(message: &QueueMessage, seconds: u64) {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(
        &options,
        &"delaySeconds".into(),
        &JsValue::from_f64(seconds as f64),
    );
    let _ = message.retry(&options);
}
