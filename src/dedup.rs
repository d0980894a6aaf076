//! The dedup key of an event (SPEC step 6) and the store that remembers keys.

use std::collections::HashMap;

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

    /// The first 16 bytes of the key's digest: what an isolate keeps in memory.
    pub fn fingerprint(&self) -> [u8; 16] {
        let mut fingerprint = [0; 16];
        let hex_digits = self.0.get(3..35).unwrap_or_default();
        if hex::decode_to_slice(hex_digits, &mut fingerprint).is_err() {
            // Not a key made by `of` (tests): its own digest.
            let digest = Sha256::digest(self.0.as_bytes());
            fingerprint.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        }
        fingerprint
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

/// What the dedup store says of a key: KV, or a Durable Object in the strict mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not seen: this request handles the event.
    New,
    /// Recorded: the event was handed off.
    Duplicate,
    /// Another request is handing the event off right now: ask again shortly.
    /// Only a store that claims atomically says so.
    Busy,
}

/// Keys this isolate recorded itself, each until its TTL ends, so that a
/// redelivery reaching the same isolate is answered without reading the store
/// (a KV read is billed and costs a round trip). Each key is held once, as a
/// 16-byte digest with a 4-byte expiry: about 21 bytes a slot with the table's
/// control byte, 24–48 bytes a key as the table's load varies (measured by
/// `memory_per_key_is_bounded`). Bounded: past `capacity` the expired keys go,
/// then the oldest; a forgotten key is only looked up in the store again.
#[derive(Debug, Default)]
pub struct RecentKeys {
    capacity: usize,
    expiry: HashMap<[u8; 16], u32>,
    /// When expired keys are next purged (seconds since the epoch).
    next_purge: u64,
}

