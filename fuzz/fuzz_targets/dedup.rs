//! Dedup keys: `DedupKey::of` and `webhook_id`, for the envelope `payload::parse`
//! reads from the body and for an arbitrary envelope built from the same bytes
//! (values `parse` never yields, such as an empty `message_id`).
//! Input: the body.
#![no_main]

use arbitrary::{Result, Unstructured};
use leadnest_edge::dedup::DedupKey;
use leadnest_edge::payload::{parse, Envelope};
use leadnest_edge::signature::{sign, Secrets, VerifiedBody};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "leadnest_dev_secret";

fuzz_target!(|data: &[u8]| {
    let secrets = Secrets::parse(SECRET).expect("a valid secret");
    let signature = sign(SECRET.as_bytes(), data);
    let verified = secrets
        .verify(Some(&signature), data)
        .expect("its own signature verifies");

    if let Ok(envelope) = parse(verified) {
        check(&envelope, verified);
    }
    if let Ok(envelope) = arbitrary_envelope(&mut Unstructured::new(data)) {
        check(&envelope, verified);
    }
});

fn arbitrary_envelope(u: &mut Unstructured<'_>) -> Result<Envelope> {
    Ok(Envelope {
        event: u.arbitrary()?,
        timestamp: u.arbitrary()?,
        unix_seconds: u.arbitrary()?,
        message_id: u.arbitrary()?,
    })
}

/// Fixed length and form (a KV key and a header value), and stable.
fn check(envelope: &Envelope, body: VerifiedBody<'_>) {
    let key = DedupKey::of(envelope, body);
    let (kind, digest) = key.as_str().split_at(3);
    let expected_kind = if envelope.message_id.is_some() {
        "m1:"
    } else {
        "b1:"
    };
    assert_eq!(kind, expected_kind);
    assert!(is_lower_hex(digest, 64), "{key:?}");
    assert_eq!(DedupKey::of(envelope, body), key);

    let id = key.webhook_id();
    assert!(
        id.strip_prefix("msg_").is_some_and(|h| is_lower_hex(h, 32)),
        "{id}"
    );
    assert_eq!(key.webhook_id(), id);
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
