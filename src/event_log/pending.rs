//! What the log's writers leave to write, gathered per isolate and written by
//! flushes: a request adds its entry and goes. A flush writes what is pending in
//! batches, one shard at a time, back to back; the next starts at least a
//! second after it began, so each shard gets one write a second from an
//! isolate at most.
//! Counts of rejected requests go with verified traffic (events, redeliveries,
//! attempts' losses), or, alone, at most once every 20 s: a flood of forged
//! requests costs one write every 20 s, not one a second.
//!
//! Flushes run in a loop, in the `waitUntil` of the request that scheduled it,
//! which the core paces: the driver asks [`Pending::wait`], sleeps that long,
//! writes [`Pending::take`]'s batch, trying again on [`retry_wait`]'s schedule,
//! and reports with [`Pending::written`]. A batch still unwritten after the
//! last try is counted `lost`, never dropped silently.

use std::collections::VecDeque;

use super::records::{accepted_counts, accepted_rows, counts, redeliveries, Entry, Unwritten};
use super::shard::Shard;
use super::statement::Statement;
use super::tally::Tally;
use super::time::hour_of;

/// Least time from the start of one flush to the start of the next.
pub const FLUSH_EVERY_MS: i64 = 1_000;
/// Least time a rejection count waits for verified traffic to go with before
/// it is written on its own: a `waitUntil` lasts 30 s after the answer, so the
/// flush that waits it still has time to write.
pub const REJECTIONS_EVERY_MS: i64 = 20_000;
/// A loop is scheduled at its request's answer, and a `waitUntil` ends 30 s
/// after it: by then the loop is over, finished or cut off, and the next
/// request schedules another.
const STALE_MS: i64 = 30_000;
/// A loop starts no flush later than this after it was scheduled, so that the
/// flush and its retries end inside the 30 s; what is left then goes with the
/// loop of the next request.
const LOOP_STARTS_WITHIN_MS: i64 = 20_000;
/// Most statements of events one batch carries; the counts follow the last one.
const BATCH_STATEMENTS: usize = 200;
/// The waits before the second and the third try of a failed write: about 3 s
/// of a batch's 10 s left after the last flush a loop may start.
const RETRY_WAITS_MS: [i64; 2] = [1_000, 2_000];

/// After `failed_tries` failed tries of a write to the log: how long to wait
/// before the next, or `None` when that was the last.
pub fn retry_wait(failed_tries: u32) -> Option<i64> {
    let retry = usize::try_from(failed_tries).ok()?.checked_sub(1)?;
    RETRY_WAITS_MS.get(retry).copied()
}

/// What a flush loop does next ([`Pending::step`]).
#[derive(Debug, PartialEq)]
pub enum FlushStep {
    /// Write these statements to the shard, then report.
    Write(Shard, Vec<Statement>),
    /// Sleep this many ms, then ask again.
    Sleep(i64),
}

#[derive(Debug, Default)]
pub struct Pending {
    /// Per shard, in the order they came.
    rows: Tally<Shard, Vec<Statement>>,
    counts: Tally<(Shard, i64, String), i64>,
    /// Per event: how many, and when the latest.
    redeliveries: Tally<(Shard, String), (i64, i64)>,
    /// Whether anything but rejection counts is pending: it is written within
    /// a second.
    verified: bool,
    /// When the oldest rejection count pending was kept.
    rejections_since: Option<i64>,
    /// When the last flush began.
    last_flush_ms: Option<i64>,
    /// The loop on its way.
    flush: Option<Loop>,
    /// A loop scheduled while the one on its way could no longer start the
    /// flush that writes what came (past its start window): it waits for that
    /// one to end, then takes its place. Its number and when it began.
    next: Option<(u32, i64)>,
    /// The last loop's number.
    loops: u32,
    /// Rows the platform metered for the log's writes, per hour: they go with
    /// the next flush, and never start one (that flush's own rows would start
    /// another, and so on).
    metered: Tally<i64, i64>,
}

/// How often a loop that follows another asks whether that one ended.
const FOLLOW_POLL_MS: i64 = 250;

/// A flush loop, known to its driver by its number: one that was replaced
/// finds out at its next call and ends.
#[derive(Debug)]
struct Loop {
    id: u32,
    since_ms: i64,
    /// When its driver, asleep, calls next; `None` while it writes.
    asleep_until: Option<i64>,
    /// The batches of the flush under way still to take; `None` between
    /// flushes.
    batches: Option<VecDeque<(Shard, Vec<Statement>)>>,
    /// What the batch being written holds, until the driver reports.
    in_flight: Option<Unwritten>,
}

