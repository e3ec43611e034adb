//! Time in Indonesia's capital: schedules are written and dates (an STR valid "until today") are judged
//! in Asia/Jakarta time, WIB, UTC+7 all year (no daylight saving).

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};

/// WIB, UTC+7.
pub const JAKARTA: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+7 is a valid offset"),
};

/// The calendar date in Jakarta at instant `t`.
pub fn jakarta_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&JAKARTA).date_naive()
}

/// An instant as the wire and the schedule slots write it: RFC 3339, UTC, milliseconds.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jakarta_date_turns_at_seventeen_utc() {
        let before = DateTime::parse_from_rfc3339("2026-11-29T16:59:59Z").unwrap();
        let after = DateTime::parse_from_rfc3339("2026-11-29T17:00:00Z").unwrap();
        assert_eq!(jakarta_date(before.to_utc()).to_string(), "2026-11-29");
        assert_eq!(jakarta_date(after.to_utc()).to_string(), "2026-11-30");
    }
}
