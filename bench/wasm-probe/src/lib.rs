//! Exports that run one piece of the pure path `n` times on a body of `len`
//! bytes built inside wasm, so the JS side times only wasm work.

use leadnest_edge::dedup::DedupKey;
use leadnest_edge::payload::parse;
use leadnest_edge::signature::{sign, Secrets};

const SECRET: &str = "bench_webhook_secret";

fn body(len: usize) -> Vec<u8> {
    let head = r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_0123456789abcdef","note":""#;
    let tail = r#""}}"#;
    let pad = len.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
}

/// `Secrets::verify` `n` times; returns how many passed.
#[no_mangle]
pub extern "C" fn verify(len: usize, n: u32) -> u32 {
    let Some(secrets) = Secrets::parse(SECRET) else {
        return 0;
    };
    let body = body(len);
    let signature = sign(SECRET.as_bytes(), &body);
    (0..n)
        .map(|_| u32::from(secrets.verify(Some(&signature), &body).is_ok()))
        .sum()
}

/// verify + parse + dedup key `n` times; returns how many passed.
#[no_mangle]
pub extern "C" fn verify_parse_key(len: usize, n: u32) -> u32 {
    let Some(secrets) = Secrets::parse(SECRET) else {
        return 0;
    };
    let body = body(len);
    let signature = sign(SECRET.as_bytes(), &body);
    (0..n)
        .map(|_| {
            let Ok(verified) = secrets.verify(Some(&signature), &body) else {
                return 0;
            };
            let Ok(envelope) = parse(verified) else {
                return 0;
            };
            u32::from(!DedupKey::of(&envelope, verified).as_str().is_empty())
        })
        .sum()
}
