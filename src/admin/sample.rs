//! `POST /admin/api/test`: a realistic event of each type LeadNest sends, fresh
//! each time (LeadNest's "Send Test" button, from the edge itself). The samples
//! are the fixtures `npm run send` posts.

use serde_json::Value;

use crate::event_log::time::rfc3339;
use crate::json_writer::value_text;

/// The events of SPEC section 1, each with its sample: the files of
/// `fixtures/events/`, the one list the tools, the admin API and the console
/// use (the tools read the folder; a test checks this list against it).
macro_rules! fixtures {
    ($($event:literal),* $(,)?) => {
        const FIXTURES: &[(&str, &str)] = &[
            $(($event, include_str!(concat!("../../fixtures/events/", $event, ".json")))),*
        ];
    };
}

fixtures![
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

/// The events there is a sample of, in order.
pub fn sample_events() -> impl Iterator<Item = &'static str> {
    FIXTURES.iter().map(|(event, _)| *event)
}

/// The sample of `event` at `now_ms`, as the tools build it too
/// (`tools/lib/leadnest.mjs`, checked against `fixtures/vectors/samples.json`):
/// its `timestamp` and every `data.*_at` the second it is, and its
/// `data.message_id`, when the event carries one, `message_id`. A subscriber
/// event carries none: LeadNest's are deduplicated by their body. `None` for an
/// event with no sample.
pub fn sample(event: &str, now_ms: i64, message_id: &str) -> Option<String> {
    let (_, text) = FIXTURES.iter().find(|(name, _)| *name == event)?;
    let mut value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object_mut()?;
    // LeadNest's timestamps carry whole seconds.
    let stamp = rfc3339(now_ms.div_euclid(1000) * 1000).replace(".000Z", "Z");
    object.insert("timestamp".into(), Value::String(stamp.clone()));
    if let Some(data) = object.get_mut("data").and_then(Value::as_object_mut) {
        for (key, value) in data.iter_mut() {
            if key.ends_with("_at") {
                *value = Value::String(stamp.clone());
            } else if key == "message_id" {
                *value = Value::String(message_id.to_string());
            }
        }
    }
    // The fixtures hold text and whole numbers only (a test says so).
    Some(value_text(&value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::is_event_name;

    #[test]
    fn every_event_has_a_fresh_sample() {
        for event in sample_events() {
            assert!(is_event_name(event));
            let body = sample(event, 1_764_680_400_500, "msg_test_abc").unwrap();
            let value: Value = serde_json::from_str(&body).unwrap();
            // Written as serde_json writes it: no float was lost.
            assert_eq!(body, serde_json::to_string(&value).unwrap(), "{event}");
            assert_eq!(value["event"], event);
            assert_eq!(value["timestamp"], "2025-12-02T13:00:00Z");
            let has_id = !event.starts_with("subscriber.");
            assert_eq!(value["data"].get("message_id").is_some(), has_id, "{event}");
            if has_id {
                assert_eq!(value["data"]["message_id"], "msg_test_abc");
            }
        }
        assert_eq!(sample("email.exploded", 0, "msg_test_abc"), None);
    }

    #[test]
    fn the_list_is_the_fixtures_folder() {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let listed: Vec<String> = sample_events().map(|e| format!("{e}.json")).collect();
        assert_eq!(files, listed);
    }

    /// The rule the tools share: `fixtures/vectors/samples.json`.
    #[test]
    fn samples_match_the_shared_vectors() {
        let text = include_str!("../../fixtures/vectors/samples.json");
        let vectors: Vec<Value> = serde_json::from_str(text).unwrap();
        assert!(vectors.len() >= 3);
        for vector in vectors {
            let event = vector["event"].as_str().unwrap();
            let body = sample(
                event,
                vector["now_ms"].as_i64().unwrap(),
                vector["message_id"].as_str().unwrap(),
            )
            .unwrap();
            let built: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(built, vector["sample"], "{event}");
        }
    }
}
