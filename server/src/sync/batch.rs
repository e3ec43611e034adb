//! Batch vocabulary (status, trigger, mode) defined once, the status rules of CONTRACT §3, and the
//! `Batch` view that the RPC surface, the CLI and notifications show.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::batch;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchStatus {
    Running,
    Succeeded,
    Partial,
    Failed,
    Cancelled,
    Skipped,
}

impl BatchStatus {
    pub const FINISHED: [BatchStatus; 5] = [
        BatchStatus::Succeeded,
        BatchStatus::Partial,
        BatchStatus::Failed,
        BatchStatus::Cancelled,
        BatchStatus::Skipped,
    ];

    pub fn code(self) -> &'static str {
        match self {
            BatchStatus::Running => "running",
            BatchStatus::Succeeded => "succeeded",
            BatchStatus::Partial => "partial",
            BatchStatus::Failed => "failed",
            BatchStatus::Cancelled => "cancelled",
            BatchStatus::Skipped => "skipped",
        }
    }

    pub fn parse(code: &str) -> Option<BatchStatus> {
        [BatchStatus::Running]
            .into_iter()
            .chain(Self::FINISHED)
            .find(|s| s.code() == code)
    }

    /// Whether the stored data is now up to date with the window: the watermark and
    /// `last_success_at` move.
    pub fn counts_as_success(self) -> bool {
        matches!(self, BatchStatus::Succeeded | BatchStatus::Partial)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    Cron,
    Manual,
}

impl Trigger {
    pub fn code(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Cron => "cron",
            Trigger::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Incremental,
    Full,
}

impl Mode {
    pub fn code(self) -> &'static str {
        match self {
            Mode::Incremental => "incremental",
            Mode::Full => "full",
        }
    }
}

/// How a run ended, before the rejected share is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Completed,
    Cancelled,
    Failed(RunError),
}

/// Why a run stopped before its end. The text is the batch's `error`, shown to operators in Odoo and
/// `batch.get`; the cause chain of each is logged where it happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// RegNakes did not give a page, retries and a token renewal included.
    #[error("page {page}: {cause}")]
    Fetch { page: u64, cause: String },
    /// Scanning or preparing a fetched page's records stopped (a panicked task).
    #[error("page {page}: preparing the records failed")]
    Prepare { page: u64 },
    /// The task making a page ready stopped before it could say which page.
    #[error("preparing a page failed: {cause}")]
    PrepareStopped { cause: String },
    /// The page's transaction failed and was rolled back.
    #[error("page {page}: storing failed: {cause}")]
    Store { page: i64, cause: String },
    /// The task storing the page stopped (panicked or was cancelled).
    #[error("page {page}: storing stopped: {cause}")]
    StoreStopped { page: i64, cause: String },
    /// Another instance could take the lease over, so this run stops rather than sync twice.
    #[error(
        "lost the sync lease (heartbeats were late); stopped to avoid a second concurrent sync"
    )]
    LeaseLost,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub received: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub warnings: i64,
}

impl Counts {
    pub fn failure_rate(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.rejected as f64 / self.received as f64
        }
    }
}

/// CONTRACT §3: succeeded (nothing rejected), partial (some, at most the threshold), failed (above it, or
/// the run itself failed), cancelled.
pub fn final_status(
    end: &RunEnd,
    counts: &Counts,
    threshold: f64,
) -> (BatchStatus, Option<String>) {
    match end {
        RunEnd::Failed(error) => (BatchStatus::Failed, Some(error.to_string())),
        RunEnd::Cancelled => (BatchStatus::Cancelled, Some("cancelled by request".into())),
        RunEnd::Completed if counts.rejected == 0 => (BatchStatus::Succeeded, None),
        RunEnd::Completed if counts.failure_rate() > threshold => (
            BatchStatus::Failed,
            Some(format!(
                "{} of {} records rejected ({:.1}%), above the {:.0}% threshold; valid records were stored",
                counts.rejected,
                counts.received,
                counts.failure_rate() * 100.0,
                threshold * 100.0
            )),
        ),
        RunEnd::Completed => (BatchStatus::Partial, None),
    }
}

use crate::domain::worker_fields::FieldCounts;

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `Batch` object of CONTRACT §3 (plus a few extra fields).
pub fn view(model: &batch::Model) -> Value {
    json!({
        "id": model.id,
        "trace_id": model.trace_id,
        "trigger": model.trigger,
        "mode": model.mode,
        "status": model.status,
        "started_at": ts(model.started_at),
        "finished_at": model.finished_at.map(ts),
        "duration_ms": model.duration_ms,
        "pages": model.pages,
        "total_pages": model.total_pages,
        "received": model.received,
        "inserted": model.inserted,
        "updated": model.updated,
        "unchanged": model.unchanged,
        "rejected": model.rejected,
        "warnings": model.warnings,
        "failure_rate": model.failure_rate,
        "error": model.error,
        "requested_by": model.requested_by,
        "professions": model.professions.as_deref().map(|p| p.split(',').collect::<Vec<_>>()),
        // The window of upstream `updated_at` the run read: [since, until). An incremental run's
        // `since` is the watermark minus SYNC_LOOKBACK.
        "since": model.window_since.map(ts),
        "until": model.window_until.map(ts),
        "changed_fields": FieldCounts::from_json(model.changed_fields.as_deref()).to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_rules() {
        let counts = |received, rejected| Counts {
            received,
            rejected,
            inserted: received - rejected,
            ..Counts::default()
        };
        let cases = [
            (RunEnd::Completed, counts(100, 0), BatchStatus::Succeeded),
            (RunEnd::Completed, counts(0, 0), BatchStatus::Succeeded),
            (RunEnd::Completed, counts(100, 1), BatchStatus::Partial),
            (RunEnd::Completed, counts(100, 20), BatchStatus::Partial),
            (RunEnd::Completed, counts(100, 21), BatchStatus::Failed),
            (RunEnd::Completed, counts(10, 3), BatchStatus::Failed),
            (RunEnd::Cancelled, counts(100, 0), BatchStatus::Cancelled),
            (
                RunEnd::Failed(RunError::LeaseLost),
                counts(100, 0),
                BatchStatus::Failed,
            ),
        ];
        for (end, counts, expected) in cases {
            assert_eq!(
                final_status(&end, &counts, 0.20).0,
                expected,
                "{end:?} {counts:?}"
            );
        }
    }
}
