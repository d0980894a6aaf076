//! Keeps the signatures an attempt sent out of what the event log stores of the
//! answer (SPEC section 8): a backend may echo them, in its headers or its body,
//! spelled otherwise than sent. Pure, and byte by byte: no regex in the bundle.

use std::borrow::Cow;

/// What stands in the log for each echoed signature.
pub const REPLACEMENT: &str = "(signature)";
/// The shortest signature, and the shortest start of one that ends a text (the
/// kept body stops after 2 KiB, possibly within one), that is scrubbed: shorter
/// ones would catch ordinary text.
pub const SHORTEST: usize = 16;

/// The signatures in a signature header's value, as a backend may echo them:
/// each item of `v1,<base64> v1,<base64>`, or the hex of `[sha256=]<hex>`,
/// without its label and without base64 padding (an echo may drop both).
pub fn signatures(header_value: &str) -> impl Iterator<Item = &str> {
    header_value
        .split([',', ' ', '\t'])
        .map(|item| match item.split_once('=') {
            Some((label, digest)) if label.eq_ignore_ascii_case("sha256") => digest,
            _ => item,
        })
        .map(|item| item.trim_end_matches('='))
        .filter(|item| item.len() >= SHORTEST)
}

/// `text` with every echo of each of `signatures` (from [`signatures`]) replaced
/// by [`REPLACEMENT`], and a start of one ([`SHORTEST`] bytes or more) that ends
/// the text, as a cut body does. An echo may be in any ASCII case (hex is
/// upper-cased by some; base64 read in another case is another value, but
/// matching it too costs nothing and keeps one rule), and each character may be
/// escaped as JSON (`\/`, `\u002b`, under any number of backslashes), as in a
/// URL (`%2F`) or in base64url (`-`, `_`). Signatures shorter than [`SHORTEST`]
/// are ignored.
///
/// Every match starts and ends at an ASCII byte or the text's end, so cutting
/// there never splits a UTF-8 character.
pub fn scrub<'t>(text: &'t str, signatures: &[String]) -> Cow<'t, str> {
    let signatures: Vec<&[u8]> = signatures
        .iter()
        .map(|signature| signature.as_bytes())
        .filter(|signature| signature.len() >= SHORTEST)
        .collect();
    let bytes = text.as_bytes();
    let mut scrubbed = String::new();
    let (mut kept, mut at) = (0, 0);
    while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
        match signatures.iter().filter_map(|s| echo_len(rest, s)).max() {
            Some(len) => {
                scrubbed.push_str(text.get(kept..at).unwrap_or_default());
                scrubbed.push_str(REPLACEMENT);
                at += len;
                kept = at;
            }
            None => at += 1,
        }
    }
    if scrubbed.is_empty() {
        return Cow::Borrowed(text);
    }
    scrubbed.push_str(text.get(kept..).unwrap_or_default());
    Cow::Owned(scrubbed)
}

/// One character of a signature at the start of a text.
enum Spelled {
    /// In this many bytes.
    In(usize),
    /// Not there.
    No,
    /// The text ends before it could tell.
    Cut,
}

/// The length of the echo of `signature` that `text` starts with: a whole one,
/// or the rest of the text when it ends within one after [`SHORTEST`] bytes.
fn echo_len(text: &[u8], signature: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &wanted in signature {
        match spelled(text.get(at..).unwrap_or_default(), wanted) {
            Spelled::In(len) => at += len,
            Spelled::No => return None,
            Spelled::Cut => return (text.len() >= SHORTEST).then_some(text.len()),
        }
    }
    Some(at)
}

/// How `text` spells `wanted` at its start. The ways are told apart by their
/// first byte (a signature holds no `\` or `%`), so the first way that fits is
/// the only one and no match needs going back.
fn spelled(text: &[u8], wanted: u8) -> Spelled {
    let Some(&first) = text.first() else {
        return Spelled::Cut;
    };
    match first {
        _ if first.eq_ignore_ascii_case(&wanted) => Spelled::In(1),
        b'-' if wanted == b'+' => Spelled::In(1),
        b'_' if wanted == b'/' => Spelled::In(1),
        b'%' => escaped(text, 1, 2, wanted),
        b'\\' => {
            let run = text.iter().take_while(|&&b| b == b'\\').count();
            match text.get(run) {
                None => Spelled::Cut,
                Some(b'/') if wanted == b'/' => Spelled::In(run + 1),
                Some(b'u' | b'U') => escaped(text, run + 1, 4, wanted),
                Some(_) => Spelled::No,
            }
        }
        _ => Spelled::No,
    }
}

