//! One HTTP delivery attempt, with a timeout, and its log line.

use futures_util::future::{select, Either};
use std::time::Duration;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use super::time::{now_ms, now_seconds, since};
use crate::config::Config;
use crate::deliver::{is_success, Delivery};
use crate::log::DeliveryLog;
use crate::routes::{Destination, Route};
use crate::standard_webhooks::SigningKey;

/// How one attempt ended.
pub(crate) enum Attempt {
    Delivered(u16),
    /// The backend answered with a status that is not 2xx (a redirect included).
    Refused(u16),
    /// No answer: a network error or a timeout.
    NoAnswer(&'static str),
}

impl Attempt {
    pub(crate) fn delivered(&self) -> bool {
        matches!(self, Self::Delivered(_))
    }
}

/// The URL and signing key of the HTTP route a delivery names, if it still exists.
pub(crate) fn http_route<'c>(
    config: &'c Config,
    name: &str,
) -> Option<(&'c str, Option<&'c SigningKey>)> {
    config
        .routes
        .iter()
        .find_map(|route: &Route| match &route.destination {
            Destination::Http { url, signing_key } if route.name == name => {
                Some((url.as_str(), signing_key.as_ref()))
            }
            _ => None,
        })
}

/// POSTs the delivery once; gives up after `timeout_seconds`.
pub(crate) async fn attempt(
    url: &str,
    delivery: &Delivery,
    signing_key: Option<&SigningKey>,
    timeout_seconds: u64,
) -> Attempt {
    let headers = Headers::new();
    for (name, value) in delivery.headers(signing_key, now_seconds()) {
        if headers.set(name, &value).is_err() {
            return Attempt::NoAnswer("header not accepted");
        }
    }
    let mut init = RequestInit::new();
    // Following would turn the POST into a GET elsewhere, send the signatures to
    // another URL and report that URL's 2xx as delivered (SPEC 5).
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(
            js_sys::Uint8Array::from(delivery.body.as_slice()).into(),
        ));
    let Ok(request) = Request::new_with_init(url, &init) else {
        return Attempt::NoAnswer("request not built");
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Delay::from(Duration::from_secs(timeout_seconds));
    let result = match select(send, timeout).await {
        Either::Left((Ok(response), _)) => {
            let status = response.status_code();
            if is_success(status) {
                Attempt::Delivered(status)
            } else {
                Attempt::Refused(status)
            }
        }
        Either::Left((Err(_), _)) => Attempt::NoAnswer("network error"),
        Either::Right(_) => {
            controller.abort();
            Attempt::NoAnswer("timeout")
        }
    };
    result
}

/// Logs one attempt; `retry_in_seconds` when another attempt will follow.
pub(crate) fn log_attempt(
    delivery: &Delivery,
    number: u32,
    result: &Attempt,
    started: u64,
    outcome: &str,
    retry_in_seconds: Option<u64>,
) {
    let (status, error) = match result {
        Attempt::Delivered(status) | Attempt::Refused(status) => (Some(*status), None),
        Attempt::NoAnswer(why) => (None, Some(*why)),
    };
    let line = DeliveryLog {
        route: &delivery.route,
        attempt: number,
        webhook_id: &delivery.webhook_id,
        event: Some(&delivery.event),
        status,
        outcome,
        error,
        retry_in_seconds,
        duration_ms: since(started),
    }
    .line();
    worker::console_log!("{line}");
}

/// Logs a delivery that cannot be attempted, e.g. for a route that no longer exists.
pub(crate) fn log_undeliverable(
    delivery: &Delivery,
    number: u32,
    outcome: &str,
    why: &'static str,
) {
    log_attempt(
        delivery,
        number,
        &Attempt::NoAnswer(why),
        now_ms(),
        outcome,
        None,
    );
}
