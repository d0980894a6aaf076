//! One admin API call, step by step, for the driver; see [`AdminCall`].

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::env;
use super::journal::statements;
use crate::admin::{AdminCall, AdminError, AdminNeed, AdminRequest, Outgoing};
use crate::ingress::{path_of, BodyRead, Unread};

/// The steps, as [`AdminTask::step`] numbers them.
const QUERY: u8 = 0;
const DELIVER: u8 = 1;
const INGRESS: u8 = 2;
const REPLY: u8 = 3;
const READ_BODY: u8 = 4;
const SHARDS: u8 = 5;

enum Inner {
    Call(Box<AdminCall<'static>>),
    /// The configuration did not load: no admin path exists.
    Refused(AdminError),
}

#[wasm_bindgen]
pub struct AdminTask {
    inner: Inner,
}

impl AdminTask {
    fn need(&self) -> Option<AdminNeed<'_>> {
        match &self.inner {
            Inner::Call(call) => Some(call.need()),
            Inner::Refused(_) => None,
        }
    }

    fn outgoing(&self, i: usize) -> Option<&Outgoing> {
        match self.need() {
            Some(AdminNeed::Deliver { outgoing, .. }) => outgoing.get(i),
            _ => None,
        }
    }
}

#[wasm_bindgen]
impl AdminTask {
    /// A request to the admin API, before any of its body is read: its method
    /// and URL, its query as decoded [name, value, …] pairs, its
    /// `Authorization` and `Content-Length` headers, at `now_ms`; `nonce` is
    /// fresh randomness for a test event's message id.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        env: &JsValue,
        method: &str,
        url: &str,
        query: Vec<String>,
        authorization: Option<String>,
        content_length: Option<String>,
        now_ms: f64,
        nonce: &str,
    ) -> AdminTask {
        let inner = match env::config(env) {
            Ok(config) => {
                let pairs: Vec<(String, String)> = query
                    .chunks(2)
                    .filter_map(|pair| Some((pair.first()?.clone(), pair.get(1)?.clone())))
                    .collect();
                let request = AdminRequest {
                    method,
                    path: path_of(url),
                    query: &pairs,
                    authorization: authorization.as_deref(),
                    content_length: content_length.as_deref(),
                };
                Inner::Call(Box::new(AdminCall::new(
                    config,
                    request,
                    now_ms as i64,
                    nonce,
                )))
            }
            Err(_) => Inner::Refused(AdminError::NotFound("endpoint")),
        };
        AdminTask { inner }
    }

    /// What to do next: QUERY 0, DELIVER 1, INGRESS 2, REPLY 3, READ_BODY 4,
    /// SHARDS 5.
    pub fn step(&self) -> u8 {
        match self.need() {
            Some(AdminNeed::ReadBody { .. }) => READ_BODY,
            Some(AdminNeed::Shards) => SHARDS,
            Some(AdminNeed::Query(_)) => QUERY,
            Some(AdminNeed::Deliver { .. }) => DELIVER,
            Some(AdminNeed::Ingress { .. }) => INGRESS,
            _ => REPLY,
        }
    }

    /// READ_BODY: the most bytes to read.
    pub fn limit(&self) -> usize {
        match self.need() {
            Some(AdminNeed::ReadBody { limit, .. }) => limit,
            _ => 0,
        }
    }

    /// READ_BODY: a `Content-Length` was sent (and is within the limit).
    pub fn declared(&self) -> bool {
        matches!(
            self.need(),
            Some(AdminNeed::ReadBody { declared: true, .. })
        )
    }

    /// READ_BODY: past the limit, read the rest out (under wrangler dev) rather
    /// than cancel it.
    pub fn drain(&self) -> bool {
        matches!(
            self.need(),
            Some(AdminNeed::ReadBody {
                unread: Unread::Drain,
                ..
            })
        )
    }

    /// READ_BODY's result: 0 complete (`body`), 1 too large, 2 broken.
    pub fn body_read(&mut self, result: u8, body: &[u8]) {
        if let Inner::Call(call) = &mut self.inner {
            let read = match result {
                0 => BodyRead::Complete { len: body.len() },
                1 => BodyRead::TooLarge,
                _ => BodyRead::Broken,
            };
            call.body_read(read, body);
        }
    }

    /// SHARDS's result: the log directory's list as JSON, or why it failed.
    pub fn shards_found(&mut self, list: Option<String>, error: Option<String>) {
        if let Inner::Call(call) = &mut self.inner {
            call.shards_found(list.as_deref().ok_or(error.unwrap_or_default()));
        }
    }

    /// QUERY: the shards to ask, each `[name, [[sql, ...params], ...]]`: one
    /// batch a shard, all at once.
    pub fn asks(&self) -> Array {
        match self.need() {
            Some(AdminNeed::Query(asks)) => asks
                .iter()
                .map(|(shard, list)| {
                    let ask = Array::new();
                    ask.push(&JsValue::from_str(&shard.name()));
                    ask.push(&statements(list.clone()));
                    JsValue::from(ask)
                })
                .collect(),
            _ => Array::new(),
        }
    }

    /// QUERY's result: per shard asked, the rows of each statement, as JSON
    /// (`[[[{…}],…],…]`), or why one failed.
    pub fn queried(&mut self, rows: Option<String>, error: Option<String>) {
        if let Inner::Call(call) = &mut self.inner {
            call.queried(rows.as_deref().ok_or(error.unwrap_or_default()));
        }
    }

    /// DELIVER: whether deliveries go through `DELIVERY_QUEUE` (else they run
    /// after the answer, see [`direct`](Self::direct)).
    pub fn via_queue(&self) -> bool {
        matches!(
            self.need(),
            Some(AdminNeed::Deliver {
                via_queue: true,
                ..
            })
        )
    }

    /// DELIVER: how many items to hand off.
    pub fn outgoing_count(&self) -> usize {
        match self.need() {
            Some(AdminNeed::Deliver { outgoing, .. }) => outgoing.len(),
            _ => 0,
        }
    }

    /// DELIVER: item `i` as a `DELIVERY_QUEUE` message, if it is a delivery.
    pub fn delivery_bytes(&self, i: usize) -> Option<Vec<u8>> {
        match self.outgoing(i)? {
            Outgoing::Delivery(delivery) => Some(delivery.encode()),
            Outgoing::Payload { .. } => None,
        }
    }

    /// DELIVER: item `i` as a delivery to run after the answer (no queue).
    pub fn direct(
        &self,
        env: &JsValue,
        i: usize,
        now_ms: f64,
    ) -> Option<super::delivery::DeliveryTask> {
        match self.outgoing(i)? {
            Outgoing::Delivery(delivery) => super::delivery::DeliveryTask::after_answer(
                env,
                crate::delivery_run::DeliveryRun::direct_replay,
                delivery.clone(),
                now_ms,
            ),
            Outgoing::Payload { .. } => None,
        }
    }

    /// DELIVER: the queue binding of item `i`, if it is a queue route's payload.
    pub fn payload_binding(&self, i: usize) -> Option<String> {
        match self.outgoing(i)? {
            Outgoing::Payload { binding, .. } => Some(binding.clone()),
            Outgoing::Delivery(_) => None,
        }
    }

    /// DELIVER: the payload of item `i` (JSON text as received).
    pub fn payload(&self, i: usize) -> Option<String> {
        match self.outgoing(i)? {
            Outgoing::Payload { body, .. } => Some(body.clone()),
            Outgoing::Delivery(_) => None,
        }
    }

    /// DELIVER's result.
    pub fn handed_off(&mut self, ok: bool) {
        if let Inner::Call(call) = &mut self.inner {
            call.handed_off(ok);
        }
    }

    /// INGRESS: the test event's body.
    pub fn test_body(&self) -> String {
        match self.need() {
            Some(AdminNeed::Ingress { body, .. }) => body.to_string(),
            _ => String::new(),
        }
    }

    /// INGRESS: its `X-LeadNest-Signature`.
    pub fn test_signature(&self) -> String {
        match self.need() {
            Some(AdminNeed::Ingress { signature, .. }) => signature.to_string(),
            _ => String::new(),
        }
    }

    /// INGRESS's result: what the ingress answered.
    pub fn ingress_answered(&mut self, status: u16, body: String) {
        if let Inner::Call(call) = &mut self.inner {
            call.ingress_answered(status, body);
        }
    }

    /// REPLY: a 405's `Allow` header.
    pub fn allow(&self) -> Option<String> {
        match (&self.inner, self.need()) {
            (_, Some(AdminNeed::Reply { allow, .. })) => allow.map(str::to_string),
            (Inner::Refused(error), _) => error.allow().map(str::to_string),
            _ => None,
        }
    }

    /// REPLY: what to do with a body left unread: 0 nothing, 1 cancel, 2 drain.
    pub fn unread(&self) -> u8 {
        match self.need() {
            Some(AdminNeed::Reply { unread, .. }) => match unread {
                None => 0,
                Some(Unread::Cancel) => 1,
                Some(Unread::Drain) => 2,
            },
            // No configuration: nothing was read.
            _ => 1,
        }
    }

    /// REPLY: the status.
    pub fn status(&self) -> u16 {
        match (&self.inner, self.need()) {
            (_, Some(AdminNeed::Reply { status, .. })) => status,
            (Inner::Refused(error), _) => error.status(),
            _ => 500,
        }
    }

    /// REPLY: the JSON body.
    pub fn body(&self) -> String {
        match (&self.inner, self.need()) {
            (_, Some(AdminNeed::Reply { body, .. })) => body.to_string(),
            (Inner::Refused(error), _) => error.body(),
            _ => String::new(),
        }
    }
}