/// `wanted` as `digits` hex digits after the first `from` bytes of `text`.
fn escaped(text: &[u8], from: usize, digits: usize, wanted: u8) -> Spelled {
    let Some(hex) = text.get(from..from + digits) else {
        return Spelled::Cut;
    };
    let value = hex.iter().try_fold(0u32, |value, &digit| {
        char::from(digit).to_digit(16).map(|d| value * 16 + d)
    });
    if value == Some(u32::from(wanted)) {
        Spelled::In(from + digits)
    } else {
        Spelled::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's vector, and a LeadNest hex digest.
    const BASE64: &str = "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const HEX: &str = "29eedb8e268f6b535bebadac9ff2b5990ea1e9ee55cb7130da102a467118b391";

    fn sent() -> Vec<String> {
        [HEX, &format!("v1,{BASE64}")]
            .into_iter()
            .flat_map(signatures)
            .map(str::to_string)
            .collect()
    }

    fn scrubbed(text: &str) -> String {
        scrub(text, &sent()).into_owned()
    }

    #[test]
    fn known_answer() {
        assert_eq!(sent(), [HEX, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"]);
        assert_eq!(
            scrubbed(&format!(r#"{{"got":"{HEX}","sig":"v1,{BASE64}"}}"#)),
            r#"{"got":"(signature)","sig":"v1,(signature)="}"#
        );
        assert_eq!(scrubbed("nothing echoed"), "nothing echoed");
        assert!(matches!(scrub("nothing echoed", &sent()), Cow::Borrowed(_)));
    }

    #[test]
    fn the_labels_and_padding_of_header_values_are_not_the_signature() {
        let hex_upper = HEX.to_uppercase();
        for (value, expected) in [
            (format!("sha256={HEX}"), vec![HEX]),
            (format!("SHA256={hex_upper}"), vec![hex_upper.as_str()]),
            (format!("  {HEX}\t"), vec![HEX]),
            (
                format!("v1,{BASE64} v1,{HEX}"),
                vec![BASE64.trim_end_matches('='), HEX],
            ),
            ("v1,short".to_string(), vec![]),
            (String::new(), vec![]),
        ] {
            assert_eq!(signatures(&value).collect::<Vec<_>>(), expected, "{value}");
        }
    }

    #[test]
    fn an_exact_echo() {
        assert_eq!(scrubbed(&format!("a {HEX} b")), "a (signature) b");
        assert_eq!(scrubbed(BASE64), "(signature)=");
    }

    #[test]
    fn an_upper_case_echo() {
        assert_eq!(scrubbed(&HEX.to_uppercase()), "(signature)");
        assert_eq!(scrubbed(&BASE64.to_uppercase()), "(signature)=");
    }

    #[test]
    fn a_mixed_case_echo() {
        let mixed: String = HEX
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 3 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        assert_ne!(mixed, HEX);
        assert_eq!(scrubbed(&format!("[{mixed}]")), "[(signature)]");
    }

    #[test]
    fn an_echo_with_the_sha256_label() {
        assert_eq!(
            scrubbed(&format!("sha256={HEX} SHA256={}", HEX.to_uppercase())),
            "sha256=(signature) SHA256=(signature)"
        );
    }

    #[test]
    fn a_json_escaped_echo() {
        let slashes = BASE64.replace('/', "\\/");
        let unicode = BASE64.replace('/', "\\u002F").replace('+', "\\u002b");
        let twice = BASE64.replace('/', "\\\\\\/");
        for echo in [slashes, unicode, twice] {
            assert_eq!(
                scrubbed(&format!(r#"{{"s":"{echo}"}}"#)),
                r#"{"s":"(signature)="}"#,
                "{echo}"
            );
        }
    }

    #[test]
    fn a_url_encoded_or_base64url_echo() {
        let percent = BASE64
            .replace('/', "%2f")
            .replace('+', "%2B")
            .replace('=', "%3D");
        assert_eq!(scrubbed(&format!("?s={percent}&x")), "?s=(signature)%3D&x");
        let url_safe = BASE64.replace('/', "_").replace('+', "-");
        assert_eq!(scrubbed(&url_safe), "(signature)=");
    }

    #[test]
    fn a_signature_cut_at_the_end_of_the_kept_body() {
        let body = format!("{}{HEX}", "x".repeat(2000));
        let kept = body.get(..2048).unwrap();
        assert_eq!(scrubbed(kept), format!("{}(signature)", "x".repeat(2000)));
        // Cut within an escape, or upper-cased.
        let escaped = BASE64.replace('/', "\\/");
        let cut = &escaped[..escaped.find('/').unwrap()];
        assert!(cut.len() >= SHORTEST && cut.ends_with('\\'));
        assert_eq!(scrubbed(&format!("x {cut}")), "x (signature)");
        assert_eq!(scrubbed(&HEX[..20].to_uppercase()), "(signature)");
        // Shorter than SHORTEST, or not at the end: ordinary text.
        let short = &HEX[..SHORTEST - 1];
        assert_eq!(scrubbed(&format!("x {short}")), format!("x {short}"));
        let inner = format!("{} x", &HEX[..40]);
        assert_eq!(scrubbed(&inner), inner);
    }

    #[test]
    fn an_echo_in_a_response_header_value() {
        for value in [
            HEX.to_string(),
            HEX.to_uppercase(),
            format!("sha256={HEX}; x"),
        ] {
            let scrubbed = scrubbed(&value);
            assert!(scrubbed.contains(REPLACEMENT), "{scrubbed}");
            assert!(!scrubbed.to_lowercase().contains(HEX), "{scrubbed}");
        }
    }

    #[test]
    fn several_signatures() {
        let other = "f".repeat(64);
        let mut sent = sent();
        sent.push(other.clone());
        let text = format!("{BASE64}|{other}|{HEX}|{}", HEX.to_uppercase());
        assert_eq!(
            scrub(&text, &sent),
            "(signature)=|(signature)|(signature)|(signature)"
        );
    }

    #[test]
    fn overlapping_and_adjacent_echoes() {
        assert_eq!(
            scrubbed(&format!("{HEX}{HEX}{}", HEX.to_uppercase())),
            "(signature)(signature)(signature)"
        );
        // A signature that overlaps itself: each whole echo goes, and a rest too
        // short to be one stays.
        let sent = ["ab".repeat(10)];
        let text = "ab".repeat(13);
        assert_eq!(scrub(&text, &sent), "(signature)ababab");
        assert_eq!(scrub(&"ab".repeat(20), &sent), "(signature)(signature)");
    }

    #[test]
    fn non_ascii_text_around_echoes() {
        let text = format!("é{HEX}日本\u{1F600}{}é", &BASE64[..30]);
        assert_eq!(
            scrubbed(&text),
            format!("é(signature)日本\u{1F600}{}é", &BASE64[..30])
        );
        let text = format!("日本{}", &HEX[..17]);
        assert_eq!(scrubbed(&text), "日本(signature)");
        // Every cut of a text mixing both, at each character boundary.
        let text = format!("é{HEX}ü\\/{BASE64}日");
        for (at, _) in text.char_indices() {
            let _ = scrubbed(&text[..at]);
            let _ = scrubbed(&text[at..]);
        }
    }

    #[test]
    fn no_signatures_or_short_ones_change_nothing() {
        let text = format!("{HEX} é");
        assert!(matches!(scrub(&text, &[]), Cow::Borrowed(t) if t == text));
        let short = [String::new(), "29ee".to_string()];
        assert!(matches!(scrub(&text, &short), Cow::Borrowed(t) if t == text));
        assert_eq!(scrubbed(""), "");
    }
}
