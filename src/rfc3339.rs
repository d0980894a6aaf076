//! RFC 3339 date-times read exactly as chrono's `DateTime::parse_from_rfc3339`
//! reads them (its reader, with the calendar it needs, was several kilobytes of
//! the bundle): `YYYY-MM-DD`, `T`, `t` or a space, `hh:mm:ss`, an optional
//! fraction of any length (nanoseconds kept), `Z`, `z` or `±hh:mm` (also `−`,
//! U+2212), nothing after. A leap second (`:60`) is the 59th second's second
//! billion nanoseconds, as chrono has it. The tests compare the two.

/// A date-time read: unix seconds, and the nanoseconds past them (from
/// 1,000,000,000 in a leap second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    pub seconds: i64,
    pub nanos: u32,
}

impl Instant {
    /// Unix milliseconds, as chrono's `timestamp_millis`.
    pub fn millis(self) -> i64 {
        self.seconds * 1000 + i64::from(self.nanos / 1_000_000)
    }
}

/// Reads `text`; `None` where chrono gives an error.
pub fn parse(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    let digit = |at: usize| match bytes.get(at) {
        Some(b @ b'0'..=b'9') => Some(u32::from(b - b'0')),
        _ => None,
    };
    let two = |at: usize| Some(digit(at)? * 10 + digit(at + 1)?);
    let at = |at: usize, allowed: &[u8]| bytes.get(at).is_some_and(|b| allowed.contains(b));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"tT ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // A leap second is the 59th second, a billion nanoseconds on.
    let (second, mut nanos) = match second {
        60 => (59, 1_000_000_000),
        _ => (second, 0),
    };
    let mut rest = bytes.get(19..)?;
    if let Some((b'.', fraction)) = rest.split_first() {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Nine digits kept, the rest ignored.
        let mut fraction_nanos = 0;
        for position in 0..9 {
            let digit = match fraction.get(position) {
                Some(b) if position < digits => u32::from(b - b'0'),
                _ => 0,
            };
            fraction_nanos = fraction_nanos * 10 + digit;
        }
        nanos += fraction_nanos;
        rest = fraction.get(digits..)?;
    }
    if hour >= 24 || minute >= 60 || second >= 60 {
        return None;
    }
    let offset = offset_seconds(rest)?;
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
    Some(Instant { seconds, nanos })
}

