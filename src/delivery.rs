//! HTTP delivery to a route: the message that carries an event through
//! `DELIVERY_QUEUE`, the forwarded request's headers, the retry schedule, and
//! what to do with a message once it has been handled ([`decide`]).

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

use crate::event_log::AttemptOutcome;
use crate::json_writer::JsonObject;
use crate::standard_webhooks::SigningKey;

/// Retries wait `base · 2^(n-1)` seconds, at most this long.
pub const MAX_RETRY_DELAY_SECONDS: u64 = 3_600;
/// Attempts when delivering without a queue, after the answer.
pub const DIRECT_ATTEMPTS: u32 = 3;
/// Longest wait for a backend's answer without a queue: all attempts must end
/// within the 30 s that `waitUntil` work may run after the answer.
pub const DIRECT_ATTEMPT_TIMEOUT_SECONDS: u64 = 8;
/// A dead letter whose record cannot be written waits this long before its
/// first retry; each later one doubles, capped at [`DEAD_LETTER_RETRY_MAX_SECONDS`].
pub const DEAD_LETTER_RETRY_BASE_SECONDS: u64 = 60;
/// The longest wait between two tries to record a dead letter: with the
/// dead-letter consumer's `max_retries` (100) every try ends within about
/// 48 hours, half of [`QUEUE_RETENTION_SECONDS`], before the platform could
/// delete the message; then it rests in the parked queue.
pub const DEAD_LETTER_RETRY_MAX_SECONDS: u64 = 1_800;
/// How long a queue keeps a message by default (4 days), whatever retries it
/// has left.
pub const QUEUE_RETENTION_SECONDS: u64 = 4 * 86_400;

/// The wait before the next try to record a dead letter, after `attempt` tries.
pub fn dead_letter_retry_delay(attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(1).min(31);
    DEAD_LETTER_RETRY_BASE_SECONDS
        .saturating_mul(1 << doublings)
        .min(DEAD_LETTER_RETRY_MAX_SECONDS)
}

/// How much of a backend's response body an attempt keeps; the rest is cancelled
/// unread, so the connection is released at once.
pub const RESPONSE_BODY_KEPT_BYTES: usize = 2048;

/// One event for one HTTP route: everything a delivery attempt needs, so the
/// queue consumer depends on nothing but the route's current configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub route: String,
    pub event: String,
    /// `X-LeadNest-Signature` exactly as received, passed through.
    pub signature: String,
    pub webhook_id: String,
    /// When the ingress accepted the event (unix ms; 0 from an older version):
    /// the dead-letter consumer logs it with the event. Left out of the
    /// header when 0.
    pub received_at_ms: i64,
    /// Attempts made before this message: a delivery its route held and
    /// released goes on counting from there. Left out of the header when 0.
    pub spent: u32,
    /// The body, byte for byte as received (after the header).
    pub body: Vec<u8>,
}

// The header read from a JSON value by hand, as a derive would (unknown fields
// ignored, `received_at_ms` 0 when missing): a derived reader was a kilobyte
// of the bundle.
impl<'de> Deserialize<'de> for Delivery {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
        let received_at_ms = match value.get("received_at_ms") {
            None => Some(0),
            Some(at) => at.as_i64(),
        };
        let spent = match value.get("spent") {
            None => Some(0),
            Some(spent) => spent.as_u64().and_then(|n| u32::try_from(n).ok()),
        };
        let delivery = (|| {
            Some(Self {
                route: text("route")?,
                event: text("event")?,
                signature: text("signature")?,
                webhook_id: text("webhook_id")?,
                received_at_ms: received_at_ms?,
                spent: spent?,
                body: Vec::new(),
            })
        })();
        delivery.ok_or_else(|| D::Error::custom("not a delivery"))
    }
}

/// A queue message that is not a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedDelivery;

