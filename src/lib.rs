//! leadnest-edge: a verified LeadNest webhook ingress for Cloudflare Workers.
//!
//! The modules at the top are pure and tested natively. `wasm` is what the
//! Worker's JavaScript driver (`src/worker/`) calls: it performs each step the
//! core asks for on the platform and reports back.

pub mod admin;
pub mod attempts;
pub mod config;
pub mod dedup;
pub mod delivery;
pub mod endpoint;
pub mod error;
pub mod event_log;
pub mod filter;
pub mod health;
pub mod ingress;
mod json_writer;
pub mod key_table;
pub mod log;
pub mod merge_sort;
pub mod payload;
pub mod rfc3339;
pub mod routes;
pub mod scrub;
pub mod signature;
pub mod standard_webhooks;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod text;

mod wasm;
