//! HTTP delivery to a route: the message that carries an event through
//! `DELIVERY_QUEUE`, the forwarded request's headers, and the retry schedule.

use serde::{Deserialize, Serialize};

use crate::standard_webhooks::SigningKey;

/// Retries wait `base · 2^(n-1)` seconds, at most this long.
pub const MAX_RETRY_DELAY_SECONDS: u64 = 3_600;
/// Attempts when delivering without a queue, after the answer.
pub const DIRECT_ATTEMPTS: u32 = 3;
/// Longest wait for a backend's answer without a queue: all attempts must end
/// within the 30 s that `waitUntil` work may run after the answer.
pub const DIRECT_ATTEMPT_TIMEOUT_SECONDS: u64 = 8;
/// How much of a backend's response body an attempt keeps; the rest is cancelled
/// unread, so the connection is released at once.
pub const RESPONSE_BODY_KEPT_BYTES: usize = 2048;

/// One event for one HTTP route: everything a delivery attempt needs, so the
/// queue consumer depends on nothing but the route's current configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub route: String,
    pub event: String,
    /// `X-LeadNest-Signature` exactly as received, passed through.
    pub signature: String,
    pub webhook_id: String,
    /// The body, byte for byte as received.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// A queue message that is not a [`Delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedDelivery;

impl Delivery {
    /// The queue message: a JSON header line, `\n`, then the body bytes. The body
    /// stays raw, so the message is barely larger than it (a queue message holds
    /// 128,000 bytes; JSON-escaping the body could double it).
    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(self).unwrap_or_default();
        let mut message = Vec::with_capacity(header.len() + 1 + self.body.len());
        message.extend_from_slice(&header);
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
        let mut delivery: Self = serde_json::from_slice(header).map_err(|_| MalformedDelivery)?;
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
            headers.push(("webhook-id", self.webhook_id.clone()));
            headers.push(("webhook-timestamp", now.to_string()));
            headers.push((
                "webhook-signature",
                key.sign(&self.webhook_id, now, &self.body),
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(body: &[u8]) -> Delivery {
        Delivery {
            route: "crm".into(),
            event: "email.opened".into(),
            signature: "sha256=ABC".into(),
            webhook_id: "msg_1".into(),
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
