//! The event log (SPEC section 8), kept in SQLite-backed Durable Objects, one
//! per day and shard ([`Shard`]): what the worker writes there and when. The
//! core decides every statement and where it goes; the driver runs them, in
//! batches, and never lets a write delay or fail the answer to LeadNest.
//!
//! Nothing written holds a secret or a signature: the records are built from
//! fields chosen one by one, as the log lines are.

mod pending;
mod records;
pub mod schema;
mod shard;
mod statement;
mod tally;
pub mod time;
mod vocabulary;
mod warnings;

pub use pending::{retry_wait, FlushStep, Pending, FLUSH_EVERY_MS, REJECTIONS_EVERY_MS};
pub use records::{
    merge_attempts, purge_all_but_failed, purge_all_but_held, purge_continues, replay_pending,
    AcceptedEvent, AttemptEntry, DeadLetter, Entry, HeldDelivery, RouteKind, Unwritten,
    PURGE_CHUNK,
};
pub use schema::SCHEMA;
pub use shard::{tie, Retention, Shard, SHARDS, SHARDS_PER_CALL, WINDOW_MS};
pub use statement::{Param, Statement};
pub(crate) use tally::Tally;
pub use vocabulary::{AttemptOutcome, Status};
pub use warnings::{upkeep_failed_line, write_failed_line};
