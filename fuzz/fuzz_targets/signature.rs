//! `X-LeadNest-Signature`: `Secrets::parse` and `Secrets::verify` on any secret
//! list, header and body, and the `Content-Length` pre-check on the same header.
//! Input: `secrets\nheader\nbody`; without a second `\n` there is no header.
#![no_main]

use leadnest_edge::error::Rejection;
use leadnest_edge::ingress::check_declared_length;
use leadnest_edge::signature::{sign, Secrets};
use leadnest_edge_fuzz::{next_line, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (list, rest) = next_line(data).unwrap_or((data, &[]));
    let (header, body) = match next_line(rest) {
        Some((header, body)) => (Some(text(header)), body),
        None => (None, rest),
    };
    let list = text(list);
    let _ = check_declared_length(header.as_deref(), 65_536);

    let Some(secrets) = Secrets::parse(&list) else {
        return;
    };
    let keys: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    assert_eq!(secrets.len(), keys.len());

    match secrets.verify(header.as_deref(), body) {
        // Passing means the header is some secret's HMAC, in an accepted spelling.
        Ok(verified) => {
            assert_eq!(verified.bytes(), body);
            let digits = header.as_deref().map(normalize).unwrap_or_default();
            assert!(keys.iter().any(|k| sign(k.as_bytes(), body) == digits));
        }
        Err(rejection) => {
            let expected = match header {
                None => Rejection::MissingSignature,
                Some(_) => Rejection::InvalidSignature,
            };
            assert_eq!(rejection, expected);
        }
    }

    // Every secret's own signature passes, in each spelling the SPEC allows.
    for key in keys.iter().take(3) {
        let good = sign(key.as_bytes(), body);
        for spelling in [
            good.clone(),
            good.to_uppercase(),
            format!("sha256={good}"),
            format!(" SHA256={good}\t"),
        ] {
            assert!(secrets.verify(Some(&spelling), body).is_ok(), "{spelling}");
        }
    }
});

/// The hex digits a header carries: trimmed, without `sha256=` (any case), lowercase.
fn normalize(header: &str) -> String {
    let header = header.trim();
    let digits = match header.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &header[7..],
        _ => header,
    };
    digits.to_ascii_lowercase()
}
