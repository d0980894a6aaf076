//! Where the log keeps an event: one SQLite-backed Durable Object per day
//! (the window) and hash of the event's `webhook-id` (the shard within it).
//!
//! The window is the day of the event's own `timestamp`, not of its arrival:
//! every record of an event (its acceptance, a redelivery, an attempt, its dead
//! letter, a replay) carries that timestamp, so each goes straight to its shard.
//! An accepted event arrived within `TIMESTAMP_TOLERANCE_SECONDS` of it, which
//! bounds how far the list's order (by arrival) strays from the windows'.
//!
//! The numbers are derived from Cloudflare's documented per-object limits by
//! [`tests::shards_per_window_hold_the_target_volume_with_2x_headroom`].

use super::time;

/// A window's length: a day. Retention drops whole windows.
pub const WINDOW_MS: i64 = 86_400_000;
/// Shards a window is split into, by a hash of the event's id.
pub const SHARDS: u32 = 8;
/// Most shards one admin call asks before it answers with a cursor: inside
/// the 50 subrequests an invocation of the Workers Free plan may make.
pub const SHARDS_PER_CALL: usize = 40;

/// One shard of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    /// Days since the Unix epoch.
    pub window: i64,
    pub k: u32,
}

impl Shard {
    /// The shard of the event `id` whose `timestamp` is `timestamp_ms`.
    pub fn of(timestamp_ms: i64, id: &str) -> Self {
        Self {
            window: timestamp_ms.div_euclid(WINDOW_MS),
            k: hash(id) % SHARDS,
        }
    }

    /// The shard of an event by its `timestamp` as LeadNest sent it; an
    /// unreadable one (never accepted by the ingress) by `fallback_ms`.
    pub fn of_event(timestamp: &str, id: &str, fallback_ms: i64) -> Self {
        Self::of(time::parse(timestamp).unwrap_or(fallback_ms), id)
    }

    /// Where counts that belong to no event go (rejections, the log's own
    /// meters): the first shard of the window holding `at_ms`.
    pub fn for_counts(at_ms: i64) -> Self {
        Self {
            window: at_ms.div_euclid(WINDOW_MS),
            k: 0,
        }
    }

    /// The shard `k` of `window`.
    pub fn in_window(window: i64, k: u32) -> Self {
        Self { window, k }
    }

    /// Its Durable Object's name: `2026-12-06/3`.
    pub fn name(&self) -> String {
        let day = time::rfc3339(self.window.saturating_mul(WINDOW_MS));
        format!("{}/{}", day.get(..10).unwrap_or_default(), self.k)
    }

    /// Reads a name made by [`name`](Self::name).
    pub fn parse(name: &str) -> Option<Self> {
        let (day, k) = name.split_once('/')?;
        let k = u32::try_from(k.parse::<u64>().ok()?)
            .ok()
            .filter(|k| *k < SHARDS)?;
        let start = time::parse(&format!("{day}T00:00:00Z"))?;
        (start.rem_euclid(WINDOW_MS) == 0 && day.len() == 10).then_some(Self {
            window: start.div_euclid(WINDOW_MS),
            k,
        })
    }

    /// The first millisecond of its window.
    pub fn start_ms(&self) -> i64 {
        self.window.saturating_mul(WINDOW_MS)
    }

    /// The first millisecond after its window.
    pub fn end_ms(&self) -> i64 {
        self.start_ms().saturating_add(WINDOW_MS)
    }
}

/// Bits of an event's place in its shard below its time: a hash of its id.
const TIE_BITS: u32 = 35;
/// Most milliseconds an event's arrival is from its window's start, either
/// way (a day and a timestamp's tolerance fit many times over).
const OFFSET_MS: i64 = 1 << 27;

/// An event's order among events received in the same millisecond, the same
/// in every shard: a hash of its id (0 for none, which goes before all).
pub fn tie(id: &str) -> i64 {
    if id.is_empty() {
        return 0;
    }
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    i64::try_from(hash >> (64 - TIE_BITS)).unwrap_or(0)
}

impl Shard {
    /// The key of the event `id` received at `received_at_ms` in this shard:
    /// its arrival from the window's start, then [`tie`]. Rows are kept in
    /// that order, so the list's order is the table's own, and an event's
    /// rows are appended as they come (pages filled whole).
    pub fn seq(&self, received_at_ms: i64, id: &str) -> i64 {
        let offset = received_at_ms
            .saturating_sub(self.start_ms())
            .clamp(1 - OFFSET_MS, OFFSET_MS - 1);
        (offset << TIE_BITS) | tie(id)
    }
}

