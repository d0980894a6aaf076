//! The JSON log lines of SPEC section 6. Built from fields chosen one by one, so
//! no secret, signature, body or personal data can slip in.

use serde::Serialize;

use crate::error::json;

/// One line per ingress request.
#[derive(Debug, Default, Serialize)]
pub struct IngressLog<'a> {
    /// `accepted`, `duplicate` or `rejected`.
    pub outcome: &'a str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<&'a str>>,
    /// True when an accepted event matched no route.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unrouted: bool,
    pub duration_ms: u64,
}

impl IngressLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        json(self)
    }
}

/// One line per delivery attempt, and one per notable step of a delivery
/// (a queue send that failed, a dedup write that failed, a dead letter).
#[derive(Debug, Default, Serialize)]
pub struct DeliveryLog<'a> {
    pub route: &'a str,
    pub attempt: u32,
    pub webhook_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    /// The backend's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `delivered`, `retry`, `failed` or `queued`.
    pub outcome: &'a str,
    /// A fixed description of a failure (`timeout`, `network error`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_seconds: Option<u64>,
    pub duration_ms: u64,
}

impl DeliveryLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        json(self)
    }
}

/// One line for something an operator should know that is neither a request
/// nor a delivery attempt: a dedup write that failed, a queue send that failed,
/// a sweep alarm that could not be set, a step of a route's health that went
/// wrong (its object could not be asked, a drained delivery could not go back
/// to the queue, an alert was not delivered).
#[derive(Debug, Default, Serialize)]
pub struct WarningLog<'a> {
    /// What happened, as a fixed code: `dedup_record_failed`, `queue_send_failed`, ….
    pub warning: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a str>,
    /// How many of several operations failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u32>,
    /// The platform's description of the failure; never a key, a value or a body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// When what failed is tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<i64>,
    /// An alert's backend answer, and how many tries it had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tries: Option<u32>,
}

impl WarningLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        json(self)
    }
}

/// One line per thing the queue consumer does that is not a delivery attempt: a
/// message that is not a delivery, one held back by invalid configuration, a
/// batch handed back because a message could not be settled.
#[derive(Debug, Default, Serialize)]
pub struct QueueLog<'a> {
    /// `malformed_delivery`, `misconfigured` or `unsettled`.
    pub warning: &'a str,
    /// The queue the batch came from.
    pub queue: &'a str,
    /// The platform's id of the message, as wrangler's and the dashboard's lines show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// How many messages a batch-wide line is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<usize>,
    /// `retry`, or `batch_retried` when the whole batch is handed back.
    pub outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_seconds: Option<u64>,
}

impl QueueLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_line_leaves_out_empty_fields() {
        let line = IngressLog {
            outcome: "rejected",
            status: 401,
            reason: Some("invalid_signature"),
            duration_ms: 1,
            ..Default::default()
        }
        .line();
        assert_eq!(
            line,
            r#"{"outcome":"rejected","status":401,"reason":"invalid_signature","duration_ms":1}"#
        );
    }

    #[test]
    fn accepted_unrouted_line() {
        let line = IngressLog {
            outcome: "accepted",
            status: 200,
            event: Some("sms.failed"),
            message_id: Some("msg_1"),
            routes: Some(vec![]),
            unrouted: true,
            duration_ms: 3,
            ..Default::default()
        }
        .line();
        assert_eq!(
            line,
            r#"{"outcome":"accepted","status":200,"event":"sms.failed","message_id":"msg_1","routes":[],"unrouted":true,"duration_ms":3}"#
        );
    }

    #[test]
    fn delivery_line() {
        let line = DeliveryLog {
            route: "crm",
            attempt: 2,
            webhook_id: "msg_x",
            status: Some(503),
            outcome: "retry",
            retry_in_seconds: Some(10),
            duration_ms: 12,
            ..Default::default()
        }
        .line();
        assert_eq!(
            line,
            r#"{"route":"crm","attempt":2,"webhook_id":"msg_x","status":503,"outcome":"retry","retry_in_seconds":10,"duration_ms":12}"#
        );
    }

    #[test]
    fn warning_line_is_json_whatever_the_text() {
        // Debug formatting ({:?}) writes \u{1b} and \' — not JSON.
        let hostile = "quote \" backslash \\ escape \u{1b} nul \0 emoji 😀 \u{2028}";
        let line = WarningLog {
            warning: "dedup_record_failed",
            event: Some(hostile),
            error: Some(hostile),
            ..Default::default()
        }
        .line();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["event"], hostile);
        assert_eq!(parsed["error"], hostile);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn queue_line() {
        let line = QueueLog {
            warning: "malformed_delivery",
            queue: "leadnest-edge-deliveries",
            queue_message_id: Some("a4dbef10"),
            attempt: Some(3),
            outcome: "retry",
            retry_in_seconds: Some(20),
            ..Default::default()
        }
        .line();
        assert_eq!(
            line,
            r#"{"warning":"malformed_delivery","queue":"leadnest-edge-deliveries","queue_message_id":"a4dbef10","attempt":3,"outcome":"retry","retry_in_seconds":20}"#
        );
        let line = QueueLog {
            warning: "unsettled",
            queue: "q\"x",
            messages: Some(2),
            outcome: "batch_retried",
            ..Default::default()
        }
        .line();
        assert_eq!(
            line,
            r#"{"warning":"unsettled","queue":"q\"x","messages":2,"outcome":"batch_retried"}"#
        );
    }
}
