//! Sync schedules: cron expressions in Asia/Jakarta time (WIB, UTC+7). Parsed here, with the rest of the
//! settings, so a bad expression stops the server at start; `service::scheduler` fires them.

use crate::domain::time::JAKARTA;
use chrono::{DateTime, Utc};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Schedule(cron::Schedule);

impl Schedule {
    /// Standard five-field cron (`min hour dom mon dow`, Sunday = 0 or 7), or the six/seven-field form
    /// with seconds of the `cron` crate (whose numeric days of the week run 1-7 from Sunday).
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let full = if let [minute, hour, dom, month, dow] = fields[..] {
            format!("0 {minute} {hour} {dom} {month} {}", day_names(dow))
        } else {
            expr.to_string()
        };
        cron::Schedule::from_str(&full)
            .map(Schedule)
            .map_err(|e| format!("{expr:?} is not a cron expression: {e}"))
    }

    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .after(&t.with_timezone(&JAKARTA))
            .next()
            .map(|next| next.with_timezone(&Utc))
    }
}

/// A standard cron day-of-week field with names for its numbers (`0` and `7` are Sunday), so it means
/// the same to the `cron` crate; steps (`*/2`) and names pass through.
fn day_names(field: &str) -> String {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let (days, step) = match field.split_once('/') {
        Some((days, step)) => (days, Some(step)),
        None => (field, None),
    };
    let named: Vec<String> = days
        .split(',')
        .map(|item| {
            item.split('-')
                .map(|day| match day.parse::<usize>() {
                    Ok(n) if n < NAMES.len() => NAMES[n].to_string(),
                    _ => day.to_string(),
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    let named = named.join(",");
    match step {
        Some(step) => format!("{named}/{step}"),
        None => named,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekly_full_sync_is_sunday_three_jakarta_time() {
        let schedule = Schedule::parse(super::super::DEFAULT_FULL_SCHEDULE).unwrap();
        // Sunday 29 November 2026, 09:00 UTC (16:00 WIB): the next is Sunday 6 December 03:00 WIB.
        let now = DateTime::parse_from_rfc3339("2026-11-29T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            schedule.next_after(now).unwrap().to_rfc3339(),
            "2026-12-05T20:00:00+00:00"
        );
    }

    #[test]
    fn days_of_the_week_count_from_sunday_as_in_standard_cron() {
        let cases = [
            ("0", "SUN"),
            ("7", "SUN"),
            ("1-5", "MON-FRI"),
            ("0,6", "SUN,SAT"),
            ("*", "*"),
            ("SUN", "SUN"),
            ("*/2", "*/2"),
        ];
        for (standard, named) in cases {
            assert_eq!(day_names(standard), named, "{standard}");
        }
        // Monday 30 November 2026, 09:00 UTC: weekdays at 08:00 WIB → Tuesday 01:00 UTC.
        let now = DateTime::parse_from_rfc3339("2026-11-30T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let weekdays = Schedule::parse("0 8 * * 1-5").unwrap();
        assert_eq!(
            weekdays.next_after(now).unwrap().to_rfc3339(),
            "2026-12-01T01:00:00+00:00"
        );
    }

    #[test]
    fn daily_at_two_jakarta_time() {
        let schedule = Schedule::parse("0 2 * * *").unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-26T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 02:00 WIB on 27 November is 19:00 UTC on the 26th, already past: the next is the 27th 19:00 UTC.
        assert_eq!(
            schedule.next_after(now).unwrap().to_rfc3339(),
            "2026-11-27T19:00:00+00:00"
        );
        assert!(Schedule::parse("every day").is_err());
        assert!(Schedule::parse("*/5 * * * * *").is_ok());
    }
}
