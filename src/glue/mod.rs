//! The only code that touches the Workers runtime: request and response, env,
//! KV, queues, outbound fetch and `waitUntil`. Each piece is a thin layer over
//! the pure modules.

mod body;
mod delivery;
mod durable;
mod env;
mod fetch;
mod handoff;
mod kv;
mod queue;
mod store;
mod time;
mod webcrypto;
