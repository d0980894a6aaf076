//! What the ingress leaves in the log, gathered per isolate and written at most
//! once a second, in one D1 batch: a request adds its entry and goes, and under
//! load a thousand rejections are one counter update, not a thousand writes.
//! Each flush runs in the `waitUntil` of the request that found none scheduled,
//! so the isolate lives until it is written.

use std::collections::BTreeMap;

use super::journal::{accepted_counts, accepted_rows, counts, redeliveries, Entry};
use super::statement::Statement;
use super::time::hour_of;

/// Least time between two flushes of one isolate.
pub const FLUSH_EVERY_MS: i64 = 1_000;
/// A flush that made no progress for this long is taken for dead (its request's
/// `waitUntil` ended early): the next request schedules another.
const STALE_MS: i64 = 30_000;
/// Most statements of events one batch carries; the counts follow the last one.
const BATCH_STATEMENTS: usize = 200;

#[derive(Debug, Default)]
pub struct Pending {
    rows: Vec<Statement>,
    counts: BTreeMap<(i64, String), i64>,
    /// Per event: how many, and when the latest.
    redeliveries: BTreeMap<String, (i64, i64)>,
    /// When the flush on its way was scheduled or last took a batch.
    scheduled: Option<i64>,
    last_flush_ms: i64,
}

impl Pending {
    pub fn add(&mut self, entry: Entry) {
        match entry {
            Entry::Accepted(event) => {
                let hour = hour_of(event.received_at_ms);
                for name in accepted_counts(&event) {
                    *self.counts.entry((hour, name.to_string())).or_default() += 1;
                }
                self.rows.extend(accepted_rows(&event));
            }
            Entry::Duplicate { id, at_ms } => {
                let (n, last) = self.redeliveries.entry(id).or_default();
                *n += 1;
                *last = (*last).max(at_ms);
                *self
                    .counts
                    .entry((hour_of(at_ms), "duplicate".to_string()))
                    .or_default() += 1;
            }
            Entry::Rejected { code, at_ms } => {
                *self
                    .counts
                    .entry((hour_of(at_ms), format!("rejected:{code}")))
                    .or_default() += 1;
            }
        }
    }

    /// After [`add`](Self::add): `Some(wait_ms)` when the caller must schedule
    /// the flush (none is), after that long; `None` when one is on its way.
    pub fn schedule(&mut self, now_ms: i64) -> Option<i64> {
        let alive = self
            .scheduled
            .is_some_and(|at| now_ms.saturating_sub(at) < STALE_MS);
        if alive || self.is_empty() {
            return None;
        }
        self.scheduled = Some(now_ms);
        Some((self.last_flush_ms + FLUSH_EVERY_MS - now_ms).clamp(0, FLUSH_EVERY_MS))
    }

    /// The next batch to write; empty when all is written, which ends the
    /// scheduled flush. Rows of events come first, so the redeliveries of an
    /// event accepted in the same second find it.
    pub fn take(&mut self, now_ms: i64) -> Vec<Statement> {
        self.last_flush_ms = now_ms;
        self.scheduled = Some(now_ms);
        if self.rows.len() > BATCH_STATEMENTS {
            // Whole events only: cut after an event's status statement.
            let cut = self
                .rows
                .iter()
                .take(BATCH_STATEMENTS)
                .rposition(|s| s.sql.starts_with("INSERT INTO events"))
                .filter(|&at| at > 0)
                .unwrap_or(BATCH_STATEMENTS);
            return self.rows.drain(..cut).collect();
        }
        let mut batch = std::mem::take(&mut self.rows);
        batch.extend(
            std::mem::take(&mut self.redeliveries)
                .into_iter()
                .map(|(id, (n, last))| redeliveries(&id, n, last)),
        );
        batch.extend(
            std::mem::take(&mut self.counts)
                .into_iter()
                .map(|((hour, name), n)| counts(hour, &name, n)),
        );
        if batch.is_empty() {
            self.scheduled = None;
        }
        batch
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.counts.is_empty() && self.redeliveries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_log::{AcceptedEvent, RouteKind};

    fn accepted(id: &str) -> Entry {
        Entry::Accepted(AcceptedEvent {
            id: id.into(),
            event: "email.opened".into(),
            message_id: None,
            timestamp: "2026-12-02T13:00:00Z".into(),
            received_at_ms: 1_796_216_400_000,
            body: "{}".into(),
            routes: vec![("crm".into(), RouteKind::Http)],
        })
    }

    #[test]
    fn one_flush_at_a_time_at_most_once_a_second() {
        let mut pending = Pending::default();
        assert_eq!(pending.schedule(5_000), None, "nothing to write");
        pending.add(accepted("msg_1"));
        assert_eq!(pending.schedule(5_000), Some(0), "idle: at once");
        pending.add(accepted("msg_2"));
        assert_eq!(pending.schedule(5_000), None, "already scheduled");
        assert!(!pending.take(5_000).is_empty());
        assert!(pending.take(5_010).is_empty());
        pending.add(accepted("msg_3"));
        assert_eq!(
            pending.schedule(5_200),
            Some(810),
            "a second after the last write"
        );
    }

    #[test]
    fn a_flush_that_died_is_replaced() {
        let mut pending = Pending::default();
        pending.add(accepted("msg_1"));
        assert_eq!(pending.schedule(100_000), Some(0));
        pending.add(accepted("msg_2"));
        assert_eq!(pending.schedule(129_999), None);
        assert_eq!(pending.schedule(130_000), Some(0));
    }

    #[test]
    fn counts_add_up_into_one_statement_each() {
        let mut pending = Pending::default();
        for _ in 0..1000 {
            pending.add(Entry::Rejected {
                code: "invalid_signature",
                at_ms: 1_796_216_400_000,
            });
        }
        for _ in 0..3 {
            pending.add(Entry::Duplicate {
                id: "msg_1".into(),
                at_ms: 1_796_216_400_000,
            });
        }
        pending.schedule(0);
        let batch = pending.take(0);
        assert_eq!(batch.len(), 3, "{batch:#?}");
        assert!(batch.iter().any(|s| s.params.contains(&1000.into())));
        assert!(batch
            .iter()
            .any(|s| s.params == vec!["msg_1".into(), 3.into(), 1_796_216_400_000.into()]));
    }

    #[test]
    fn large_backlogs_go_in_batches_of_whole_events() {
        let mut pending = Pending::default();
        for i in 0..150 {
            pending.add(accepted(&format!("msg_{i}")));
        }
        pending.schedule(0);
        let mut events = 0;
        let mut batches = 0;
        loop {
            let batch = pending.take(0);
            if batch.is_empty() {
                break;
            }
            assert!(batch.len() <= BATCH_STATEMENTS + 1);
            assert!(batch[0].sql.starts_with("INSERT INTO events"));
            events += batch
                .iter()
                .filter(|s| s.sql.starts_with("INSERT INTO events"))
                .count();
            batches += 1;
        }
        assert_eq!((events, batches), (150, 3));
    }
}
