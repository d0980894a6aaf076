//! The LeadNest event envelope (`event`, `timestamp`, `data`) and the two-sided
//! freshness window. Parses only bodies whose signature has been verified.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

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
// error; unknown fields are ignored, a repeated known field is an error. The
// object is read by serde_json's own parser, with its errors, each value skipped
// unbuilt, as a derived reader of `Option<&RawValue>` fields would; then the
// fields' texts are found in the text it accepted. No derived or typed reader:
// each pulls in serde's type errors, and with them `f64` formatting.
const ENVELOPE: &[&str] = &["event", "timestamp", "data"];
const DATA: &[&str] = &["message_id"];

/// The texts of the members of the JSON object `text` named in `names` (at most
/// three), as serde_json reads it: a repeated name is a "duplicate field" error.
fn fields<'t>(
    text: &'t str,
    names: &'static [&'static str],
) -> Result<[Option<&'t str>; 3], serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let found = reader.deserialize_any(Members(names))?;
    reader.end()?;
    // `null` is no value, as for an `Option`.
    Ok(member_values(text, found).map(|value| value.filter(|value| *value != "null")))
}

/// Finds, for each name, the position of its member among the object's members.
struct Members(&'static [&'static str]);

/// What a value other than an object is: only an object is ever given (the
/// callers check its first character), but serde's own answer formats floats.
fn not_an_object<E: de::Error>() -> E {
    E::custom("not an object")
}

impl<'de> Visitor<'de> for Members {
    type Value = [Option<usize>; 3];

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; 3];
        let mut position = 0;
        while let Some(name) = map.next_key_seed(Name(self.0))? {
            if let Some(index) = name {
                let (Some(slot), Some(name)) = (found.get_mut(index), self.0.get(index)) else {
                    return Err(not_an_object());
                };
                if slot.is_some() {
                    return Err(de::Error::duplicate_field(name));
                }
                *slot = Some(position);
            }
            map.next_value::<IgnoredAny>()?;
            position += 1;
        }
        Ok(found)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(not_an_object())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(not_an_object())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(not_an_object())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(not_an_object())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(not_an_object())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(not_an_object())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_an_object())
    }
}

/// A member's name: the index of the name it is in the list, if any.
struct Name(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|known| *known == name))
    }
}