impl Delivery {
    /// The queue message: a JSON header line, `\n`, then the body bytes. The body
    /// stays raw, so the message is barely larger than it (a queue message holds
    /// 128,000 bytes; JSON-escaping the body could double it).
    pub fn encode(&self) -> Vec<u8> {
        let mut header = JsonObject::new();
        header
            .text("route", &self.route)
            .text("event", &self.event)
            .text("signature", &self.signature)
            .text("webhook_id", &self.webhook_id);
        if self.received_at_ms != 0 {
            header.number("received_at_ms", self.received_at_ms);
        }
        if self.spent != 0 {
            header.number("spent", i64::from(self.spent));
        }
        let header = header.end();
        let mut message = Vec::with_capacity(header.len() + 1 + self.body.len());
        message.extend_from_slice(header.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(&self.body);
        message
    }

    /// Reads a message made by [`Delivery::encode`].
    pub fn decode(message: &[u8]) -> Result<Self, MalformedDelivery> {
        let split = message
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(MalformedDelivery)?;
        let (header, rest) = message.split_at(split);
        // As text, like every JSON the core reads: one reader's code, not two.
        let header = std::str::from_utf8(header).map_err(|_| MalformedDelivery)?;
        let mut delivery: Self = serde_json::from_str(header).map_err(|_| MalformedDelivery)?;
        delivery.body = rest.get(1..).unwrap_or_default().to_vec();
        Ok(delivery)
    }

    /// The forwarded request's headers. With a signing key, also the Standard
    /// Webhooks headers, signed for `now` (unix seconds of this attempt).
    pub fn headers(
        &self,
        signing_key: Option<&SigningKey>,
        now: i64,
    ) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("content-type", "application/json".to_string()),
            ("x-leadnest-event", self.event.clone()),
            ("x-leadnest-signature", self.signature.clone()),
        ];
        if let Some(key) = signing_key {
            headers.extend(key.headers(&self.webhook_id, now, &self.body));
        }
        headers
    }
}

/// A backend's answer to one attempt, as the event log keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The response headers, as (name, value) in the order the runtime lists them.
    pub headers: Vec<(String, String)>,
    /// The first bytes of the body, at most [`RESPONSE_BODY_KEPT_BYTES`].
    pub body: Vec<u8>,
    /// Why the body stopped before its end or the kept bytes (`timeout`, `read error`).
    pub body_error: Option<&'static str>,
}

impl Answer {
    /// Bytes of body still to keep.
    pub fn body_room(&self) -> usize {
        RESPONSE_BODY_KEPT_BYTES.saturating_sub(self.body.len())
    }

    /// Keeps as much of `chunk` as there is room for; true once the body is full.
    pub fn keep(&mut self, chunk: &[u8]) -> bool {
        let take = self.body_room().min(chunk.len());
        self.body
            .extend_from_slice(chunk.get(..take).unwrap_or_default());
        self.body_room() == 0
    }
}

/// Whether a backend's status means delivered.
pub fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Seconds to wait before retrying after failed attempt number `attempt` (1-based):
/// `base`, then doubling, capped.
pub fn retry_delay(attempt: u32, base: u64) -> u64 {
    let doublings = attempt.saturating_sub(1).min(31);
    base.saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY_SECONDS)
}

/// What handling one delivery came to: the input of [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The backend answered 2xx.
    Delivered,
    /// A non-2xx answer, a network error or a timeout.
    Failed,
    /// No HTTP route of the delivery's name is configured (any more).
    RouteRemoved,
    /// The message is not a [`Delivery`]: another producer's, or another version's.
    Malformed,
    /// The configuration did not load, so nothing could be attempted.
    ConfigInvalid,
}

/// How deliveries that did not succeed are tried again: one policy for the queue
/// consumer and for delivery without a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry delay; each later one doubles, capped at [`MAX_RETRY_DELAY_SECONDS`].
    pub base_seconds: u64,
    /// The last attempt the worker makes itself before it parks the delivery.
    /// `None` under a queue: there the consumer's `max_retries` ends the tries and
    /// the platform moves the message to the consumer's `dead_letter_queue`.
    pub last_attempt: Option<u32>,
}

