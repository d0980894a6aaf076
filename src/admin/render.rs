//! The admin API's answers. SQLite builds each event's JSON (`sql.rs`); this
//! joins them, adds up the shards' counts and adds what only the call knows.

use super::request::Cursor;
use super::rows::{int, text, FromRow, Row};
use crate::event_log::time::rfc3339;
use crate::event_log::Tally;
use crate::json_writer::{count, json, JsonObject};

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
#[derive(Debug, Default)]
struct Hour {
    accepted: i64,
    duplicate: i64,
    rejected: Tally<String, i64>,
    delivered: i64,
    failed: i64,
    log_writes_lost: i64,
}

/// `{"hours":[…],"storage":{…}}`: the hours from `since_hour` to before
/// `until_hour` that have a count, oldest first, every shard's added up; and
/// what the log holds and what it cost in that time.
pub fn stats(counts: &[CountRow], since_hour: i64, until_hour: i64, storage: &Storage) -> String {
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
    let mut out = String::from("{\"hours\":[");
    let mut first = true;
    for (at, mut hour) in hours.take() {
        // An hour with only the log's own meter has nothing to show.
        if hour.accepted + hour.duplicate + hour.delivered + hour.failed + hour.log_writes_lost == 0
            && hour.rejected.is_empty()
        {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let mut rejected = JsonObject::new();
        for (code, n) in hour.rejected.take() {
            rejected.number(&code, n);
        }
        out.push_str(
            &JsonObject::new()
                .text("hour", &rfc3339(at.saturating_mul(1000)))
                .number("accepted", hour.accepted)
                .number("duplicate", hour.duplicate)
                .raw("rejected", &rejected.end())
                .number("delivered", hour.delivered)
                .number("failed", hour.failed)
                .number("log_writes_lost", hour.log_writes_lost)
                .end(),
        );
    }
    out.push_str("],\"storage\":");
    let oldest_event = storage.oldest_event.map(rfc3339);
    let lost_since = lost_since.map(|hour| rfc3339(hour.saturating_mul(1000)));
    let per_event = (accepted > 0).then(|| hundredths(written as f64 / accepted as f64));
    out.push_str(
        &JsonObject::new()
            .number("shards", count(storage.shards as u64))
            .number("bytes_stored", count(storage.bytes_stored))
            .number("events_kept", count(storage.events_kept))
            .text_or_null("oldest_event", oldest_event.as_deref())
            .number("rows_written", written)
            .number("events_accepted", accepted)
            .raw(
                "rows_written_per_event",
                per_event.as_deref().unwrap_or("null"),
            )
            .number("log_writes_lost", lost)
            .text_or_null("lost_since", lost_since.as_deref())
            .end(),
    );
    out.push('}');
    out
}

/// `ratio` rounded to hundredths, as JSON writes that number: `3.88`, `2.5`,
/// `1.0` (what serde_json wrote for the `f64`, without its float formatting).
fn hundredths(ratio: f64) -> String {
    // A ratio of counts: never negative, far below i64::MAX.
    let n = (ratio * 100.0).round() as i64;
    let (whole, cents) = (n / 100, n % 100);
    if cents % 10 == 0 {
        format!("{whole}.{}", cents / 10)
    } else {
        format!("{whole}.{cents:02}")
    }
}

/// `{"replayed":[routes]}`.
pub fn replayed_routes(routes: &[String]) -> String {
    let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
    JsonObject::new().texts("replayed", &routes).end()
}

/// `{"replayed":N,"next_cursor":…}`.
pub fn replayed_count(replayed: usize, next_cursor: Option<Cursor>) -> String {
    let next_cursor = next_cursor.map(|cursor| cursor.to_string());
    JsonObject::new()
        .number("replayed", count(replayed as u64))
        .text_or_null("next_cursor", next_cursor.as_deref())
        .end()
}

/// `{"would_replay":N}`: a bulk replay's dry run.
pub fn would_replay(count: usize) -> String {
    format!("{{\"would_replay\":{count}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hundredths_are_written_as_serde_json_writes_the_rounded_f64() {
        for (written, accepted) in (0..2_000)
            .map(|w| (w, 7))
            .chain((0..500).map(|w| (w * 37, 1 + w % 13)))
            .chain([(388, 100), (5, 2), (3, 3), (1, 3), (2, 3), (123_456_789, 1)])
        {
            let ratio = written as f64 / accepted as f64;
            let rounded = (ratio * 100.0).round() / 100.0;
            let expected = serde_json::to_string(&rounded).unwrap();
            assert_eq!(hundredths(ratio), expected, "{written}/{accepted}");
        }
    }
}
