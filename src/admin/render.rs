//! The admin API's answers. SQLite builds each event's JSON (`sql.rs`); this
//! joins them, adds up the shards' counts and adds what only the call knows.

use serde::Serialize;

use super::request::Cursor;
use super::rows::{int, text, FromRow, Row};
use crate::error::json;
use crate::event_log::time::rfc3339;
use crate::event_log::Tally;

/// A row of a query that builds an event's JSON: `j`, with the event's id and
/// `received_at` (its place in the list's order).
#[derive(Debug)]
pub struct JsonRow {
    pub id: String,
    pub at: i64,
    pub j: String,
}

impl FromRow for JsonRow {
    fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            id: text(row, "id")?,
            at: int(row, "at")?,
            j: text(row, "j")?,
        })
    }
}

/// One count of one hour, from one shard.
#[derive(Debug)]
pub struct CountRow {
    pub hour: i64,
    pub name: String,
    pub n: i64,
}

impl FromRow for CountRow {
    fn from_row(row: &Row) -> Option<Self> {
        Some(Self {
            hour: int(row, "hour")?,
            name: text(row, "name")?,
            n: int(row, "n")?,
        })
    }
}

/// What the log holds, as its shards last reported it.
#[derive(Debug)]
pub struct Storage {
    pub shards: usize,
    pub bytes_stored: u64,
    pub events_kept: u64,
    /// Unix ms.
    pub oldest_event: Option<i64>,
}

/// `[j, j, …]`.
fn array<'r>(rows: impl Iterator<Item = &'r JsonRow>) -> String {
    let mut out = String::from("[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&row.j);
    }
    out.push(']');
    out
}

/// `{"events":[…],"next_cursor":…}`.
pub fn list(rows: &[JsonRow], next: Option<Cursor>) -> String {
    let next_cursor = next.map_or_else(|| "null".to_string(), |cursor| json(&cursor.to_string()));
    format!(
        "{{\"events\":{},\"next_cursor\":{next_cursor}}}",
        array(rows.iter())
    )
}

/// One hour of `/stats`.
#[derive(Debug, Default, Serialize)]
struct Hour {
    hour: String,
    accepted: i64,
    duplicate: i64,
    rejected: Tally<String, i64>,
    delivered: i64,
    failed: i64,
    log_writes_lost: i64,
}

/// `storage` of `/stats`.
#[derive(Debug, Serialize)]
struct StorageFigures {
    shards: usize,
    bytes_stored: u64,
    events_kept: u64,
    oldest_event: Option<String>,
    rows_written: i64,
    events_accepted: i64,
    rows_written_per_event: Option<f64>,
    log_writes_lost: i64,
    lost_since: Option<String>,
}

/// `{"hours":[…],"storage":{…}}`: the hours from `since_hour` to before
/// `until_hour` that have a count, oldest first, every shard's added up; and
/// what the log holds and what it cost in that time.
pub fn stats(counts: &[CountRow], since_hour: i64, until_hour: i64, storage: &Storage) -> String {
    #[derive(Serialize)]
    struct Stats {
        hours: Vec<Hour>,
        storage: StorageFigures,
    }
    let mut hours: Tally<i64, Hour> = Tally::default();
    let (mut written, mut accepted, mut lost) = (0, 0, 0);
    let mut lost_since: Option<i64> = None;
    for count in counts
        .iter()
        .filter(|c| (since_hour..until_hour).contains(&c.hour))
    {
        hours.update(count.hour, |hour| match count.name.as_str() {
            "accepted" => hour.accepted += count.n,
            "duplicate" => hour.duplicate += count.n,
            "delivered" => hour.delivered += count.n,
            "failed" => hour.failed += count.n,
            "lost" => hour.log_writes_lost += count.n,
            name => {
                if let Some(code) = name.strip_prefix("rejected:") {
                    hour.rejected.update(code.to_string(), |n| *n += count.n);
                }
            }
        });
        match count.name.as_str() {
            "rows_written" => written += count.n,
            "accepted" => accepted += count.n,
            "lost" => {
                lost += count.n;
                lost_since = Some(lost_since.map_or(count.hour, |since| since.min(count.hour)));
            }
            _ => {}
        }
    }
    let hours = hours
        .take()
        .into_iter()
        .map(|(at, mut hour)| {
            hour.hour = rfc3339(at.saturating_mul(1000));
            hour
        })
        // An hour with only the log's own meter has nothing to show.
        .filter(|hour| {
            hour.accepted + hour.duplicate + hour.delivered + hour.failed + hour.log_writes_lost > 0
                || !hour.rejected.is_empty()
        })
        .collect();
    json(&Stats {
        hours,
        storage: StorageFigures {
            shards: storage.shards,
            bytes_stored: storage.bytes_stored,
            events_kept: storage.events_kept,
            oldest_event: storage.oldest_event.map(rfc3339),
            rows_written: written,
            events_accepted: accepted,
            rows_written_per_event: (accepted > 0)
                .then(|| (written as f64 / accepted as f64 * 100.0).round() / 100.0),
            log_writes_lost: lost,
            lost_since: lost_since.map(|hour| rfc3339(hour.saturating_mul(1000))),
        },
    })
}

/// `{"replayed":[routes]}`.
pub fn replayed_routes(routes: &[String]) -> String {
    #[derive(Serialize)]
    struct Replayed<'a> {
        replayed: &'a [String],
    }
    json(&Replayed { replayed: routes })
}

/// `{"replayed":N,"next_cursor":…}`.
pub fn replayed_count(count: usize, next_cursor: Option<Cursor>) -> String {
    #[derive(Serialize)]
    struct Replayed {
        replayed: usize,
        next_cursor: Option<String>,
    }
    json(&Replayed {
        replayed: count,
        next_cursor: next_cursor.map(|cursor| cursor.to_string()),
    })
}

/// `{"would_replay":N}`: a bulk replay's dry run.
pub fn would_replay(count: usize) -> String {
    format!("{{\"would_replay\":{count}}}")
}
