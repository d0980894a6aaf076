//! LeadNest's `X-LeadNest-Signature`: hex HMAC-SHA256 of the raw body, keyed with
//! the webhook secret. Pure: no I/O, no clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

use crate::error::Rejection;

/// The header LeadNest signs with.
pub const SIGNATURE_HEADER: &str = "x-leadnest-signature";
/// The optional prefix some senders put before the hex digest.
const PREFIX: &str = "sha256=";
/// Bytes of an HMAC-SHA256 digest.
pub const DIGEST_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The configured webhook secrets. Several are allowed during rotation; any one
/// matching passes. Each is kept as a keyed HMAC state, so a request costs no key
/// schedule.
#[derive(Clone)]
pub struct Secrets {
    keys: Vec<HmacSha256>,
    raw: Vec<Vec<u8>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets([redacted; {}])", self.keys.len())
    }
}

/// A body whose signature matched a configured secret. Only [`Secrets::verify`]
/// and [`Secrets::verdict`] make one, so nothing downstream can handle an
/// unverified body.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedBody<'a>(&'a [u8]);

impl<'a> VerifiedBody<'a> {
    /// The raw bytes, exactly as received.
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl Secrets {
    /// Parses a comma-separated list, ignoring blanks around and between items.
    /// `None` when the list holds no secret.
    pub fn parse(list: &str) -> Option<Self> {
        let raw: Vec<Vec<u8>> = list
            .split(',')
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .map(|secret| secret.as_bytes().to_vec())
            .collect();
        // HMAC takes keys of any length, so every secret makes a key.
        let keys: Vec<HmacSha256> = raw
            .iter()
            .filter_map(|secret| HmacSha256::new_from_slice(secret).ok())
            .collect();
        (!keys.is_empty() && keys.len() == raw.len()).then_some(Self { keys, raw })
    }

    /// The secrets' bytes, for the platform's HMAC (WebCrypto keys imported
    /// once per isolate by the driver).
    pub fn raw_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.raw.iter().map(Vec::as_slice)
    }

    /// How many secrets are configured.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a `Secrets` holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks `header` against the HMAC of `body` under every secret, in constant
    /// time per comparison.
    pub fn verify<'a>(
        &self,
        header: Option<&str>,
        body: &'a [u8],
    ) -> Result<VerifiedBody<'a>, Rejection> {
        let claimed = claimed_digest(header)?;
        self.verdict(&self.check(&claimed, body), body)
    }

    /// Whether HMAC-SHA256 of `body` under each secret, in order, equals
    /// `claimed`, compared in constant time. Every key is tried, so the time
    /// taken does not tell which one matched.
    pub fn check(&self, claimed: &[u8; DIGEST_LEN], body: &[u8]) -> Vec<bool> {
        self.keys
            .iter()
            .map(|key| {
                let mut mac = key.clone();
                mac.update(body);
                mac.verify_slice(claimed).is_ok()
            })
            .collect()
    }

    /// The body, verified, when `matched` (one verdict per secret, in
    /// [`raw_keys`](Self::raw_keys) order, from [`check`](Self::check) or the
    /// platform's own HMAC) says any secret matched.
    pub fn verdict<'a>(
        &self,
        matched: &[bool],
        body: &'a [u8],
    ) -> Result<VerifiedBody<'a>, Rejection> {
        if matched.len() == self.keys.len() && matched.iter().any(|&m| m) {
            Ok(VerifiedBody(body))
        } else {
            Err(Rejection::InvalidSignature)
        }
    }
}

/// The digest a request claims: steps 2 and 3 of the SPEC up to the comparison.
pub fn claimed_digest(header: Option<&str>) -> Result<[u8; DIGEST_LEN], Rejection> {
    let header = header.ok_or(Rejection::MissingSignature)?;
    parse_header(header).ok_or(Rejection::InvalidSignature)
}

/// Reads 64 hex digits, any case, optionally after `sha256=`.
fn parse_header(value: &str) -> Option<[u8; DIGEST_LEN]> {
    let value = value.trim();
    let hex_digits = match value.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => value.get(PREFIX.len()..)?,
        _ => value,
    };
    let mut digest = [0u8; DIGEST_LEN];
    hex::decode_to_slice(hex_digits, &mut digest).ok()?;
    Some(digest)
}