/// `Z`, `z` or `±hh:mm` with nothing after, as seconds east of UTC; chrono's
/// range: less than a day either way, minutes below 60.
fn offset_seconds(rest: &[u8]) -> Option<i64> {
    let (negative, rest) = match rest {
        [b'Z' | b'z'] => return Some(0),
        [b'+', rest @ ..] => (false, rest),
        [b'-', rest @ ..] => (true, rest),
        // U+2212 MINUS SIGN.
        [0xE2, 0x88, 0x92, rest @ ..] => (true, rest),
        _ => return None,
    };
    let [h1 @ b'0'..=b'9', h2 @ b'0'..=b'9', b':', m1 @ b'0'..=b'5', m2 @ b'0'..=b'9'] = rest
    else {
        return None;
    };
    let hours = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
    let minutes = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
    let seconds = hours * 3600 + minutes * 60;
    if seconds >= 86_400 {
        return None;
    }
    Some(if negative { -seconds } else { seconds })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chrono's answer, the reference.
    fn chrono(text: &str) -> Option<Instant> {
        let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
        let instant = Instant {
            seconds: time.timestamp(),
            nanos: time.timestamp_subsec_nanos(),
        };
        assert_eq!(instant.millis(), time.timestamp_millis(), "{text}");
        Some(instant)
    }

    fn same(text: &str) {
        assert_eq!(parse(text), chrono(text), "{text:?}");
    }

    #[test]
    fn known_answers() {
        let at = |seconds, nanos| Some(Instant { seconds, nanos });
        assert_eq!(parse("2024-01-15T10:30:00Z"), at(1_705_314_600, 0));
        assert_eq!(parse("2024-01-15T11:30:00+01:00"), at(1_705_314_600, 0));
        assert_eq!(parse("1970-01-01T00:00:00.5-00:00"), at(0, 500_000_000));
        assert_eq!(
            parse("2016-12-31T23:59:60Z"),
            at(1_483_228_799, 1_000_000_000)
        );
        assert_eq!(parse("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse("2024-01-15"), None);
    }

    #[test]
    fn reads_as_chrono_does() {
        let valid = [
            "2024-01-15T10:30:00Z",
            "2024-01-15t10:30:00z",
            "2024-01-15 10:30:00+05:30",
            "2024-02-29T23:59:59.999999999Z",
            "2000-02-29T00:00:00.1234567891234-23:59",
            "1900-02-28T12:00:00\u{2212}08:00",
            "0000-01-01T00:00:00Z",
            "0000-02-29T00:00:00+23:59",
            "9999-12-31T23:59:60.5-23:59",
            "1969-12-31T23:59:59.001Z",
            "2016-12-31T23:59:60.999999999Z",
        ];
        let mut texts: Vec<String> = valid.iter().map(|text| text.to_string()).collect();
        let invalid = [
            "",
            "2024-01-15T10:30:00",
            "2024-01-15T10:30:00.Z",
            "2024-01-15T10:30:00Z ",
            " 2024-01-15T10:30:00Z",
            "2024-01-15T10:30:00+0100",
            "2024-01-15T10:30:00+01",
            "2024-01-15T10:30:00+01:",
            "2024-01-15T10:30:00+01:0",
            "2024-01-15T10:30:00+24:00",
            "2024-01-15T10:30:00+23:60",
            "2024-01-15T10:30:00+99:59",
            "2024-01-15T10:30:00+01:00:00",
            "2024-01-15T10:30:00GMT",
            "2024-01-15T24:00:00Z",
            "2024-01-15T23:60:00Z",
            "2024-01-15T23:59:61Z",
            "2024-01-15T10:30:60Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-13-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "+2024-01-15T10:30:00Z",
            "24-01-15T10:30:00Z",
            "2024-1-15T10:30:00Z",
            "2024/01/15T10:30:00Z",
            "2024-01-15T10:30:00.\u{e9}Z",
            "2024-01-15T10:30:00\u{e9}",
            "2024-01-15T10:30:0\u{e9}Z",
            "２０２４-01-15T10:30:00Z",
            "1705314600",
        ];
        texts.extend(invalid.iter().map(|text| text.to_string()));
        // Every day of four years (a leap year, a century that is not one, one
        // that is) at a few times and offsets.
        for year in [1999, 2000, 2024, 2100] {
            for month in 1..=13 {
                for day in 0..=32 {
                    for (time, offset) in [
                        ("00:00:00", "Z"),
                        ("23:59:59.5", "+14:00"),
                        ("12:34:56.000001", "-09:30"),
                    ] {
                        texts.push(format!("{year:04}-{month:02}-{day:02}T{time}{offset}"));
                    }
                }
            }
        }
        // Each character of a few replaced by others, dropped, or cut after.
        let alphabet = [
            '0', '1', '5', '6', '9', '-', ':', '.', 'T', 'Z', '+', ' ', 'x',
        ];
        for seed in valid {
            for (at, _) in seed.char_indices() {
                let rest: String = seed[at..].chars().skip(1).collect();
                texts.push(seed[..at].to_string());
                texts.push(format!("{}{rest}", &seed[..at]));
                for replacement in alphabet {
                    texts.push(format!("{}{replacement}{rest}", &seed[..at]));
                }
            }
        }
        // A spread of instants over chrono's four-digit years, written back.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let seconds = (state % 315_537_897_600) as i64 - 62_167_219_200;
            let nanos = (state >> 40) as u32 % 1_000_000_000;
            if let Some(time) = chrono::DateTime::from_timestamp(seconds, nanos) {
                texts.push(time.to_rfc3339());
                texts.push(time.format("%Y-%m-%dT%H:%M:%S%.f%:z").to_string());
            }
        }
        for text in &texts {
            same(text);
        }
        assert!(texts.iter().filter(|text| parse(text).is_some()).count() > 40_000);
    }
}
