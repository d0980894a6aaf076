//! The event envelope and the timestamp window: any bytes are signed with
//! `signature::sign`, verified, parsed with `payload::parse`, then checked with
//! `payload::check_freshness` against an arbitrary clock and tolerance.
//! Input: offset (i64 LE), tolerance (u64 LE), then the body. `now` is tried both
//! as the offset itself and as the event's own time plus the offset, so the
//! window's edges are reached.
#![no_main]

use arbitrary::Unstructured;
use leadnest_edge::error::Rejection;
use leadnest_edge::ingress::{accepted_body, duplicate_body};
use leadnest_edge::payload::{check_freshness, is_event_name, parse};
use leadnest_edge::signature::{sign, Secrets};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "leadnest_dev_secret";

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let offset: i64 = u.arbitrary().unwrap_or_default();
    let tolerance: u64 = u.arbitrary().unwrap_or_default();
    let body = u.take_rest();

    check_window(0, offset, tolerance);

    let secrets = Secrets::parse(SECRET).expect("a valid secret");
    let signature = sign(SECRET.as_bytes(), body);
    let verified = secrets
        .verify(Some(&signature), body)
        .expect("its own signature verifies");

    match parse(verified) {
        Ok(envelope) => {
            assert!(is_event_name(&envelope.event));
            assert!(envelope.message_id.as_deref() != Some(""));
            check_window(envelope.unix_seconds, offset, tolerance);
            check_window(
                envelope.unix_seconds,
                envelope.unix_seconds.saturating_add(offset),
                tolerance,
            );
            assert_json(&accepted_body(&envelope, &["crm"]));
            assert_json(&duplicate_body(&envelope));
        }
        Err(rejection) => {
            assert!(matches!(rejection, Rejection::InvalidPayload(_)));
            assert_json(&rejection.body());
        }
    }
});

/// `check_freshness` agrees with the distance computed without overflow.
fn check_window(unix_seconds: i64, now: i64, tolerance: u64) {
    let distance = (i128::from(now) - i128::from(unix_seconds)).unsigned_abs();
    match check_freshness(unix_seconds, now, tolerance) {
        Ok(()) => assert!(distance <= u128::from(tolerance)),
        Err(rejection) => {
            assert!(distance > u128::from(tolerance));
            assert_eq!(rejection.status(), 401);
            assert_json(&rejection.body());
        }
    }
}

fn assert_json(text: &str) {
    assert!(
        serde_json::from_str::<serde_json::Value>(text).is_ok(),
        "{text}"
    );
}