impl Loop {
    fn new(id: u32, since_ms: i64) -> Self {
        Self {
            id,
            since_ms,
            asleep_until: None,
            batches: None,
            in_flight: None,
        }
    }
}

impl Pending {
    pub fn add(&mut self, entry: Entry) {
        match entry {
            Entry::Accepted(event) => {
                let shard = event.shard();
                let hour = hour_of(event.received_at_ms);
                for name in accepted_counts(&event) {
                    self.count(shard, hour, name, 1);
                }
                self.rows
                    .update(shard, |rows| rows.extend(accepted_rows(&event)));
                self.verified = true;
            }
            Entry::Duplicate {
                id,
                timestamp,
                at_ms,
            } => {
                let shard = Shard::of_event(&timestamp, &id, at_ms);
                self.redeliver(shard, id, 1, at_ms);
                self.count(shard, hour_of(at_ms), "duplicate", 1);
                self.verified = true;
            }
            Entry::Counted { name, at_ms } => {
                self.count(Shard::for_counts(at_ms), hour_of(at_ms), name, 1);
                self.verified = true;
            }
            Entry::Rejected { code, at_ms } => {
                let shard = Shard::for_counts(at_ms);
                self.count(shard, hour_of(at_ms), &format!("rejected:{code}"), 1);
                self.rejected(at_ms);
            }
        }
    }

    /// `rows` written by one of the log's writes at `now_ms`, as the platform
    /// metered them (each write's `rowsWritten`): counted `rows_written` in that hour.
    pub fn metered(&mut self, rows: i64, now_ms: i64) {
        if rows > 0 {
            self.metered.update(hour_of(now_ms), |n| *n += rows);
        }
    }

    /// A batch that could not be written, at `now_ms`: its records are counted
    /// `lost` in this hour, its counts and redeliveries are pending again.
    pub fn lose(&mut self, unwritten: Unwritten, now_ms: i64) {
        if unwritten.records > 0 {
            let shard = Shard::for_counts(now_ms);
            self.count(shard, hour_of(now_ms), "lost", unwritten.records);
            self.verified = true;
        }
        for (shard, hour, name, n) in unwritten.counts {
            if name.starts_with("rejected:") {
                self.rejected(now_ms);
            } else {
                self.verified = true;
            }
            self.count(shard, hour, &name, n);
        }
        for (shard, id, n, last_ms) in unwritten.redeliveries {
            self.redeliver(shard, id, n, last_ms);
            self.verified = true;
        }
    }

    /// After [`add`](Self::add) or [`lose`](Self::lose): `Some(loop)` when the
    /// caller must run a flush loop, numbered so; `None` when one on its way
    /// will write what is pending in time. A loop asleep until a rejection
    /// flush is replaced when verified traffic arrives, which is written
    /// within a second.
    pub fn schedule(&mut self, now_ms: i64) -> Option<u32> {
        let untaken = self
            .flush
            .as_ref()
            .is_some_and(|flush| flush.batches.is_some());
        if self.is_empty() && !untaken {
            return None;
        }
        let due = self.due(now_ms);
        self.follow();
        if let Some(flush) = &mut self.flush {
            let over = now_ms.saturating_sub(flush.since_ms) >= STALE_MS;
            let late = flush.asleep_until.is_some_and(|until| until > due);
            let ends_first = due.saturating_sub(flush.since_ms) > LOOP_STARTS_WITHIN_MS;
            if !over && !late && !ends_first {
                return None;
            }
            if !over && !late {
                // It ends before what came is due: a loop follows it, in the
                // `waitUntil` of this request (one is enough).
                if self.next.is_some() {
                    return None;
                }
                let id = self.number(now_ms);
                self.next = Some((id, now_ms));
                return Some(id);
            }
            self.next = None;
            // Cut off while it wrote: that batch may never have landed, and
            // the batches it had yet to take go to the next loop.
            let cut = self.flush.take();
            if let Some(Loop {
                in_flight, batches, ..
            }) = cut
            {
                if let Some(unwritten) = in_flight {
                    self.lose(unwritten, now_ms);
                }
                for (shard, statements) in batches.unwrap_or_default().into_iter().rev() {
                    self.rows.update(shard, |rows| {
                        rows.splice(0..0, statements);
                    });
                    self.verified = true;
                }
            }
        }
        let id = self.number(now_ms);
        self.flush = Some(Loop::new(id, now_ms));
        Some(id)
    }

