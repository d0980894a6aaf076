//! The LeadNest event envelope (`event`, `timestamp`, `data`) and the two-sided
//! freshness window. Parses only bodies whose signature has been verified.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::Rejection;
use crate::signature::VerifiedBody;

/// Longest event name accepted; LeadNest's are short, and the name is forwarded
/// in a header.
const MAX_EVENT_LEN: usize = 100;

/// What the worker needs from a verified event. The body itself stays as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `family.action`, e.g. `email.opened`.
    pub event: String,
    /// The `timestamp` string exactly as sent.
    pub timestamp: String,
    /// `timestamp` as unix seconds.
    pub unix_seconds: i64,
    /// `data.message_id`, when it is a non-empty string.
    pub message_id: Option<String>,
}

// Fields are kept raw so that each can be checked on its own and named in the
// error; unknown fields are ignored, a repeated known field is an error.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawData<'a> {
    #[serde(borrow)]
    message_id: Option<&'a RawValue>,
}

/// The `timestamp` and `data.message_id` of a body the ingress verified and
/// parsed earlier (a dead letter carries it), read leniently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub timestamp: String,
    pub message_id: Option<String>,
}

/// Reads [`Head`]; what is missing stays empty.
pub fn head(body: &[u8]) -> Head {
    // Read as text, like every JSON the core reads: one reader's code, not two.
    let Some(Ok(value)) = std::str::from_utf8(body)
        .ok()
        .map(serde_json::from_str::<serde_json::Value>)
    else {
        return Head::default();
    };
    let text =
        |value: Option<&serde_json::Value>| value.and_then(|v| v.as_str()).map(str::to_string);
    Head {
        timestamp: text(value.get("timestamp")).unwrap_or_default(),
        message_id: text(value.get("data").and_then(|data| data.get("message_id"))),
    }
}

fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::InvalidPayload(message.into())
}

/// Parses a verified body into its envelope.
pub fn parse(body: VerifiedBody<'_>) -> Result<Envelope, Rejection> {
    let text = std::str::from_utf8(body.bytes())
        .map_err(|_| invalid("The body is not UTF-8 text; a LeadNest event is UTF-8 JSON."))?;
    // serde would also read a JSON array into a struct, field by field.
    if !text.trim_start().starts_with('{') {
        return Err(invalid(
            "The body must be a JSON object with `event`, `timestamp` and `data`.",
        ));
    }
    let raw: RawEnvelope<'_> = serde_json::from_str(text)
        .map_err(|e| invalid(format!("The body is not a valid JSON event: {e}.")))?;

    let event = parse_event(raw.event)?;
    let (timestamp, unix_seconds) = parse_timestamp(raw.timestamp)?;
    let message_id = parse_data(raw.data)?;
    Ok(Envelope {
        event,
        timestamp,
        unix_seconds,
        message_id,
    })
}

fn parse_event(raw: Option<&RawValue>) -> Result<String, Rejection> {
    const WANT: &str =
        "`event` must be a non-empty string of the form family.action, like \"email.opened\".";
    let event: String = raw
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(|| invalid(WANT))?;
    if is_event_name(&event) {
        Ok(event)
    } else {
        Err(invalid(WANT))
    }
}

/// `family.action`: two non-empty parts of ASCII letters, digits, `_` or `-`.
pub fn is_event_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    name.len() <= MAX_EVENT_LEN
        && matches!(name.split_once('.'), Some((family, action)) if part(family) && part(action))
}

fn parse_timestamp(raw: Option<&RawValue>) -> Result<(String, i64), Rejection> {
    const WANT: &str = "`timestamp` must be an RFC 3339 date-time string with a time and an offset, like \"2024-01-15T10:30:00Z\".";
    let text: String = raw
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .ok_or_else(|| invalid(WANT))?;
    let parsed = chrono::DateTime::parse_from_rfc3339(&text).map_err(|_| invalid(WANT))?;
    let unix_seconds = parsed.timestamp();
    Ok((text, unix_seconds))
}

