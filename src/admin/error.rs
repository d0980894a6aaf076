//! The admin API's refusals, as SPEC section 2 shapes every error.

use crate::error::error_body;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// No `Authorization: Bearer <ADMIN_TOKEN>`, or another token.
    Unauthorized,
    /// No such event, or no such admin path.
    NotFound(&'static str),
    /// A query parameter is wrong; the text names it.
    InvalidQuery(String),
    /// The request body is wrong; the text names what.
    InvalidRequest(String),
    MethodNotAllowed {
        allow: &'static str,
    },
    /// A body over [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES), declared or read.
    PayloadTooLarge,
    /// `EVENTS` is not bound.
    LogDisabled,
    /// The event log or a queue failed; retry.
    Unavailable(&'static str),
    /// The call cannot apply to what it names as configured; the text says why.
    Conflict(&'static str),
    /// A route's state object failed or answered what cannot be read; retry.
    RouteStateUnavailable,
}

impl AdminError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::NotFound(_) => 404,
            Self::InvalidQuery(_) | Self::InvalidRequest(_) => 400,
            Self::MethodNotAllowed { .. } => 405,
            Self::PayloadTooLarge => 413,
            Self::Conflict(_) => 409,
            Self::LogDisabled | Self::Unavailable(_) | Self::RouteStateUnavailable => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::InvalidQuery(_) => "invalid_query",
            Self::InvalidRequest(_) => "invalid_request",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::LogDisabled | Self::Unavailable(_) => "event_log_unavailable",
            Self::Conflict(_) => "conflict",
            Self::RouteStateUnavailable => "unavailable",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unauthorized => {
                "Send the header `Authorization: Bearer <ADMIN_TOKEN>` with the token set by `wrangler secret put ADMIN_TOKEN`.".into()
            }
            Self::NotFound(what) => format!("No such {what}."),
            Self::InvalidQuery(why) | Self::InvalidRequest(why) => why.clone(),
            Self::Conflict(why) => (*why).to_string(),
            Self::MethodNotAllowed { allow } => format!("Use {allow} here."),
            Self::PayloadTooLarge => format!(
                "The body is larger than {} bytes; admin calls take small JSON objects.",
                super::MAX_BODY_BYTES
            ),
            Self::LogDisabled => {
                "The event log is off: bind the Durable Object class EventLog as EVENTS in wrangler.toml (README, \"Event log\").".into()
            }
            Self::Unavailable(what) => format!("{what} is unavailable right now; retry later."),
            Self::RouteStateUnavailable => {
                "The route's state could not be reached or read; retry (pausing or resuming twice is harmless).".into()
            }
        }
    }

    /// The `Allow` header of a 405.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            Self::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    pub fn body(&self) -> String {
        error_body(self.code(), &self.message())
    }
}