/// FNV-1a: stable across versions and platforms, so an id's shard never moves.
fn hash(id: &str) -> u32 {
    id.bytes().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// What the retention does with a shard at `now_ms`: drop it whole once its
/// window is past `EVENT_RETENTION_DAYS`, unless it keeps failed events or
/// holds a held delivery; then purge all but those, and drop it once past
/// `FAILED_RETENTION_DAYS` unless it holds a held delivery. A held delivery
/// is kept however long its route stays down (SPEC section 10), so a shard
/// holding one is never dropped; past `FAILED_RETENTION_DAYS` it keeps only
/// the events with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Keep,
    /// Delete the rows of events that are neither failed nor held (bounded
    /// rounds: [`purge_all_but_failed`](super::purge_all_but_failed)).
    PurgeAllButFailed,
    /// Delete the rows of events that are not held (bounded rounds:
    /// [`purge_all_but_held`](super::purge_all_but_held)).
    PurgeAllButHeld,
    /// `deleteAll()`: one call whatever it holds.
    Drop,
}

impl Retention {
    /// The step for `shard` at `now_ms`, holding `failed` failed events and
    /// `held` events with a held delivery.
    pub fn of(
        shard: Shard,
        now_ms: i64,
        retention_days: u64,
        failed_days: u64,
        failed: u64,
        held: u64,
    ) -> Self {
        let days = |n: u64| {
            i64::try_from(n)
                .unwrap_or(i64::MAX)
                .saturating_mul(WINDOW_MS)
        };
        let age = now_ms.saturating_sub(shard.end_ms());
        let keeps_failed = failed > 0 && age < days(failed_days);
        if age < days(retention_days) {
            Self::Keep
        } else if keeps_failed {
            Self::PurgeAllButFailed
        } else if held > 0 {
            Self::PurgeAllButHeld
        } else {
            Self::Drop
        }
    }