/// How often expired keys are purged, so the table does not stay full of them.
const PURGE_EVERY_SECONDS: u64 = 60;

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
            .get(&key.fingerprint())
            .is_some_and(|&expires| now < u64::from(expires))
    }

    /// Remembers `key` until `expires`; `now` and `expires` are seconds since the epoch.
    pub fn insert(&mut self, key: &DedupKey, now: u64, expires: u64) {
        if self.capacity == 0 {
            return;
        }
        if now >= self.next_purge {
            self.purge_expired(now);
        }
        let fingerprint = key.fingerprint();
        if !self.expiry.contains_key(&fingerprint) && self.expiry.len() >= self.capacity {
            self.purge_expired(now);
            if self.expiry.len() >= self.capacity {
                self.forget_oldest();
            }
        }
        // Expiries until 2106 fit; a later one is kept as the latest that fits.
        let expires = u32::try_from(expires).unwrap_or(u32::MAX);
        self.expiry.insert(fingerprint, expires);
    }

    fn purge_expired(&mut self, now: u64) {
        self.expiry.retain(|_, expires| now < u64::from(*expires));
        self.next_purge = now.saturating_add(PURGE_EVERY_SECONDS);
    }

    /// Forgets the eighth of the keys that expire first: with one TTL for
    /// all, the oldest. Amortized over the inserts that refill it.
    fn forget_oldest(&mut self) {
        let mut expiries: Vec<u32> = self.expiry.values().copied().collect();
        if expiries.is_empty() {
            return;
        }
        let at = expiries.len() / 8;
        crate::merge_sort::sort(&mut expiries);
        let Some(&cutoff) = expiries.get(at) else {
            return;
        };
        self.expiry.retain(|_, expires| *expires > cutoff);
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.expiry.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.expiry.is_empty()
    }

    /// The bytes the table holds: its slots (digest, expiry and a control byte).
    pub fn heap_bytes(&self) -> usize {
        // hashbrown keeps capacity at 7/8 of its slots.
        let slots = self.expiry.capacity().saturating_mul(8) / 7;
        slots * (std::mem::size_of::<([u8; 16], u32)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::parse;
    use crate::signature::{sign, Secrets};

    fn raw(name: &str) -> DedupKey {
        DedupKey(name.to_string())
    }

    #[test]
    fn recent_keys_expire_and_stay_bounded() {
        let mut recent = RecentKeys::new(2);
        recent.insert(&raw("a"), 0, 100);
        assert!(recent.contains(&raw("a"), 99));
        assert!(!recent.contains(&raw("a"), 100));
        assert!(!recent.contains(&raw("b"), 0));
        recent.insert(&raw("b"), 0, 101);
        recent.insert(&raw("a"), 0, 200); // known: its expiry moves, nothing is forgotten
        assert_eq!(recent.len(), 2);
        assert!(recent.contains(&raw("a"), 150));
        recent.insert(&raw("c"), 0, 300); // full: the one expiring first goes
        assert_eq!(recent.len(), 2);
        assert!(!recent.contains(&raw("b"), 0));
        assert!(recent.contains(&raw("a"), 0) && recent.contains(&raw("c"), 0));
    }

    #[test]
    fn expired_keys_are_purged_not_kept_until_full() {
        let mut recent = RecentKeys::new(1_000);
        for i in 0..100 {
            recent.insert(&raw(&format!("old{i}")), 0, 60);
        }
        assert_eq!(recent.len(), 100);
        // A minute on, the next insert purges what expired.
        recent.insert(&raw("new"), 60, 120);
        assert_eq!(recent.len(), 1);
        // Full of live keys: an eighth, the oldest, makes room.
        let mut full = RecentKeys::new(64);
        for i in 0..64u64 {
            full.insert(&raw(&format!("k{i}")), 0, 1_000 + i);
        }
        full.insert(&raw("one more"), 0, 2_000);
        assert!(full.len() <= 64 - 8 + 1, "{}", full.len());
        assert!(!full.contains(&raw("k0"), 0) && full.contains(&raw("k63"), 0));
    }

    #[test]
    fn memory_per_key_is_bounded() {
        // The largest DEDUP_MEMORY_KEYS, full: measured from the table's slots.
        let keys = crate::config::MAX_DEDUP_MEMORY_KEYS;
        let mut recent = RecentKeys::new(keys);
        for i in 0..keys {
            let key = DedupKey(format!(
                "m1:{}",
                hex::encode(Sha256::digest(i.to_le_bytes()))
            ));
            recent.insert(&key, 0, 86_400);
        }
        assert_eq!(recent.len(), keys);
        let per_key = recent.heap_bytes() as f64 / keys as f64;
        println!(
            "{keys} keys: {} bytes, {per_key:.1} per key",
            recent.heap_bytes()
        );
        assert!(per_key <= 48.0, "{per_key} bytes per key");
        // Far inside an isolate's 128 MB.
        assert!(recent.heap_bytes() <= 12 << 20);
    }

    #[test]
    fn fingerprint_is_the_digest_head() {
        let k = key(OPENED);
        let hex_head = &k.as_str()[3..35];
        assert_eq!(hex::encode(k.fingerprint()), hex_head);
        assert_ne!(raw("a").fingerprint(), raw("b").fingerprint());
    }

    #[test]
    fn zero_capacity_remembers_nothing() {
        let mut recent = RecentKeys::new(0);
        recent.insert(&raw("a"), 0, 100);
        assert!(recent.is_empty());
        assert!(!recent.contains(&raw("a"), 0));
    }

    fn key(body: &str) -> DedupKey {
        let secrets = Secrets::parse("k").unwrap();
        let signature = sign(b"k", body.as_bytes());
        let verified = secrets.verify(Some(&signature), body.as_bytes()).unwrap();
        DedupKey::of(&parse(verified).unwrap(), verified)
    }

    const OPENED: &str = r#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc123"}}"#;

    /// A case of fixtures/vectors/dedup.json: its expected values were computed
    /// apart from this crate (see the file's description).
    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        body: String,
        dedup_key: String,
        webhook_id: String,
    }

    #[derive(serde::Deserialize)]
    struct Vectors {
        cases: Vec<Vector>,
    }

    /// The vector the JS baseline is held to as well (tests/node/vectors.test.mjs):
    /// a change to either side's key or webhook-id fails one of the two.
    #[test]
    fn dedup_vectors() {
        let vectors: Vectors =
            serde_json::from_str(include_str!("../fixtures/vectors/dedup.json")).unwrap();
        for kind in ["m1:", "b1:"] {
            assert!(
                vectors
                    .cases
                    .iter()
                    .any(|case| case.dedup_key.starts_with(kind)),
                "no {kind} case"
            );
        }
        let wrong: Vec<String> = vectors
            .cases
            .iter()
            .filter_map(|case| {
                let key = key(&case.body);
                let found = (key.as_str(), key.webhook_id());
                let expected = (case.dedup_key.as_str(), case.webhook_id.clone());
                (found != expected)
                    .then(|| format!("{}: {found:?}, expected {expected:?}", case.name))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

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
