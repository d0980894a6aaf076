//! JSON written by hand: small objects field by field, and text quoted as
//! serde_json quotes it. In wasm each derived `Serialize` and each `json!` is
//! code of its own, and serde_json's writer more (docs/performance.md, "The
//! bundle's size"); these few calls are shared by every JSON the core writes.
//! serde_json only reads.

use serde_json::Value;

/// `text` as a JSON string, escaped as serde_json escapes it: `"` and `\`,
/// and each control character (`\n`, `\r`, `\t`, `\b`, `\f`, else
/// `\u00XX`); the rest as it is.
pub(crate) fn json(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut start = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "\\u00",
            _ => continue,
        };
        // `at` is an ASCII byte's, so both ends are character boundaries.
        out.push_str(text.get(start..at).unwrap_or_default());
        out.push_str(escape);
        if escape.len() == 4 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        start = at + 1;
    }
    out.push_str(text.get(start..).unwrap_or_default());
    out.push('"');
    out
}

/// A JSON object being written: `{"name":value,…}`, fields in the order
/// written.
pub(crate) struct JsonObject(String);

impl JsonObject {
    pub(crate) fn new() -> Self {
        Self(String::from("{"))
    }

    /// `"name":` followed by `value`, JSON text as it is.
    pub(crate) fn raw(&mut self, name: &str, value: &str) -> &mut Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(name);
        self.0.push_str("\":");
        self.0.push_str(value);
        self
    }

    /// A string field, escaped.
    pub(crate) fn text(&mut self, name: &str, value: &str) -> &mut Self {
        self.raw(name, &json(value))
    }

    /// A string field, or `null`.
    pub(crate) fn text_or_null(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(name, value),
            None => self.raw(name, "null"),
        }
    }

    /// An array of strings.
    pub(crate) fn texts(&mut self, name: &str, values: &[&str]) -> &mut Self {
        let mut list = String::from("[");
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push_str(&json(value));
        }
        list.push(']');
        self.raw(name, &list)
    }

    /// A number field (a count, unix milliseconds).
    pub(crate) fn number(&mut self, name: &str, value: i64) -> &mut Self {
        self.raw(name, &value.to_string())
    }

    /// A number field, or `null`.
    pub(crate) fn number_or_null(&mut self, name: &str, value: Option<i64>) -> &mut Self {
        match value {
            Some(value) => self.number(name, value),
            None => self.raw(name, "null"),
        }
    }

    /// A string field, left out when there is none.
    pub(crate) fn maybe_text(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(name, value),
            None => self,
        }
    }

    /// A number field, left out when there is none.
    pub(crate) fn maybe_number(&mut self, name: &str, value: Option<i64>) -> &mut Self {
        match value {
            Some(value) => self.number(name, value),
            None => self,
        }
    }

    /// The object's text.
    pub(crate) fn end(&mut self) -> String {
        self.0.push('}');
        std::mem::take(&mut self.0)
    }
}

/// A JSON value as text, as `serde_json::to_string` writes it (an object's
/// members in key order), but for a float: written as `null`. Only values
/// of whole numbers and text are written this way (the samples, a response's
/// headers, a new event's deliveries), so serde_json's writer of values and
/// its float formatting stay out of the bundle.
pub(crate) fn value_text(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(n), _) => out.push_str(&n.to_string()),
            (None, Some(n)) => out.push_str(&n.to_string()),
            (None, None) => out.push_str("null"),
        },
        Value::String(text) => out.push_str(&json(text)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (name, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json(name));
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

/// A count as [`JsonObject::number`] writes it: one past `i64::MAX` is
/// written as `i64::MAX`, a count never reached.
pub(crate) fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `[a,b,…]`.
pub(crate) fn numbers(values: &[i64]) -> String {
    let mut out = String::from("[");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&value.to_string());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_in_order_escaped_and_null() {
        let text = JsonObject::new()
            .text("a", "quote \" backslash \\ nul \0 \u{2028}")
            .number("b", -5)
            .number_or_null("c", None)
            .text_or_null("d", None)
            .raw("e", &numbers(&[1, i64::MIN]))
            .number("f", count(u64::MAX))
            .end();
        // serde_json leaves U+2028 as it is: it is valid in JSON text.
        assert_eq!(
            text,
            concat!(
                r#"{"a":"quote \" backslash \\ nul \u0000 "#,
                "\u{2028}",
                r#"","b":-5,"c":null,"d":null,"e":[1,-9223372036854775808],"f":9223372036854775807}"#
            )
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["a"], "quote \" backslash \\ nul \0 \u{2028}");
        assert_eq!(JsonObject::new().end(), "{}");
        assert_eq!(numbers(&[]), "[]");
    }

    #[test]
    fn text_is_quoted_as_serde_json_quotes_it() {
        let mut texts: Vec<String> = (0..=0x7f_u8)
            .map(|b| format!("a{}b", char::from(b)))
            .collect();
        texts.extend(
            [
                "",
                "plain",
                "é😀\u{2028}\u{7f}",
                "\"\\\n\u{0}\u{1f}x\u{1b}[0m",
                "\\u0041",
            ]
            .map(String::from),
        );
        for text in texts {
            assert_eq!(
                json(&text),
                serde_json::to_string(&text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them_but_floats() {
        for text in [
            r#"{"b":[1,-2,18446744073709551615,true,false,null],"a":{"x":"q\"\u0000\u2028é😀"},"c":[]}"#,
            r#"[]"#,
            r#""text""#,
            r#"{}"#,
            include_str!("../fixtures/events/sms.sent.json"),
            include_str!("../fixtures/vectors/samples.json"),
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(value_text(&value), serde_json::to_string(&value).unwrap());
        }
        let float: Value = serde_json::from_str("[1.5]").unwrap();
        assert_eq!(value_text(&float), "[null]");
    }
}
