//! Standard Webhooks signing: `SigningKey::from_whsec` on any secret, then `sign`
//! with any webhook-id, timestamp and body.
//! Input: timestamp (i64 LE), then `secret\nwebhook-id\nbody`.
#![no_main]

use arbitrary::Unstructured;
use leadnest_edge::standard_webhooks::SigningKey;
use leadnest_edge_fuzz::{next_line, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let timestamp: i64 = u.arbitrary().unwrap_or_default();
    let rest = u.take_rest();
    let (secret, rest) = next_line(rest).unwrap_or((rest, &[]));
    let (id, body) = next_line(rest).unwrap_or((rest, &[]));

    let Ok(key) = SigningKey::from_whsec(&text(secret)) else {
        return;
    };
    let id = text(id);
    let signature = key.sign(&id, timestamp, body);
    // "v1," and the base64 of a 32-byte MAC, the same every time.
    assert_eq!(signature.len(), 3 + 44, "{signature}");
    assert!(signature.starts_with("v1,"));
    assert_eq!(key.sign(&id, timestamp, body), signature);
});
