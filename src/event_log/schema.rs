//! The tables of one shard of the log (SQLite in a Durable Object). A shard
//! creates them on its first write, and again after `deleteAll()` drops them.
//!
//! Every index is paid on each insert (the platform meters index entries as
//! rows written), so there are only those a query needs: the list's order,
//! an event by id or by message id, and the failures, on a partial index that
//! costs nothing for an event that is delivered.

/// The statements, in order; each may run again (`IF NOT EXISTS`).
pub const SCHEMA: [&str; 8] = [
    // One row per accepted event; `seq` is SQLite's rowid.
    "CREATE TABLE IF NOT EXISTS events (\
seq INTEGER PRIMARY KEY, \
id TEXT NOT NULL UNIQUE, \
event TEXT NOT NULL, \
message_id TEXT, \
timestamp TEXT NOT NULL, \
received_at INTEGER NOT NULL, \
body TEXT NOT NULL, \
status TEXT NOT NULL DEFAULT 'pending')",
    // The list's order, ties by id as in every shard: pages are index ranges.
    "CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at, id)",
    "CREATE INDEX IF NOT EXISTS events_failed ON events (received_at, id) WHERE status = 'failed'",
    "CREATE INDEX IF NOT EXISTS events_message_id ON events (message_id)",
    // One row per (event, route) the event matched.
    "CREATE TABLE IF NOT EXISTS deliveries (\
event_id TEXT NOT NULL, route TEXT NOT NULL, status TEXT NOT NULL, \
PRIMARY KEY (event_id, route)) WITHOUT ROWID",
    // Every attempt of a delivery, numbered per delivery (a replay appends).
    "CREATE TABLE IF NOT EXISTS attempts (\
event_id TEXT NOT NULL, route TEXT NOT NULL, attempt INTEGER NOT NULL, \
at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, outcome TEXT NOT NULL, \
status INTEGER, headers TEXT, body TEXT, error TEXT, \
PRIMARY KEY (event_id, route, attempt)) WITHOUT ROWID",
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
