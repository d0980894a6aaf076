//! The fetch handler: endpoints of SPEC section 2 and the ingress of section 3.

use worker::{event, Context, Env, Headers, Method, Request, Response, ResponseBuilder};

use super::body::{drain, read_capped, Body};
use super::env::{config, Loaded};
use super::handoff::{deliver_after_answer, Routes};
use super::store::Store;
use super::time::{now_ms, now_seconds, since};
use super::webcrypto::WebCryptoHmac;
use crate::config::Config;
use crate::error::{json, Rejection};
use crate::ingress::{
    accepted_body, admit_verified, check_declared_length, duplicate_body, settle, Settled,
    INGRESS_PATH,
};
use crate::log::IngressLog;
use crate::signature::SIGNATURE_HEADER;

const HEALTH_PATH: &str = "/health";

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    // Never an Err: every failure is answered with a SPEC code.
    Ok(route(req, env, ctx).await)
}

async fn route(mut req: Request, env: Env, ctx: Context) -> Response {
    let path = req.path();
    match (req.method(), path.as_str()) {
        (Method::Post, INGRESS_PATH) => ingress(req, &env, &ctx).await,
        (_, INGRESS_PATH) => {
            drain(&mut req).await;
            let rejection = Rejection::MethodNotAllowed { allow: "POST" };
            log_rejected(&rejection, now_ms());
            reject(&rejection)
        }
        (Method::Get | Method::Head, HEALTH_PATH) => health(&config(&env)),
        (_, HEALTH_PATH) => {
            drain(&mut req).await;
            reject(&Rejection::MethodNotAllowed { allow: "GET" })
        }
        _ => {
            drain(&mut req).await;
            reject(&Rejection::NotFound)
        }
    }
}

fn health(loaded: &Loaded) -> Response {
    #[derive(serde::Serialize)]
    struct Health<'a> {
        status: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        problems: Option<&'a [String]>,
    }
    match loaded.as_ref() {
        Ok(_) => respond(
            200,
            json(&Health {
                status: "ok",
                problems: None,
            }),
        ),
        Err(error) => respond(
            503,
            json(&Health {
                status: "misconfigured",
                problems: Some(&error.problems),
            }),
        ),
    }
}

async fn ingress(mut req: Request, env: &Env, ctx: &Context) -> Response {
    let started = now_ms();
    match process(&mut req, env, ctx).await {
        Ok(answered) => {
            answered.log(started);
            respond(200, answered.body)
        }
        Err(rejection) => {
            log_rejected(&rejection, started);
            reject(&rejection)
        }
    }
}

/// SPEC section 3, from the configuration check to the answer.
async fn process(req: &mut Request, env: &Env, ctx: &Context) -> Result<Answered, Rejection> {
    let loaded = config(env);
    let config = match loaded.as_ref() {
        Ok(config) => config,
        Err(error) => {
            drain(req).await;
            return Err(Rejection::Misconfigured(error.message()));
        }
    };
    let body = read_body(req, config.max_body_bytes).await?;
    let signature = req.headers().get(SIGNATURE_HEADER).ok().flatten();
    accept(env, ctx, config, &loaded, signature, body).await
}

/// Step 1: refuses a declared length over `limit` before reading, and enforces
/// `limit` on the bytes actually read.
async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, Rejection> {
    let declared = req.headers().get("content-length").ok().flatten();
    if let Err(too_large) = check_declared_length(declared.as_deref(), limit) {
        drain(req).await;
        return Err(too_large);
    }
    match read_capped(req, limit, declared.is_some()).await {
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
    body: Vec<u8>,
) -> Result<Answered, Rejection> {
    let verified = match WebCryptoHmac::get(&config.secrets).await {
        Some(platform) => {
            config
                .secrets
                .verify_with(&platform, signature.as_deref(), &body)
                .await?
        }
        None => config.secrets.verify(signature.as_deref(), &body)?,
    };
    let admitted = admit_verified(config, verified, now_seconds())?;
    let store = Store::open(env, config).ok_or(Rejection::Unavailable("The dedup store"))?;
    let envelope = &admitted.envelope;
    // Verified above, so the header is present.
    let signature = signature.unwrap_or_default();
    let routes = Routes {
        env,
        config,
        signature: &signature,
        body: &body,
    };

    let (after_answer, record_error) =
        match settle(&store, &routes, &admitted, config.dedup_ttl_seconds).await? {
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
        worker::console_error!(
            "{{\"warning\":\"dedup_record_failed\",\"event\":{:?},\"error\":{:?}}}",
            envelope.event,
            error
        );
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

fn reject(rejection: &Rejection) -> Response {
    let allow = match rejection {
        Rejection::MethodNotAllowed { allow } => Some(*allow),
        _ => None,
    };
    respond_with(rejection.status(), rejection.body(), allow)
}

/// A JSON answer.
fn respond(status: u16, body: String) -> Response {
    respond_with(status, body, None)
}

fn respond_with(status: u16, body: String, allow: Option<&str>) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    if let Some(allow) = allow {
        let _ = headers.set("allow", allow);
    }
    ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes())
}
