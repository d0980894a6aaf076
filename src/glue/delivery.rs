//! One HTTP delivery attempt, with a timeout: the POST, and the start of the answer.

use futures_util::future::{select, Either};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    ResponseBody,
};

use super::time::now_seconds;
use crate::deliver::{Answer, Delivery};
use crate::delivery_run::Outcome;
use crate::standard_webhooks::SigningKey;

#[wasm_bindgen]
extern "C" {
    /// A response body.
    type BodyStream;
    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &BodyStream) -> Result<BodyReader, JsValue>;

    /// Its reader.
    type BodyReader;
    #[wasm_bindgen(method, catch)]
    fn read(this: &BodyReader) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn cancel(this: &BodyReader) -> Result<js_sys::Promise, JsValue>;
}

/// POSTs the delivery once and reads the start of the answer; gives up after
/// `timeout_seconds` in all.
pub(crate) async fn attempt(
    url: &str,
    delivery: &Delivery,
    signing_key: Option<&SigningKey>,
    timeout_seconds: u64,
) -> Outcome {
    let headers = Headers::new();
    for (name, value) in delivery.headers(signing_key, now_seconds()) {
        if headers.set(name, &value).is_err() {
            return Outcome::NoAnswer("header not accepted");
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
        return Outcome::NoAnswer("request not built");
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let send = Box::pin(fetch.send_with_signal(&signal));
    let deadline = Delay::from(Duration::from_secs(timeout_seconds));
    let (response, deadline) = match select(send, deadline).await {
        Either::Left((Ok(response), deadline)) => (response, deadline),
        Either::Left((Err(_), _)) => return Outcome::NoAnswer("network error"),
        Either::Right(_) => {
            controller.abort();
            return Outcome::NoAnswer("timeout");
        }
    };
    let mut answer = Answer {
        status: response.status_code(),
        headers: header_list(response.headers()),
        ..Answer::default()
    };
    // An unread body holds one of the invocation's six connections until the
    // invocation ends: read its start, cancel the rest, within the same deadline.
    if let ResponseBody::Stream(stream) = response.body() {
        let stream: &BodyStream = stream.unchecked_ref();
        answer.body_error = match stream.get_reader() {
            Ok(reader) => {
                let read = Box::pin(read_and_release(&reader, &mut answer));
                match select(read, deadline).await {
                    Either::Left((Ok(()), _)) => None,
                    Either::Left((Err(_), _)) => Some("read error"),
                    Either::Right((_, read)) => {
                        drop(read);
                        // Aborting errors the body; cancelling also settles a read
                        // still pending on it.
                        controller.abort();
                        if let Ok(cancelled) = reader.cancel() {
                            wasm_bindgen_futures::spawn_local(async move {
                                let _ = JsFuture::from(cancelled).await;
                            });
                        }
                        Some("timeout")
                    }
                }
            }
            Err(_) => {
                controller.abort();
                Some("read error")
            }
        };
    }
    Outcome::Answered(answer)
}

/// Keeps the body's first bytes in `answer`, then cancels what is left of it.
async fn read_and_release(reader: &BodyReader, answer: &mut Answer) -> Result<(), JsValue> {
    let read = read_head(reader, answer).await;
    if !matches!(read, Ok(true)) {
        if let Ok(cancelled) = reader.cancel() {
            let _ = JsFuture::from(cancelled).await;
        }
    }
    read.map(drop)
}

/// Reads until the body ends (true) or `answer` holds all it keeps (false).
async fn read_head(reader: &BodyReader, answer: &mut Answer) -> Result<bool, JsValue> {
    let done = JsValue::from_str("done");
    let value = JsValue::from_str("value");
    loop {
        let chunk = JsFuture::from(reader.read()?).await?;
        if js_sys::Reflect::get(&chunk, &done)?.is_truthy() {
            return Ok(true);
        }
        let bytes: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &value)?.dyn_into()?;
        // Only the part that is kept is copied out of JS.
        let take = u32::try_from(answer.body_room()).unwrap_or(u32::MAX);
        if answer.keep(&bytes.subarray(0, take.min(bytes.length())).to_vec()) {
            return Ok(false);
        }
    }
}

/// The response headers as (name, value), skipping anything that is not a pair of strings.
fn header_list(headers: &Headers) -> Vec<(String, String)> {
    let Ok(Some(entries)) = js_sys::try_iter(headers.as_ref()) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pair: js_sys::Array = entry.ok()?.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}
