//! One request to the ingress, for the driver: each report returns the next
//! need of the core's [`Ingress`] as one value.

use std::cell::{OnceCell, RefCell};

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::delivery::DeliveryTask;
use super::env;
use super::event_log;
use super::js::{self, bytes, strings, BodyResult, UnreadBody};
use crate::attempts::DeliveryRun;
use crate::config::DedupMode;
use crate::dedup::{Claim, RecentKeys};
use crate::ingress::{Ingress, Need, QueueMessage, RequestHead, Unread};
use crate::key_table::TableAnswer;

thread_local! {
    // The keys this isolate recorded, for its whole life.
    static MEMORY: OnceCell<&'static RefCell<RecentKeys>> = const { OnceCell::new() };
}

fn memory(capacity: usize) -> &'static RefCell<RecentKeys> {
    MEMORY.with(|cell| {
        *cell.get_or_init(|| Box::leak(Box::new(RefCell::new(RecentKeys::new(capacity)))))
    })
}

#[wasm_bindgen]
extern "C" {
    /// The runtime's random UUID.
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID)]
    fn random_uuid() -> String;
}

#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum IngressStep {
    ReadBody = 0,
    Verify = 1,
    KvGet = 2,
    KvPut = 3,
    Table = 4,
    Wait = 5,
    Send = 6,
    Reply = 7,
}

/// One request to the ingress.
#[wasm_bindgen]
pub struct IngressTask {
    /// Taken once it reaches its reply.
    run: Option<Ingress<'static>>,
    /// What names this request to the key table, the same for all its
    /// steps: made when it is first asked, so a KV request makes none.
    token: Option<String>,
    started_ms: f64,
}

#[wasm_bindgen]
impl IngressTask {
    /// A request with its `Content-Length` and `X-LeadNest-Signature` as sent,
    /// arriving at `now_ms`. Its first
    /// need, or the refusal of a misconfigured worker.
    #[wasm_bindgen(unchecked_return_type = "IngressStart | Reply")]
    pub fn start(
        env: &JsValue,
        content_length: Option<String>,
        signature: Option<String>,
        now_ms: f64,
    ) -> JsValue {
        let Ok(config) = env::config(env) else {
            return super::refused(env, "POST", crate::ingress::INGRESS_PATH, now_ms);
        };
        let run = Ingress::new(
            config,
            memory(config.dedup_memory_keys),
            RequestHead {
                content_length: content_length.as_deref(),
                signature: signature.as_deref(),
            },
            now_ms as i64,
        );
        let mut task = IngressTask {
            run: Some(run),
            token: None,
            started_ms: now_ms,
        };
        let need = task.need(env, now_ms);
        js::started(task.into(), need)
    }

