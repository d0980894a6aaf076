//! The JSON log lines of SPEC section 6. Built from fields chosen one by one, so
//! no secret, signature, body or personal data can slip in; written by hand
//! (`json_writer.rs`), a field left out when it has no value.

use crate::json_writer::{count, JsonObject};

/// One line per ingress request.
#[derive(Debug, Default)]
pub struct IngressLog<'a> {
    /// `accepted`, `duplicate` or `rejected`.
    pub outcome: &'a str,
    pub status: u16,
    pub reason: Option<&'a str>,
    pub event: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub routes: Option<Vec<&'a str>>,
    /// True when an accepted event matched no route.
    pub unrouted: bool,
    pub duration_ms: u64,
}

impl IngressLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        let mut line = JsonObject::new();
        line.text("outcome", self.outcome)
            .number("status", self.status.into())
            .maybe_text("reason", self.reason)
            .maybe_text("event", self.event)
            .maybe_text("message_id", self.message_id);
        if let Some(routes) = &self.routes {
            line.texts("routes", routes);
        }
        if self.unrouted {
            line.raw("unrouted", "true");
        }
        line.number("duration_ms", count(self.duration_ms)).end()
    }
}

/// One line per delivery attempt, and one per notable step of a delivery
/// (a queue send that failed, a dedup write that failed, a dead letter).
#[derive(Debug, Default)]
pub struct DeliveryLog<'a> {
    pub route: &'a str,
    pub attempt: u32,
    pub webhook_id: &'a str,
    pub event: Option<&'a str>,
    /// The backend's HTTP status, when it answered.
    pub status: Option<u16>,
    /// `delivered`, `retry`, `failed` or `queued`.
    pub outcome: &'a str,
    /// A fixed description of a failure (`timeout`, `network error`, …).
    pub error: Option<&'a str>,
    pub retry_in_seconds: Option<u64>,
    pub duration_ms: u64,
}

impl DeliveryLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        JsonObject::new()
            .text("route", self.route)
            .number("attempt", self.attempt.into())
            .text("webhook_id", self.webhook_id)
            .maybe_text("event", self.event)
            .maybe_number("status", self.status.map(i64::from))
            .text("outcome", self.outcome)
            .maybe_text("error", self.error)
            .maybe_number("retry_in_seconds", self.retry_in_seconds.map(count))
            .number("duration_ms", count(self.duration_ms))
            .end()
    }
}

/// One line for something an operator should know that is neither a request
/// nor a delivery attempt: a dedup write that failed, a queue send that failed,
/// a sweep alarm that could not be set, a step of a route's health that went
/// wrong (its object could not be asked, a drained delivery could not go back
/// to the queue, an alert was not delivered).
#[derive(Debug, Default)]
pub struct WarningLog<'a> {
    /// What happened, as a fixed code: `dedup_record_failed`, `queue_send_failed`, ….
    pub warning: &'a str,
    pub event: Option<&'a str>,
    pub route: Option<&'a str>,
    /// How many of several operations failed.
    pub failed: Option<u32>,
    /// The platform's description of the failure; never a key, a value or a body.
    pub error: Option<&'a str>,
    /// When what failed is tried again.
    pub retry_in_ms: Option<i64>,
    /// An alert's backend answer, and how many tries it had.
    pub status: Option<u16>,
    pub tries: Option<u32>,
}

impl WarningLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        JsonObject::new()
            .text("warning", self.warning)
            .maybe_text("event", self.event)
            .maybe_text("route", self.route)
            .maybe_number("failed", self.failed.map(i64::from))
            .maybe_text("error", self.error)
            .maybe_number("retry_in_ms", self.retry_in_ms)
            .maybe_number("status", self.status.map(i64::from))
            .maybe_number("tries", self.tries.map(i64::from))
            .end()
    }
}

/// One line per thing the queue consumer does that is not a delivery attempt: a
/// message that is not a delivery, one held back by invalid configuration, a
/// batch handed back because a message could not be settled.
#[derive(Debug, Default)]
pub struct QueueLog<'a> {
    /// `malformed_delivery`, `misconfigured` or `unsettled`.
    pub warning: &'a str,
    /// The queue the batch came from.
    pub queue: &'a str,
    /// The platform's id of the message, as wrangler's and the dashboard's lines show it.
    pub queue_message_id: Option<&'a str>,
    pub attempt: Option<u32>,
    /// How many messages a batch-wide line is about.
    pub messages: Option<usize>,
    /// `retry`, or `batch_retried` when the whole batch is handed back.
    pub outcome: &'a str,
    pub retry_in_seconds: Option<u64>,
}

impl QueueLog<'_> {
    /// The line as JSON.
    pub fn line(&self) -> String {
        JsonObject::new()
            .text("warning", self.warning)
            .text("queue", self.queue)
            .maybe_text("queue_message_id", self.queue_message_id)
            .maybe_number("attempt", self.attempt.map(i64::from))
            .maybe_number("messages", self.messages.map(|n| count(n as u64)))
            .text("outcome", self.outcome)
            .maybe_number("retry_in_seconds", self.retry_in_seconds.map(count))
            .end()
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
