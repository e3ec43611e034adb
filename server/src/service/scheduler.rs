//! The built-in scheduler: one loop per schedule (the daily incremental sync, the weekly full sync), each
//! a cron expression in Asia/Jakarta time (`config::schedule`).
//! Which instance runs a fire is settled by the database (`SyncService::run_scheduled`).

use crate::service::{ScheduledRun, SyncService};
use chrono::Utc;

/// Fires one schedule's runs until the process stops.
pub async fn run_until_stopped(service: SyncService, scheduled: ScheduledRun) {
    let ScheduledRun { schedule, mode } = scheduled;
    loop {
        let Some(next) = schedule.next_after(Utc::now()) else {
            tracing::warn!("the sync schedule has no future fire time; scheduler stopped");
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        actix_rt::time::sleep(wait).await;
        if let Err(err) = service.run_scheduled(next, mode).await {
            tracing::error!(error = ?anyhow::Error::from(err), "scheduled sync could not start");
        }
    }
}
