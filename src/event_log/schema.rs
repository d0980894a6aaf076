//! The tables of one shard of the log (SQLite in a Durable Object). A shard
//! creates them on its first write, and again after `deleteAll()` drops them.
//!
//! The platform meters every row written, index entries included, so an event
//! is one row: its deliveries and their attempts are a JSON object in it
//! (`routes`), written by an update of that row. The row's key, `seq`, is its
//! arrival and a hash of its id (`Shard::seq`): rows are kept in the list's
//! order and appended as they come, so the order needs no index and pages are
//! filled whole. There are only the indexes a query needs: an event by id, by
//! message id, and failures, on a partial index that costs nothing for an
//! event delivered.
//!
//! `routes` is `{"<route>":{"status":"pending|delivered|failed","attempts":[…]}}`,
//! each attempt `{"attempt":1,"at":…,"duration_ms":…,"outcome":…,"status":200,…}`
//! with a response's headers (a JSON text) and body as strings. The event's
//! status follows from it: only a delivery's status is a string after
//! `"status":`, so finding that text is exact. Its name and timestamp are
//! read from its body, not stored twice: a row of three rather than two to a
//! 4 KB page halves what a page wastes. Its id, `msg_` and 32 hex digits, is
//! kept and indexed as its 16 bytes ([`ID_KEY`]).

/// An event's id as its key: the 16 bytes a `webhook-id` (`msg_` and 32 hex
/// digits) spells, or the id's own bytes for any other (the worker makes
/// none); `$p` the id's parameter.
#[macro_export]
macro_rules! id_key {
    ($p:literal) => {
        concat!(
            "(CASE WHEN length(",
            $p,
            ") = 36 AND substr(",
            $p,
            ", 1, 4) = 'msg_' ",
            "THEN unhex(substr(",
            $p,
            ", 5)) END)"
        )
    };
}
/// [`id_key!`] of `?1`.
pub const ID_KEY: &str = id_key!("?1");

/// The statements, in order; each may run again (`IF NOT EXISTS`).
pub const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS events (\
seq INTEGER PRIMARY KEY, \
id_key BLOB NOT NULL UNIQUE, \
message_id TEXT, \
received_at INTEGER NOT NULL, \
body TEXT NOT NULL, \
routes TEXT NOT NULL DEFAULT '{}', \
id TEXT GENERATED ALWAYS AS (CASE WHEN length(id_key) = 16 \
THEN 'msg_' || lower(hex(id_key)) ELSE CAST(id_key AS TEXT) END) VIRTUAL, \
event TEXT GENERATED ALWAYS AS (json_extract(body, '$.event')) VIRTUAL, \
timestamp TEXT GENERATED ALWAYS AS (json_extract(body, '$.timestamp')) VIRTUAL, \
status TEXT GENERATED ALWAYS AS (CASE \
WHEN routes = '{}' THEN 'unrouted' \
WHEN instr(routes, '\"status\":\"failed\"') THEN 'failed' \
WHEN instr(routes, '\"status\":\"pending\"') THEN 'pending' \
ELSE 'delivered' END) VIRTUAL)",
    // Its entries are in `seq` order too: failures newest first, a walk.
    "CREATE INDEX IF NOT EXISTS events_failed ON events (status) WHERE status = 'failed'",
    "CREATE INDEX IF NOT EXISTS events_message_id ON events (message_id) WHERE message_id IS NOT NULL",
    // Redeliveries answered `duplicate`, per event: a table of their own, so a
    // count written before the event itself is kept.
    "CREATE TABLE IF NOT EXISTS redeliveries (\
event_id TEXT PRIMARY KEY, count INTEGER NOT NULL, last_at INTEGER NOT NULL) WITHOUT ROWID",
    // Counts per hour: accepted, duplicate, rejected:<code>, delivered, failed,
    // lost, rows_written.
    "CREATE TABLE IF NOT EXISTS counts (\
hour INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, \
PRIMARY KEY (hour, name)) WITHOUT ROWID",
];

/// Whether a shard has its tables (a read never makes them).
pub const HAS_TABLES: &str = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'";

/// What a shard tells the directory of itself, read from a few rows (rows read
/// are billed, and a busy shard reports every second): its events as its
/// counts of events accepted, whether it holds a failed event, and when its
/// oldest was received.
pub const FIGURES: &str = "SELECT \
(SELECT COALESCE(SUM(count), 0) FROM counts WHERE name = 'accepted') AS events, \
EXISTS (SELECT 1 FROM events WHERE status = 'failed') AS failed, \
(SELECT MIN(received_at) FROM events) AS oldest";
/// The same of a shard past retention, purged: small, so its events counted.
pub const FIGURES_PURGED: &str = "SELECT (SELECT COUNT(*) FROM events) AS events, \
EXISTS (SELECT 1 FROM events WHERE status = 'failed') AS failed, \
(SELECT MIN(received_at) FROM events) AS oldest";

/// The directory's table (the object named `directory`): every shard that
/// holds anything, with what it last reported.
pub const DIRECTORY: &str = "CREATE TABLE IF NOT EXISTS shards (\
name TEXT PRIMARY KEY, bytes INTEGER, events INTEGER, failed INTEGER, oldest INTEGER) WITHOUT ROWID";
/// A shard's report: an upsert writes one row, where a REPLACE would delete
/// and insert.
pub const NOTE: &str =
    "INSERT INTO shards (name, bytes, events, failed, oldest) VALUES (?1, ?2, ?3, ?4, ?5) \
ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, events = excluded.events, \
failed = excluded.failed, oldest = excluded.oldest";
/// A shard dropped whole.
pub const FORGET: &str = "DELETE FROM shards WHERE name = ?1";
/// Every shard there is.
pub const LIST: &str = "SELECT name, bytes, events, failed, oldest FROM shards";
