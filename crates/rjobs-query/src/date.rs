//! Date literals: ISO-8601 / RFC 3339 strings or epoch milliseconds, converted to unix ms.
//!
//! Why at parse time: both SQL backends store dates as BIGINT milliseconds and the evaluator
//! compares `i64`s, so converting once in the parser keeps the three in agreement and lets a
//! bad date string be reported with its path.

use time::format_description::well_known::{Iso8601, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Parses an RFC 3339 / ISO-8601 date-time (an absent offset means UTC) or a bare date
/// (midnight UTC) into unix milliseconds.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let dt = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Iso8601::DEFAULT))
        .or_else(|_| PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).map(|p| p.assume_utc()))
        .or_else(|_| {
            Date::parse(s, &Iso8601::DEFAULT).map(|d| d.midnight().assume_offset(UtcOffset::UTC))
        })
        .ok()?;
    i64::try_from(dt.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// An integral JSON number as epoch milliseconds.
pub(crate) fn number_ms(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // The range check keeps the `as` conversion exact.
    (f.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&f)).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(parse_date("2022-01-30T17:18:11.911Z"), Some(1643563091911));
        assert_eq!(
            parse_date("2022-01-30T18:18:11.911+01:00"),
            Some(1643563091911)
        );
        assert_eq!(parse_date("2022-01-30T17:18:11.911"), Some(1643563091911));
        assert_eq!(parse_date("2022-01-30"), Some(1643500800000));
        assert_eq!(parse_date("1970-01-01T00:00:00.0001Z"), Some(0));
        assert_eq!(parse_date("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
    }
}
