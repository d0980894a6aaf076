//! Native integration tests: the production pipeline driven with the fakes of
//! `leadnest_edge::testing`, and the event log's statements run against SQLite
//! with the schema of `migrations/`. One binary, one module per subject.

// Tests say what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod d1;
mod event_log;
mod ingress;
mod worker;