/// The header value LeadNest would send for `body`: lowercase hex, no prefix.
/// Used by tests and tools to build fixtures with the same code that verifies.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"event":"email.opened","timestamp":"2024-01-15T10:30:00Z","data":{"message_id":"msg_abc123","campaign_id":"camp_xyz789"}}"#;
    // crypto.createHmac('sha256', 'test_secret_key').update(BODY).digest('hex'), computed with Node.
    const NODE_DIGEST: &str = "29eedb8e268f6b535bebadac9ff2b5990ea1e9ee55cb7130da102a467118b391";
    const NODE_DIGEST_ROTATED: &str =
        "47ca484bbfcdc50ffe959ec8636c28c3fd93812cce54e389a79d1b67ab8ee66a";

    fn secrets(list: &str) -> Secrets {
        Secrets::parse(list).unwrap()
    }

    #[test]
    fn known_answer_from_node() {
        assert_eq!(sign(b"test_secret_key", BODY), NODE_DIGEST);
        assert_eq!(sign(b"rotated_secret", BODY), NODE_DIGEST_ROTATED);
        assert!(secrets("test_secret_key")
            .verify(Some(NODE_DIGEST), BODY)
            .is_ok());
    }

    #[test]
    fn accepts_uppercase_prefix_and_whitespace() {
        let s = secrets("test_secret_key");
        for header in [
            NODE_DIGEST.to_uppercase(),
            format!("sha256={NODE_DIGEST}"),
            format!("SHA256={}", NODE_DIGEST.to_uppercase()),
            format!("  {NODE_DIGEST}\t"),
        ] {
            assert!(s.verify(Some(&header), BODY).is_ok(), "{header}");
        }
    }

    #[test]
    fn any_rotated_secret_matches() {
        let s = secrets(" old_secret , test_secret_key,,rotated_secret ");
        assert_eq!(s.len(), 3);
        assert!(s.verify(Some(NODE_DIGEST), BODY).is_ok());
        assert!(s.verify(Some(NODE_DIGEST_ROTATED), BODY).is_ok());
    }

    #[test]
    fn verified_body_is_the_same_bytes() {
        let verified = secrets("test_secret_key")
            .verify(Some(NODE_DIGEST), BODY)
            .unwrap();
        assert_eq!(verified.bytes(), BODY);
    }

    #[test]
    fn missing_header() {
        let err = secrets("test_secret_key").verify(None, BODY).unwrap_err();
        assert_eq!(err, Rejection::MissingSignature);
    }

    #[test]
    fn each_malformed_or_wrong_header_is_invalid() {
        let s = secrets("test_secret_key");
        let cases = [
            String::new(),
            "sha256=".into(),
            NODE_DIGEST[..63].to_string(),
            format!("{NODE_DIGEST}00"),
            format!("{}g", &NODE_DIGEST[..63]),
            format!("sha1={NODE_DIGEST}"),
            format!("{NODE_DIGEST}, {NODE_DIGEST}"),
            NODE_DIGEST_ROTATED.into(),
            // Base64 of the right digest is not the SPEC's form.
            "Ke7bjiaPa1Nb6+rcn/K1mQ6h6e5Vy3Ew2hAqRnEYs5E=".into(),
            "é".repeat(32),
        ];
        for header in cases {
            assert_eq!(
                s.verify(Some(&header), BODY).unwrap_err(),
                Rejection::InvalidSignature,
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_changed_body_fails() {
        let mut body = BODY.to_vec();
        body[10] ^= 1;
        let err = secrets("test_secret_key")
            .verify(Some(NODE_DIGEST), &body)
            .unwrap_err();
        assert_eq!(err, Rejection::InvalidSignature);
    }

    #[test]
    fn blank_secret_lists_hold_nothing() {
        assert!(Secrets::parse("").is_none());
        assert!(Secrets::parse(" , ,").is_none());
    }

    #[test]
    fn a_platform_verdict_is_taken_per_secret() {
        let s = secrets("old_secret,test_secret_key");
        let claimed = claimed_digest(Some(NODE_DIGEST)).unwrap();
        let matched = s.check(&claimed, BODY);
        assert_eq!(matched, [false, true]);
        assert_eq!(s.verdict(&matched, BODY).unwrap().bytes(), BODY);
        assert_eq!(
            s.verdict(&[false, false], BODY).unwrap_err(),
            Rejection::InvalidSignature
        );
        // A verdict for another number of secrets is not a verdict.
        assert!(s.verdict(&[true], BODY).is_err());
        assert!(s.verdict(&[], BODY).is_err());
    }

    #[test]
    fn raw_keys_in_order() {
        let s = secrets(" a ,bb");
        assert_eq!(s.raw_keys().collect::<Vec<_>>(), [&b"a"[..], b"bb"]);
    }

    #[test]
    fn debug_redacts() {
        let shown = format!("{:?}", secrets("test_secret_key"));
        assert_eq!(shown, "Secrets([redacted; 1])");
    }
}
