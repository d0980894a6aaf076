//! The admin API (SPEC section 8): who may call it, what each call means, the
//! queries it runs on the event log and the answers it gives. [`AdminCall`] is
//! one call as a state machine; the driver runs its queries and sends.

mod call;
mod error;
mod fanout;
mod render;
mod request;
mod route_state;
mod rows;
mod sample;
mod sql;

pub use call::{AdminCall, AdminNeed, AdminRequest, Ask, Outgoing, DIRECT_REPLAY_DELIVERIES};
pub use error::AdminError;
pub use request::{
    parse, target, BodyCall, Call, Cursor, ListQuery, ReplayQuery, RouteAction, Target,
};
pub use route_state::{Health, Report, RouteState};
pub use sample::{sample, sample_events};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::AdminToken;

/// Largest admin request body: its calls take small JSON objects.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The SHA-256 of a token: what is kept and compared.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `authorization` is `Bearer <ADMIN_TOKEN>`. Both sides are hashed to
/// 32 bytes first and compared in constant time, so neither a differing byte's
/// position nor a differing length shows in the time taken: there is no early
/// exit on any byte, and the length of what was presented is never compared.
pub fn authorized(token: &AdminToken, authorization: Option<&str>) -> bool {
    let presented = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    bool::from(digest(presented).ct_eq(&token.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_the_exact_token_passes() {
        let token = AdminToken(digest(TOKEN));
        assert!(authorized(&token, Some(&format!("Bearer {TOKEN}"))));
        for presented in [
            None,
            Some(""),
            Some(TOKEN),
            Some("Bearer "),
            Some("bearer 0123456789abcdef0123456789abcdef"),
            Some("Bearer 0123456789abcdef0123456789abcdeF"),
            Some("Bearer 0123456789abcdef0123456789abcde"),
            Some("Bearer 0123456789abcdef0123456789abcdef0"),
            Some("Bearer  0123456789abcdef0123456789abcdef"),
        ] {
            assert!(!authorized(&token, presented), "{presented:?}");
        }
    }
}
