//! Native integration tests: the production pipeline driven with the fakes of
//! `leadnest_edge::testing`, and the event log's statements run against SQLite
//! shards with the log's schema. One binary, one module per subject.

// Tests say what they expect by unwrapping it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod event_log;
mod ingress;
mod store;
mod worker;
