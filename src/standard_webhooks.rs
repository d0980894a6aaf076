//! Standard Webhooks signing (https://www.standardwebhooks.com), so a backend can
//! verify forwarded requests with any Standard Webhooks library.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

const SECRET_PREFIX: &str = "whsec_";

/// A Standard Webhooks signing key, decoded from `whsec_<base64>`.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// Decodes `whsec_` + base64. The error completes the sentence "the secret X …"
    /// and never quotes the value.
    pub fn from_whsec(secret: &str) -> Result<Self, &'static str> {
        let encoded = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or("does not start with whsec_; use a Standard Webhooks secret.")?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| "is not whsec_ followed by base64.")?;
        if key.is_empty() {
            return Err("holds an empty key.");
        }
        Hmac::new_from_slice(&key)
            .map(Self)
            .map_err(|_| "holds an unusable key.")
    }

    /// The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.0.clone();
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }

    /// `webhook-id`, `webhook-timestamp` and `webhook-signature` for `body`,
    /// the one place their names and order are written.
    pub fn headers(
        &self,
        webhook_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> [(&'static str, String); 3] {
        [
            ("webhook-id", webhook_id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", self.sign(webhook_id, timestamp, body)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn specification_vector() {
        let key = SigningKey::from_whsec(SECRET).unwrap();
        assert_eq!(key.sign(ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn headers_carry_the_signature() {
        let key = SigningKey::from_whsec(SECRET).unwrap();
        assert_eq!(
            key.headers(ID, TIMESTAMP, BODY),
            [
                ("webhook-id", ID.to_string()),
                ("webhook-timestamp", TIMESTAMP.to_string()),
                ("webhook-signature", SIGNATURE.to_string()),
            ]
        );
    }

    #[test]
    fn each_part_is_signed() {
        let key = SigningKey::from_whsec(SECRET).unwrap();
        assert_ne!(key.sign("msg_other", TIMESTAMP, BODY), SIGNATURE);
        assert_ne!(key.sign(ID, TIMESTAMP + 1, BODY), SIGNATURE);
        assert_ne!(
            key.sign(ID, TIMESTAMP, b"{\"test\": 2432232315}"),
            SIGNATURE
        );
    }

    #[test]
    fn bad_secrets() {
        for secret in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_!!!",
            "whsec_ab c",
        ] {
            assert!(SigningKey::from_whsec(secret).is_err(), "{secret}");
        }
    }

    #[test]
    fn debug_redacts() {
        let key = SigningKey::from_whsec(SECRET).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey([redacted])");
    }
}
