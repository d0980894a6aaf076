//! One admin API call, for the driver: each report returns the next need of
//! the core's [`AdminCall`] as one value.

use wasm_bindgen::prelude::*;

use super::delivery::DeliveryTask;
use super::env;
use super::event_log::batch;
use super::js::{bytes, pairs_from, strings, BodyResult, Obj, UnreadBody};
use crate::admin::{AdminCall, AdminError, AdminNeed, AdminRequest, Outgoing};
use crate::attempts::DeliveryRun;
use crate::ingress::{path_of, Unread};

#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum AdminStep {
    ReadBody = 0,
    Shards = 1,
    Query = 2,
    Deliver = 3,
    Ingress = 4,
    Reply = 5,
    RouteReports = 6,
    RouteControl = 7,
}

#[wasm_bindgen]
pub struct AdminTask {
    /// `None`: the configuration did not load, so no admin path exists.
    call: Option<Box<AdminCall<'static>>>,
}

#[wasm_bindgen]
impl AdminTask {
    /// A request to the admin API, before any of its body is read: its method
    /// and URL, its query as decoded `[[name, value], …]`, its `Authorization`
    /// and `Content-Length` headers, at `now_ms`; `nonce` is fresh randomness
    /// for a test event's message id.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(unchecked_return_type = "{ task: AdminTask; need: AdminNeed }")]
    pub fn start(
        env: &JsValue,
        method: &str,
        url: &str,
        #[wasm_bindgen(unchecked_param_type = "[string, string][]")] query: &JsValue,
        authorization: Option<String>,
        content_length: Option<String>,
        now_ms: f64,
        nonce: &str,
    ) -> JsValue {
        let call = env::config(env).as_ref().ok().map(|config| {
            let pairs = pairs_from(query);
            let request = AdminRequest {
                method,
                path: path_of(url),
                query: &pairs,
                authorization: authorization.as_deref(),
                content_length: content_length.as_deref(),
            };
            Box::new(AdminCall::new(config, request, now_ms as i64, nonce))
        });
        let task = AdminTask { call };
        let need = task.need(env, now_ms);
        Obj::new().set("task", task).set("need", need).into_value()
    }

    /// The body read: `result`, and the bytes when complete.
    #[wasm_bindgen(unchecked_return_type = "AdminNeed")]
    pub fn body_read(
        &mut self,
        env: &JsValue,
        result: BodyResult,
        body: &[u8],
        now_ms: f64,
    ) -> JsValue {
        if let Some(call) = &mut self.call {
            call.body_read(result.read(body.len()), body);
        }
        self.need(env, now_ms)
    }

    /// The log directory's list as JSON, or why it could not be read.
    #[wasm_bindgen(unchecked_return_type = "AdminNeed")]
    pub fn shards_found(
        &mut self,
        env: &JsValue,
        list: Option<String>,
        error: Option<String>,
        now_ms: f64,
    ) -> JsValue {
        if let Some(call) = &mut self.call {
            call.shards_found(list.as_deref().ok_or(error.unwrap_or_default()));
        }
        self.need(env, now_ms)
    }

    /// Per shard asked, the rows of each statement, as JSON (`[[[{…}],…],…]`),
    /// or why one failed.
    #[wasm_bindgen(unchecked_return_type = "AdminNeed")]
    pub fn queried(
        &mut self,
        env: &JsValue,
        rows: Option<String>,
        error: Option<String>,
        now_ms: f64,
    ) -> JsValue {
        if let Some(call) = &mut self.call {
            call.queried(rows.as_deref().ok_or(error.unwrap_or_default()));
        }
        self.need(env, now_ms)
    }

    /// Whether every hand-off succeeded.
    #[wasm_bindgen(unchecked_return_type = "AdminNeed")]
    pub fn handed_off(&mut self, env: &JsValue, ok: bool, now_ms: f64) -> JsValue {
        if let Some(call) = &mut self.call {
            call.handed_off(ok);
        }
        self.need(env, now_ms)
    }

