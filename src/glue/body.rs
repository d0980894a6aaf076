//! Reading a request body with a size cap (SPEC step 1), and letting go of a
//! body the worker will not use.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys::{ReadableStreamDefaultReader, Request};

use crate::ingress::Unread;

/// The most a drain reads before it cancels: an endless body must not keep a
/// worker reading, even under `wrangler dev`.
pub(crate) const DRAIN_LIMIT: usize = 16 << 20;

/// What reading the body gave.
pub(crate) enum Body {
    /// Left in JS memory: it is copied into wasm only once its signature matched.
    Read(Uint8Array),
    /// Larger than the cap; reading stopped (see [`Unread`]).
    TooLarge,
    /// The client went away or the stream broke.
    Broken,
}

/// Reads at most `cap` bytes; past it, stops as `unused` says.
/// `length_declared`: the request has a `Content-Length`, already checked
/// against `cap`.
pub(crate) async fn read_capped(
    req: &Request,
    cap: usize,
    length_declared: bool,
    unused: Unread,
) -> Body {
    // A declared length bounds the read (the runtime frames the body by it),
    // so one read is safe and the fastest path.
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
    let mut seen = 0usize;
    loop {
        let chunk = match next_chunk(&reader).await {
            Chunk::Bytes(chunk) => chunk,
            Chunk::End => break,
            // Already too large: a broken rest changes nothing.
            Chunk::Broken if seen > cap => return Body::TooLarge,
            Chunk::Broken => return Body::Broken,
        };
        seen = seen.saturating_add(chunk.length() as usize);
        if seen > cap {
            body = Vec::new();
            if unused == Unread::Cancel || seen > DRAIN_LIMIT {
                settle(reader.cancel()).await;
                return Body::TooLarge;
            }
        } else {
            let start = body.len();
            body.resize(start + chunk.length() as usize, 0);
            chunk.copy_to(&mut body[start..]);
        }
    }
    if seen > cap {
        Body::TooLarge
    } else {
        Body::Read(Uint8Array::from(&body[..]))
    }
}

/// Lets go of a body the worker will not read, as `unused` says.
pub(crate) async fn discard(req: &Request, unused: Unread) {
    match unused {
        Unread::Cancel => {
            if let Some(stream) = req.body() {
                settle(stream.cancel()).await;
            }
        }
        Unread::Drain => {
            let _ = read_capped(req, 0, false, Unread::Drain).await;
        }
    }
}

enum Chunk {
    Bytes(Uint8Array),
    End,
    Broken,
}

async fn next_chunk(reader: &ReadableStreamDefaultReader) -> Chunk {
    let Ok(chunk) = JsFuture::from(reader.read()).await else {
        return Chunk::Broken;
    };
    if Reflect::get(&chunk, &JsValue::from_str("done"))
        .ok()
        .and_then(|done| done.as_bool())
        .unwrap_or(true)
    {
        return Chunk::End;
    }
    Reflect::get(&chunk, &JsValue::from_str("value"))
        .ok()
        .and_then(|value| value.dyn_into::<Uint8Array>().ok())
        .map_or(Chunk::Broken, Chunk::Bytes)
}

/// Awaits a cancellation: a rejection left unawaited would be printed by the
/// runtime as a line that is not one of ours.
async fn settle(cancelled: Promise) {
    let _ = JsFuture::from(cancelled).await;
}