impl RetryPolicy {
    /// The `DELIVERY_QUEUE` consumer's policy.
    pub fn queue(base_seconds: u64) -> Self {
        Self {
            base_seconds,
            last_attempt: None,
        }
    }

    /// Delivery after the answer, without a queue: short waits, since `waitUntil`
    /// work must end within 30 s of the answer.
    pub fn direct() -> Self {
        Self {
            base_seconds: 1,
            last_attempt: Some(DIRECT_ATTEMPTS),
        }
    }

    /// A replay without a queue: one attempt, whose outcome is final, so many
    /// replays fit one invocation and none is left half-done when it ends.
    pub fn direct_replay() -> Self {
        Self {
            base_seconds: 1,
            last_attempt: Some(1),
        }
    }
}

/// What to do with a handled delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Delivered: done with it.
    Ack,
    /// Not delivered: try again after this many seconds.
    Retry { delay_seconds: u64 },
    /// Not delivered and no more tries here: recorded `failed` in the event
    /// log (and logged), to be replayed from there.
    Park,
}

impl Decision {
    /// What the attempt came to, as the event log keeps it.
    pub fn attempt_outcome(self) -> AttemptOutcome {
        match self {
            Self::Ack => AttemptOutcome::Delivered,
            Self::Retry { .. } => AttemptOutcome::Retry,
            Self::Park => AttemptOutcome::Failed,
        }
    }

    /// The `outcome` of the delivery's log line: the event log's word.
    pub fn outcome(self) -> &'static str {
        self.attempt_outcome().as_str()
    }

    /// How a queue message settles: `None` ack, else retry after that many
    /// seconds. The queue policy never rests a message itself: a parked one is
    /// retried at the longest delay, and the platform moves it to the
    /// dead-letter queue once `max_retries` is spent.
    pub fn queue_retry_seconds(self) -> Option<u64> {
        match self {
            Self::Ack => None,
            Self::Retry { delay_seconds } => Some(delay_seconds),
            Self::Park => Some(MAX_RETRY_DELAY_SECONDS),
        }
    }

    /// The delay of a retry.
    pub fn retry_in_seconds(self) -> Option<u64> {
        match self {
            Self::Retry { delay_seconds } => Some(delay_seconds),
            Self::Ack | Self::Park => None,
        }
    }
}

