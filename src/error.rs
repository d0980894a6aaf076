//! Every way a request can fail, as the SPEC names it, and the one place that maps
//! each to its HTTP status and JSON body.

use crate::json_writer::JsonObject;

/// A request the worker refuses, with the SPEC's `error` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The body is larger than `MAX_BODY_BYTES`.
    PayloadTooLarge { limit: usize },
    /// No `X-LeadNest-Signature` header.
    MissingSignature,
    /// The header is malformed or matches no configured secret.
    InvalidSignature,
    /// The verified body is not a LeadNest event; the text names the field.
    InvalidPayload(String),
    /// `timestamp` is further from now than the tolerance.
    StaleTimestamp {
        seconds: u64,
        future: bool,
        tolerance: u64,
    },
    /// A platform dependency failed; LeadNest should retry.
    Unavailable(&'static str),
    /// Another request is still handing this event off and did not finish
    /// within the wait; LeadNest should retry.
    InProgress,
    /// The worker's configuration is invalid; the text names the items.
    Misconfigured(String),
    /// A method other than POST on the ingress path; `allow` lists the methods.
    MethodNotAllowed { allow: &'static str },
    /// No such path.
    NotFound,
}

impl Rejection {
    /// The HTTP status the SPEC gives this rejection.
    pub fn status(&self) -> u16 {
        match self {
            Self::PayloadTooLarge { .. } => 413,
            Self::MissingSignature | Self::InvalidSignature | Self::StaleTimestamp { .. } => 401,
            Self::InvalidPayload(_) => 400,
            Self::Unavailable(_) | Self::InProgress => 503,
            Self::Misconfigured(_) => 500,
            Self::MethodNotAllowed { .. } => 405,
            Self::NotFound => 404,
        }
    }

    /// The SPEC's `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::MissingSignature => "missing_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::InvalidPayload(_) => "invalid_payload",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::Unavailable(_) | Self::InProgress => "unavailable",
            Self::Misconfigured(_) => "misconfigured",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::NotFound => "not_found",
        }
    }

    /// One sentence a person can act on. Never holds a secret or request content
    /// beyond field names.
    pub fn message(&self) -> String {
        match self {
            Self::PayloadTooLarge { limit } => format!(
                "The body is larger than MAX_BODY_BYTES ({limit} bytes); LeadNest events are far smaller, so check the sender."
            ),
            Self::MissingSignature => {
                "The X-LeadNest-Signature header is missing; only LeadNest's signed webhooks are accepted.".into()
            }
            Self::InvalidSignature => {
                "X-LeadNest-Signature does not match the body for any configured WEBHOOK_SECRET; check that the secret matches the one in LeadNest's webhook settings.".into()
            }
            Self::InvalidPayload(why) => why.clone(),
            Self::StaleTimestamp { seconds, future: true, tolerance } => format!(
                "The event timestamp is {seconds} s in the future, beyond TIMESTAMP_TOLERANCE_SECONDS ({tolerance} s); check the sender's clock."
            ),
            // A retry keeps the event's first timestamp, so resending cannot help it.
            Self::StaleTimestamp { seconds, future: false, tolerance } => format!(
                "The event timestamp is {seconds} s in the past, beyond TIMESTAMP_TOLERANCE_SECONDS ({tolerance} s); check the sender's clock, and to accept late retries raise the tolerance (up to DEDUP_TTL_SECONDS)."
            ),
            Self::Unavailable(what) => format!("{what} is unavailable right now; retry later."),
            Self::InProgress => {
                "An earlier delivery of this event is still being handed off; retry in a few seconds.".into()
            }
            Self::Misconfigured(why) => why.clone(),
            Self::MethodNotAllowed { allow } => format!("Use {allow} here."),
            Self::NotFound => {
                "No such endpoint; LeadNest webhooks go to POST /webhooks/leadnest.".into()
            }
        }
    }

    /// The JSON body: `{"error":"<code>","message":"<sentence>"}`.
    pub fn body(&self) -> String {
        error_body(self.code(), &self.message())
    }
}

/// `{"error":"<code>","message":"<sentence>"}`, the body of every refusal.
pub(crate) fn error_body(code: &str, message: &str) -> String {
    JsonObject::new()
        .text("error", code)
        .text("message", message)
        .end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_its_spec_status_and_code() {
        let cases = [
            (
                Rejection::PayloadTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
            (Rejection::MissingSignature, 401, "missing_signature"),
            (Rejection::InvalidSignature, 401, "invalid_signature"),
            (
                Rejection::InvalidPayload("x".into()),
                400,
                "invalid_payload",
            ),
            (
                Rejection::StaleTimestamp {
                    seconds: 400,
                    future: false,
                    tolerance: 300,
                },
                401,
                "stale_timestamp",
            ),
            (Rejection::Unavailable("KV"), 503, "unavailable"),
            (Rejection::InProgress, 503, "unavailable"),
            (Rejection::Misconfigured("x".into()), 500, "misconfigured"),
            (
                Rejection::MethodNotAllowed { allow: "POST" },
                405,
                "method_not_allowed",
            ),
            (Rejection::NotFound, 404, "not_found"),
        ];
        for (rejection, status, code) in cases {
            assert_eq!(rejection.status(), status, "{code}");
            assert_eq!(rejection.code(), code);
            let body: serde_json::Value = serde_json::from_str(&rejection.body()).unwrap();
            assert_eq!(body["error"], code);
            assert!(!body["message"].as_str().unwrap().is_empty());
        }
    }

    #[test]
    fn stale_message_says_which_side() {
        let past = Rejection::StaleTimestamp {
            seconds: 900,
            future: false,
            tolerance: 300,
        };
        assert!(past.message().contains("900 s in the past"));
        let future = Rejection::StaleTimestamp {
            seconds: 900,
            future: true,
            tolerance: 300,
        };
        assert!(future.message().contains("in the future"));
    }
}
