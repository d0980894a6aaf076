//! The fetch handler: endpoints of SPEC section 2 and the ingress of section 3.

use std::future::Future;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use worker::worker_sys::{web_sys, Context as RawContext};
use worker::{Context, Env};

use super::body::{discard, read_capped, Body, Unused};
use super::env::{config, Loaded};
use super::handoff::{deliver_after_answer, Routes};
use super::store::{recent_keys, Store};
use super::time::{now_ms, now_seconds, since};
use super::webcrypto::WebCryptoHmac;
use crate::config::Config;
use crate::dedup::Remembering;
use crate::error::{json, Rejection};
use crate::ingress::{
    accepted_body, admit_verified, check_declared_length, duplicate_body, path_of, settle, Settled,
    Timer, INGRESS_PATH,
};
use crate::log::{IngressLog, WarningLog};
use crate::signature::SIGNATURE_HEADER;

const HEALTH_PATH: &str = "/health";

#[wasm_bindgen(module = "/src/glue/respond.js")]
extern "C" {
    /// A JSON answer with its content type and, for a 405, `Allow`.
    fn respond(status: u16, body: &str, allow: Option<&str>) -> web_sys::Response;
}

/// The fetch handler workerd calls. Exported by hand on the runtime's own
/// `Request`: the `worker` crate's wrapper reads `request.cf` (parsed on first
/// access) and copies the URL and method for every request, which the ingress
/// never needs. A health check is answered without a promise.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: RawContext) -> JsValue {
    let url = req.url();
    let method = req.method();
    match (method.as_str(), path_of(&url)) {
        ("POST", INGRESS_PATH) => {
            // The whole ingress runs under waitUntil: a connection LeadNest cuts
            // must not stop a claimed event between its hand-off and its record
            // (or release), or its retry would wait on a claim nobody finishes.
            let keep_alive = ctx.clone().unchecked_into::<RawContext>();
            let answer = wasm_bindgen_futures::future_to_promise(async move {
                Ok(ingress(req, env, Context::new(ctx)).await.into())
            });
            // A runtime that refuses is one where the request lives to its end anyway.
            let _ = keep_alive.wait_until(&answer);
            answer.into()
        }
        (_, INGRESS_PATH) => later(refuse(
            req,
            Unused::of(&config(&env)),
            Rejection::MethodNotAllowed { allow: "POST" },
            true,
        )),
        ("GET" | "HEAD", HEALTH_PATH) => health(&config(&env)).into(),
        (_, HEALTH_PATH) => later(refuse(
            req,
            Unused::of(&config(&env)),
            Rejection::MethodNotAllowed { allow: "GET" },
            false,
        )),
        _ => later(refuse(
            req,
            Unused::of(&config(&env)),
            Rejection::NotFound,
            false,
        )),
    }
}

/// An answer that needs the body read or other I/O first. Never rejects:
/// every failure is answered with a SPEC code.
fn later(answer: impl Future<Output = web_sys::Response> + 'static) -> JsValue {
    wasm_bindgen_futures::future_to_promise(async move { Ok(answer.await.into()) }).into()
}

/// A refusal before the body is looked at: the body is let go of as `unused`
/// says. `log`: on the ingress path, where refusals are logged.
async fn refuse(
    req: web_sys::Request,
    unused: Unused,
    rejection: Rejection,
    log: bool,
) -> web_sys::Response {
    let started = now_ms();
    discard(&req, unused).await;
    if log {
        log_rejected(&rejection, started);
    }
    reject(&rejection)
}

fn health(loaded: &Loaded) -> web_sys::Response {
    #[derive(serde::Serialize)]
    struct Health<'a> {
        status: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        problems: Option<&'a [String]>,
    }
    match loaded.as_ref() {
        Ok(_) => respond(
            200,
            &json(&Health {
                status: "ok",
                problems: None,
            }),
            None,
        ),
        Err(error) => respond(
            503,
            &json(&Health {
                status: "misconfigured",
                problems: Some(&error.problems),
            }),
            None,
        ),
    }
}

async fn ingress(req: web_sys::Request, env: Env, ctx: Context) -> web_sys::Response {
    let started = now_ms();
    match process(&req, &env, &ctx).await {
        Ok(answered) => {
            answered.log(started);
            respond(200, &answered.body, None)
        }
        Err(rejection) => {
            log_rejected(&rejection, started);
            reject(&rejection)
        }
    }
}

/// SPEC section 3, from the configuration check to the answer.
async fn process(req: &web_sys::Request, env: &Env, ctx: &Context) -> Result<Answered, Rejection> {
    let loaded = config(env);
    let config = match loaded.as_ref() {
        Ok(config) => config,
        Err(error) => {
            discard(req, Unused::of(&loaded)).await;
            return Err(Rejection::Misconfigured(error.message()));
        }
    };
    let headers = req.headers();
    let declared = headers.get("content-length").ok().flatten();
    let signature = headers.get(SIGNATURE_HEADER).ok().flatten();
    let body = read_body(
        req,
        declared.as_deref(),
        config.max_body_bytes,
        Unused::of(&loaded),
    )
    .await?;
    accept(env, ctx, config, &loaded, signature, body).await
}

