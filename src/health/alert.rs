//! Alerts (SPEC section 10): what a route's state change or dead letter is
//! posted as to `ALERT_URL`, and logged as either way. An alert carries a
//! route's name, counts and a fixed reason, never an event's body or a secret.

use crate::event_log::time::rfc3339;
use crate::json_writer::{count, JsonObject};
use crate::standard_webhooks::SigningKey;

/// At most one `delivery.failed` alert a route in this long: a backend that
/// is down dead-letters deliveries by the hundred.
pub const FAILED_ALERT_EVERY_MS: i64 = 300_000;

/// The waits before an alert's POST is tried again, after each failed try;
/// then it is given up (its log line stays). Short, as an alert is worth
/// most while it is news.
const ALERT_RETRY_DELAYS_MS: [i64; 3] = [5_000, 30_000, 120_000];

/// Where alerts go: `ALERT_URL`, signed with `ALERT_SIGNING_SECRET` when set.
#[derive(Debug, Clone)]
pub struct AlertTarget {
    pub url: String,
    pub signing_key: Option<SigningKey>,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The breaker stopped attempts to the route.
    Tripped,
    /// A probe was delivered: the route is active again.
    Recovered,
    /// An operator paused the route.
    Paused,
    /// An operator resumed the route.
    Resumed,
    /// Deliveries to the route were dead-lettered.
    DeliveryFailed,
}

impl AlertKind {
    /// The body's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tripped => "route.tripped",
            Self::Recovered => "route.recovered",
            Self::Paused => "route.paused",
            Self::Resumed => "route.resumed",
            Self::DeliveryFailed => "delivery.failed",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub route: String,
    /// When it happened, unix milliseconds.
    pub at_ms: i64,
    /// A fixed description (`10 consecutive failed attempts`, `paused by an
    /// operator`), never a backend's answer or an event's content.
    pub reason: String,
    /// Deliveries the route holds.
    pub held: u64,
    /// For `delivery.failed`: deliveries dead-lettered since the route's last
    /// such alert.
    pub count: Option<u64>,
}

impl Alert {
    /// `count` as the body and line show it: only a `delivery.failed` has one,
    /// and it is about one dead letter at least.
    fn count(&self) -> Option<u64> {
        (self.kind == AlertKind::DeliveryFailed).then(|| self.count.unwrap_or(1))
    }

    /// The JSON POSTed to `ALERT_URL`; fields in the order SPEC section 10
    /// lists them.
    pub fn body(&self) -> String {
        self.write(
            JsonObject::new()
                .text("type", self.kind.as_str())
                .text("route", &self.route)
                .text("at", &rfc3339(self.at_ms)),
        )
    }

    /// The fields the body and the line end with: `reason`, `held` and a
    /// `delivery.failed`'s `count`.
    fn write(&self, out: &mut JsonObject) -> String {
        out.text("reason", &self.reason)
            .number("held", count(self.held));
        if let Some(n) = self.count() {
            out.number("count", count(n));
        }
        out.end()
    }

    /// The `webhook-id`: the same for every try of this alert, so a receiver
    /// can drop a repeat, and different for any other.
    pub fn webhook_id(&self) -> String {
        format!("alert_{}_{}_{}", self.route, self.kind.as_str(), self.at_ms)
    }

    /// The POST's headers; with a signing key also the Standard Webhooks ones,
    /// signed for `now_s` (unix seconds of this try) over [`Alert::body`].
    pub fn headers(&self, target: &AlertTarget, now_s: i64) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(key) = &target.signing_key {
            headers.extend(key.headers(&self.webhook_id(), now_s, self.body().as_bytes()));
        }
        headers
    }

    /// The alert's log line (SPEC section 6), printed whether or not
    /// `ALERT_URL` is set.
    pub fn line(&self) -> String {
        self.write(
            JsonObject::new()
                .text("alert", self.kind.as_str())
                .text("route", &self.route),
        )
    }
}

