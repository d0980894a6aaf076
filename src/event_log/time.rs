//! Times as the event log keeps them (unix milliseconds) and as the admin API
//! shows and reads them (RFC 3339, UTC).

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// The years chrono's dates span: a time outside them has no text.
const YEARS: std::ops::RangeInclusive<i64> = -262_143..=262_142;

/// `2026-12-02T13:00:00.123Z`, as chrono's `to_rfc3339_opts(Millis, true)`
/// writes it (a year past 9999 with a `+`). The date from the days since
/// 1970 by Howard Hinnant's `civil_from_days`: chrono's formatter, for this
/// one format, was several kilobytes of the bundle.
pub fn rfc3339(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(DAY_MS);
    let ms = unix_ms.rem_euclid(DAY_MS);
    // Days since 0000-03-01, in eras of 400 years (146,097 days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !YEARS.contains(&year) {
        return String::new();
    }
    let sign = match year {
        ..0 => "-",
        10_000.. => "+",
        _ => "",
    };
    format!(
        "{sign}{:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        year.abs(),
        ms / HOUR_MS,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The start of the hour holding `unix_ms`, in unix seconds (the `counts` key).
pub fn hour_of(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(HOUR_MS) * (HOUR_MS / 1000)
}

/// A time given to the admin API: RFC 3339, or unix seconds. Unix milliseconds.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // As u64, as every number the core parses: one parser's code.
        return i64::try_from(text.parse::<u64>().ok()?)
            .ok()?
            .checked_mul(1000);
    }
    crate::rfc3339::parse(text).map(crate::rfc3339::Instant::millis)
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
    fn formats_as_chrono_does() {
        use chrono::SecondsFormat;
        let day = DAY_MS;
        let mut times = vec![0, -1, 1, i64::MIN, i64::MAX, -62_135_596_800_000 - 1];
        for year_ms in [
            -8_210_298_412_800_000, // chrono's first day
            -8_210_298_412_800_001,
            8_210_266_876_799_999, // its last millisecond
            8_210_266_876_800_000,
            -62_167_219_200_000, // 0000-01-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000,
            951_782_400_000,   // 2000-02-29
            4_107_456_000_000, // 2100-02-28
        ] {
            times.extend([
                year_ms - day,
                year_ms - 1,
                year_ms,
                year_ms + 1,
                year_ms + day,
            ]);
        }
        // Every day of four centuries, at an odd time of day.
        let mut t = -2 * 146_097 * day;
        while t < 2 * 146_097 * day {
            times.push(t + 45_296_789);
            t += day;
        }
        for ms in times {
            let chrono = chrono::DateTime::from_timestamp_millis(ms)
                .map(|time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
                .unwrap_or_default();
            assert_eq!(rfc3339(ms), chrono, "{ms}");
        }
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
