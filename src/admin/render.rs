//! The admin API's answers. SQLite builds each event's and each hour's JSON
//! (`sql.rs`); this joins them and adds what only the call knows.

use serde::{Deserialize, Serialize};

use super::request::Cursor;
use crate::error::json;

/// A row of a query that builds its JSON: `j`, and the event's `seq` (the
/// cursor) or the hour.
#[derive(Debug, Deserialize)]
pub struct JsonRow {
    pub seq: i64,
    /// An event's `received_at`: with `seq`, the cursor.
    #[serde(default)]
    pub at: i64,
    pub j: String,
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

/// `{"events":[…],"next_cursor":…}` from up to `limit + 1` rows.
pub fn list(rows: &[JsonRow], limit: u32) -> String {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let page = rows.get(..limit.min(rows.len())).unwrap_or_default();
    let next_cursor = match (rows.len() > limit, page.last()) {
        (true, Some(last)) => format!(
            "\"{}\"",
            Cursor {
                received_at: last.at,
                seq: last.seq
            }
        ),
        _ => "null".to_string(),
    };
    format!(
        "{{\"events\":{},\"next_cursor\":{next_cursor}}}",
        array(page.iter())
    )
}

/// `{"hours":[…],"storage":{…}}`: the hours oldest first, one entry per hour
/// that has a count; `storage` as SQLite built it, with the bytes the
/// platform metered.
pub fn stats(rows: &[JsonRow], storage: &str, bytes: Option<u64>) -> String {
    let bytes = bytes.map_or_else(|| "null".to_string(), |n| n.to_string());
    let storage = storage.strip_suffix('}').unwrap_or(storage);
    let separator = if storage.ends_with('{') { "" } else { "," };
    format!(
        "{{\"hours\":{},\"storage\":{storage}{separator}\"bytes_stored\":{bytes}}}}}",
        array(rows.iter())
    )
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