    /// One round of its purge; none for a step that is no purge.
    pub fn purge_round(self) -> Vec<super::Statement> {
        match self {
            Self::PurgeAllButFailed => super::purge_all_but_failed(),
            Self::PurgeAllButHeld => super::purge_all_but_held(),
            Self::Keep | Self::Drop => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY0: i64 = 20_428; // 2025-12-06

    #[test]
    fn a_name_reads_back_and_says_its_day() {
        let shard = Shard::in_window(DAY0, 3);
        assert_eq!(shard.name(), "2025-12-06/3");
        assert_eq!(Shard::parse("2025-12-06/3"), Some(shard));
        for bad in [
            "",
            "2025-12-06",
            "2025-12-06/8",
            "2025-13-06/1",
            "x/1",
            "2025-12-06/-1",
            "2025-12-06T00:00:00Z/1",
        ] {
            assert_eq!(Shard::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_record_of_an_event_goes_to_one_shard() {
        let ts = "2025-12-06T23:59:59Z";
        let shard = Shard::of_event(ts, "msg_1", 0);
        assert_eq!(shard.window, DAY0);
        assert_eq!(
            Shard::of_event("2025-12-07T01:59:59+02:00", "msg_1", 0),
            shard,
            "same instant"
        );
        assert_eq!(Shard::of(DAY0 * WINDOW_MS + 5, "msg_1"), shard);
        // Ids spread over the shards.
        let mut seen = [0u32; SHARDS as usize];
        for i in 0..8_000 {
            seen[Shard::of(0, &format!("msg_{i:032x}")).k as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1_200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn an_events_key_orders_by_arrival_then_by_its_ids_hash_and_fits_every_arrival_kept() {
        let shard = Shard::in_window(DAY0, 1);
        let start = shard.start_ms();
        assert!(shard.seq(start + 5, "msg_a") < shard.seq(start + 6, "msg_a"));
        assert_eq!(shard.seq(start + 5, "msg_a") >> TIE_BITS, 5);
        // Before its window (a timestamp ahead of the clock) and at its end.
        assert!(shard.seq(start - 300_000, "msg_a") < shard.seq(start, ""));
        assert!(shard.seq(shard.end_ms() + 300_000, "msg_a") > shard.seq(shard.end_ms(), "msg_a"));
        // The same millisecond: by the id's hash; none goes before every id.
        let (a, b) = (shard.seq(start, "msg_a"), shard.seq(start, "msg_b"));
        assert_ne!(a, b);
        assert_eq!(a.cmp(&b), tie("msg_a").cmp(&tie("msg_b")));
        assert!(shard.seq(start, "") < a.min(b));
        assert!((0..1 << TIE_BITS).contains(&tie("msg_ffffffffffffffffffffffffffffffff")));
    }

    #[test]
    fn a_window_is_dropped_whole_after_retention_and_one_with_failures_later() {
        let shard = Shard::in_window(DAY0, 0);
        let end = shard.end_ms();
        assert_eq!(
            Retention::of(shard, end + 7 * WINDOW_MS - 1, 7, 30, 0, 0),
            Retention::Keep
        );
        assert_eq!(
            Retention::of(shard, end + 7 * WINDOW_MS, 7, 30, 0, 0),
            Retention::Drop
        );
        assert_eq!(
            Retention::of(shard, end + 7 * WINDOW_MS, 7, 30, 2, 0),
            Retention::PurgeAllButFailed
        );
        assert_eq!(
            Retention::of(shard, end + 30 * WINDOW_MS, 7, 30, 2, 0),
            Retention::Drop
        );
    }

    #[test]
    fn a_window_holding_a_held_delivery_is_never_dropped_whatever_its_age() {
        let shard = Shard::in_window(DAY0, 0);
        let end = shard.end_ms();
        // Inside the retention it is kept as any other.
        assert_eq!(
            Retention::of(shard, end + 7 * WINDOW_MS - 1, 7, 30, 0, 1),
            Retention::Keep
        );
        // Past it: purged of the rest, failed events kept while they are.
        for failed in [0, 3] {
            let expected = if failed > 0 {
                Retention::PurgeAllButFailed
            } else {
                Retention::PurgeAllButHeld
            };
            assert_eq!(
                Retention::of(shard, end + 7 * WINDOW_MS, 7, 30, failed, 1),
                expected
            );
        }
        // Past FAILED_RETENTION_DAYS, and years on: only held events stay.
        for age_days in [30, 365, 3650] {
            for failed in [0, 3] {
                assert_eq!(
                    Retention::of(shard, end + age_days * WINDOW_MS, 7, 30, failed, 1),
                    Retention::PurgeAllButHeld,
                    "{age_days} days, {failed} failed"
                );
            }
        }
        // Once the held delivery is sent, the window goes whole again.
        assert_eq!(
            Retention::of(shard, end + 30 * WINDOW_MS, 7, 30, 3, 0),
            Retention::Drop
        );
        // A purge keeps failed and held events, or only held ones; the other
        // steps purge nothing.
        assert_eq!(
            Retention::PurgeAllButFailed.purge_round(),
            super::super::purge_all_but_failed()
        );
        assert_eq!(
            Retention::PurgeAllButHeld.purge_round(),
            super::super::purge_all_but_held()
        );
        assert!(Retention::Keep.purge_round().is_empty());
        assert!(Retention::Drop.purge_round().is_empty());
    }

    // Cloudflare's documented limits (developers.cloudflare.com/durable-objects/platform/limits/,
    // /workers/platform/limits/).
    const OBJECT_BYTES: f64 = 10e9;
    const OBJECT_REQUESTS_PER_SECOND: f64 = 1_000.0;
    const SUBREQUESTS_FREE: f64 = 50.0;
    const SUBREQUESTS_PAID: f64 = 1_000.0;
    // The volume the log is built for, and what an event costs (the figures
    // `npm run bench:log` checks).
    const SUSTAINED_PER_SECOND: f64 = 100.0;
    const RETENTION_DAYS: f64 = 7.0;
    const BURST_PER_SECOND: f64 = 2_000.0;
    const BURST_SECONDS: f64 = 600.0;
    const BYTES_PER_EVENT: f64 = 1_500.0;
    const DELIVERIES_PER_EVENT: f64 = 1.56;
    /// A queue consumer's batch (wrangler.toml `max_batch_size`): one flush each.
    const CONSUMER_BATCH: f64 = 10.0;
    const HEADROOM: f64 = 2.0;

    #[test]
    fn shards_per_window_hold_the_target_volume_with_2x_headroom() {
        let shards = f64::from(SHARDS);
        let day = WINDOW_MS as f64 / 1000.0;
        // Storage: a window at the sustained rate plus a burst inside it.
        let window_bytes =
            (SUSTAINED_PER_SECOND * day + BURST_PER_SECOND * BURST_SECONDS) * BYTES_PER_EVENT;
        let per_object = window_bytes / shards;
        assert!(
            per_object * HEADROOM <= OBJECT_BYTES,
            "{per_object} bytes an object"
        );
        // Requests: at worst every event of a burst is flushed by its own
        // isolate, and every consumer batch by its own.
        let flushes = BURST_PER_SECOND + BURST_PER_SECOND * DELIVERIES_PER_EVENT / CONSUMER_BATCH;
        let per_object = flushes / shards;
        assert!(
            per_object * HEADROOM <= OBJECT_REQUESTS_PER_SECOND,
            "{per_object} requests/s an object"
        );
        // Fewer shards would miss a limit: SHARDS is the least that fits.
        let half = shards / 2.0;
        assert!(
            window_bytes / half * HEADROOM > OBJECT_BYTES
                || flushes / half * HEADROOM > OBJECT_REQUESTS_PER_SECOND,
            "{SHARDS} shards is more than the volume needs"
        );
        // An admin call: an event by id asks one shard a window kept; a list
        // asks at most SHARDS_PER_CALL, then answers with a cursor.
        let windows_kept = 30.0 + 1.0; // FAILED_RETENTION_DAYS' default, and today
        assert!(windows_kept * HEADROOM <= SUBREQUESTS_PAID);
        assert!((SHARDS_PER_CALL as f64) + 2.0 <= SUBREQUESTS_FREE);
        assert!(
            RETENTION_DAYS * SUSTAINED_PER_SECOND * day >= 60e6,
            "the 60 million events of the target"
        );
        // A flush loop writes each shard at most once a second for 20 s.
        assert!(20.0 * shards * HEADROOM <= SUBREQUESTS_PAID);
    }
}
