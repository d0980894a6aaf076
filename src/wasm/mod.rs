//! The core as the Worker's JavaScript driver sees it (`src/worker/`): plain
//! synchronous calls, one per step, no futures and no callbacks into wasm. The
//! driver performs each step's I/O on the platform and reports back; every
//! decision stays in the core. Only built for wasm32.

mod admin;
mod delivery;
mod env;
mod ingress;
mod journal;
mod table;

use ingress::Reply;

use wasm_bindgen::prelude::*;

use crate::endpoint::{
    admin_enabled, endpoint, event_log, health, refusal, unread, Endpoint, ADMIN_PAGE_HEADERS,
};
use crate::ingress::path_of;
use crate::ingress::Unread;

/// What a request is for: 0 the ingress, 1 the health check, 2 refused (then
/// [`refused`] gives the reply), 3 a console file, 4 the admin API, 5 the
/// console while it is off (404: the page that says how to turn it on, for a
/// browser).
#[wasm_bindgen]
pub fn route(env: &JsValue, method: &str, url: &str) -> u8 {
    let loaded = env::config(env);
    match endpoint(method, path_of(url)) {
        Endpoint::Ingress if loaded.is_ok() => 0,
        Endpoint::Health => 1,
        Endpoint::AdminPage if admin_enabled(loaded) => 3,
        Endpoint::AdminApi if admin_enabled(loaded) => 4,
        Endpoint::AdminPage => 5,
        _ => 2,
    }
}

/// The headers of every console file, as [name, value, …].
#[wasm_bindgen]
pub fn admin_page_headers() -> Vec<String> {
    ADMIN_PAGE_HEADERS
        .iter()
        .flat_map(|(name, value)| [name.to_string(), value.to_string()])
        .collect()
}

/// What to do with a body the worker will not read: 1 cancel, 2 drain.
#[wasm_bindgen]
pub fn unread_mode(env: &JsValue) -> u8 {
    match unread(env::config(env)) {
        Unread::Cancel => 1,
        Unread::Drain => 2,
    }
}

/// The reply of a request [`route`] refused (or the ingress of a misconfigured
/// worker) at `now_ms`.
#[wasm_bindgen]
pub fn refused(env: &JsValue, method: &str, url: &str, now_ms: f64) -> Reply {
    let loaded = env::config(env);
    let endpoint = endpoint(method, path_of(url));
    let mut reply = refusal(&endpoint, loaded).unwrap_or_else(|| {
        crate::ingress::Reply::refusal(&crate::error::Rejection::NotFound, None, false)
    });
    reply.count_rejection(event_log(loaded), now_ms as i64);
    Reply::new(reply)
}

/// The webhook secrets' bytes, in order, for the platform's HMAC.
#[wasm_bindgen]
pub fn secrets(env: &JsValue) -> js_sys::Array {
    match env::config(env) {
        Ok(config) => config
            .secrets
            .raw_keys()
            .map(|key| JsValue::from(js_sys::Uint8Array::from(key)))
            .collect(),
        Err(_) => js_sys::Array::new(),
    }
}

/// The answer when the driver itself failed at `now_ms`: 503, so LeadNest retries.
#[wasm_bindgen]
pub fn unavailable(env: &JsValue, now_ms: f64) -> Reply {
    let mut reply = crate::ingress::Reply::refusal(
        &crate::error::Rejection::Unavailable("The ingress"),
        None,
        true,
    );
    reply.count_rejection(event_log(env::config(env)), now_ms as i64);
    Reply::new(reply)
}

/// `/health`: the status, then the JSON body, as `"200 {…}"`.
#[wasm_bindgen]
pub fn health_check(env: &JsValue) -> String {
    let (status, body) = health(env::config(env));
    format!("{status} {body}")
}