    /// A new loop's number.
    fn number(&mut self, now_ms: i64) -> u32 {
        if self.loops == 0 {
            // Numbers unlike those of an instance before this one (the module
            // is instantiated again after a trap), whose loops may still call.
            self.loops = u32::try_from(now_ms.rem_euclid(1 << 31)).unwrap_or(0);
        }
        self.loops = self.loops.wrapping_add(1);
        self.loops
    }

    /// The loop that follows takes the place of the one that ended.
    fn follow(&mut self) {
        if self.flush.is_none() {
            if let Some((id, since_ms)) = self.next.take() {
                self.flush = Some(Loop::new(id, since_ms));
            }
        }
    }

    /// The flush loop `id`'s next step, once its last batch (if any) was
    /// `written`, retries included: what [`written`](Self::written),
    /// [`wait`](Self::wait) and [`take`](Self::take) say, in one call. `None`:
    /// the loop is over.
    pub fn step(&mut self, id: u32, written: Option<bool>, now_ms: i64) -> Option<FlushStep> {
        if let Some(written) = written {
            self.written(id, written, now_ms);
        }
        match self.wait(id, now_ms)? {
            0 => Some(match self.take(id, now_ms) {
                Some((shard, statements)) => FlushStep::Write(shard, statements),
                // Nothing to write after all: the loop asks again at once.
                None => {
                    self.written(id, true, now_ms);
                    FlushStep::Sleep(0)
                }
            }),
            ms => Some(FlushStep::Sleep(ms)),
        }
    }

    /// What the loop `id` does next: `Some(0)` write [`take`](Self::take)'s
    /// batch, `Some(ms)` sleep that long and ask again, `None` end.
    pub fn wait(&mut self, id: u32, now_ms: i64) -> Option<i64> {
        self.follow();
        if self.next.is_some_and(|(next, _)| next == id) {
            // Following a loop still on its way: asks again soon.
            return Some(FOLLOW_POLL_MS);
        }
        let due = self.due(now_ms);
        let empty = self.is_empty();
        let flush = self.flush.as_mut().filter(|flush| flush.id == id)?;
        if flush.batches.is_some() {
            // The flush under way: its batches go back to back.
            return Some(0);
        }
        if empty || due.saturating_sub(flush.since_ms) > LOOP_STARTS_WITHIN_MS {
            self.flush = None;
            return None;
        }
        let wait = due.saturating_sub(now_ms).max(0);
        flush.asleep_until = (wait > 0).then_some(due);
        Some(wait)
    }

    /// The loop `id`'s next batch to write and the shard it goes to; `None` if
    /// it is not the loop on its way. A flush takes what is pending when it
    /// begins, a shard at a time, in batches of whole events; a shard's last
    /// batch carries its counts and redeliveries.
    pub fn take(&mut self, id: u32, now_ms: i64) -> Option<(Shard, Vec<Statement>)> {
        let flush = self.flush.as_mut().filter(|flush| flush.id == id)?;
        flush.asleep_until = None;
        if flush.batches.is_none() {
            self.last_flush_ms = Some(now_ms);
            let batches = self.batches();
            // What comes during the flush: rows only, until the next.
            self.verified = false;
            self.rejections_since = None;
            if let Some(flush) = self.flush.as_mut() {
                flush.batches = Some(batches);
            }
        }
        let flush = self.flush.as_mut()?;
        let queue = flush.batches.as_mut()?;
        let next = queue.pop_front();
        if queue.is_empty() {
            flush.batches = None;
        }
        let (shard, batch) = next?;
        flush.in_flight = Some(Unwritten::of(shard, &batch));
        Some((shard, batch))
    }

