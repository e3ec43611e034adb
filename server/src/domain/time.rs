//! Time in Indonesia's capital: schedules are written and dates (an STR valid "until today") are judged
//! in Asia/Jakarta time, WIB, UTC+7 all year (no daylight saving).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SecondsFormat, Utc};

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

/// A date as chrono writes it (`YYYY-MM-DD`; a sign and more digits outside years 0-9999), without
/// its formatting machinery: every record written formats several dates (its content hash, its
/// fingerprint, its licences), and chrono's `Display` was 3 % of a full sync's CPU.
pub struct IsoDate {
    bytes: [u8; 16],
    len: usize,
}

impl IsoDate {
    pub fn of(date: NaiveDate) -> IsoDate {
        let mut out = IsoDate {
            bytes: [0; 16],
            len: 10,
        };
        let year = date.year();
        if (0..=9999).contains(&year) {
            let digits = |n: u32, at: &mut [u8]| {
                let mut n = n;
                for b in at.iter_mut().rev() {
                    *b = b'0' + (n % 10) as u8;
                    n /= 10;
                }
            };
            digits(year as u32, &mut out.bytes[0..4]);
            out.bytes[4] = b'-';
            digits(date.month(), &mut out.bytes[5..7]);
            out.bytes[7] = b'-';
            digits(date.day(), &mut out.bytes[8..10]);
        } else {
            use std::io::Write;
            let mut cursor = std::io::Cursor::new(&mut out.bytes[..]);
            let _ = write!(cursor, "{date}");
            out.len = cursor.position() as usize;
        }
        out
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("digits, signs and dashes are ASCII")
    }
}

impl AsRef<[u8]> for IsoDate {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Serialises a date as chrono's `serde` does (a string, `IsoDate`).
pub fn serialize_date<S: serde::Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(IsoDate::of(*date).as_str())
}

/// `serialize_date` for an optional date.
pub fn serialize_opt_date<S: serde::Serializer>(
    date: &Option<NaiveDate>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => serialize_date(date, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        #[derive(serde::Serialize)]
        struct Ours(#[serde(serialize_with = "serialize_date")] NaiveDate);
        let dates = [
            (0, 1, 1),
            (1, 2, 3),
            (999, 12, 31),
            (1990, 5, 17),
            (2026, 11, 26),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 6, 30),
            (-12345, 1, 1),
            (262142, 12, 31),
            (-262143, 1, 1),
        ];
        for (y, m, d) in dates {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(IsoDate::of(date).as_str(), date.to_string(), "{y}-{m}-{d}");
            assert_eq!(
                serde_json::to_string(&Ours(date)).unwrap(),
                serde_json::to_string(&date).unwrap()
            );
        }
    }

    #[test]
    fn the_jakarta_date_turns_at_seventeen_utc() {
        let before = DateTime::parse_from_rfc3339("2026-11-29T16:59:59Z").unwrap();
        let after = DateTime::parse_from_rfc3339("2026-11-29T17:00:00Z").unwrap();
        assert_eq!(jakarta_date(before.to_utc()).to_string(), "2026-11-29");
        assert_eq!(jakarta_date(after.to_utc()).to_string(), "2026-11-30");
    }
}
