//! The core as the Worker's JavaScript driver sees it (`src/worker/`): plain
//! synchronous calls, no futures and no callbacks into wasm. Each call
//! reports what the driver did and returns what the core needs next as one
//! typed value ([`js`]); the driver performs it on the platform. Every
//! decision stays in the core: this module only translates. Only built for
//! wasm32.

mod admin;
mod delivery;
mod env;
mod event_log;
mod health;
mod ingress;
mod js;
mod table;

use wasm_bindgen::prelude::*;

use crate::endpoint::{
    endpoint, handler, health as health_check, refusal, unread, Handler, ADMIN_PAGE_HEADERS,
};
use crate::error::Rejection;
use crate::ingress::{path_of, Reply};
use js::{pairs, UnreadBody};

/// Who answers a request (see [`Handler`]).
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum Route {
    Ingress = 0,
    Health = 1,
    /// [`refused`] gives the answer.
    Refused = 2,
    AdminPage = 3,
    AdminApi = 4,
    AdminOff = 5,
}

#[wasm_bindgen]
pub fn route(env: &JsValue, method: &str, url: &str) -> Route {
    match handler(method, path_of(url), env::config(env)) {
        Handler::Ingress => Route::Ingress,
        Handler::Health => Route::Health,
        Handler::Refused => Route::Refused,
        Handler::AdminPage => Route::AdminPage,
        Handler::AdminApi => Route::AdminApi,
        Handler::AdminOff => Route::AdminOff,
    }
}

/// The headers of every console file, and what to do with a body sent with a
/// request for one.
#[wasm_bindgen(unchecked_return_type = "{ headers: [string, string][]; unread: UnreadBody }")]
pub fn admin_page(env: &JsValue) -> JsValue {
    let unread = Some(unread(env::config(env)));
    js::Obj::new()
        .set("headers", pairs(ADMIN_PAGE_HEADERS.iter().copied()))
        .set("unread", UnreadBody::from(unread) as u32)
        .into_value()
}

/// The answer to a request [`route`] refused (or to the ingress of a
/// misconfigured worker) at `now_ms`.
#[wasm_bindgen(unchecked_return_type = "Reply")]
pub fn refused(env: &JsValue, method: &str, url: &str, now_ms: f64) -> JsValue {
    let loaded = env::config(env);
    let mut reply = refusal(&endpoint(method, path_of(url)), loaded)
        .unwrap_or_else(|| Reply::refusal(&Rejection::NotFound, None, false));
    reply.count_rejection(crate::endpoint::event_log(loaded), now_ms as i64);
    ingress::reply_value(env, reply, 0.0, now_ms)
}

/// The answer when the driver itself failed at `now_ms`: 503, so LeadNest retries.
#[wasm_bindgen(unchecked_return_type = "Reply")]
pub fn unavailable(env: &JsValue, now_ms: f64) -> JsValue {
    let mut reply = Reply::refusal(&Rejection::Unavailable("The ingress"), None, true);
    reply.count_rejection(crate::endpoint::event_log(env::config(env)), now_ms as i64);
    ingress::reply_value(env, reply, 0.0, now_ms)
}

/// `/health`'s answer.
#[wasm_bindgen(unchecked_return_type = "Reply")]
pub fn health(env: &JsValue) -> JsValue {
    let (status, body) = health_check(env::config(env));
    js::reply(
        ingress::IngressStep::Reply as u32,
        status,
        &body,
        None,
        UnreadBody::Leave as u32,
        js_sys::Array::new(),
        None,
        None,
        JsValue::UNDEFINED,
    )
}

/// The webhook secrets' bytes, in order, for the platform's HMAC.
#[wasm_bindgen(unchecked_return_type = "Uint8Array[]")]
pub fn secrets(env: &JsValue) -> js_sys::Array {
    match env::config(env) {
        Ok(config) => config.secrets.raw_keys().map(js::bytes).collect(),
        Err(_) => js_sys::Array::new(),
    }
}

/// The line of a queue batch handed back because `messages` of it could not
/// be settled.
#[wasm_bindgen]
pub fn unsettled(queue: &str, messages: usize) -> String {
    crate::attempts::unsettled_line(queue, messages)
}