/// The text of each `index`-th member's value in `text`, a JSON object
/// serde_json has read whole (so every step below finds what it expects), in
/// one walk over its members.
fn member_values(text: &str, indexes: [Option<usize>; 3]) -> [Option<&str>; 3] {
    let mut values = [None; 3];
    let Some(last) = indexes.iter().flatten().max().copied() else {
        return values;
    };
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    for position in 0..=last {
        // `{` or `,`, then the name, the `:` and the value.
        at = skip_space(bytes, at + 1);
        let Some(name_end) = skip_string(bytes, at) else {
            return values;
        };
        let start = skip_space(bytes, skip_space(bytes, name_end) + 1);
        let Some(end) = skip_value(bytes, start) else {
            return values;
        };
        for (value, index) in values.iter_mut().zip(indexes) {
            if index == Some(position) {
                *value = text.get(start..end);
            }
        }
        at = skip_space(bytes, end);
    }
    values
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Past the string that opens at `at`.
fn skip_string(bytes: &[u8], mut at: usize) -> Option<usize> {
    at += 1;
    loop {
        match bytes.get(at)? {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
}

/// Past the value that starts at `at`.
fn skip_value(bytes: &[u8], mut at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match bytes.get(at)? {
                    b'"' => {
                        at = skip_string(bytes, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            while !matches!(
                bytes.get(at),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                at += 1;
            }
            Some(at)
        }
    }
}

/// A JSON string's value, read as a value: a typed `String` reader would pull in
/// serde's type errors.
fn string(text: &str) -> Option<String> {
    match serde_json::from_str(text) {
        Ok(Value::String(string)) => Some(string),
        _ => None,
    }
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
    let [event, timestamp, data] = fields(text, ENVELOPE)
        .map_err(|e| invalid(format!("The body is not a valid JSON event: {e}.")))?;

    let event = parse_event(event)?;
    let (timestamp, unix_seconds) = parse_timestamp(timestamp)?;
    let message_id = parse_data(data)?;
    Ok(Envelope {
        event,
        timestamp,
        unix_seconds,
        message_id,
    })
}

fn parse_event(raw: Option<&str>) -> Result<String, Rejection> {
    const WANT: &str =
        "`event` must be a non-empty string of the form family.action, like \"email.opened\".";
    let event = raw.and_then(string).ok_or_else(|| invalid(WANT))?;
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

fn parse_timestamp(raw: Option<&str>) -> Result<(String, i64), Rejection> {
    const WANT: &str = "`timestamp` must be an RFC 3339 date-time string with a time and an offset, like \"2024-01-15T10:30:00Z\".";
    let text = raw.and_then(string).ok_or_else(|| invalid(WANT))?;
    let unix_seconds = crate::rfc3339::parse(&text)
        .ok_or_else(|| invalid(WANT))?
        .seconds;
    Ok((text, unix_seconds))
}

fn parse_data(raw: Option<&str>) -> Result<Option<String>, Rejection> {
    const WANT: &str = "`data` must be a JSON object.";
    let raw = raw.ok_or_else(|| invalid(WANT))?;
    if !raw.starts_with('{') {
        return Err(invalid(WANT));
    }
    let [message_id, ..] =
        fields(raw, DATA).map_err(|e| invalid(format!("`data` is not a valid object: {e}.")))?;
    // A message_id that is not a non-empty string does not identify the event;
    // dedup then falls back to the body hash.
    Ok(message_id.and_then(string).filter(|id| !id.is_empty()))
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

    /// Each field's text, or the error's message.
    type Fields = Result<(Option<String>, Option<String>, Option<String>), String>;

    /// The reader this one replaced: derived, over raw values.
    mod derived {
        use serde::Deserialize;
        use serde_json::value::RawValue;

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

        /// What `parse` answered before: each field's text, or the error's message.
        pub fn read(text: &str) -> super::Fields {
            let raw: RawEnvelope<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
            let text = |raw: Option<&RawValue>| raw.map(|raw| raw.get().to_string());
            let message_id = match raw.data {
                Some(data) if data.get().starts_with('{') => {
                    let data: RawData<'_> =
                        serde_json::from_str(data.get()).map_err(|e| format!("data: {e}"))?;
                    text(data.message_id)
                }
                _ => None,
            };
            Ok((text(raw.event), text(raw.timestamp), message_id))
        }
    }

    fn read(text: &str) -> Fields {
        let [event, timestamp, data] = fields(text, ENVELOPE).map_err(|e| e.to_string())?;
        let message_id = match data {
            Some(data) if data.starts_with('{') => {
                fields(data, DATA).map_err(|e| format!("data: {e}"))?[0]
            }
            _ => None,
        };
        let owned = |text: Option<&str>| text.map(str::to_string);
        Ok((owned(event), owned(timestamp), owned(message_id)))
    }

    #[test]
    fn reads_as_the_derived_reader_did() {
        let mut bodies: Vec<String> = [
            SPEC_EXAMPLE,
            r#"{}"#,
            r#"{"event":null,"timestamp":1,"data":null}"#,
            r#" {"event" : "a.b" , "timestamp"	:"t",
"data"
:  { "message_id" :
 "m" , "x": [1, {"y": "}]\""}] } , "z": -1.5e3 }  "#,
            r#"{"ev\u0065nt":"a.b","event":"c.d"}"#,
            r#"{"event":"a.b","event":"c.d"}"#,
            r#"{"data":{"message_id":1,"message_id":2}}"#,
            r#"{"data":{"message_id":"a"},"data":{}}"#,
            r#"{"timestamp":"x","x":1,"timestamp":"y"}"#,
            r#"{"event":"a.b",}"#,
            r#"{"event":"a.b" "data":{}}"#,
            r#"{"event":"a.b"}x"#,
            r#"{"event":nul}"#,
            r#"{"event":1e400}"#,
            r#"{"event":01}"#,
            r#"{"event":"\ud800"}"#,
            r#"{"event":"a.b","data":{"message_id":"\u00e9t\u00e9"}}"#,
            r#"{"data":{"a":[[[["x"]]]],"message_id":"id","b":{"c":"}"}}}"#,
            r#"{"data":[1,2]}"#,
            r#"{1:2}"#,
            r#"{"a":1"#,
            r#"{"#,
            "{\"event\":\"a.b\",\"data\":{\"message_id\":\"x\"}}\n",
            r#"{"data":{"message_id":"x",}}"#,
            r#"{"data":{"message_id":"x"}}}"#,
            r#"{"event":true,"timestamp":false,"data":"{"}"#,
            r#"{"event":[],"timestamp":{},"data":{"message_id":null}}"#,
            "{\"event\":\"a.b\",\"data\":{\n\"message_id\":1,\n  \"message_id\":2}}",
            "\u{a0}{}",
            "{\"event\":\"\u{1F600}\"}",
        ]
        .iter()
        .map(|body| body.to_string())
        .collect();
        // Every prefix of a few, and each with one character changed or dropped.
        let seeds = [
            SPEC_EXAMPLE,
            bodies[3].clone().leak(),
            bodies[17].clone().leak(),
        ];
        for seed in seeds {
            for (at, _) in seed.char_indices() {
                bodies.push(seed[..at].to_string());
                bodies.push(format!(
                    "{}{}",
                    &seed[..at],
                    &seed[at..].chars().skip(1).collect::<String>()
                ));
                for replacement in ['"', '{', '}', ',', ':', '\\', ' ', '1', 'n'] {
                    let rest: String = seed[at..].chars().skip(1).collect();
                    bodies.push(format!("{}{replacement}{rest}", &seed[..at]));
                }
            }
        }
        for body in &bodies {
            if !body.trim_start().starts_with('{') {
                continue;
            }
            assert_eq!(read(body), derived::read(body), "{body}");
        }
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