    /// What the ingress answered the test event.
    #[wasm_bindgen(unchecked_return_type = "AdminNeed")]
    pub fn ingress_answered(
        &mut self,
        env: &JsValue,
        status: u16,
        body: String,
        now_ms: f64,
    ) -> JsValue {
        if let Some(call) = &mut self.call {
            call.ingress_answered(status, body);
        }
        self.need(env, now_ms)
    }

    /// What the routes' state objects answered, in the order asked (a pause
    /// or resume asks one): each its JSON text, or undefined where the call
    /// failed.
    #[wasm_bindgen(unchecked_return_type = "AdminNeed")]
    pub fn routes_reported(
        &mut self,
        env: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "(string | undefined)[]")] reports: &JsValue,
        now_ms: f64,
    ) -> JsValue {
        if let Some(call) = &mut self.call {
            let reports: Vec<Option<String>> = reports
                .dyn_ref::<js_sys::Array>()
                .map(|array| array.iter().map(|text| text.as_string()).collect())
                .unwrap_or_default();
            call.routes_reported(&reports);
        }
        self.need(env, now_ms)
    }

    fn need(&self, env: &JsValue, now_ms: f64) -> JsValue {
        let step = |step: AdminStep| Obj::new().set("step", step as u32);
        let reply = |status: u16, body: String, allow: Option<&str>, unread: Option<Unread>| {
            step(AdminStep::Reply)
                .set("status", status)
                .set("body", body)
                .maybe("allow", allow)
                .set("unread", UnreadBody::from(unread) as u32)
        };
        let Some(call) = &self.call else {
            let error = AdminError::NotFound("endpoint");
            return reply(
                error.status(),
                error.body(),
                error.allow(),
                Some(Unread::Cancel),
            )
            .into_value();
        };
        match call.need() {
            AdminNeed::ReadBody {
                limit,
                declared,
                unread,
            } => step(AdminStep::ReadBody)
                .set("limit", limit as f64)
                .set("declared", declared)
                .set("drain", unread == Unread::Drain),
            AdminNeed::Shards => step(AdminStep::Shards),
            AdminNeed::Query(asks) => step(AdminStep::Query).set(
                "asks",
                asks.iter()
                    .map(|(shard, statements)| batch(*shard, statements.clone()))
                    .collect::<js_sys::Array>(),
            ),
            AdminNeed::Deliver {
                outgoing,
                via_queue,
            } => {
                let (payloads, messages, direct) = (
                    js_sys::Array::new(),
                    js_sys::Array::new(),
                    js_sys::Array::new(),
                );
                for item in outgoing {
                    match item {
                        Outgoing::Payload { binding, body } => payloads.push(
                            &Obj::new()
                                .set("binding", binding.as_str())
                                .set("body", body.as_str())
                                .into_value(),
                        ),
                        Outgoing::Delivery(delivery) if via_queue => {
                            messages.push(&bytes(&delivery.encode()))
                        }
                        Outgoing::Delivery(delivery) => {
                            let delivery = delivery.clone();
                            let start = DeliveryTask::start(env, now_ms, |config| {
                                DeliveryRun::direct_replay(config, delivery, now_ms as i64)
                            });
                            start.map_or(0, |start| direct.push(&start))
                        }
                    };
                }
                step(AdminStep::Deliver)
                    .set("payloads", payloads)
                    .set("messages", messages)
                    .set("direct", direct)
            }
            AdminNeed::Ingress { body, signature } => step(AdminStep::Ingress)
                .set("body", body)
                .set("signature", signature),
            AdminNeed::RouteReports { names, now_ms } => step(AdminStep::RouteReports)
                .set("names", strings(names))
                .set("now_ms", now_ms as f64),
            AdminNeed::RouteControl {
                name,
                action,
                now_ms,
            } => step(AdminStep::RouteControl)
                .set("name", name)
                .set("action", action.as_str())
                .set("now_ms", now_ms as f64),
            AdminNeed::Reply {
                status,
                body,
                allow,
                unread,
            } => reply(status, body.to_string(), allow, unread),
        }
        .into_value()
    }
}