/// What to do with a delivery after attempt number `attempt` (1-based) came to
/// `handled`. Only a delivery is ever acked.
///
/// Under a queue everything else is retried on the one backoff schedule, whatever
/// went wrong: a route restored by a configuration fix, or a message from a newer
/// version read again after a rollback, still gets through while the message
/// waits; when `max_retries` runs out the platform moves it on to the dead-letter
/// queue. A zero delay would only spend the retries before anyone could act.
/// Without a queue, the worker ends the tries itself: a failed attempt is retried
/// up to the last attempt, and anything that waiting seconds cannot fix is parked
/// at once.
pub fn decide(handled: Handled, attempt: u32, policy: RetryPolicy) -> Decision {
    let retry = Decision::Retry {
        delay_seconds: retry_delay(attempt, policy.base_seconds),
    };
    match (handled, policy.last_attempt) {
        (Handled::Delivered, _) => Decision::Ack,
        (_, None) => retry,
        (Handled::Failed, Some(last)) if attempt < last => retry,
        (_, Some(_)) => Decision::Park,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_message_is_acked_only_when_delivered_else_retried_never_rested() {
        assert_eq!(Decision::Ack.queue_retry_seconds(), None);
        assert_eq!(
            Decision::Retry { delay_seconds: 30 }.queue_retry_seconds(),
            Some(30)
        );
        // The platform dead-letters it once max_retries is spent.
        assert_eq!(
            Decision::Park.queue_retry_seconds(),
            Some(MAX_RETRY_DELAY_SECONDS)
        );
    }

    fn delivery(body: &[u8]) -> Delivery {
        Delivery {
            route: "crm".into(),
            event: "email.opened".into(),
            signature: "sha256=ABC".into(),
            webhook_id: "msg_1".into(),
            received_at_ms: 0,
            spent: 0,
            body: body.to_vec(),
        }
    }

    #[test]
    fn round_trip_keeps_bytes_exactly() {
        for body in [
            &b""[..],
            b"{\"a\":\"\n\"}\n",
            "{\"é\":\"\\\"\"}".as_bytes(),
            &[0xff, 0, b'\n'],
        ] {
            let d = delivery(body);
            assert_eq!(Delivery::decode(&d.encode()).unwrap(), d);
        }
    }

    #[test]
    fn envelope_is_small() {
        let body = vec![b'"'; 120_000];
        assert!(delivery(&body).encode().len() < 120_000 + 200);
    }

    #[test]
    fn malformed_messages() {
        for message in [
            &b""[..],
            b"no newline",
            b"{}\nbody",
            b"[1]\n",
            b"{\"route\":1}\n",
        ] {
            assert_eq!(
                Delivery::decode(message),
                Err(MalformedDelivery),
                "{message:?}"
            );
        }
    }

    #[test]
    fn headers_without_and_with_signing() {
        let d = delivery(br#"{"test": 2432232314}"#);
        let plain = d.headers(None, 0);
        assert_eq!(
            plain,
            [
                ("content-type", "application/json".to_string()),
                ("x-leadnest-event", "email.opened".to_string()),
                ("x-leadnest-signature", "sha256=ABC".to_string()),
            ]
        );
        let key = SigningKey::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let d = Delivery {
            webhook_id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
            received_at_ms: 1_764_680_400_123,
            spent: 0,
            ..d
        };
        let signed = d.headers(Some(&key), 1614265330);
        assert_eq!(
            signed[3],
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".to_string())
        );
        assert_eq!(signed[4], ("webhook-timestamp", "1614265330".to_string()));
        assert_eq!(
            signed[5],
            (
                "webhook-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string()
            )
        );
    }

    #[test]
    fn retry_schedule_doubles_and_caps() {
        let delays: Vec<u64> = (1..=4).map(|n| retry_delay(n, 5)).collect();
        assert_eq!(delays, [5, 10, 20, 40]);
        assert_eq!(retry_delay(0, 5), 5);
        assert_eq!(retry_delay(20, 5), MAX_RETRY_DELAY_SECONDS);
        assert_eq!(retry_delay(u32::MAX, u64::MAX), MAX_RETRY_DELAY_SECONDS);
        assert_eq!(retry_delay(3, 0), 0);
    }

    // One row per outcome and way to be wrong: (handled, attempt, policy) -> decision.
    #[test]
    fn decision_table() {
        use Decision::{Ack, Park, Retry};
        use Handled::*;
        let queue = RetryPolicy::queue(5);
        let direct = RetryPolicy::direct();
        let retry = |delay_seconds| Retry { delay_seconds };
        let rows = [
            // Under a queue: only a delivery is acked, everything else waits on the schedule.
            (Delivered, 1, queue, Ack),
            (Delivered, 11, queue, Ack),
            (Failed, 1, queue, retry(5)),
            (Failed, 2, queue, retry(10)),
            (Failed, 11, queue, retry(MAX_RETRY_DELAY_SECONDS)),
            (RouteRemoved, 1, queue, retry(5)),
            (RouteRemoved, 3, queue, retry(20)),
            (Malformed, 1, queue, retry(5)),
            (Malformed, 4, queue, retry(40)),
            (ConfigInvalid, 1, queue, retry(5)),
            (ConfigInvalid, 2, queue, retry(10)),
            // The platform's attempt count starts at 1; a 0 is read as the first.
            (Failed, 0, queue, retry(5)),
            (Failed, u32::MAX, queue, retry(MAX_RETRY_DELAY_SECONDS)),
            // A base of 0 (tests) retries at once: the user's choice, not the code's.
            (RouteRemoved, 3, RetryPolicy::queue(0), retry(0)),
            // Without a queue: 1 s, 2 s, then parked; what waiting cannot fix, parked at once.
            (Delivered, 3, direct, Ack),
            (Failed, 1, direct, retry(1)),
            (Failed, 2, direct, retry(2)),
            (Failed, 3, direct, Park),
            (Failed, 4, direct, Park),
            // A replay without a queue: one attempt, then failed.
            (Delivered, 1, RetryPolicy::direct_replay(), Ack),
            (Failed, 1, RetryPolicy::direct_replay(), Park),
            (RouteRemoved, 1, direct, Park),
            (Malformed, 1, direct, Park),
            (ConfigInvalid, 1, direct, Park),
        ];
        for (handled, attempt, policy, expected) in rows {
            assert_eq!(
                decide(handled, attempt, policy),
                expected,
                "{handled:?} at attempt {attempt} under {policy:?}"
            );
        }
    }

    #[test]
    fn nothing_but_a_delivery_is_acked() {
        use Handled::*;
        let policies = [
            RetryPolicy::queue(0),
            RetryPolicy::queue(5),
            RetryPolicy::queue(u64::MAX),
            RetryPolicy::direct(),
        ];
        for handled in [Failed, RouteRemoved, Malformed, ConfigInvalid] {
            for policy in policies {
                for attempt in 0..=120 {
                    assert_ne!(decide(handled, attempt, policy), Decision::Ack);
                }
            }
        }
    }

    #[test]
    fn decision_log_fields() {
        let retry = Decision::Retry { delay_seconds: 10 };
        assert_eq!(
            (retry.outcome(), retry.retry_in_seconds()),
            ("retry", Some(10))
        );
        assert_eq!(
            (Decision::Ack.outcome(), Decision::Ack.retry_in_seconds()),
            ("delivered", None)
        );
        assert_eq!(
            (Decision::Park.outcome(), Decision::Park.retry_in_seconds()),
            ("failed", None)
        );
    }

    #[test]
    fn answer_keeps_the_first_bytes_only() {
        let mut answer = Answer::default();
        assert_eq!(answer.body_room(), RESPONSE_BODY_KEPT_BYTES);
        assert!(!answer.keep(b""));
        assert!(!answer.keep(&[b'a'; 2000]));
        assert_eq!(answer.body_room(), 48);
        // A chunk that crosses the limit is cut there.
        assert!(answer.keep(&[b'b'; 100]));
        assert_eq!(answer.body.len(), RESPONSE_BODY_KEPT_BYTES);
        assert_eq!(&answer.body[1990..2010], b"aaaaaaaaaabbbbbbbbbb");
        // Full: nothing more is taken.
        assert!(answer.keep(b"c"));
        assert_eq!(answer.body.len(), RESPONSE_BODY_KEPT_BYTES);
        assert_eq!(answer.body_room(), 0);
    }

    #[test]
    fn answer_full_on_an_exact_fit() {
        let mut answer = Answer::default();
        assert!(answer.keep(&[0; RESPONSE_BODY_KEPT_BYTES]));
        let mut answer = Answer::default();
        assert!(answer.keep(&vec![0; 1 << 20]));
        assert_eq!(answer.body.len(), RESPONSE_BODY_KEPT_BYTES);
    }

    #[test]
    fn success_is_2xx() {
        assert!(is_success(200) && is_success(204) && is_success(299));
        assert!(!is_success(199) && !is_success(300) && !is_success(503));
        // Redirects are not followed: a 3xx is a failed attempt.
        assert!(!is_success(302) && !is_success(307) && !is_success(308));
    }
}
