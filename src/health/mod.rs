//! Destination health (SPEC section 10): what the worker tells an operator about a route.

pub mod alert;
