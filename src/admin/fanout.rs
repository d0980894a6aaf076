//! Which shards of the log a call asks, and how their rows make one answer.
//!
//! The log's directory lists every shard that holds anything, with what it
//! last reported of itself (its size, events, failed events and held
//! deliveries). A call asks
//! only the shards whose window may hold what it wants: an event's id names
//! one shard a window; a list walks windows newest first, at most
//! [`SHARDS_PER_CALL`] shards, and says where the next call goes on.

use super::request::{Cursor, Filters};
use super::rows::{self, count, optional, text, FromRow, Row};
use crate::event_log::{tie, Shard, Status, SHARDS_PER_CALL};

/// What a shard last reported of itself, as the directory lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub name: String,
    /// 0 when missing, as each count.
    pub bytes: u64,
    pub events: u64,
    pub failed: u64,
    /// Whether it holds an event with a held delivery.
    pub held: u64,
    /// When its oldest event was received, unix ms.
    pub oldest: Option<i64>,
}

impl FromRow for Figures {
    fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            name: text(row, "name")?,
            bytes: count(row, "bytes")?,
            events: count(row, "events")?,
            failed: count(row, "failed")?,
            held: count(row, "held")?,
            oldest: optional(row, "oldest", serde_json::Value::as_i64)?,
        })
    }
}

/// The shards that hold anything, newest window first.
#[derive(Debug, Default)]
pub struct Directory {
    shards: Vec<(Shard, Figures)>,
}

/// The shards one query asks, and below which arrival time its merged rows
/// are not final (older windows were left for the next call).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Asked {
    pub shards: Vec<Shard>,
    pub bound: Option<i64>,
}

impl Directory {
    /// The directory's answer: `[{"name":…,"bytes":…,…}]`. A name that is not
    /// a shard's is left out.
    pub fn parse(text: &str) -> Option<Self> {
        let rows: Vec<Figures> = rows::list(text)?;
        // Newest window first, then by `k`; a repeated shard keeps its first
        // row. Each put in its place as it comes (a few dozen shards): a
        // sort's code is kilobytes of the bundle.
        let mut shards: Vec<(Shard, Figures)> = Vec::new();
        for figures in rows {
            let Some(shard) = Shard::parse(&figures.name) else {
                continue;
            };
            let key = |shard: &Shard| (std::cmp::Reverse(shard.window), shard.k);
            let at = shards.partition_point(|(kept, _)| key(kept) < key(&shard));
            if shards.get(at).is_none_or(|(kept, _)| *kept != shard) {
                shards.insert(at, (shard, figures));
            }
        }
        Some(Self { shards })
    }

    /// Every shard that may hold the event `id`: its shard in each window.
    pub fn for_event(&self, id: &str) -> Vec<Shard> {
        let k = Shard::of(0, id).k;
        self.shards
            .iter()
            .map(|(shard, _)| *shard)
            .filter(|shard| shard.k == k)
            .collect()
    }

    /// The shards whose window may hold events received from `since` to before
    /// `until` (unix ms), given that an event arrives within `tolerance_ms` of
    /// its timestamp; for `failed` or `held`, only those that hold some (held
    /// events are kept however old, so most windows hold none).
    fn within(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        tolerance_ms: i64,
        status: Option<Status>,
    ) -> impl Iterator<Item = Shard> + '_ {
        self.shards
            .iter()
            .filter(move |(shard, figures)| {
                let after_since =
                    since.is_none_or(|since| shard.end_ms().saturating_add(tolerance_ms) > since);
                let before_until =
                    until.is_none_or(|until| shard.start_ms().saturating_sub(tolerance_ms) < until);
                let holds = match status {
                    Some(Status::Failed) => figures.failed > 0,
                    Some(Status::Held) => figures.held > 0,
                    _ => true,
                };
                after_since && before_until && holds
            })
            .map(|(shard, _)| *shard)
    }

    /// What a page of the list (or a chunk of a bulk replay) asks: whole
    /// windows, newest first, up to [`SHARDS_PER_CALL`] shards.
    pub fn for_list(&self, filters: &Filters, tolerance_ms: i64) -> Asked {
        let until = match (&filters.cursor, filters.until_ms) {
            (Some(cursor), Some(until)) => Some(until.min(cursor.received_at.saturating_add(1))),
            (Some(cursor), None) => Some(cursor.received_at.saturating_add(1)),
            (None, until) => until,
        };
        let mut asked = Asked::default();
        let mut all = self
            .within(filters.since_ms, until, tolerance_ms, filters.status)
            .peekable();
        while let Some(first) = all.peek().copied() {
            let window: Vec<Shard> =
                std::iter::from_fn(|| all.next_if(|s| s.window == first.window)).collect();
            if !asked.shards.is_empty() && asked.shards.len() + window.len() > SHARDS_PER_CALL {
                // Older windows hold events received before this, at most.
                let oldest = asked
                    .shards
                    .last()
                    .map_or(first.start_ms(), Shard::start_ms);
                asked.bound = Some(oldest.saturating_add(tolerance_ms));
                break;
            }
            asked.shards.extend(window);
        }
        asked
    }

    /// Every shard that may hold counts of the hours from `since` to before
    /// `until`: a count goes with its event, or to the window of its hour.
    pub fn for_hours(&self, since: i64, until: i64, tolerance_ms: i64) -> Vec<Shard> {
        self.within(Some(since), Some(until), tolerance_ms, None)
            .collect()
    }

    /// Every shard a bulk replay of `filters` may take events from.
    pub fn for_count(&self, filters: &Filters, tolerance_ms: i64) -> Vec<Shard> {
        self.within(
            filters.since_ms,
            filters.until_ms,
            tolerance_ms,
            filters.status,
        )
        .collect()
    }

    /// How many shards hold anything, their bytes, their events, and when the
    /// oldest was received.
    pub fn storage(&self) -> (usize, u64, u64, Option<i64>) {
        let figures = self.shards.iter().map(|(_, figures)| figures);
        (
            self.shards.len(),
            figures.clone().map(|f| f.bytes).sum(),
            figures.clone().map(|f| f.events).sum(),
            figures.filter_map(|f| f.oldest).min(),
        )
    }
}

