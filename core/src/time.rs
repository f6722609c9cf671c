//! Time as the core sees it: epoch milliseconds (`f64`, as JavaScript's clock gives them),
//! Prometheus-style durations, and RFC 3339 timestamps.

pub const MINUTE_MS: u64 = 60_000;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Parses a Prometheus duration (`30s`, `5m`, `1h30m`, `0`) into milliseconds. Units, largest
/// first and each at most once: `y` (365 d), `w`, `d`, `h`, `m`, `s`, `ms`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * DAY_MS),
        ("w", 7 * DAY_MS),
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", 1_000),
        ("ms", 1),
    ];
    let invalid = |why: String| format!("invalid duration {text:?}: {why}");
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(invalid("empty (use e.g. 30s, 5m, 1h)".into()));
    }
    let (mut rest, mut total, mut previous) = (text, 0u64, None);
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        if number.is_empty() {
            return Err(invalid(format!("expected a number before {unit:?}")));
        }
        if unit.is_empty() {
            return Err(invalid(format!(
                "missing unit after {number} (e.g. {number}s)"
            )));
        }
        let rank = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(|| invalid(format!("unknown unit {unit:?} (use ms, s, m, h, d, w, y)")))?;
        if previous.is_some_and(|p| rank <= p) {
            return Err(invalid(
                "units must go from largest to smallest, each once".into(),
            ));
        }
        total = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(UNITS[rank].1))
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| invalid("too large".into()))?;
        previous = Some(rank);
        rest = tail;
    }
    Ok(total)
}

/// Formats milliseconds the way [`parse_duration`] reads them (`5m`, `1h30m`, `0s`).
pub fn format_duration(ms: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", 1_000),
        ("ms", 1),
    ];
    if ms == 0 {
        return "0s".into();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (unit, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// An RFC 3339 UTC timestamp with milliseconds for epoch milliseconds.
pub fn iso_timestamp(epoch_ms: f64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Epoch milliseconds of an RFC 3339 timestamp (`2026-11-24T10:00:00Z`, any offset).
pub fn parse_timestamp(text: &str) -> Result<f64, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis() as f64)
        .map_err(|_| format!("{text:?} is not an RFC 3339 timestamp (e.g. 2026-11-24T10:00:00Z)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_with_any_offset() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.500Z"), Ok(1_500.0));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Ok(0.0));
        assert!(parse_timestamp("yesterday")
            .unwrap_err()
            .contains("RFC 3339"));
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1w"), Ok(7 * DAY_MS));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let err = |text: &str| parse_duration(text).unwrap_err();
        assert!(err("").contains("empty"));
        assert!(err("30").contains("missing unit"));
        assert!(err("5 m").contains("unknown unit \" m\""));
        assert!(err("5min").contains("unknown unit \"min\""));
        assert!(err("m").contains("expected a number"));
        assert!(err("-5m").contains("expected a number"));
        assert!(err("30m1h").contains("largest to smallest"));
        assert!(err("5m5m").contains("largest to smallest"));
        assert!(err("99999999999999999999s").contains("too large"));
        assert!(err("9999999999999y").contains("too large"));
    }

    #[test]
    fn durations_format_back_to_what_parses() {
        for ms in [0, 250, 30_000, 300_000, 5_400_000, DAY_MS, 30 * DAY_MS] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms));
        }
        assert_eq!(format_duration(5 * MINUTE_MS), "5m");
        assert_eq!(format_duration(3 * DAY_MS), "3d");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(iso_timestamp(1_500.0), "1970-01-01T00:00:01.500Z");
    }
}