    /// Everything pending, as batches per shard.
    fn batches(&mut self) -> VecDeque<(Shard, Vec<Statement>)> {
        let mut tails: Tally<Shard, Vec<Statement>> = Tally::default();
        for ((shard, id), (n, last)) in self.redeliveries.take() {
            tails.update(shard, |tail| tail.push(redeliveries(&id, n, last)));
        }
        for ((shard, hour, name), n) in self.counts.take() {
            tails.update(shard, |tail| tail.push(counts(hour, &name, n)));
        }
        for (hour, n) in self.metered.take() {
            let shard = Shard::for_counts(hour.saturating_mul(1000));
            tails.update(shard, |tail| tail.push(counts(hour, "rows_written", n)));
        }
        let mut rows = std::mem::take(&mut self.rows);
        let mut batches = VecDeque::new();
        // In order, once each. Merged by hand: collecting into a set would
        // sort, and a sort is kilobytes of the bundle.
        let mut shards: Vec<Shard> = rows.keys().copied().collect();
        for shard in tails.keys() {
            if let Err(at) = shards.binary_search(shard) {
                shards.insert(at, *shard);
            }
        }
        for shard in shards {
            let mut left = rows.remove(&shard).unwrap_or_default();
            while left.len() > BATCH_STATEMENTS {
                // Whole events only: cut before the last event that starts in it.
                let cut = left
                    .iter()
                    .take(BATCH_STATEMENTS)
                    .rposition(|s| s.sql.starts_with("INSERT INTO events"))
                    .filter(|&at| at > 0)
                    .unwrap_or(BATCH_STATEMENTS);
                let rest = left.split_off(cut);
                batches.push_back((shard, left));
                left = rest;
            }
            left.extend(tails.remove(&shard).unwrap_or_default());
            batches.push_back((shard, left));
        }
        batches
    }

    /// The loop `id`'s batch was written, or not even after the last try
    /// ([`retry_wait`]): then it is [`lose`](Self::lose)n at `now_ms`.
    pub fn written(&mut self, id: u32, written: bool, now_ms: i64) {
        let Some(flush) = self.flush.as_mut().filter(|flush| flush.id == id) else {
            return;
        };
        if let Some(unwritten) = flush.in_flight.take() {
            if !written {
                self.lose(unwritten, now_ms);
            }
        }
    }

    /// When the next flush may start: a second after the last began, and with
    /// only rejection counts pending, 20 s after the oldest was kept. A clock
    /// that went back counts as now.
    fn due(&self, now_ms: i64) -> i64 {
        let next = self.last_flush_ms.map_or(i64::MIN, |last| {
            last.min(now_ms).saturating_add(FLUSH_EVERY_MS)
        });
        match self.rejections_since {
            Some(since) if !self.verified => {
                next.max(since.min(now_ms).saturating_add(REJECTIONS_EVERY_MS))
            }
            _ => next,
        }
    }

    fn count(&mut self, shard: Shard, hour: i64, name: &str, n: i64) {
        self.counts
            .update((shard, hour, name.to_string()), |count| *count += n);
    }

    fn redeliver(&mut self, shard: Shard, id: String, n: i64, at_ms: i64) {
        self.redeliveries.update((shard, id), |(count, last)| {
            *count += n;
            *last = (*last).max(at_ms);
        });
    }

