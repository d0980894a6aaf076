//! The fetch handler: performs what [`endpoint`] and the [`Ingress`] machine
//! ask for, with the platform, and answers what they decided. It holds no rule
//! of its own.

use std::future::Future;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use worker::worker_sys::{web_sys, Context as RawContext};
use worker::{Context, Env};

use super::body::{discard, read_capped, Body};
use super::env::{config, Loaded};
use super::handoff::{deliver_after_answer, send_all};
use super::store::{recent_keys, Store};
use super::time::{now_ms, now_seconds, since};
use super::webcrypto::WebCryptoHmac;
use crate::config::Config;
use crate::dedup::DedupStore;
use crate::endpoint::{endpoint, health, refusal, Endpoint};
use crate::error::Rejection;
use crate::ingress::{path_of, BodyRead, Ingress, Need, Reply, RequestHead};
use crate::signature::SIGNATURE_HEADER;

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
    let loaded = config(&env);
    let endpoint = endpoint(&req.method(), path_of(&req.url()));
    if let Some(reply) = refusal(&endpoint, &loaded) {
        return later(async move {
            let started = now_ms();
            answer(&req, reply, started).await
        });
    }
    match endpoint {
        Endpoint::Health => {
            let (status, body) = health(&loaded);
            respond(status, &body, None).into()
        }
        // A valid configuration: `refusal` answered every other case.
        _ => {
            // The whole ingress runs under waitUntil: a connection LeadNest cuts
            // must not stop a claimed event between its hand-off and its record
            // (or release), or its retry would wait on a claim nobody finishes.
            let keep_alive = ctx.clone().unchecked_into::<RawContext>();
            let answer = wasm_bindgen_futures::future_to_promise(async move {
                Ok(ingress(req, env, Context::new(ctx), loaded).await.into())
            });
            // A runtime that refuses is one where the request lives to its end anyway.
            let _ = keep_alive.wait_until(&answer);
            answer.into()
        }
    }
}

/// An answer that needs I/O first. Never rejects.
fn later(answer: impl Future<Output = web_sys::Response> + 'static) -> JsValue {
    wasm_bindgen_futures::future_to_promise(async move { Ok(answer.await.into()) }).into()
}

/// Lets go of the body as the reply says, prints its lines, and answers.
async fn answer(req: &web_sys::Request, reply: Reply, started: u64) -> web_sys::Response {
    if let Some(unread) = reply.unread {
        discard(req, unread).await;
    }
    for line in &reply.warnings {
        worker::console_error!("{line}");
    }
    if let Some(line) = reply.log_line(since(started)) {
        worker::console_log!("{line}");
    }
    respond(reply.status, &reply.body, reply.allow)
}

async fn ingress(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
    loaded: Loaded,
) -> web_sys::Response {
    let started = now_ms();
    let mut reply = match loaded.as_ref() {
        Ok(config) => drive(&req, &env, config).await,
        Err(error) => Reply::refusal(&Rejection::Misconfigured(error.message()), None, true),
    };
    let after_answer = std::mem::take(&mut reply.after_answer);
    if !after_answer.is_empty() {
        ctx.wait_until(deliver_after_answer(loaded.clone(), after_answer));
    }
    answer(&req, reply, started).await
}

/// Meets the machine's needs until it replies.
async fn drive(req: &web_sys::Request, env: &Env, config: &Config) -> Reply {
    let headers = req.headers();
    let content_length = headers.get("content-length").ok().flatten();
    let signature = headers.get(SIGNATURE_HEADER).ok().flatten();
    let memory = recent_keys(config.dedup_memory_keys);
    let mut ingress = Ingress::new(
        config,
        &memory,
        RequestHead {
            content_length: content_length.as_deref(),
            signature: signature.as_deref(),
        },
        now_seconds(),
    );
    let store = Store::open(env, config);
    // Left in JS memory: copied into wasm only once its signature matched.
    let mut body = Uint8Array::new_with_length(0);
    loop {
        match ingress.need() {
            Need::ReadBody {
                limit,
                declared,
                unread,
            } => {
                let read = match read_capped(req, limit, declared, unread).await {
                    Body::Read(bytes) => {
                        body = bytes;
                        BodyRead::Complete {
                            len: body.length() as usize,
                        }
                    }
                    Body::TooLarge => BodyRead::TooLarge,
                    Body::Broken => BodyRead::Broken,
                };
                ingress.body_read(read);
            }
            Need::CheckSignature { secrets, claimed } => {
                let matched = match WebCryptoHmac::get(secrets).await {
                    Some(platform) => platform.check(claimed, &body).await,
                    None => secrets.check(claimed, &body.to_vec()),
                };
                ingress.signature_checked(&matched, || body.to_vec());
            }
            Need::Claim { key } => {
                let claim = match &store {
                    Some(store) => store.claim(key).await,
                    None => Err("the dedup store is not bound".into()),
                };
                ingress.claimed(claim);
            }
            Need::Wait { ms } => {
                sleep(ms).await;
                ingress.waited();
            }
            Need::HandOff { sends, delay_ms } => {
                if delay_ms > 0 {
                    sleep(delay_ms).await;
                }
                let failed = send_all(env, sends, &body).await;
                ingress.handed_off(failed);
            }
            Need::Release { key } => {
                let released = match &store {
                    Some(store) => store.release(key).await.is_ok(),
                    None => false,
                };
                ingress.released(released);
            }
            Need::Record {
                key,
                event,
                ttl_seconds,
            } => {
                let recorded = match &store {
                    Some(store) => store.record(key, event, ttl_seconds).await,
                    None => Err("the dedup store is not bound".into()),
                };
                ingress.recorded(recorded);
            }
            Need::Reply(_) => break,
        }
    }
    ingress
        .into_reply()
        .unwrap_or_else(|| Reply::refusal(&Rejection::Unavailable("The ingress"), None, true))
}

async fn sleep(ms: u64) {
    worker::Delay::from(std::time::Duration::from_millis(ms)).await;
}