fn parse_data(raw: Option<&RawValue>) -> Result<Option<String>, Rejection> {
    const WANT: &str = "`data` must be a JSON object.";
    let raw = raw.ok_or_else(|| invalid(WANT))?;
    if !raw.get().starts_with('{') {
        return Err(invalid(WANT));
    }
    let data: RawData<'_> = serde_json::from_str(raw.get())
        .map_err(|e| invalid(format!("`data` is not a valid object: {e}.")))?;
    // A message_id that is not a non-empty string does not identify the event;
    // dedup then falls back to the body hash.
    Ok(data
        .message_id
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .filter(|id| !id.is_empty()))
}

/// Checks that `unix_seconds` is within `tolerance` seconds of `now`, on either side.
pub fn check_freshness(unix_seconds: i64, now: i64, tolerance: u64) -> Result<(), Rejection> {
    let seconds = now.abs_diff(unix_seconds);
    if seconds > tolerance {
        Err(Rejection::StaleTimestamp {
            seconds,
            future: unix_seconds > now,
            tolerance,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{sign, Secrets};

    fn parse_str(body: &str) -> Result<Envelope, Rejection> {
        let secrets = Secrets::parse("k").unwrap();
        let signature = sign(b"k", body.as_bytes());
        let verified = secrets.verify(Some(&signature), body.as_bytes()).unwrap();
        parse(verified)
    }

    fn message_of(result: Result<Envelope, Rejection>) -> String {
        match result {
            Err(Rejection::InvalidPayload(message)) => message,
            other => panic!("expected invalid_payload, got {other:?}"),
        }
    }

    const SPEC_EXAMPLE: &str = r#"{ "event": "email.opened", "timestamp": "2024-01-15T10:30:00Z",
      "data": { "message_id": "msg_abc123", "campaign_id": "camp_xyz789",
                "email": "user@example.com", "opened_at": "2024-01-15T10:30:00Z",
                "user_agent": "Mozilla/5.0...", "ip_address": "192.168.1.1" } }"#;

    #[test]
    fn spec_example() {
        let envelope = parse_str(SPEC_EXAMPLE).unwrap();
        assert_eq!(
            envelope,
            Envelope {
                event: "email.opened".into(),
                timestamp: "2024-01-15T10:30:00Z".into(),
                unix_seconds: 1_705_314_600,
                message_id: Some("msg_abc123".into()),
            }
        );
    }

    #[test]
    fn timestamps_with_fractions_and_offsets() {
        for (ts, unix) in [
            ("2024-01-15T10:30:00.123456Z", 1_705_314_600),
            ("2024-01-15T12:30:00+02:00", 1_705_314_600),
            ("2024-01-15T05:00:00-05:30", 1_705_314_600),
            ("2024-01-15t10:30:00z", 1_705_314_600),
            ("2016-12-31T23:59:60Z", 1_483_228_799),
        ] {
            let body = format!(r#"{{"event":"email.sent","timestamp":"{ts}","data":{{}}}}"#);
            assert_eq!(parse_str(&body).unwrap().unix_seconds, unix, "{ts}");
        }
    }

    #[test]
    fn unknown_event_without_message_id() {
        let envelope = parse_str(
            r#"{"event":"push.sent","timestamp":"2024-01-15T10:30:00Z","data":{"x":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(envelope.event, "push.sent");
        assert_eq!(envelope.message_id, None);
    }

    #[test]
    fn message_id_that_is_not_a_string_is_ignored() {
        for id in ["\"\"", "42", "null", "{}", "[\"a\"]"] {
            let body = format!(
                r#"{{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z","data":{{"message_id":{id}}}}}"#
            );
            assert_eq!(parse_str(&body).unwrap().message_id, None, "{id}");
        }
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let envelope = parse_str(
            r#"{"event":"email\u002eopened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"m\u00e9"}}"#,
        )
        .unwrap();
        assert_eq!(envelope.event, "email.opened");
        assert_eq!(envelope.message_id.as_deref(), Some("mé"));
    }

    #[test]
    fn bodies_that_are_not_json_objects() {
        for body in ["", "null", "[]", "42", "\"x\"", "{", "{\"event\":}", "NaN"] {
            let message = message_of(parse_str(body));
            assert!(message.contains("body"), "{body:?}: {message}");
        }
    }

    #[test]
    fn non_utf8_body() {
        let body = b"{\"event\":\"\xff\"}";
        let secrets = Secrets::parse("k").unwrap();
        let signature = sign(b"k", body);
        let verified = secrets.verify(Some(&signature), body).unwrap();
        assert!(message_of(parse(verified)).contains("UTF-8"));
    }

    #[test]
    fn each_bad_event_names_event() {
        for event in [
            "missing",
            "null",
            "\"\"",
            "42",
            "\"email\"",
            "\"email.\"",
            "\".opened\"",
            "\"email.opened.twice\"",
            "\"email opened\"",
            "[\"email.opened\"]",
        ] {
            let body = if event == "missing" {
                r#"{"timestamp":"2024-01-15T10:30:00Z","data":{}}"#.to_string()
            } else {
                format!(r#"{{"event":{event},"timestamp":"2024-01-15T10:30:00Z","data":{{}}}}"#)
            };
            assert!(message_of(parse_str(&body)).contains("`event`"), "{event}");
        }
        let long = format!("\"email.{}\"", "a".repeat(MAX_EVENT_LEN));
        let body = format!(r#"{{"event":{long},"timestamp":"2024-01-15T10:30:00Z","data":{{}}}}"#);
        assert!(message_of(parse_str(&body)).contains("`event`"));
    }

    #[test]
    fn each_bad_timestamp_names_timestamp() {
        for ts in [
            "missing",
            "null",
            "1705314600",
            "\"2024-01-15\"",
            "\"2024-01-15T10:30:00\"",
            "\"2024-02-30T10:30:00Z\"",
            "\"2024-01-15T25:30:00Z\"",
            "\"15 Jan 2024 10:30:00 GMT\"",
            "\"\"",
            "\"NaN\"",
            "\"+275760-09-13T00:00:00Z\"",
        ] {
            let body = if ts == "missing" {
                r#"{"event":"email.sent","data":{}}"#.to_string()
            } else {
                format!(r#"{{"event":"email.sent","timestamp":{ts},"data":{{}}}}"#)
            };
            assert!(message_of(parse_str(&body)).contains("`timestamp`"), "{ts}");
        }
    }

    #[test]
    fn each_bad_data_names_data() {
        for data in ["missing", "null", "[]", "\"x\"", "1"] {
            let body = if data == "missing" {
                r#"{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z"}"#.to_string()
            } else {
                format!(
                    r#"{{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z","data":{data}}}"#
                )
            };
            assert!(message_of(parse_str(&body)).contains("`data`"), "{data}");
        }
    }

    #[test]
    fn repeated_fields_are_refused() {
        let body = r#"{"event":"email.sent","event":"sms.sent","timestamp":"2024-01-15T10:30:00Z","data":{}}"#;
        assert!(message_of(parse_str(body)).contains("event"));
        let body = r#"{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"a","message_id":"b"}}"#;
        assert!(message_of(parse_str(body)).contains("`data`"));
    }

    #[test]
    fn deep_nesting_neither_recurses_nor_crashes() {
        // Nested values inside `data` are skipped, not built, so depth costs no stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let body = format!(
            r#"{{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z","data":{{"x":{deep}}}}}"#
        );
        assert!(parse_str(&body).is_ok());
        let unbalanced = format!(
            r#"{{"event":"email.sent","timestamp":"2024-01-15T10:30:00Z","data":{{"x":{}}}}}"#,
            "[".repeat(100_000)
        );
        assert!(message_of(parse_str(&unbalanced)).contains("body"));
    }

    #[test]
    fn window_is_two_sided_and_inclusive() {
        assert!(check_freshness(1000, 1300, 300).is_ok());
        assert!(check_freshness(1300, 1000, 300).is_ok());
        assert_eq!(
            check_freshness(1000, 1301, 300),
            Err(Rejection::StaleTimestamp {
                seconds: 301,
                future: false,
                tolerance: 300
            })
        );
        assert_eq!(
            check_freshness(1301, 1000, 300),
            Err(Rejection::StaleTimestamp {
                seconds: 301,
                future: true,
                tolerance: 300
            })
        );
        assert!(check_freshness(i64::MIN, i64::MAX, 300).is_err());
    }
}
