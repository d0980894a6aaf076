//! Reading a request body with a size cap (SPEC step 1).

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys::{ReadableStreamDefaultReader, Request};

/// What reading the body gave.
pub(crate) enum Body {
    /// Left in JS memory: it is copied into wasm only once its signature matched.
    Read(Uint8Array),
    /// Larger than the cap; the rest was read and dropped.
    TooLarge,
    /// The client went away or the stream broke.
    Broken,
}

/// Reads at most `cap` bytes and keeps reading past it without keeping them:
/// answering before a body is read to its end can break the next request
/// through `wrangler dev`'s proxy. `length_declared`: the request has a
/// `Content-Length`, already checked against `cap`.
pub(crate) async fn read_capped(req: &Request, cap: usize, length_declared: bool) -> Body {
    // A declared length bounds the read, so one read is safe and the fastest path.
    if length_declared {
        let Ok(promise) = req.array_buffer() else {
            return Body::Broken;
        };
        return match JsFuture::from(promise).await {
            Ok(buffer) => {
                let bytes = Uint8Array::new(&buffer);
                if bytes.length() as usize > cap {
                    Body::TooLarge
                } else {
                    Body::Read(bytes)
                }
            }
            Err(_) => Body::Broken,
        };
    }
    let Some(stream) = req.body() else {
        return Body::Read(Uint8Array::new_with_length(0));
    };
    let Ok(reader) = stream
        .get_reader()
        .dyn_into::<ReadableStreamDefaultReader>()
    else {
        return Body::Broken;
    };
    let mut body = Vec::new();
    let mut too_large = false;
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            return Body::Broken;
        };
        if Reflect::get(&chunk, &JsValue::from_str("done"))
            .ok()
            .and_then(|done| done.as_bool())
            .unwrap_or(true)
        {
            break;
        }
        let Some(chunk) = Reflect::get(&chunk, &JsValue::from_str("value"))
            .ok()
            .and_then(|value| value.dyn_into::<Uint8Array>().ok())
        else {
            return Body::Broken;
        };
        let length = chunk.length() as usize;
        if too_large || body.len() + length > cap {
            too_large = true;
            body = Vec::new();
        } else {
            let start = body.len();
            body.resize(start + length, 0);
            chunk.copy_to(&mut body[start..]);
        }
    }
    if too_large {
        Body::TooLarge
    } else {
        Body::Read(Uint8Array::from(&body[..]))
    }
}

/// Reads and drops whatever body there is.
pub(crate) async fn drain(req: &Request) {
    let _ = read_capped(req, 0, false).await;
}
