//! `POST /admin/api/test`: a realistic event of each type LeadNest sends, fresh
//! each time (LeadNest's "Send Test" button, from the edge itself). The samples
//! are the fixtures `npm run send` posts.

use serde_json::Value;

use crate::event_log::time::rfc3339;

/// The events of SPEC section 1.
pub const SAMPLE_EVENTS: [&str; 18] = [
    "email.bounced",
    "email.clicked",
    "email.delivered",
    "email.opened",
    "email.sent",
    "email.spam",
    "email.unsubscribed",
    "sms.delivered",
    "sms.failed",
    "sms.replied",
    "sms.sent",
    "subscriber.created",
    "subscriber.deleted",
    "subscriber.updated",
    "whatsapp.delivered",
    "whatsapp.read",
    "whatsapp.replied",
    "whatsapp.sent",
];

const FIXTURES: [(&str, &str); 18] = [
    (
        "email.bounced",
        include_str!("../../fixtures/events/email.bounced.json"),
    ),
    (
        "email.clicked",
        include_str!("../../fixtures/events/email.clicked.json"),
    ),
    (
        "email.delivered",
        include_str!("../../fixtures/events/email.delivered.json"),
    ),
    (
        "email.opened",
        include_str!("../../fixtures/events/email.opened.json"),
    ),
    (
        "email.sent",
        include_str!("../../fixtures/events/email.sent.json"),
    ),
    (
        "email.spam",
        include_str!("../../fixtures/events/email.spam.json"),
    ),
    (
        "email.unsubscribed",
        include_str!("../../fixtures/events/email.unsubscribed.json"),
    ),
    (
        "sms.delivered",
        include_str!("../../fixtures/events/sms.delivered.json"),
    ),
    (
        "sms.failed",
        include_str!("../../fixtures/events/sms.failed.json"),
    ),
    (
        "sms.replied",
        include_str!("../../fixtures/events/sms.replied.json"),
    ),
    (
        "sms.sent",
        include_str!("../../fixtures/events/sms.sent.json"),
    ),
    (
        "subscriber.created",
        include_str!("../../fixtures/events/subscriber.created.json"),
    ),
    (
        "subscriber.deleted",
        include_str!("../../fixtures/events/subscriber.deleted.json"),
    ),
    (
        "subscriber.updated",
        include_str!("../../fixtures/events/subscriber.updated.json"),
    ),
    (
        "whatsapp.delivered",
        include_str!("../../fixtures/events/whatsapp.delivered.json"),
    ),
    (
        "whatsapp.read",
        include_str!("../../fixtures/events/whatsapp.read.json"),
    ),
    (
        "whatsapp.replied",
        include_str!("../../fixtures/events/whatsapp.replied.json"),
    ),
    (
        "whatsapp.sent",
        include_str!("../../fixtures/events/whatsapp.sent.json"),
    ),
];

/// The sample of `event` stamped `now_ms`, with the message id `msg_test_<nonce>`
/// so that each test is a new event; `None` for an event with no sample.
pub fn sample(event: &str, now_ms: i64, nonce: &str) -> Option<String> {
    let (_, text) = FIXTURES.iter().find(|(name, _)| *name == event)?;
    let mut value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object_mut()?;
    // LeadNest's timestamps carry whole seconds.
    let stamp = rfc3339(now_ms.div_euclid(1000) * 1000).replace(".000Z", "Z");
    object.insert("timestamp".into(), Value::String(stamp));
    if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
        data.insert(
            "message_id".into(),
            Value::String(format!("msg_test_{nonce}")),
        );
    }
    serde_json::to_string(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::is_event_name;

    #[test]
    fn every_event_has_a_fresh_sample() {
        for event in SAMPLE_EVENTS {
            assert!(is_event_name(event));
            let body = sample(event, 1_764_680_400_500, "abc").unwrap();
            let value: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(value["event"], event);
            assert_eq!(value["timestamp"], "2025-12-02T13:00:00Z");
            assert_eq!(value["data"]["message_id"], "msg_test_abc");
        }
        assert_eq!(sample("email.exploded", 0, "abc"), None);
    }
}