    /// The body read: `result`, and its length when complete.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn body_read(
        &mut self,
        env: &JsValue,
        result: BodyResult,
        len: usize,
        now_ms: f64,
    ) -> JsValue {
        if let Some(run) = &mut self.run {
            run.body_read(result.read(len));
        }
        self.need(env, now_ms)
    }

    /// The signature checked: 1 or 0 per secret, in `WEBHOOK_SECRET`'s order.
    /// The body is copied into wasm only when a secret matched.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn verified(
        &mut self,
        env: &JsValue,
        matched: &[u8],
        body: &Uint8Array,
        now_ms: f64,
    ) -> JsValue {
        let matched: Vec<bool> = matched.iter().map(|&m| m == 1).collect();
        if let Some(run) = &mut self.run {
            run.signature_checked(&matched, || body.to_vec());
        }
        self.need(env, now_ms)
    }

    /// The KV read: whether the key was found; `error` when the read failed.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn kv_got(
        &mut self,
        env: &JsValue,
        found: bool,
        error: Option<String>,
        now_ms: f64,
    ) -> JsValue {
        if let Some(run) = &mut self.run {
            run.claimed(match error {
                Some(error) => Err(error),
                None if found => Ok(Claim::Duplicate),
                None => Ok(Claim::New),
            });
        }
        self.need(env, now_ms)
    }

    /// The KV write; `error` when it failed.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn kv_put(&mut self, env: &JsValue, error: Option<String>, now_ms: f64) -> JsValue {
        if let Some(run) = &mut self.run {
            run.recorded(error.map_or(Ok(()), Err));
        }
        self.need(env, now_ms)
    }

    /// The key table's answer, or `undefined` when it did not answer.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn table_answered(
        &mut self,
        env: &JsValue,
        answer: Option<String>,
        now_ms: f64,
    ) -> JsValue {
        if let Some(run) = &mut self.run {
            run.table_answered(answer.as_deref().and_then(TableAnswer::parse));
        }
        self.need(env, now_ms)
    }

    /// The wait is over.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn waited(&mut self, env: &JsValue, now_ms: f64) -> JsValue {
        if let Some(run) = &mut self.run {
            run.waited();
        }
        self.need(env, now_ms)
    }

    /// The sends done: how many failed.
    #[wasm_bindgen(unchecked_return_type = "IngressNeed")]
    pub fn sent(&mut self, env: &JsValue, failed: usize, now_ms: f64) -> JsValue {
        if let Some(run) = &mut self.run {
            run.handed_off(failed);
        }
        self.need(env, now_ms)
    }

    fn need(&mut self, env: &JsValue, now_ms: f64) -> JsValue {
        let Some(run) = &self.run else {
            return super::unavailable(env, now_ms);
        };
        let token = &mut self.token;
        if let Some((shard, request)) =
            run.table_request(|| token.get_or_insert_with(random_uuid).clone())
        {
            let ttl_ms = request.ttl_ms().map(|ms| ms as f64);
            return js::table(
                IngressStep::Table as u32,
                &shard,
                request.op(),
                request.key(),
                request.token(),
                ttl_ms,
            );
        }
        match run.need() {
            Need::ReadBody {
                limit,
                declared,
                unread,
            } => js::read_body(
                IngressStep::ReadBody as u32,
                limit as f64,
                declared,
                unread == Unread::Drain,
            ),
            Need::CheckSignature { claimed, .. } => {
                js::verify(IngressStep::Verify as u32, bytes(claimed))
            }
            Need::Claim { key, .. } => js::kv_get(IngressStep::KvGet as u32, key.as_str()),
            Need::Record {
                key,
                event,
                ttl_seconds,
                store: DedupMode::Kv,
            } => js::kv_put(
                IngressStep::KvPut as u32,
                key.as_str(),
                event,
                ttl_seconds as f64,
            ),
            Need::Wait { ms } => js::wait(IngressStep::Wait as u32, ms as f64),
            Need::HandOff { sends, delay_ms } => {
                let sends = sends
                    .iter()
                    .map(|send| {
                        let message = match &send.message {
                            QueueMessage::Delivery(delivery) => Some(bytes(delivery)),
                            QueueMessage::Payload => None,
                        };
                        js::queue_send(&send.binding, message)
                    })
                    .collect();
                js::send(IngressStep::Send as u32, delay_ms as f64, sends)
            }
            Need::Reply(_) => match self.run.take().and_then(Ingress::into_reply) {
                Some(reply) => reply_value(env, reply, now_ms - self.started_ms, now_ms),
                None => super::unavailable(env, now_ms),
            },
            // Only the key table records durably or releases: asked above.
            Need::Record { .. } | Need::Release { .. } => super::unavailable(env, now_ms),
        }
    }
}

/// An answer to send, `duration_ms` after its request arrived: its lines,
/// what it keeps in the event log (and the flush loop that writes it), and
/// the deliveries to run after it.
pub(crate) fn reply_value(
    env: &JsValue,
    mut reply: crate::ingress::Reply,
    duration_ms: f64,
    now_ms: f64,
) -> JsValue {
    let flush = reply
        .log_entry
        .take()
        .and_then(|entry| event_log::keep(entry, now_ms as i64));
    let line = reply.log_line(duration_ms.max(0.0) as u64);
    let deliveries: js_sys::Array = std::mem::take(&mut reply.after_answer)
        .into_iter()
        .filter_map(|delivery| {
            DeliveryTask::start(env, now_ms, |config| {
                DeliveryRun::direct(config, delivery, now_ms as i64)
            })
        })
        .collect();
    js::reply(
        IngressStep::Reply as u32,
        reply.status,
        &reply.body,
        reply.allow,
        UnreadBody::from(reply.unread) as u32,
        strings(&reply.warnings),
        line,
        flush,
        if deliveries.length() > 0 {
            deliveries.into()
        } else {
            JsValue::UNDEFINED
        },
    )
}
