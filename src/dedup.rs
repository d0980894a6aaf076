//! The dedup key of an event (SPEC step 6) and the store that remembers keys.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

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

/// Keys this isolate recorded itself, each until its TTL ends, so that a
/// redelivery reaching the same isolate is answered without reading the store
/// (a KV read is billed and costs a round trip). Bounded: past `capacity` the
/// oldest are forgotten, and a forgotten key is only looked up in the store again.
#[derive(Debug, Default)]
pub struct RecentKeys {
    capacity: usize,
    expiry: HashMap<String, u64>,
    order: VecDeque<String>,
}

impl RecentKeys {
    /// Remembers at most `capacity` keys; 0 remembers none.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// Whether `key` was recorded here and its TTL has not ended at `now`
    /// (seconds since the epoch).
    pub fn contains(&self, key: &DedupKey, now: u64) -> bool {
        self.expiry
            .get(key.as_str())
            .is_some_and(|&expires| now < expires)
    }

    /// Remembers `key` until `expires` (seconds since the epoch).
    pub fn insert(&mut self, key: &DedupKey, expires: u64) {
        if self.capacity == 0 {
            return;
        }
        if let Some(known) = self.expiry.get_mut(key.as_str()) {
            *known = expires;
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.expiry.remove(&oldest);
            }
        }
        self.expiry.insert(key.0.clone(), expires);
        self.order.push_back(key.0.clone());
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// A store with the isolate's [`RecentKeys`] in front: a key recorded here is
/// a duplicate without a store read. Only keys this isolate recorded are kept,
/// never a claim another request holds, so a hand-off that fails elsewhere
/// cannot make its retry look like a duplicate.
pub struct Remembering<'a, S> {
    pub store: &'a S,
    pub recent: &'a RefCell<RecentKeys>,
    /// Seconds since the epoch.
    pub now: u64,
}

impl<S: DedupStore> DedupStore for Remembering<'_, S> {
    type Error = S::Error;

    async fn claim(&self, key: &DedupKey) -> Result<Claim, S::Error> {
        if self.recent.borrow().contains(key, self.now) {
            return Ok(Claim::Duplicate);
        }
        self.store.claim(key).await
    }

    async fn record(&self, key: &DedupKey, event: &str, ttl_seconds: u64) -> Result<(), S::Error> {
        self.store.record(key, event, ttl_seconds).await?;
        self.recent
            .borrow_mut()
            .insert(key, self.now.saturating_add(ttl_seconds));
        Ok(())
    }

    async fn release(&self, key: &DedupKey) -> Result<(), S::Error> {
        self.store.release(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::parse;
    use crate::signature::{sign, Secrets};
    use futures_util::FutureExt;
    use std::cell::Cell;

    fn raw(name: &str) -> DedupKey {
        DedupKey(name.to_string())
    }

    #[test]
    fn recent_keys_expire_and_stay_bounded() {
        let mut recent = RecentKeys::new(2);
        recent.insert(&raw("a"), 100);
        assert!(recent.contains(&raw("a"), 99));
        assert!(!recent.contains(&raw("a"), 100));
        assert!(!recent.contains(&raw("b"), 0));
        recent.insert(&raw("b"), 100);
        recent.insert(&raw("a"), 200); // known: its expiry moves, nothing is evicted
        assert_eq!(recent.len(), 2);
        assert!(recent.contains(&raw("a"), 150));
        recent.insert(&raw("c"), 100); // full: the oldest goes
        assert_eq!(recent.len(), 2);
        assert!(!recent.contains(&raw("a"), 0));
        assert!(recent.contains(&raw("b"), 0) && recent.contains(&raw("c"), 0));
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let mut recent = RecentKeys::new(0);
        recent.insert(&raw("a"), 100);
        assert!(recent.is_empty());
        assert!(!recent.contains(&raw("a"), 0));
    }

    /// A store that counts its reads and fails what it is told to.
    #[derive(Default)]
    struct Counting {
        claims: Cell<u32>,
        fail_record: bool,
    }

    impl DedupStore for Counting {
        type Error = String;
        async fn claim(&self, _key: &DedupKey) -> Result<Claim, String> {
            self.claims.set(self.claims.get() + 1);
            Ok(Claim::New)
        }
        async fn record(&self, _key: &DedupKey, _event: &str, _ttl: u64) -> Result<(), String> {
            if self.fail_record {
                Err("write failed".into())
            } else {
                Ok(())
            }
        }
        async fn release(&self, _key: &DedupKey) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn a_key_recorded_here_is_a_duplicate_without_a_store_read() {
        let store = Counting::default();
        let recent = RefCell::new(RecentKeys::new(8));
        let at = |now| Remembering {
            store: &store,
            recent: &recent,
            now,
        };
        let k = raw("m1:abc");
        assert_eq!(at(1_000).claim(&k).now_or_never().unwrap(), Ok(Claim::New));
        at(1_000)
            .record(&k, "email.sent", 60)
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(
            at(1_059).claim(&k).now_or_never().unwrap(),
            Ok(Claim::Duplicate)
        );
        assert_eq!(store.claims.get(), 1);
        // Past the TTL the store decides again.
        assert_eq!(at(1_060).claim(&k).now_or_never().unwrap(), Ok(Claim::New));
        assert_eq!(store.claims.get(), 2);
    }

    #[test]
    fn a_failed_record_or_a_release_is_not_remembered() {
        let store = Counting {
            fail_record: true,
            ..Counting::default()
        };
        let recent = RefCell::new(RecentKeys::new(8));
        let remembering = Remembering {
            store: &store,
            recent: &recent,
            now: 0,
        };
        let k = raw("m1:abc");
        assert!(remembering
            .record(&k, "sms.failed", 60)
            .now_or_never()
            .unwrap()
            .is_err());
        remembering.release(&k).now_or_never().unwrap().unwrap();
        assert!(recent.borrow().is_empty());
        assert_eq!(
            remembering.claim(&k).now_or_never().unwrap(),
            Ok(Claim::New)
        );
    }

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
