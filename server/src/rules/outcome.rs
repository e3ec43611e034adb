//! How a batch ends, pure: the run's end and its counts give the final status of CONTRACT §3 and the
//! error an operator reads.

use crate::domain::batch::{BatchStatus, Counts, Mode};
use chrono::{DateTime, Utc};

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
    /// A dry run could not make its own copy of the workers (`store::dry_run`).
    #[error("the dry run's copy of the workers could not be made: {cause}")]
    DryRunCopy { cause: String },
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

/// The window a run reads: a full run from `updated_since` (or the beginning), an incremental one from
/// `updated_since` or else the watermark minus the lookback; and whether finishing it may move the
/// watermark (only an unfiltered run that starts no later than the watermark covers everything up to
/// its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadWindow {
    pub since: Option<DateTime<Utc>>,
    pub moves_watermark: bool,
}

impl ReadWindow {
    pub fn for_run(
        mode: Mode,
        updated_since: Option<DateTime<Utc>>,
        filtered: bool,
        watermark: Option<DateTime<Utc>>,
        lookback: std::time::Duration,
    ) -> ReadWindow {
        let since = match mode {
            Mode::Full => updated_since,
            Mode::Incremental => updated_since.or_else(|| watermark.map(|w| w - lookback)),
        };
        let moves_watermark = !filtered
            && match (since, watermark) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(s), Some(w)) => s <= w,
            };
        ReadWindow {
            since,
            moves_watermark,
        }
    }
}

/// The incremental watermark after a run: a run that may move it (unfiltered, starting no later than
/// the watermark) moves it to its end when it completed, and otherwise to the last committed record's
/// time (pages are ordered by `updated_at` and `updated_since` is inclusive: up to that time everything
/// is stored, and records sharing it are fetched again). It never moves back.
pub fn next_watermark(
    moves_watermark: bool,
    end: &RunEnd,
    watermark: Option<DateTime<Utc>>,
    checkpoint: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !moves_watermark {
        watermark
    } else if *end == RunEnd::Completed {
        Some(until)
    } else {
        watermark.max(checkpoint)
    }
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

    #[test]
    fn the_watermark_moves_to_what_is_stored_and_never_back() {
        let t = |h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 29, h, 0, 0).unwrap();
        let failed = RunEnd::Failed(RunError::LeaseLost);
        let cases = [
            (true, RunEnd::Completed, Some(t(1)), Some(t(2)), Some(t(9))),
            (true, RunEnd::Completed, None, None, Some(t(9))),
            (true, failed.clone(), Some(t(1)), Some(t(4)), Some(t(4))),
            (true, failed.clone(), Some(t(5)), Some(t(4)), Some(t(5))),
            (true, RunEnd::Cancelled, None, None, None),
            (false, RunEnd::Completed, Some(t(1)), Some(t(4)), Some(t(1))),
            (false, failed, None, Some(t(4)), None),
        ];
        for (moves, end, watermark, checkpoint, expected) in cases {
            assert_eq!(
                next_watermark(moves, &end, watermark, checkpoint, t(9)),
                expected,
                "{moves} {end:?} {watermark:?} {checkpoint:?}"
            );
        }
    }

    #[test]
    fn a_run_reads_from_the_watermark_minus_the_lookback() {
        let t = |h: u32, m: u32| {
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 29, h, m, 0).unwrap()
        };
        let ten_minutes = std::time::Duration::from_secs(600);
        let window = |since, moves_watermark| ReadWindow {
            since,
            moves_watermark,
        };
        // (mode, updated_since, filtered, watermark) → window
        let cases = [
            (
                Mode::Incremental,
                None,
                false,
                Some(t(2, 0)),
                window(Some(t(1, 50)), true),
            ),
            (Mode::Incremental, None, false, None, window(None, true)),
            (
                Mode::Incremental,
                None,
                true,
                Some(t(2, 0)),
                window(Some(t(1, 50)), false),
            ),
            (
                Mode::Incremental,
                Some(t(1, 0)),
                false,
                Some(t(2, 0)),
                window(Some(t(1, 0)), true),
            ),
            (
                Mode::Incremental,
                Some(t(3, 0)),
                false,
                Some(t(2, 0)),
                window(Some(t(3, 0)), false),
            ),
            (
                Mode::Incremental,
                Some(t(1, 0)),
                false,
                None,
                window(Some(t(1, 0)), false),
            ),
            (Mode::Full, None, false, Some(t(2, 0)), window(None, true)),
            (Mode::Full, None, true, Some(t(2, 0)), window(None, false)),
            (
                Mode::Full,
                Some(t(1, 0)),
                false,
                Some(t(2, 0)),
                window(Some(t(1, 0)), true),
            ),
        ];
        for (mode, since, filtered, watermark, expected) in cases {
            assert_eq!(
                ReadWindow::for_run(mode, since, filtered, watermark, ten_minutes),
                expected,
                "{mode:?} {since:?} filtered={filtered} {watermark:?}"
            );
        }
    }
}
