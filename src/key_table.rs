//! The strict-dedup key table (`DEDUP_MODE=durable`): what one Durable Object
//! shard decides for each request on a key, with the clock passed in. The
//! object itself only reads the key's row, calls [`apply`], and performs the
//! write it returns; native tests drive the same function over a map.
//!
//! A key is either *claimed* (a request is handing the event off; it holds the
//! claim with a token until it records or releases it, or its lease ends) or
//! *recorded* (handed off; a redelivery is a duplicate until the TTL ends).
//! A redelivery that finds a live claim of another request is told `Busy`:
//! it waits and asks again, and never answers `duplicate` for an event that
//! was not handed off.

use serde::de::{Deserialize, Deserializer, Error};
use serde::Serialize;
use serde_json::Value;

/// How long a claim holds without a record or release. The holder runs under
/// `waitUntil`, so a cut connection does not stop it; the lease only matters
/// when the holder's isolate died.
pub const CLAIM_LEASE_MS: i64 = 60_000;
/// Shortest time between two sweeps of expired keys in one shard.
pub const SWEEP_EVERY_MS: i64 = 600_000;

/// One request to a shard, sent as JSON: `{"op":"claim","key":…,"token":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TableRequest {
    /// Take the key for this request, unless it is recorded or held by another.
    Claim { key: String, token: String },
    /// The event was handed off: remember the key for `ttl_ms`.
    Record {
        key: String,
        token: String,
        ttl_ms: i64,
    },
    /// The hand-off failed: give the claim up so LeadNest's retry is handled.
    Release { key: String, token: String },
}

impl TableRequest {
    /// The key the request is about.
    pub fn key(&self) -> &str {
        match self {
            Self::Claim { key, .. } | Self::Record { key, .. } | Self::Release { key, .. } => key,
        }
    }
}

/// A shard's answer, sent as JSON (`{"answer":"claimed"}`). Anything else the
/// client receives is an error, never a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum TableAnswer {
    /// This request holds the key now.
    Claimed,
    /// The key is recorded: the event was handed off.
    Duplicate,
    /// Another request holds a live claim: ask again shortly.
    Busy,
    /// The key is recorded.
    Recorded,
    /// The claim is given up.
    Released,
    /// Nothing to release: the claim is not this request's (its lease ended and
    /// another took it over, or it was recorded).
    NotHeld,
}

// Read from a JSON value by hand, as serde's derive reads an internally tagged
// enum (unknown fields ignored): its derive buffers the fields in serde's
// `Content`, kilobytes of the bundle for two small messages.
impl<'de> Deserialize<'de> for TableRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
        let request = match (
            value.get("op").and_then(Value::as_str),
            text("key"),
            text("token"),
        ) {
            (Some("claim"), Some(key), Some(token)) => Some(Self::Claim { key, token }),
            (Some("record"), Some(key), Some(token)) => value
                .get("ttl_ms")
                .and_then(Value::as_i64)
                .map(|ttl_ms| Self::Record { key, token, ttl_ms }),
            (Some("release"), Some(key), Some(token)) => Some(Self::Release { key, token }),
            _ => None,
        };
        request.ok_or_else(|| D::Error::custom("not a table request"))
    }
}

impl<'de> Deserialize<'de> for TableAnswer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let answer = match value.get("answer").and_then(Value::as_str) {
            Some("claimed") => Some(Self::Claimed),
            Some("duplicate") => Some(Self::Duplicate),
            Some("busy") => Some(Self::Busy),
            Some("recorded") => Some(Self::Recorded),
            Some("released") => Some(Self::Released),
            Some("not_held") => Some(Self::NotHeld),
            _ => None,
        };
        answer.ok_or_else(|| D::Error::custom("not a table answer"))
    }
}

/// A key's stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The token of the request holding a claim; `None` once recorded.
    pub holder: Option<String>,
    /// Unix milliseconds after which the row means nothing.
    pub expires_ms: i64,
}

impl Row {
    fn live(&self, now_ms: i64) -> bool {
        now_ms < self.expires_ms
    }
}

/// What to store after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Nothing,
    Put(Row),
    Delete,
}