/// Rows merged from many shards into the list's order, newest first, cut at
/// `bound`: what is received before it may still come from older windows.
/// With more than `limit` left, the page ends at `limit` and the next goes on
/// from its last row; cut, it goes on from the bound.
pub fn page<T>(
    rows: Vec<T>,
    key: impl for<'r> Fn(&'r T) -> (i64, &'r str),
    limit: usize,
    bound: Option<i64>,
) -> (Vec<T>, Option<Cursor>) {
    // By arrival, then by the id's hash: the order within each shard. Stable,
    // as `sort_by_cached_key` is: each key with its row's index, sorted.
    let mut order: Vec<(std::cmp::Reverse<(i64, i64)>, usize)> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let (at, id) = key(row);
            (std::cmp::Reverse((at, tie(id))), index)
        })
        .collect();
    crate::merge_sort::sort(&mut order);
    let mut slots: Vec<Option<T>> = rows.into_iter().map(Some).collect();
    let mut rows: Vec<T> = order
        .iter()
        .filter_map(|&(_, index)| slots.get_mut(index)?.take())
        .collect();
    let cut = bound.map_or(rows.len(), |bound| {
        rows.partition_point(|row| key(row).0 >= bound)
    });
    rows.truncate(cut.min(limit));
    let next = if cut > limit {
        rows.last().map(|row| {
            let (received_at, id) = key(row);
            Cursor {
                received_at,
                id: id.to_string(),
            }
        })
    } else {
        bound.map(|bound| Cursor {
            received_at: bound,
            id: String::new(),
        })
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_log::{SHARDS, WINDOW_MS};

    const DAY: i64 = 20_428;
    const TOLERANCE: i64 = 300_000;

    fn directory(windows: std::ops::Range<i64>, failed_in: i64) -> Directory {
        held_directory(windows, failed_in, -1)
    }

    /// The same, the shard 2 of the window `held_in` holding a held delivery.
    fn held_directory(windows: std::ops::Range<i64>, failed_in: i64, held_in: i64) -> Directory {
        let mut rows = Vec::new();
        for window in windows {
            for k in 0..SHARDS {
                rows.push(format!(
                    r#"{{"name":"{}","bytes":4096,"events":10,"failed":{},"held":{},"oldest":{}}}"#,
                    Shard::in_window(window, k).name(),
                    u64::from(window == failed_in),
                    u64::from(window == held_in && k == 2),
                    window * WINDOW_MS
                ));
            }
        }
        Directory::parse(&format!("[{}]", rows.join(","))).unwrap()
    }

    #[test]
    fn an_event_is_asked_of_one_shard_a_window() {
        let directory = directory(DAY - 30..DAY + 1, -1);
        let shards = directory.for_event("msg_1");
        assert_eq!(shards.len(), 31);
        assert!(shards
            .iter()
            .all(|s| *s == Shard::in_window(s.window, Shard::of(0, "msg_1").k)));
        assert_eq!(shards[0].window, DAY, "newest first");
    }

    #[test]
    fn a_list_asks_whole_windows_newest_first_up_to_the_cap_and_says_where_it_stopped() {
        let directory = directory(DAY - 7..DAY + 1, -1);
        let asked = directory.for_list(&Filters::default(), TOLERANCE);
        let per_call = SHARDS_PER_CALL / SHARDS as usize;
        assert_eq!(asked.shards.len(), per_call * SHARDS as usize);
        assert_eq!(asked.shards[0].window, DAY);
        let oldest = DAY + 1 - per_call as i64;
        assert_eq!(asked.bound, Some(oldest * WINDOW_MS + TOLERANCE));
        // Going on from the bound: the windows it may reach, down to the first.
        let cursor = Cursor {
            received_at: asked.bound.unwrap(),
            id: String::new(),
        };
        let next = directory.for_list(
            &Filters {
                cursor: Some(cursor),
                ..Filters::default()
            },
            TOLERANCE,
        );
        assert_eq!(next.shards[0].window, oldest, "its window's early arrivals");
        assert_eq!(next.shards.last().unwrap().window, DAY - 7);
        assert_eq!(next.bound, None);
        // A time filter asks only the windows it may reach.
        let day = Filters {
            since_ms: Some(DAY * WINDOW_MS + TOLERANCE),
            until_ms: Some((DAY + 1) * WINDOW_MS - TOLERANCE),
            ..Filters::default()
        };
        assert!(directory
            .for_list(&day, TOLERANCE)
            .shards
            .iter()
            .all(|s| s.window == DAY));
        // Failures are asked only of the shards that hold some.
        let failed = Filters {
            status: Some(Status::Failed),
            ..Filters::default()
        };
        let directory = super::tests::directory(DAY - 30..DAY + 1, DAY - 20);
        let asked = directory.for_list(&failed, TOLERANCE);
        assert!(asked.shards.iter().all(|s| s.window == DAY - 20));
        assert_eq!((asked.shards.len(), asked.bound), (SHARDS as usize, None));
    }

    #[test]
    fn held_events_are_asked_only_of_the_shards_that_hold_some_however_old() {
        let held = Filters {
            status: Some(Status::Held),
            ..Filters::default()
        };
        // A year of windows kept for one held delivery, and failures elsewhere.
        let directory = held_directory(DAY - 365..DAY + 1, DAY - 3, DAY - 300);
        let asked = directory.for_list(&held, TOLERANCE);
        assert_eq!(
            (asked.shards, asked.bound),
            (vec![Shard::in_window(DAY - 300, 2)], None)
        );
        assert_eq!(
            directory.for_count(&held, TOLERANCE),
            [Shard::in_window(DAY - 300, 2)]
        );
        // Other lists still ask every window; a directory row from before
        // `held` reads as holding none.
        let all = directory.for_list(&Filters::default(), TOLERANCE);
        assert_eq!(all.shards.len(), SHARDS_PER_CALL);
        let before = Directory::parse(&format!(
            r#"[{{"name":"{}","bytes":4096,"events":10,"failed":0,"oldest":0}}]"#,
            Shard::in_window(DAY, 0).name()
        ))
        .unwrap();
        assert!(before.for_list(&held, TOLERANCE).shards.is_empty());
        assert_eq!(
            before.for_list(&Filters::default(), TOLERANCE).shards.len(),
            1
        );
    }

    #[test]
    fn merged_pages_are_in_one_order_and_cut_where_older_windows_may_add() {
        let rows = vec![(5, "b"), (9, "a"), (5, "c"), (1, "z"), (7, "x")];
        fn key<'r>(row: &'r (i64, &'static str)) -> (i64, &'r str) {
            (row.0, row.1)
        }
        // Received in the same millisecond: by the hash of their ids.
        let (high, low) = if tie("b") > tie("c") {
            ("b", "c")
        } else {
            ("c", "b")
        };
        let (first, next) = page(rows.clone(), key, 3, None);
        assert_eq!(first, [(9, "a"), (7, "x"), (5, high)]);
        assert_eq!(
            next,
            Some(Cursor {
                received_at: 5,
                id: high.into()
            })
        );
        let (all, next) = page(rows.clone(), key, 10, None);
        assert_eq!((all.len(), next), (5, None));
        // Rows before the bound wait for the call that asks the older windows.
        let (page, next) = super::page(rows.clone(), key, 10, Some(5));
        assert_eq!(page, [(9, "a"), (7, "x"), (5, high), (5, low)]);
        assert_eq!(
            next,
            Some(Cursor {
                received_at: 5,
                id: String::new()
            })
        );
        let (page, next) = super::page(rows, key, 2, Some(5));
        assert_eq!(page, [(9, "a"), (7, "x")]);
        assert_eq!(
            next,
            Some(Cursor {
                received_at: 7,
                id: "x".into()
            })
        );
    }
}