/// The wait before an alert's next try after `tries` failed ones (0: the
/// first try, at once); `None` once it is given up.
pub fn alert_retry_delay_ms(tries: u32) -> Option<i64> {
    match tries.checked_sub(1) {
        None => Some(0),
        Some(retry) => usize::try_from(retry)
            .ok()
            .and_then(|retry| ALERT_RETRY_DELAYS_MS.get(retry).copied()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    // The secret of the Standard Webhooks specification's test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    // 2025-12-02T13:00:00.123Z.
    const AT_MS: i64 = 1_764_680_400_123;

    fn alert(kind: AlertKind) -> Alert {
        Alert {
            kind,
            route: "crm".into(),
            at_ms: AT_MS,
            reason: "10 consecutive failed attempts".into(),
            held: 4,
            count: None,
        }
    }

    fn target(secret: Option<&str>) -> AlertTarget {
        AlertTarget {
            url: "https://alerts.example/hook".into(),
            signing_key: secret.map(|s| SigningKey::from_whsec(s).unwrap()),
        }
    }

    #[test]
    fn body_known_answer() {
        assert_eq!(
            alert(AlertKind::Tripped).body(),
            r#"{"type":"route.tripped","route":"crm","at":"2025-12-02T13:00:00.123Z","reason":"10 consecutive failed attempts","held":4}"#
        );
    }

    #[test]
    fn each_kind_has_its_type() {
        for (kind, name) in [
            (AlertKind::Tripped, "route.tripped"),
            (AlertKind::Recovered, "route.recovered"),
            (AlertKind::Paused, "route.paused"),
            (AlertKind::Resumed, "route.resumed"),
            (AlertKind::DeliveryFailed, "delivery.failed"),
        ] {
            assert_eq!(kind.as_str(), name);
            let body: serde_json::Value = serde_json::from_str(&alert(kind).body()).unwrap();
            assert_eq!(body["type"], name);
            assert_eq!(body["at"], "2025-12-02T13:00:00.123Z");
        }
    }

    #[test]
    fn count_only_for_delivery_failed() {
        let failed = Alert {
            count: Some(37),
            ..alert(AlertKind::DeliveryFailed)
        };
        assert_eq!(
            failed.body(),
            r#"{"type":"delivery.failed","route":"crm","at":"2025-12-02T13:00:00.123Z","reason":"10 consecutive failed attempts","held":4,"count":37}"#
        );
        assert!(
            failed.line().ends_with(r#","count":37}"#),
            "{}",
            failed.line()
        );
        // Without a count, still one dead letter.
        assert!(alert(AlertKind::DeliveryFailed)
            .body()
            .ends_with(r#","count":1}"#));
        // Any other kind has none, whatever it was given.
        let tripped = Alert {
            count: Some(37),
            ..alert(AlertKind::Tripped)
        };
        assert!(!tripped.body().contains("count"));
        assert!(!tripped.line().contains("count"));
    }

    #[test]
    fn webhook_id_is_per_alert() {
        assert_eq!(
            alert(AlertKind::Tripped).webhook_id(),
            "alert_crm_route.tripped_1764680400123"
        );
        let ids: std::collections::HashSet<String> = [
            alert(AlertKind::Tripped),
            alert(AlertKind::Recovered),
            Alert {
                at_ms: AT_MS + 1,
                ..alert(AlertKind::Tripped)
            },
            Alert {
                route: "billing".into(),
                ..alert(AlertKind::Tripped)
            },
        ]
        .iter()
        .map(Alert::webhook_id)
        .collect();
        assert_eq!(ids.len(), 4);
    }

    #[test]
    fn unsigned_headers() {
        assert_eq!(
            alert(AlertKind::Paused).headers(&target(None), 1_764_680_401),
            [("content-type", "application/json".to_string())]
        );
    }

    #[test]
    fn signed_headers_verify_as_a_standard_webhooks_receiver_does() {
        let alert = alert(AlertKind::Tripped);
        let now_s = 1_764_680_401;
        let headers = alert.headers(&target(Some(SECRET)), now_s);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("webhook-id"), alert.webhook_id());
        assert_eq!(header("webhook-timestamp"), now_s.to_string());
        // As a receiver: the key from the secret, the HMAC over the headers' id
        // and timestamp and the body as received, compared in constant time.
        let key = BASE64
            .decode(SECRET.strip_prefix("whsec_").unwrap())
            .unwrap();
        let signed = format!(
            "{}.{}.{}",
            header("webhook-id"),
            header("webhook-timestamp"),
            alert.body()
        );
        let signature = header("webhook-signature");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(signed.as_bytes());
        let given = BASE64
            .decode(signature.strip_prefix("v1,").unwrap())
            .unwrap();
        mac.clone().verify_slice(&given).unwrap();
        // Another body, or another time, does not verify.
        let mut other = mac;
        other.update(b" ");
        assert!(other.verify_slice(&given).is_err());
        let later = alert.headers(&target(Some(SECRET)), now_s + 1);
        assert_ne!(later[3], headers[3]);
    }

    #[test]
    fn line_holds_no_body_secret_or_signature() {
        let alert = alert(AlertKind::Tripped);
        let line = alert.line();
        assert_eq!(
            line,
            r#"{"alert":"route.tripped","route":"crm","reason":"10 consecutive failed attempts","held":4}"#
        );
        let signature = alert.headers(&target(Some(SECRET)), 1)[3].1.clone();
        for hidden in [SECRET, "MfKQ9r8", &signature, "v1,", &alert.body()] {
            assert!(!line.contains(hidden), "{hidden} in {line}");
        }
    }

    #[test]
    fn text_is_escaped_as_json() {
        let hostile = "quote \" backslash \\ nul \0 \u{2028}";
        let alert = Alert {
            reason: hostile.into(),
            ..alert(AlertKind::Recovered)
        };
        let body: serde_json::Value = serde_json::from_str(&alert.body()).unwrap();
        let line: serde_json::Value = serde_json::from_str(&alert.line()).unwrap();
        assert_eq!(body["reason"], hostile);
        assert_eq!(line["reason"], hostile);
    }

    #[test]
    fn retries_three_times_then_gives_up() {
        let delays: Vec<Option<i64>> = (0..=5).map(alert_retry_delay_ms).collect();
        assert_eq!(
            delays,
            [
                Some(0),
                Some(5_000),
                Some(30_000),
                Some(120_000),
                None,
                None
            ]
        );
        assert_eq!(alert_retry_delay_ms(u32::MAX), None);
        assert_eq!(FAILED_ALERT_EVERY_MS, 5 * 60 * 1000);
    }
}
