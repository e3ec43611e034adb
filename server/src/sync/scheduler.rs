//! The built-in scheduler: a cron expression in Asia/Jakarta time (WIB, UTC+7, no daylight saving).
//! Which instance runs a fire is settled by the database (`sync::service::run_scheduled`).

use super::service::SyncService;
use chrono::{DateTime, FixedOffset, Utc};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Schedule(cron::Schedule);

fn jakarta() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

impl Schedule {
    /// Standard five-field cron (`min hour dom mon dow`), or the six/seven-field form with seconds.
    pub fn parse(expr: &str) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        let full = if fields == 5 {
            format!("0 {expr}")
        } else {
            expr.to_string()
        };
        cron::Schedule::from_str(&full)
            .map(Schedule)
            .map_err(|e| format!("{expr:?} is not a cron expression: {e}"))
    }

    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0
            .after(&t.with_timezone(&jakarta()))
            .next()
            .map(|next| next.with_timezone(&Utc))
    }
}

/// Fires scheduled runs until the process stops.
pub async fn run_until_stopped(service: SyncService, schedule: Schedule) {
    loop {
        let Some(next) = schedule.next_after(Utc::now()) else {
            tracing::warn!("the sync schedule has no future fire time; scheduler stopped");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        actix_rt::time::sleep(wait).await;
        if let Err(err) = service.run_scheduled(next).await {
            tracing::error!(error = ?anyhow::Error::from(err), "scheduled sync could not start");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
