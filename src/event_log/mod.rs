//! The event log (SPEC section 8), kept in D1: what the worker writes there and
//! when. The core decides every statement; the driver runs them, in batches, and
//! never lets a write delay or fail the answer to LeadNest.
//!
//! Nothing written holds a secret or a signature: the records are built from
//! fields chosen one by one, as the log lines are.

mod journal;
mod pending;
mod statement;
pub mod time;
mod vocabulary;

pub use journal::{
    purge, purge_continues, replay_pending, AcceptedEvent, AttemptEntry, DeadLetter, Entry,
    RouteKind, Unwritten, PURGE_CHUNK,
};
pub use pending::{retry_wait, Pending, FLUSH_EVERY_MS, REJECTIONS_EVERY_MS};
pub use statement::{Param, Statement};
pub use vocabulary::{AttemptOutcome, Status};
