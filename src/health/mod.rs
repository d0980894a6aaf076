//! Destination health (SPEC section 10): each HTTP route's state, its breaker
//! and rate limit, and the alerts their changes raise.

pub mod alert;
pub mod call;
pub mod state;
