//! What a run is given: the context the service builds once (database, settings, metrics, keys,
//! notifier, status listener) and the plan of one batch (its windows, `until`, trace).

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::regnakes::PageQuery;
use crate::rules::identity::NikIndexer;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use uuid::Uuid;

/// Told when a run changes what `sync.status` shows (the service's status cache listens).
pub trait StatusListener: Send + Sync {
    fn status_changed(&self);
}

/// Everything a run needs, built once by the service.
#[derive(Clone)]
pub struct RunContext {
    pub db: DatabaseConnection,
    /// Where the run reads and writes workers: `db`, or a dry run's own copy (`store::dry_run`).
    pub store: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub indexer: NikIndexer,
    pub notifier: Notifier,
    /// Told when the run changes what `sync.status` shows.
    pub status: Arc<dyn StatusListener>,
}

/// What to fetch: one query per requested profession (or one unfiltered), all pinned to `until`.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub batch_id: Uuid,
    pub trace_id: String,
    pub queries: Vec<PageQuery>,
    pub until: DateTime<Utc>,
    /// Whether finishing this run may move the incremental watermark (unfiltered, not starting later).
    pub moves_watermark: bool,
    /// The trace the batch belongs to (the starting request's), or an empty context for a new trace.
    pub parent: opentelemetry::Context,
    /// A retry of rejected rows: the records it reads again, to name those no longer found.
    pub retry: Option<Arc<RetryTarget>>,
    /// Reads and decides, writes no worker, history, review case or watermark (CONTRACT §3).
    pub dry_run: bool,
    /// A complete full read (mode full, no filter, not dry): at its end, the stored workers it did not
    /// see are marked missing from the registry (`store::missing`).
    pub marks_missing: bool,
}

/// What `batch.retry` reads again: one narrow window per distinct `updated_at` of the chosen rows.
#[derive(Debug, Clone, Default)]
pub struct RetryTarget {
    pub queries: Vec<PageQuery>,
    /// The STR numbers the windows should bring back (the run keeps only these records).
    pub wanted: std::collections::BTreeSet<String>,
    /// Rows that cannot be located at all (no `updated_at` in the record kept), as the error names them.
    pub unlocated: Vec<String>,
}