/// Decides a request on a key whose current row is `row`, at `now_ms`.
pub fn apply(request: &TableRequest, row: Option<&Row>, now_ms: i64) -> (TableAnswer, Write) {
    let live = row.filter(|row| row.live(now_ms));
    match request {
        TableRequest::Claim { token, .. } => match live {
            Some(Row { holder: None, .. }) => (TableAnswer::Duplicate, Write::Nothing),
            Some(Row {
                holder: Some(holder),
                ..
            }) if holder != token => (TableAnswer::Busy, Write::Nothing),
            // New, expired (its holder died: take over) or already ours.
            _ => (
                TableAnswer::Claimed,
                Write::Put(Row {
                    holder: Some(token.clone()),
                    expires_ms: now_ms.saturating_add(CLAIM_LEASE_MS),
                }),
            ),
        },
        // Recorded whoever holds the claim now: this request handed the event
        // off, so a redelivery is a duplicate whatever happened to the lease.
        TableRequest::Record { ttl_ms, .. } => {
            let until = now_ms.saturating_add(*ttl_ms);
            let expires_ms = match live {
                Some(Row {
                    holder: None,
                    expires_ms,
                }) => until.max(*expires_ms),
                _ => until,
            };
            (
                TableAnswer::Recorded,
                Write::Put(Row {
                    holder: None,
                    expires_ms,
                }),
            )
        }
        TableRequest::Release { token, .. } => match live {
            Some(Row {
                holder: Some(holder),
                ..
            }) if holder == token => (TableAnswer::Released, Write::Delete),
            _ => (TableAnswer::NotHeld, Write::Nothing),
        },
    }
}

/// How many Durable Objects share the keys: one per key exhausted local
/// workerd after about 5,000 objects.
pub const SHARDS: usize = 256;

/// The name of the Durable Object that holds `key`: keys end in the hex digits
/// of a hash, and the first two after the `m1:`/`b1:` prefix pick one of 256.
pub fn shard_of(key: &str) -> String {
    format!("dedup-{}", key.get(3..5).unwrap_or("00"))
}

/// After a write: when to set the sweep alarm, given the alarm already pending.
/// An alarm that is set is left alone, so a busy shard is still swept.
pub fn alarm_after_write(pending: Option<i64>, now_ms: i64) -> Option<i64> {
    match pending {
        Some(_) => None,
        None => Some(now_ms.saturating_add(SWEEP_EVERY_MS)),
    }
}

