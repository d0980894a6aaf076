//! Queue messages: `delivery::Delivery::decode` on any bytes; what decodes must
//! survive `encode` unchanged and yield request headers, signed or not.
//! Input: a queue message (a JSON header line, `\n`, the body).
#![no_main]

use leadnest_edge::delivery::Delivery;
use leadnest_edge::standard_webhooks::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(delivery) = Delivery::decode(data) else {
        return;
    };
    let after_newline = data.splitn(2, |&b| b == b'\n').nth(1).unwrap_or_default();
    assert_eq!(delivery.body, after_newline);
    assert_eq!(Delivery::decode(&delivery.encode()).as_ref(), Ok(&delivery));

    assert_eq!(delivery.headers(None, 0).len(), 3);
    let key =
        SigningKey::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("a valid key");
    let signed = delivery.headers(Some(&key), 1_614_265_330);
    assert_eq!(signed.len(), 6);
});
