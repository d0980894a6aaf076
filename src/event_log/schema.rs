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
//!
//! A held delivery (SPEC section 10) is stored `"status":"pending","held":true`
//! and read back as `held` ([`delivery_status!`]), so the generated `status`
//! makes its event `pending` (or `failed`, which wins) as it stands. Shards
//! made before `held` keep their column unchanged, and that is why it is
//! stored so: SQLite cannot alter a generated column, and replacing it would
//! mean dropping and rebuilding the index of failures in every shard. Nothing
//! is migrated but one new index (`IF NOT EXISTS` below); an older version
//! reading such a row sees a pending delivery, which it is.

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

/// Whether an event has a held delivery: `"held":true` is only ever a
/// delivery's mark (a route's value is an object; a response's headers and
/// body are strings, their quotes escaped), so finding that text is exact.
/// Written the same in every query, the index's own expression, so that the
/// planner walks `events_held`.
#[macro_export]
macro_rules! held_sql {
    () => {
        "instr(routes, '\"held\":true')"
    };
}
/// [`held_sql!`].
pub const HELD: &str = held_sql!();

/// A replay not yet delivered: a delivery a replay set back to pending (it
/// carries `"replay":true` from then on). Kept by the retention as a failed
/// one is, until it is delivered or fails again (SPEC section 8: kept until
/// replayed and delivered).
#[macro_export]
macro_rules! replaying_sql {
    () => {
        "(instr(routes, '\"replay\":true') AND status = 'pending')"
    };
}

/// A delivery's status as the log names it, `$d` the delivery's JSON: `held`
/// for one marked so (its stored status is `pending`), else its status.
#[macro_export]
macro_rules! delivery_status {
    ($d:literal) => {
        concat!(
            "iif(json_extract(",
            $d,
            ", '$.held'), 'held', json_extract(",
            $d,
            ", '$.status'))"
        )
    };
}

/// The statements, in order; each may run again (`IF NOT EXISTS`), and each
/// runs on a shard made by an older version before it is read or written.
pub const SCHEMA: [&str; 7] = [
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
    // Events with a held delivery, newest first: the list's `status=held` and
    // the retention, which keeps them, walk it; a paused route may hold
    // millions. Only held events have an entry. A shard made before `held`
    // builds it on its first use by this version: one read of its rows.
    concat!(
        "CREATE INDEX IF NOT EXISTS events_held ON events (seq) WHERE ",
        held_sql!()
    ),
    // Events a replay set back to pending: only they have an entry, so the
    // retention finds them without reading the rest.
    "CREATE INDEX IF NOT EXISTS events_replayed ON events (seq) WHERE instr(routes, '\"replay\":true')",
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

/// A shard's figures with `$events` as its count of events: whether it holds a
/// failed event (or a replay not yet delivered, kept as one) and a held
/// delivery (each from its index), and when its oldest was received (the
/// first row: rows are kept in arrival order, so no scan for a minimum).
macro_rules! figures {
    ($events:literal) => {
        concat!(
            "SELECT ",
            $events,
            " AS events, ",
            "(EXISTS (SELECT 1 FROM events WHERE status = 'failed') OR EXISTS (SELECT 1 FROM events WHERE ",
            replaying_sql!(),
            ")) AS failed, ",
            "EXISTS (SELECT 1 FROM events WHERE ",
            held_sql!(),
            ") AS held, ",
            "(SELECT received_at FROM events ORDER BY seq LIMIT 1) AS oldest"
        )
    };
}

/// What a shard tells the directory of itself, read from a few rows (rows read
/// are billed, and a busy shard reports every second): its events as its
/// counts of events accepted.
pub const FIGURES: &str =
    figures!("(SELECT COALESCE(SUM(count), 0) FROM counts WHERE name = 'accepted')");
/// The same of a shard past retention, purged: small, so its events counted.
pub const FIGURES_PURGED: &str = figures!("(SELECT COUNT(*) FROM events)");

/// The directory's table (the object named `directory`): every shard that
/// holds anything, with what it last reported.
pub const DIRECTORY: &str = "CREATE TABLE IF NOT EXISTS shards (\
name TEXT PRIMARY KEY, bytes INTEGER, events INTEGER, failed INTEGER, oldest INTEGER, \
held INTEGER) WITHOUT ROWID";
/// One row if the directory's table was made before `held`, which then takes
/// [`DIRECTORY_UPGRADE`], once. A shard reports its figures with every write,
/// so a column added beats a table rebuilt: until a shard reports again its
/// `held` is NULL, read as 0, and only a shard written since can hold one.
pub const DIRECTORY_OUTDATED: &str =
    "SELECT 1 FROM sqlite_master WHERE name = 'shards' AND instr(sql, 'held') = 0";
/// See [`DIRECTORY_OUTDATED`].
pub const DIRECTORY_UPGRADE: &str = "ALTER TABLE shards ADD COLUMN held INTEGER";
/// A shard's report: an upsert writes one row, where a REPLACE would delete
/// and insert.
pub const NOTE: &str =
    "INSERT INTO shards (name, bytes, events, failed, oldest, held) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, events = excluded.events, \
failed = excluded.failed, oldest = excluded.oldest, held = excluded.held";
/// A shard dropped whole.
pub const FORGET: &str = "DELETE FROM shards WHERE name = ?1";
/// Every shard there is.
pub const LIST: &str =
    "SELECT name, bytes, events, failed, COALESCE(held, 0) AS held, oldest FROM shards";