    fn rejected(&mut self, at_ms: i64) {
        let since = self.rejections_since.get_or_insert(at_ms);
        *since = (*since).min(at_ms);
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.counts.is_empty() && self.redeliveries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_log::{AcceptedEvent, Param, RouteKind};

    const RECEIVED_MS: i64 = 1_796_216_400_000;

    /// An id like `name` whose event goes to the shard 0: one shard, one batch.
    fn id_like(name: &str) -> String {
        (0..)
            .map(|j| format!("{name}-{j}"))
            .find(|id| Shard::of(RECEIVED_MS, id).k == 0)
            .unwrap_or_default()
    }

    fn accepted(name: &str) -> Entry {
        Entry::Accepted(AcceptedEvent {
            id: id_like(name),
            event: "email.opened".into(),
            message_id: None,
            timestamp: "2026-12-02T13:00:00Z".into(),
            received_at_ms: RECEIVED_MS,
            body: "{}".into(),
            routes: vec![("crm".into(), RouteKind::Http)],
        })
    }

    fn rejected(at_ms: i64) -> Entry {
        Entry::Rejected {
            code: "invalid_signature",
            at_ms,
        }
    }

    /// Every batch of the flush the loop `id` begins or goes on with: all but
    /// the last reported written, so the test reports that one.
    fn take(pending: &mut Pending, id: u32, now_ms: i64) -> Vec<Statement> {
        let mut all = Vec::new();
        while let Some((_, batch)) = pending.take(id, now_ms) {
            all.extend(batch);
            if pending
                .flush
                .as_ref()
                .is_none_or(|flush| flush.batches.is_none())
            {
                break;
            }
            pending.written(id, true, now_ms);
        }
        all
    }

    /// The count `name` of `hour` in `batch`, if it holds one.
    fn count_in(batch: &[Statement], hour: i64, name: &str) -> Option<i64> {
        batch.iter().find_map(|s| match s.params.as_slice() {
            [Param::Int(h), Param::Text(n), Param::Int(count)]
                if s.sql.starts_with("INSERT INTO counts") && *h == hour && n == name =>
            {
                Some(*count)
            }
            _ => None,
        })
    }

    fn events_in(batch: &[Statement]) -> usize {
        batch
            .iter()
            .filter(|s| s.sql.starts_with("INSERT INTO events"))
            .count()
    }

    #[test]
    fn one_loop_at_a_time_and_a_flush_a_second_after_the_last_began() {
        let mut pending = Pending::default();
        assert_eq!(pending.schedule(5_000), None, "nothing to write");
        pending.add(accepted("msg_1"));
        let id = pending.schedule(5_000).unwrap();
        pending.add(accepted("msg_2"));
        assert_eq!(pending.schedule(5_000), None, "one on its way");
        assert_eq!(pending.wait(id, 5_000), Some(0), "idle: at once");
        assert_eq!(events_in(&take(&mut pending, id, 5_000)), 2);
        pending.written(id, true, 5_300);
        // Traffic while it wrote waits for the next flush, a second after.
        pending.add(accepted("msg_3"));
        assert_eq!(pending.schedule(5_200), None, "the loop goes on");
        assert_eq!(pending.wait(id, 5_300), Some(700));
        assert_eq!(pending.wait(id, 6_000), Some(0));
        assert_eq!(events_in(&take(&mut pending, id, 6_000)), 1);
        pending.written(id, true, 6_100);
        assert_eq!(pending.wait(id, 6_100), None, "all written: over");
        pending.add(accepted("msg_4"));
        let next = pending.schedule(6_500).unwrap();
        assert_ne!(next, id);
        assert_eq!(pending.wait(id, 6_500), None);
        assert_eq!(pending.wait(next, 6_500), Some(500));
    }

    #[test]
    fn a_write_is_tried_three_times_1_s_then_2_s_apart() {
        let waits: Vec<_> = (0..5).map(retry_wait).collect();
        assert_eq!(waits, [None, Some(1_000), Some(2_000), None, None]);
    }

    #[test]
    fn a_batch_lost_is_counted_and_its_counts_go_with_the_next_flush() {
        let mut pending = Pending::default();
        pending.add(accepted("msg_1"));
        pending.add(accepted("msg_2"));
        pending.add(rejected(RECEIVED_MS));
        let id = pending.schedule(0).unwrap();
        assert_eq!(pending.wait(id, 0), Some(0));
        take(&mut pending, id, 0);
        let lost_at = RECEIVED_MS + 3_600_000;
        pending.written(id, false, lost_at);
        assert_eq!(
            pending.wait(id, lost_at),
            Some(0),
            "verified: within a second"
        );
        let batch = take(&mut pending, id, lost_at);
        let hour = hour_of(RECEIVED_MS);
        assert_eq!(count_in(&batch, hour_of(lost_at), "lost"), Some(2));
        assert_eq!(count_in(&batch, hour, "accepted"), Some(2));
        assert_eq!(
            count_in(&batch, hour, "rejected:invalid_signature"),
            Some(1)
        );
        assert_eq!(events_in(&batch), 0, "the rows are gone");
        pending.written(id, true, lost_at);
        assert_eq!(pending.wait(id, lost_at), None);
    }

    #[test]
    fn rejections_alone_wait_20_s_and_verified_traffic_does_not_wait_with_them() {
        let mut pending = Pending::default();
        pending.add(rejected(0));
        let slow = pending.schedule(0).unwrap();
        assert_eq!(pending.wait(slow, 0), Some(REJECTIONS_EVERY_MS));
        pending.add(rejected(5_000));
        assert_eq!(pending.schedule(5_000), None, "they wait together");
        pending.add(accepted("msg_1"));
        let prompt = pending.schedule(10_000).unwrap();
        assert_eq!(pending.wait(prompt, 10_000), Some(0));
        let batch = take(&mut pending, prompt, 10_000);
        assert_eq!(events_in(&batch), 1);
        assert_eq!(count_in(&batch, 0, "rejected:invalid_signature"), Some(2));
        pending.written(prompt, true, 10_050);
        assert_eq!(pending.wait(slow, 20_000), None, "replaced");
        // The next rejections wait 20 s from the first of them.
        pending.add(rejected(10_100));
        assert_eq!(pending.wait(prompt, 10_100), None, "over: past its 20 s");
        let next = pending.schedule(10_100).unwrap();
        assert_eq!(pending.wait(next, 10_100), Some(REJECTIONS_EVERY_MS));
    }

    #[test]
    fn rows_the_platform_metered_go_with_the_next_flush_and_never_start_one() {
        let mut pending = Pending::default();
        pending.metered(7, 0);
        assert_eq!(pending.schedule(0), None, "metering alone writes nothing");
        pending.add(accepted("msg_1"));
        let id = pending.schedule(0).unwrap();
        assert_eq!(pending.wait(id, 0), Some(0));
        let batch = take(&mut pending, id, 0);
        assert_eq!(count_in(&batch, 0, "rows_written"), Some(7));
        pending.written(id, true, 10);
        // That flush's own rows wait for the next one.
        pending.metered(5, 10);
        assert_eq!(pending.wait(id, 10), None);
        assert_eq!(pending.schedule(10), None);
    }

    #[test]
    fn a_loop_that_died_is_replaced_after_30_s_and_its_batch_counted_lost() {
        let mut pending = Pending::default();
        pending.add(rejected(100_000));
        let slow = pending.schedule(100_000).unwrap();
        assert_eq!(pending.wait(slow, 100_000), Some(20_000));
        pending.add(rejected(125_000));
        assert_eq!(pending.schedule(125_000), None, "asleep 20 s, alive");
        pending.add(accepted("msg_1"));
        let id = pending.schedule(125_000).unwrap();
        assert_eq!(pending.wait(id, 125_000), Some(0));
        take(&mut pending, id, 125_000);
        // Cut off while it wrote: never reported.
        pending.add(accepted("msg_2"));
        assert_eq!(pending.schedule(154_999), None);
        let next = pending.schedule(155_000).unwrap();
        assert_eq!(pending.wait(next, 155_000), Some(0));
        let batch = take(&mut pending, next, 155_000);
        assert_eq!(events_in(&batch), 1);
        assert_eq!(count_in(&batch, hour_of(155_000), "lost"), Some(1));
        assert_eq!(count_in(&batch, hour_of(RECEIVED_MS), "accepted"), Some(2));
        pending.written(id, false, 155_100);
        pending.written(next, true, 155_100);
        assert_eq!(
            pending.wait(next, 155_100),
            None,
            "the dead loop's report changes nothing"
        );
    }

    #[test]
    fn a_loop_cut_off_mid_flush_leaves_the_batches_it_had_not_taken_to_the_next() {
        let mut pending = Pending::default();
        // Two shards: the rejections' and the event's.
        pending.add(rejected(0));
        pending.add(accepted("msg_1"));
        let id = pending.schedule(0).unwrap();
        assert_eq!(pending.wait(id, 0), Some(0));
        let (first, _) = pending.take(id, 0).unwrap();
        // Cut off while it wrote the first: the second was never taken.
        let next = pending.schedule(30_000).unwrap();
        assert_eq!(pending.wait(next, 30_000), Some(0));
        let batch = take(&mut pending, next, 30_000);
        assert_eq!(events_in(&batch), 1, "the untaken batch");
        assert_eq!(count_in(&batch, hour_of(RECEIVED_MS), "accepted"), Some(1));
        assert_eq!(
            count_in(&batch, 0, "rejected:invalid_signature"),
            Some(1),
            "{first:?}"
        );
    }

    /// A loop scheduled at 0 that flushed an event every second, to the
    /// flush of 20 s, the last it may start: that one still being written.
    fn flushing_every_second_for_20_s() -> (Pending, u32) {
        let mut pending = Pending::default();
        pending.add(accepted("msg_0"));
        let id = pending.schedule(0).unwrap();
        for second in 0..=20 {
            let now = second * 1_000;
            if second > 0 {
                pending.written(id, true, now - 900);
            }
            pending.add(accepted(&format!("msg_{second}")));
            assert_eq!(pending.wait(id, now), Some(0), "{second}");
            take(&mut pending, id, now);
        }
        (pending, id)
    }

    #[test]
    fn a_loop_starts_no_flush_past_20_s_and_the_next_request_takes_over() {
        let (mut pending, id) = flushing_every_second_for_20_s();
        pending.written(id, true, 20_100);
        pending.add(accepted("msg_21"));
        assert_eq!(pending.wait(id, 20_100), None);
        let next = pending.schedule(20_500).unwrap();
        assert_eq!(pending.wait(next, 20_500), Some(500));
    }

    #[test]
    fn what_comes_during_a_loops_last_flush_is_written_by_the_loop_that_follows_it() {
        let (mut pending, id) = flushing_every_second_for_20_s();
        // Mid-way through the flush of 20 s, which is the loop's last.
        pending.add(accepted("msg_late"));
        let next = pending.schedule(20_050).expect("a loop follows");
        assert_ne!(next, id);
        pending.add(accepted("msg_later"));
        assert_eq!(pending.schedule(20_060), None, "one follows already");
        assert_eq!(pending.wait(next, 20_060), Some(FOLLOW_POLL_MS));
        pending.written(id, true, 20_100);
        assert_eq!(pending.wait(id, 20_100), None, "the first is over");
        assert_eq!(
            pending.wait(next, 20_300),
            Some(700),
            "its turn, a second after"
        );
        assert_eq!(events_in(&take(&mut pending, next, 21_000)), 2);
        pending.written(next, true, 21_100);
        assert_eq!(pending.wait(next, 21_100), None);
        // A loop cut off for being stale takes its follower with it: the loop
        // that replaces it writes everything.
        let mut pending = Pending::default();
        pending.add(accepted("msg_a"));
        let first = pending.schedule(20_000).unwrap();
        assert_eq!(pending.wait(first, 20_000), Some(0));
        take(&mut pending, first, 20_000);
        for second in 21..=40 {
            pending.add(accepted(&format!("msg_{second}")));
            let now = second * 1_000;
            assert_eq!(pending.wait(first, now), Some(0), "{second}");
            pending.written(first, true, now);
            take(&mut pending, first, now);
        }
        pending.add(accepted("msg_b"));
        let follower = pending.schedule(40_500).expect("a loop follows");
        // The first never reports again (its isolate's waitUntil ended).
        let replacement = pending.schedule(50_500).expect("stale: replaced");
        assert_eq!(pending.wait(follower, 50_500), None, "the follower ends");
        assert_eq!(pending.wait(replacement, 50_500), Some(0));
        assert_eq!(events_in(&take(&mut pending, replacement, 50_500)), 1);
    }

    #[test]
    fn counts_add_up_into_one_statement_each() {
        let mut pending = Pending::default();
        for _ in 0..1000 {
            pending.add(rejected(RECEIVED_MS));
        }
        for _ in 0..3 {
            pending.add(Entry::Duplicate {
                id: id_like("msg_1"),
                timestamp: "2026-12-02T13:00:00Z".into(),
                at_ms: RECEIVED_MS,
            });
        }
        let id = pending.schedule(0).unwrap();
        assert_eq!(pending.wait(id, 0), Some(0), "redeliveries are verified");
        let batch = take(&mut pending, id, 0);
        assert_eq!(batch.len(), 3, "{batch:#?}");
        assert!(batch.iter().any(|s| s.params.contains(&1000.into())));
        assert!(batch
            .iter()
            .any(|s| s.params == vec![id_like("msg_1").into(), 3.into(), RECEIVED_MS.into()]));
    }

    #[test]
    fn large_backlogs_go_back_to_back_in_batches_of_whole_events() {
        let mut pending = Pending::default();
        for i in 0..450 {
            pending.add(accepted(&format!("msg_{i}")));
        }
        let id = pending.schedule(0).unwrap();
        let mut events = 0;
        let mut batches = 0;
        while pending.wait(id, 10) == Some(0) {
            let (_, batch) = pending.take(id, 10).unwrap();
            assert!(batch.len() <= BATCH_STATEMENTS + 1);
            assert!(batch[0].sql.starts_with("INSERT INTO events"));
            events += events_in(&batch);
            batches += 1;
            // Traffic while it writes waits for the next flush.
            pending.add(accepted("later"));
            pending.written(id, true, 10);
        }
        assert_eq!((events, batches), (450, 3));
        assert_eq!(pending.wait(id, 10), Some(FLUSH_EVERY_MS));
    }
}
