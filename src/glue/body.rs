//! Reading a request body with a size cap (SPEC step 1).

use futures_util::StreamExt;
use worker::Request;

/// What reading the body gave.
pub(crate) enum Body {
    Read(Vec<u8>),
    /// Larger than the cap; the rest was read and dropped.
    TooLarge,
    /// The client went away or the stream broke.
    Broken,
}

/// Reads at most `cap` bytes and keeps reading past it without keeping them:
/// answering before a body is read to its end can break the next request
/// through `wrangler dev`'s proxy. `length_declared`: the request has a
/// `Content-Length`, already checked against `cap`.
pub(crate) async fn read_capped(req: &mut Request, cap: usize, length_declared: bool) -> Body {
    // A declared length bounds the read, so one read is safe and the fastest path.
    if length_declared {
        return match req.bytes().await {
            Ok(bytes) if bytes.len() > cap => Body::TooLarge,
            Ok(bytes) => Body::Read(bytes),
            Err(_) => Body::Broken,
        };
    }
    let Ok(mut stream) = req.stream() else {
        // No body at all.
        return Body::Read(Vec::new());
    };
    let mut body = Vec::new();
    let mut too_large = false;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Body::Broken;
        };
        if too_large || body.len() + chunk.len() > cap {
            too_large = true;
            body = Vec::new();
        } else {
            body.extend_from_slice(&chunk);
        }
    }
    if too_large {
        Body::TooLarge
    } else {
        Body::Read(body)
    }
}

/// Reads and drops whatever body there is.
pub(crate) async fn drain(req: &mut Request) {
    let _ = read_capped(req, 0, false).await;
}
