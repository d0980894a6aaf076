//! The dedup key of an event (SPEC step 6) and the store that remembers keys.

use sha2::{Digest, Sha256};

use crate::payload::Envelope;
use crate::signature::VerifiedBody;

/// Identifies one event across LeadNest's redeliveries. Fixed-length, so it fits
/// a KV key whatever the sender put in `message_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupKey(String);

impl DedupKey {
    /// The key for a verified event: the triple (event, message_id, timestamp) when
    /// `data.message_id` is a non-empty string, so that two events of one message
    /// differ; otherwise the SHA-256 of the raw body.
    pub fn of(envelope: &Envelope, body: VerifiedBody<'_>) -> Self {
        match &envelope.message_id {
            Some(message_id) => {
                let mut hash = Sha256::new();
                // Length prefixes keep ("a", "bc") and ("ab", "c") apart.
                for part in [&envelope.event, message_id, &envelope.timestamp] {
                    hash.update((part.len() as u64).to_be_bytes());
                    hash.update(part.as_bytes());
                }
                Self(format!("m1:{}", hex::encode(hash.finalize())))
            }
            None => Self(format!("b1:{}", hex::encode(Sha256::digest(body.bytes())))),
        }
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Standard Webhooks `webhook-id` of this event: derived from the key, so
    /// it is the same on every attempt, every route and every redelivery.
    pub fn webhook_id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"webhook-id\0")
            .chain_update(self.0.as_bytes())
            .finalize();
        let short = digest.get(..16).unwrap_or_default();
        format!("msg_{}", hex::encode(short))
    }
}

/// What a store says of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not seen: this request handles the event.
    New,
    /// Recorded, or being handled by another request right now.
    Duplicate,
}

/// A store of dedup keys: KV by default, a Durable Object in the strict mode.
// Workers run one thread per isolate, so the futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait DedupStore {
    /// The store's error.
    type Error: std::fmt::Display;
    /// Whether `key` is new. A store that can also reserves it for this request,
    /// atomically, until [`record`](Self::record) or [`release`](Self::release).
    async fn claim(&self, key: &DedupKey) -> Result<Claim, Self::Error>;
    /// Records `key` for `ttl_seconds`, after the event has been handed off.
    async fn record(
        &self,
        key: &DedupKey,
        event: &str,
        ttl_seconds: u64,
    ) -> Result<(), Self::Error>;
    /// Gives up a claim after a failed hand-off, so LeadNest's retry is handled.
    async fn release(&self, key: &DedupKey) -> Result<(), Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::parse;
    use crate::signature::{sign, Secrets};

    fn key(body: &str) -> DedupKey {
        let secrets = Secrets::parse("k").unwrap();
        let signature = sign(b"k", body.as_bytes());
        let verified = secrets.verify(Some(&signature), body.as_bytes()).unwrap();
        DedupKey::of(&parse(verified).unwrap(), verified)
    }

    const OPENED: &str = r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc123"}}"#;

    #[test]
    fn known_key() {
        // sha256 over be64(12)"email.opened" be64(10)"msg_abc123" be64(20)"2024-01-15T10:30:00Z"
        let mut expected = Vec::new();
        for part in ["email.opened", "msg_abc123", "2024-01-15T10:30:00Z"] {
            expected.extend_from_slice(&(part.len() as u64).to_be_bytes());
            expected.extend_from_slice(part.as_bytes());
        }
        assert_eq!(
            key(OPENED).as_str(),
            format!("m1:{}", hex::encode(Sha256::digest(&expected)))
        );
        assert_eq!(key(OPENED).as_str().len(), 3 + 64);
    }

    #[test]
    fn redelivery_with_other_formatting_is_the_same_event() {
        let reformatted = r#"{ "data": {"message_id": "msg_abc123", "extra": 1},
            "timestamp": "2024-01-15T10:30:00Z", "event": "email.opened" }"#;
        assert_eq!(key(OPENED), key(reformatted));
    }

    #[test]
    fn each_part_of_the_triple_counts() {
        let others = [
            r#"{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc123"}}"#,
            r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:01Z","data":{"message_id":"msg_abc123"}}"#,
            r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc124"}}"#,
        ];
        for other in others {
            assert_ne!(key(OPENED), key(other), "{other}");
        }
    }

    #[test]
    fn without_message_id_the_body_hash() {
        let body = r#"{"event":"subscriber.created","timestamp":"2024-01-15T10:30:00Z","data":{"subscriber_id":"sub_1"}}"#;
        assert_eq!(
            key(body).as_str(),
            format!("b1:{}", hex::encode(Sha256::digest(body.as_bytes())))
        );
        let other = body.replace("sub_1", "sub_2");
        assert_ne!(key(body), key(&other));
    }

    #[test]
    fn webhook_id_is_stable_and_distinct() {
        let id = key(OPENED).webhook_id();
        assert!(id.starts_with("msg_") && id.len() == 4 + 32, "{id}");
        assert_eq!(id, key(OPENED).webhook_id());
        let sent = OPENED.replace("email.opened", "email.sent");
        assert_ne!(id, key(&sent).webhook_id());
    }
}