/// After a sweep: when to sweep again, given the earliest expiry of the rows
/// left. An empty shard sleeps until a write arms it again.
pub fn alarm_after_sweep(earliest_expiry: Option<i64>, now_ms: i64) -> Option<i64> {
    earliest_expiry.map(|expiry| expiry.max(now_ms.saturating_add(SWEEP_EVERY_MS)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const T0: i64 = 1_705_314_600_000;
    const TTL: i64 = 86_400_000;

    /// A shard over a map, driven exactly as the Durable Object drives SQL.
    #[derive(Default)]
    struct Shard(HashMap<String, Row>);

    impl Shard {
        fn ask(&mut self, request: TableRequest, now_ms: i64) -> TableAnswer {
            let (answer, write) = apply(&request, self.0.get(request.key()), now_ms);
            match write {
                Write::Nothing => {}
                Write::Put(row) => {
                    self.0.insert(request.key().to_string(), row);
                }
                Write::Delete => {
                    self.0.remove(request.key());
                }
            }
            answer
        }
    }

    fn claim(token: &str) -> TableRequest {
        TableRequest::Claim {
            key: "k".into(),
            token: token.into(),
        }
    }
    fn record(token: &str) -> TableRequest {
        TableRequest::Record {
            key: "k".into(),
            token: token.into(),
            ttl_ms: TTL,
        }
    }
    fn release(token: &str) -> TableRequest {
        TableRequest::Release {
            key: "k".into(),
            token: token.into(),
        }
    }

    #[test]
    fn wire_format() {
        let request = serde_json::to_string(&record("t1")).unwrap();
        assert_eq!(
            request,
            r#"{"op":"record","key":"k","token":"t1","ttl_ms":86400000}"#
        );
        assert_eq!(
            serde_json::to_string(&TableAnswer::Busy).unwrap(),
            r#"{"answer":"busy"}"#
        );
        // An answer the client does not know is an error, never a duplicate.
        assert!(serde_json::from_str::<TableAnswer>(r#"{"answer":"dup"}"#).is_err());
        assert!(serde_json::from_str::<TableAnswer>("duplicate").is_err());
    }

    #[test]
    fn claim_record_then_duplicate_until_the_ttl_ends() {
        let mut shard = Shard::default();
        assert_eq!(shard.ask(claim("a"), T0), TableAnswer::Claimed);
        assert_eq!(shard.ask(record("a"), T0 + 5), TableAnswer::Recorded);
        assert_eq!(shard.ask(claim("b"), T0 + 10), TableAnswer::Duplicate);
        assert_eq!(
            shard.ask(claim("b"), T0 + 5 + TTL - 1),
            TableAnswer::Duplicate
        );
        assert_eq!(shard.ask(claim("b"), T0 + 5 + TTL), TableAnswer::Claimed);
    }

    #[test]
    fn a_live_claim_of_another_is_busy_never_duplicate() {
        let mut shard = Shard::default();
        assert_eq!(shard.ask(claim("a"), T0), TableAnswer::Claimed);
        assert_eq!(shard.ask(claim("b"), T0 + 1), TableAnswer::Busy);
        assert_eq!(
            shard.ask(claim("b"), T0 + CLAIM_LEASE_MS - 1),
            TableAnswer::Busy
        );
        // The holder asking again keeps its claim.
        assert_eq!(shard.ask(claim("a"), T0 + 2), TableAnswer::Claimed);
    }

    #[test]
    fn a_released_claim_is_taken_by_the_retry() {
        let mut shard = Shard::default();
        shard.ask(claim("a"), T0);
        assert_eq!(shard.ask(release("a"), T0 + 1), TableAnswer::Released);
        assert_eq!(shard.ask(claim("b"), T0 + 2), TableAnswer::Claimed);
    }

    #[test]
    fn the_lease_ends_and_the_retry_takes_over() {
        // The holder's isolate died after its claim: no record, no release.
        let mut shard = Shard::default();
        shard.ask(claim("a"), T0);
        assert_eq!(
            shard.ask(claim("b"), T0 + CLAIM_LEASE_MS),
            TableAnswer::Claimed
        );
        // The first holder can no longer release what is now b's.
        assert_eq!(
            shard.ask(release("a"), T0 + CLAIM_LEASE_MS + 1),
            TableAnswer::NotHeld
        );
        assert_eq!(
            shard.ask(claim("c"), T0 + CLAIM_LEASE_MS + 2),
            TableAnswer::Busy
        );
    }

    #[test]
    fn a_late_record_still_records() {
        // a's lease ended, b took over; a had handed the event off after all.
        let mut shard = Shard::default();
        shard.ask(claim("a"), T0);
        shard.ask(claim("b"), T0 + CLAIM_LEASE_MS);
        assert_eq!(
            shard.ask(record("a"), T0 + CLAIM_LEASE_MS + 1),
            TableAnswer::Recorded
        );
        assert_eq!(
            shard.ask(claim("c"), T0 + CLAIM_LEASE_MS + 2),
            TableAnswer::Duplicate
        );
        // b's record keeps the later expiry, and b's release is a no-op.
        assert_eq!(
            shard.ask(release("b"), T0 + CLAIM_LEASE_MS + 3),
            TableAnswer::NotHeld
        );
        assert_eq!(
            shard.ask(claim("c"), T0 + CLAIM_LEASE_MS + 4),
            TableAnswer::Duplicate
        );
    }

    #[test]
    fn a_recorded_key_cannot_be_released() {
        let mut shard = Shard::default();
        shard.ask(claim("a"), T0);
        shard.ask(record("a"), T0 + 1);
        assert_eq!(shard.ask(release("a"), T0 + 2), TableAnswer::NotHeld);
        assert_eq!(shard.ask(claim("b"), T0 + 3), TableAnswer::Duplicate);
    }

    #[test]
    fn release_of_nothing_is_not_held() {
        let mut shard = Shard::default();
        assert_eq!(shard.ask(release("a"), T0), TableAnswer::NotHeld);
        assert!(shard.0.is_empty());
    }

    #[test]
    fn keys_spread_over_every_shard() {
        assert_eq!(shard_of("m1:ab12"), "dedup-ab");
        assert_eq!(shard_of("b1:00ff"), "dedup-00");
        let shards: std::collections::HashSet<String> = (0..=255u8)
            .map(|b| shard_of(&format!("m1:{b:02x}cd")))
            .collect();
        assert_eq!(shards.len(), SHARDS);
    }

    #[test]
    fn alarms_are_not_postponed_and_an_empty_shard_sleeps() {
        // A pending alarm is kept: new writes must not push the sweep away.
        assert_eq!(alarm_after_write(Some(T0 + 5), T0), None);
        assert_eq!(alarm_after_write(None, T0), Some(T0 + SWEEP_EVERY_MS));
        // Nothing left after a sweep: no alarm.
        assert_eq!(alarm_after_sweep(None, T0), None);
        // Rows left: at their first expiry, but not sooner than the sweep interval.
        assert_eq!(
            alarm_after_sweep(Some(T0 + 1), T0),
            Some(T0 + SWEEP_EVERY_MS)
        );
        assert_eq!(alarm_after_sweep(Some(T0 + TTL), T0), Some(T0 + TTL));
    }
}
