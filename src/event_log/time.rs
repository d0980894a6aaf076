//! Times as the event log keeps them (unix milliseconds) and as the admin API
//! shows and reads them (RFC 3339, UTC).

use chrono::{DateTime, SecondsFormat};

const HOUR_MS: i64 = 3_600_000;

/// `2026-12-02T13:00:00.123Z`.
pub fn rfc3339(unix_ms: i64) -> String {
    DateTime::from_timestamp_millis(unix_ms)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The start of the hour holding `unix_ms`, in unix seconds (the `counts` key).
pub fn hour_of(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(HOUR_MS) * (HOUR_MS / 1000)
}

/// A time given to the admin API: RFC 3339, or unix seconds. Unix milliseconds.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_reads_back() {
        assert_eq!(rfc3339(1_764_680_400_123), "2025-12-02T13:00:00.123Z");
        assert_eq!(parse("2025-12-02T13:00:00.123Z"), Some(1_764_680_400_123));
        assert_eq!(parse("2025-12-02T14:00:00+01:00"), Some(1_764_680_400_000));
        assert_eq!(parse("1764680400"), Some(1_764_680_400_000));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for text in [
            "",
            "yesterday",
            "2025-13-02T00:00:00Z",
            "-5",
            "99999999999999999999",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn hours_start_on_the_hour() {
        assert_eq!(hour_of(1_764_680_400_000), 1_764_680_400);
        assert_eq!(hour_of(1_764_683_999_999), 1_764_680_400);
        assert_eq!(hour_of(1_764_684_000_000), 1_764_684_000);
    }
}