/// Step 1: refuses a declared length over `limit` before reading, and enforces
/// `limit` on the bytes actually read, stopping there.
async fn read_body(
    req: &web_sys::Request,
    declared: Option<&str>,
    limit: usize,
    unused: Unused,
) -> Result<Uint8Array, Rejection> {
    if let Err(too_large) = check_declared_length(declared, limit) {
        discard(req, unused).await;
        return Err(too_large);
    }
    match read_capped(req, limit, declared.is_some(), unused).await {
        Body::Read(body) => Ok(body),
        Body::TooLarge => Err(Rejection::PayloadTooLarge { limit }),
        Body::Broken => Err(Rejection::InvalidPayload(
            "The body could not be read to its end; resend the event.".into(),
        )),
    }
}

/// A 200 answer with what its log line needs.
struct Answered {
    body: String,
    outcome: &'static str,
    event: String,
    message_id: Option<String>,
    routes: Option<Vec<String>>,
}

impl Answered {
    fn log(&self, started: u64) {
        let routes = self
            .routes
            .as_ref()
            .map(|names| names.iter().map(String::as_str).collect::<Vec<_>>());
        let unrouted = routes.as_ref().is_some_and(Vec::is_empty);
        let line = IngressLog {
            outcome: self.outcome,
            status: 200,
            event: Some(&self.event),
            message_id: self.message_id.as_deref(),
            routes,
            unrouted,
            duration_ms: since(started),
            ..Default::default()
        }
        .line();
        worker::console_log!("{line}");
    }
}

/// SPEC steps 2 to 8 on a body of allowed size.
async fn accept(
    env: &Env,
    ctx: &Context,
    config: &Config,
    loaded: &Loaded,
    signature: Option<String>,
    body: Uint8Array,
) -> Result<Answered, Rejection> {
    let verified = match WebCryptoHmac::get(&config.secrets).await {
        Some(platform) => {
            config
                .secrets
                .verify_with(&platform, signature.as_deref(), &body)
                .await?
        }
        None => config
            .secrets
            .verify_owned(signature.as_deref(), body.to_vec())?,
    };
    let body = verified.body();
    let now = now_seconds();
    let admitted = admit_verified(config, body, now)?;
    let store = Store::open(env, config).ok_or(Rejection::Unavailable("The dedup store"))?;
    let recent = recent_keys(config.dedup_memory_keys);
    let store = Remembering {
        store: &store,
        recent: &recent,
        now: u64::try_from(now).unwrap_or_default(),
    };
    let envelope = &admitted.envelope;
    // Verified above, so the header is present.
    let signature = signature.unwrap_or_default();
    let routes = Routes {
        env,
        config,
        signature: &signature,
        body: body.bytes(),
    };

    let (after_answer, record_error) = match settle(
        &store,
        &routes,
        &PlatformTimer,
        &admitted,
        config.dedup_ttl_seconds,
    )
    .await?
    {
        Settled::Duplicate => {
            return Ok(Answered {
                body: duplicate_body(envelope),
                outcome: "duplicate",
                event: envelope.event.clone(),
                message_id: envelope.message_id.clone(),
                routes: None,
            })
        }
        Settled::Accepted {
            after_answer,
            record_error,
        } => (after_answer, record_error),
    };
    if let Some(error) = record_error {
        // The event is handed off; a redelivery may pass dedup, which the
        // backends' webhook-id dedup absorbs.
        let line = WarningLog {
            warning: "dedup_record_failed",
            event: Some(&envelope.event),
            error: Some(&error),
            ..Default::default()
        }
        .line();
        worker::console_error!("{line}");
    }
    if !after_answer.is_empty() {
        ctx.wait_until(deliver_after_answer(loaded.clone(), after_answer));
    }

    let names = admitted.route_names();
    Ok(Answered {
        body: accepted_body(envelope, &names),
        outcome: "accepted",
        event: envelope.event.clone(),
        message_id: envelope.message_id.clone(),
        routes: Some(names.into_iter().map(String::from).collect()),
    })
}

/// Waits on the runtime's timers.
struct PlatformTimer;

impl Timer for PlatformTimer {
    async fn sleep(&self, ms: u64) {
        worker::Delay::from(std::time::Duration::from_millis(ms)).await;
    }
}

fn log_rejected(rejection: &Rejection, started: u64) {
    let line = IngressLog {
        outcome: "rejected",
        status: rejection.status(),
        reason: Some(rejection.code()),
        duration_ms: since(started),
        ..Default::default()
    }
    .line();
    worker::console_log!("{line}");
}

fn reject(rejection: &Rejection) -> web_sys::Response {
    let allow = match rejection {
        Rejection::MethodNotAllowed { allow } => Some(*allow),
        _ => None,
    };
    respond(rejection.status(), &rejection.body(), allow)
}
