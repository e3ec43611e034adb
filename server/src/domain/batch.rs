//! Batch vocabulary defined once: status, trigger, mode, and a batch's record counts.

use serde::Serialize;

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
    /// Rejected rows read again (`batch.retry`).
    Retry,
    /// A review decision applied (`review.decide` with `accept_registry`).
    Review,
}

impl Trigger {
    pub fn code(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Cron => "cron",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
            Trigger::Review => "review",
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
    /// Each count with the `sync_batch` column that holds it: the one list of a batch's counters (the
    /// page transaction adds them, the batch's end reads them back, a new batch starts them at zero).
    pub fn by_column(&self) -> [(entity::batch::Column, i64); 6] {
        use entity::batch::Column as B;
        [
            (B::Received, self.received),
            (B::Inserted, self.inserted),
            (B::Updated, self.updated),
            (B::Unchanged, self.unchanged),
            (B::Rejected, self.rejected),
            (B::Warnings, self.warnings),
        ]
    }

    /// The counts a batch row holds.
    pub fn of(batch: &entity::batch::Model) -> Counts {
        Counts {
            received: batch.received,
            inserted: batch.inserted,
            updated: batch.updated,
            unchanged: batch.unchanged,
            rejected: batch.rejected,
            warnings: batch.warnings,
        }
    }

    pub fn failure_rate(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.rejected as f64 / self.received as f64
        }
    }
}

/// What `sync.status` shows: whether the integration is enabled, the running and the last batch, the
/// last success, the next scheduled run and the watermark.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    pub enabled: bool,
    /// Who last switched the integration on or off, when, and why (`integration.set_enabled`).
    pub enabled_change: Option<EnabledChange>,
    pub running: Option<entity::batch::Model>,
    pub last: Option<entity::batch::Model>,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub next_run_at: Option<chrono::DateTime<chrono::Utc>>,
    pub watermark: Option<chrono::DateTime<chrono::Utc>>,
    /// Stored workers the registry no longer has.
    pub missing_workers: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledChange {
    pub by: Option<String>,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: Option<String>,
}

/// A batch issue: a rejected record (`Error`) or a stored record with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The stored code (`batch_issue.severity`).
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_count_has_its_column_and_reads_back() {
        let counts = Counts {
            received: 6,
            inserted: 1,
            updated: 2,
            unchanged: 3,
            rejected: 4,
            warnings: 5,
        };
        let columns: Vec<String> = counts
            .by_column()
            .iter()
            .map(|(c, _)| sea_orm::IdenStatic::as_str(c).to_string())
            .collect();
        assert_eq!(
            columns,
            [
                "received",
                "inserted",
                "updated",
                "unchanged",
                "rejected",
                "warnings"
            ]
        );
        let values: Vec<i64> = counts.by_column().iter().map(|(_, n)| *n).collect();
        assert_eq!(values, [6, 1, 2, 3, 4, 5], "each column gets its own count");
    }
}
