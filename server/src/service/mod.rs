//! The one way to start, run, cancel and report a sync: called by the RPC handlers, the scheduler and
//! the `sync` CLI alike.

pub mod retry;
pub mod review;
pub mod scheduler;
mod status_cache;

use status_cache::{StatusCache, StatusLookup};

use crate::config::Schedule;
use crate::config::Settings;
use crate::domain::batch::{BatchStatus, EnabledChange, Mode, Severity, SyncStatus, Trigger};
use crate::domain::time::ts;
use crate::domain::{Nik, ProfessionCode};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::pipeline::plan::RetryTarget;
use crate::pipeline::run::{run_batch, RunContext, RunPlan};
use crate::regnakes::PageQuery;
use crate::rules::identity::NikIndexer;
use crate::rules::outcome::ReadWindow;
use crate::store::lease;
use crate::store::nik_keys;
use crate::store::queries;
pub use crate::store::queries::Page;
use crate::store::rehash;
use crate::store::retention;
use chrono::{DateTime, Utc};
use entity::{batch, batch_issue, health_worker, integration_setting};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{oneshot, Mutex};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the RegNakes integration is disabled")]
    Disabled,
    #[error("{0} not found")]
    NotFound(String),
    #[error("invalid param `{param}`: {problem}")]
    InvalidParam {
        param: &'static str,
        problem: String,
    },
    #[error("database error")]
    Database(#[from] DbErr),
    /// Another sync holds the single-flight lease.
    #[error("busy: {0}")]
    Busy(String),
    /// The database holds a state the server never writes (a bug, or a hand edit).
    #[error("inconsistent state: {0}")]
    Inconsistent(&'static str),
}

#[derive(Debug, Clone)]
pub struct StartRequest {
    pub mode: Mode,
    /// Known codes, each once (`ProfessionCode::parse_list`); empty for every profession.
    pub professions: Vec<ProfessionCode>,
    pub updated_since: Option<DateTime<Utc>>,
    pub trigger: Trigger,
    pub actor: Option<String>,
    /// The caller's request id becomes the batch's trace id, so one id follows Odoo → here → RegNakes.
    pub trace_id: Option<String>,
    /// `batch.retry`: read these windows instead of the mode's.
    pub retry: Option<Arc<RetryTarget>>,
    /// A dry run (CONTRACT §3).
    pub dry_run: bool,
}

impl Default for StartRequest {
    fn default() -> Self {
        StartRequest {
            mode: Mode::Incremental,
            professions: Vec::new(),
            updated_since: None,
            trigger: Trigger::Manual,
            actor: None,
            trace_id: None,
            retry: None,
            dry_run: false,
        }
    }
}

pub struct Started {
    pub batch: batch::Model,
    pub already_running: bool,
    /// Resolves when a batch this call started finishes (for the foreground CLI).
    pub finished: Option<oneshot::Receiver<Result<batch::Model, DbErr>>>,
}

/// One of the built-in schedules and the kind of sync it starts.
#[derive(Debug, Clone)]
pub struct ScheduledRun {
    pub schedule: Schedule,
    pub mode: Mode,
}

#[derive(Clone)]
pub struct SyncService {
    inner: Arc<Inner>,
}

struct Inner {
    run: RunContext,
    status_cache: Arc<StatusCache<Arc<SyncStatus>>>,
    /// The built-in schedules: incremental (`SYNC_SCHEDULE`) and full (`SYNC_FULL_SCHEDULE`).
    schedules: Vec<ScheduledRun>,
    /// Runs batches off the HTTP workers: the transform is CPU work and the awc client is per thread.
    runner: actix_rt::ArbiterHandle,
    /// SQLite cannot arbitrate two concurrent starts by row locks; PostgreSQL can, and this costs it nothing.
    start_gate: Mutex<()>,
}

impl SyncService {
    pub fn new(
        db: DatabaseConnection,
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        indexer: NikIndexer,
        runner: actix_rt::ArbiterHandle,
    ) -> Self {
        let schedules = [
            (&settings.sync_schedule, Mode::Incremental),
            (&settings.sync_full_schedule, Mode::Full),
        ]
        .into_iter()
        .filter_map(|(expr, mode)| {
            expr.as_deref().map(|expr| ScheduledRun {
                schedule: Schedule::parse(expr).expect("validated when settings were loaded"),
                mode,
            })
        })
        .collect();
        let notifier = Notifier {
            slack_webhook_url: settings.slack_webhook_url.clone(),
            odoo: settings
                .odoo_notify_url
                .clone()
                .zip(settings.odoo_notify_secret.clone()),
        };
        let status_cache = Arc::new(StatusCache::default());
        SyncService {
            inner: Arc::new(Inner {
                status_cache: status_cache.clone(),
                run: RunContext {
                    status: status_cache,
                    indexer,
                    store: db.clone(),
                    db,
                    settings,
                    metrics,
                    notifier,
                },
                schedules,
                runner,
                start_gate: Mutex::new(()),
            }),
        }
    }

    fn db(&self) -> &DatabaseConnection {
        &self.inner.run.db
    }

    pub fn schedules(&self) -> &[ScheduledRun] {
        &self.inner.schedules
    }

    /// The next fire of any built-in schedule.
    fn next_run_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedules()
            .iter()
            .filter_map(|s| s.schedule.next_after(now))
            .min()
    }

    /// Purges batches (and their rejected rows) older than `RETENTION_DAYS`, audited when it deleted
    /// anything. `None` when retention is off.
    pub async fn purge_expired(
        &self,
        now: DateTime<Utc>,
        chunk: u64,
    ) -> Result<Option<retention::Purged>, ServiceError> {
        let Some(period) = self.inner.run.settings.retention else {
            return Ok(None);
        };
        let cutoff = now - period;
        let purged = retention::purge(self.db(), cutoff, chunk).await?;
        if purged != retention::Purged::default() {
            let detail = json!({
                "cutoff": ts(cutoff),
                "batches": purged.batches,
                "issues": purged.issues,
            });
            queries::audit(
                self.db(),
                "retention.purge",
                "retention",
                Some(detail.to_string()),
            )
            .await?;
            tracing::info!(batches = purged.batches, issues = purged.issues, cutoff = %cutoff, "expired batches purged");
            self.inner.status_cache.invalidate();
        }
        Ok(Some(purged))
    }

    /// Moves every stored NIK onto the current key (`nik_keys`); a no-op when all are there already.
    pub async fn reencrypt_niks(&self) -> Result<nik_keys::Rotation, ServiceError> {
        let indexer = &self.inner.run.indexer;
        if !nik_keys::needed(self.db(), indexer).await? {
            return Ok(nik_keys::Rotation::default());
        }
        let workers = nik_keys::reencrypt(self.db(), indexer, nik_keys::PAGE).await?;
        let review = nik_keys::reencrypt_review(self.db(), indexer).await?;
        let done = nik_keys::Rotation {
            scanned: workers.scanned + review.scanned,
            rewritten: workers.rewritten + review.rewritten,
            unreadable: workers.unreadable + review.unreadable,
        };
        tracing::info!(
            scanned = done.scanned,
            rewritten = done.rewritten,
            unreadable = done.unreadable,
            key_id = indexer.current_key_id(),
            "stored NIKs moved to the current encryption key"
        );
        Ok(done)
    }

    /// Re-keys the hashes a store written by an earlier release holds unkeyed (`store::rehash`).
    pub async fn rekey_hashes(&self) -> Result<u64, ServiceError> {
        if !rehash::needed(self.db()).await? {
            return Ok(0);
        }
        let rewritten = rehash::rekey(self.db(), &self.inner.run.indexer, rehash::PAGE).await?;
        tracing::info!(rewritten, "stored hashes re-keyed");
        Ok(rewritten)
    }

    /// At start-up: batches left `running` by a stopped instance become `failed`; gauges are set.
    pub async fn recover(&self) -> Result<(), ServiceError> {
        self.sweep_interrupted().await?;
        let enabled = self.is_enabled().await?;
        self.inner
            .run
            .metrics
            .integration_enabled
            .set(i64::from(enabled));
        Ok(())
    }

    /// Marks batches whose instance stopped (lease expired) as failed; run periodically by `serve`.
    pub async fn sweep_interrupted(&self) -> Result<u64, ServiceError> {
        let marked = lease::recover_interrupted(self.db(), Utc::now()).await?;
        self.announce_interrupted(&marked);
        Ok(marked.len() as u64)
    }

    /// Batches an instance left `running` when it died, now `failed`: counted, and Odoo is told (a
    /// crash is a failed batch like any other, to-do included).
    fn announce_interrupted(&self, marked: &[batch::Model]) {
        if marked.is_empty() {
            return;
        }
        self.inner.status_cache.invalidate();
        let m = &self.inner.run.metrics;
        m.batches
            .get_or_create(&crate::metrics::StatusLabel {
                status: BatchStatus::Failed.code().into(),
            })
            .inc_by(marked.len() as u64);
        for batch in marked {
            self.announce(batch, true);
        }
    }

    /// Tells Odoo of a batch's start, or of its end, in the background (deliveries retry and never
    /// change the batch).
    fn announce(&self, batch: &batch::Model, finished: bool) {
        let notifier = self.inner.run.notifier.clone();
        let view = crate::views::view(batch);
        let trace_id = batch.trace_id.clone();
        actix_rt::spawn(async move {
            if finished {
                notifier
                    .batch_finished(view, crate::notify::AlertAction::None, trace_id)
                    .await
            } else {
                notifier.batch_started(view, trace_id).await
            }
        });
    }

    pub fn lease_ttl(&self) -> std::time::Duration {
        self.inner.run.settings.lease_ttl
    }

    pub async fn is_enabled(&self) -> Result<bool, DbErr> {
        Ok(integration_setting::Entity::find_by_id(1)
            .one(self.db())
            .await?
            .is_none_or(|s| s.enabled))
    }

    fn validate(&self, request: &StartRequest) -> Result<(), ServiceError> {
        if request.updated_since.is_some_and(|t| t > Utc::now()) {
            return Err(ServiceError::InvalidParam {
                param: "updated_since",
                problem: "is in the future".into(),
            });
        }
        Ok(())
    }

    /// Starts a sync, or returns the one already running anywhere (`already_running`). While the
    /// integration is disabled a manual start is refused, and a scheduled one (Odoo's cron) is recorded
    /// as a `skipped` batch (CONTRACT §3).
    pub async fn start(&self, request: StartRequest) -> Result<Started, ServiceError> {
        self.validate(&request)?;
        if !self.is_enabled().await? {
            if request.trigger != Trigger::Cron {
                return Err(ServiceError::Disabled);
            }
            let skipped = self
                .record_skipped(Trigger::Cron, request.mode, None, request.actor)
                .await?
                .ok_or(ServiceError::Inconsistent(
                    "a skipped batch was not recorded",
                ))?;
            return Ok(Started {
                batch: skipped,
                already_running: false,
                finished: None,
            });
        }
        self.start_checked(request, None).await
    }

    /// Records a scheduled run the disabled integration did not run, as a `skipped` batch; `None` when
    /// another instance recorded this schedule slot first.
    async fn record_skipped(
        &self,
        trigger: Trigger,
        mode: Mode,
        slot: Option<String>,
        actor: Option<String>,
    ) -> Result<Option<batch::Model>, ServiceError> {
        let now = Utc::now();
        let skipped = batch::ActiveModel {
            id: Set(Uuid::now_v7()),
            trace_id: Set(format!("rgn-{}", Uuid::new_v4().simple())),
            trigger: Set(trigger.code().into()),
            mode: Set(mode.code().into()),
            status: Set(BatchStatus::Skipped.code().into()),
            requested_by: Set(actor),
            schedule_slot: Set(slot),
            started_at: Set(now),
            finished_at: Set(Some(now)),
            duration_ms: Set(Some(0)),
            error: Set(Some("the RegNakes integration is disabled".into())),
            instance_id: Set(self.inner.run.settings.instance_id.clone()),
            ..queries::empty_batch()
        };
        let model = match skipped.insert(self.db()).await {
            Ok(model) => model,
            Err(err) if is_unique_violation(&err) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        self.inner
            .run
            .metrics
            .batches
            .get_or_create(&crate::metrics::StatusLabel {
                status: BatchStatus::Skipped.code().into(),
            })
            .inc();
        self.inner.status_cache.invalidate();
        tracing::info!(
            trigger = trigger.code(),
            "scheduled sync skipped: integration disabled"
        );
        self.announce(&model, true);
        Ok(Some(model))
    }

    async fn start_checked(
        &self,
        request: StartRequest,
        schedule_slot: Option<String>,
    ) -> Result<Started, ServiceError> {
        let settings = &self.inner.run.settings;
        let _gate = self.inner.start_gate.lock().await;
        let now = Utc::now();
        let txn = self.db().begin().await?;
        let interrupted = lease::recover_interrupted(&txn, now).await?;
        let batch_id = Uuid::now_v7();
        let acquired = lease::try_acquire(
            &txn,
            batch_id,
            &settings.instance_id,
            settings.lease_ttl,
            now,
        )
        .await?;
        if !acquired {
            let running = match lease::live_batch(&txn, now).await? {
                Some(id) => batch::Entity::find_by_id(id).one(&txn).await?,
                None => None,
            };
            txn.commit().await?;
            self.announce_interrupted(&interrupted);
            let batch = running.ok_or(ServiceError::Inconsistent(
                "the sync lease is held without a batch",
            ))?;
            return Ok(Started {
                batch,
                already_running: true,
                finished: None,
            });
        }
        let state = lease::state(&txn).await?;
        let mut window = ReadWindow::for_run(
            request.mode,
            request.updated_since,
            // A retry's windows are filters too: it never moves the watermark.
            !request.professions.is_empty() || request.retry.is_some(),
            state.watermark,
            settings.sync_lookback,
        );
        if request.retry.is_some() {
            window.since = None;
        }
        let trace_id = request
            .trace_id
            .clone()
            .unwrap_or_else(|| format!("rgn-{}", Uuid::new_v4().simple()));
        let model = running_batch(
            batch_id,
            &trace_id,
            &request,
            schedule_slot,
            window.since,
            now,
            &settings.instance_id,
        )
        .insert(&txn)
        .await?;
        txn.commit().await?;
        self.inner.status_cache.invalidate();
        self.announce_interrupted(&interrupted);
        self.announce(&model, false);
        let plan = run_plan(batch_id, trace_id, &request, &window, now);
        Ok(Started {
            batch: model,
            already_running: false,
            finished: Some(self.spawn_run(plan)),
        })
    }

    /// Runs the batch on the runner thread; the receiver tells its end.
    fn spawn_run(&self, plan: RunPlan) -> oneshot::Receiver<Result<batch::Model, DbErr>> {
        let (done_tx, done_rx) = oneshot::channel();
        let ctx = self.inner.run.clone();
        self.inner.runner.spawn_fn(move || {
            actix_rt::spawn(async move {
                let result = run_batch(ctx, plan).await;
                if let Err(err) = &result {
                    tracing::error!(error = ?err, "finishing the batch failed; its lease will expire and recovery marks it failed");
                }
                let _ = done_tx.send(result);
            });
        });
        done_rx
    }

    /// A scheduler fire: exactly one instance records it (the slot is unique); disabled → `skipped`.
    pub async fn run_scheduled(&self, slot: DateTime<Utc>, mode: Mode) -> Result<(), ServiceError> {
        // A full and an incremental fire at the same minute are two slots (one of them then finds the
        // other running).
        let slot_key = match mode {
            Mode::Incremental => ts(slot),
            Mode::Full => format!("full {}", ts(slot)),
        };
        if !self.is_enabled().await? {
            self.record_skipped(Trigger::Schedule, mode, Some(slot_key), None)
                .await?;
            return Ok(());
        }
        let request = StartRequest {
            trigger: Trigger::Schedule,
            mode,
            ..StartRequest::default()
        };
        match self.start_checked(request, Some(slot_key)).await {
            Ok(started) if started.already_running => {
                tracing::info!(batch_id = %started.batch.id, "scheduled sync not started: a sync is running")
            }
            Ok(started) => tracing::info!(batch_id = %started.batch.id, "scheduled sync started"),
            // Another instance inserted this slot first: it runs this fire.
            Err(ServiceError::Database(err)) if is_unique_violation(&err) => {
                tracing::debug!("scheduled sync taken by another instance")
            }
            Err(err) => return Err(err),
        }
        Ok(())
    }

    pub async fn status(&self) -> Result<Arc<SyncStatus>, ServiceError> {
        let refresh = match self.inner.status_cache.lookup() {
            StatusLookup::Answer(answer) => return Ok(answer),
            StatusLookup::Refresh(refresh) => refresh,
        };
        let status = Arc::new(self.compute_status().await?);
        refresh.finish(status.clone());
        Ok(status)
    }

    async fn compute_status(&self) -> Result<SyncStatus, ServiceError> {
        let db = self.db();
        let setting = integration_setting::Entity::find_by_id(1).one(db).await?;
        let enabled = setting.as_ref().is_none_or(|s| s.enabled);
        let enabled_change = setting.map(|s| EnabledChange {
            by: s.changed_by,
            at: s.changed_at,
            reason: s.reason,
        });
        let state = lease::state(db).await?;
        let running = match lease::live_batch(db, Utc::now()).await? {
            Some(id) => batch::Entity::find_by_id(id).one(db).await?,
            None => None,
        };
        let last = batch::Entity::find()
            // A skipped fire is not a sync, nor is a dry run: `last` is the last run that did something.
            .filter(
                batch::Column::Status
                    .is_not_in([BatchStatus::Running.code(), BatchStatus::Skipped.code()]),
            )
            .filter(batch::Column::DryRun.eq(false))
            .order_by_desc(batch::Column::StartedAt)
            .one(db)
            .await?;
        let next_run_at = if enabled {
            self.next_run_at(Utc::now())
        } else {
            None
        };
        Ok(SyncStatus {
            enabled,
            enabled_change,
            running,
            last,
            last_success_at: state.last_success_at,
            next_run_at,
            watermark: state.watermark,
            missing_workers: crate::store::missing::count_missing(db).await?,
        })
    }

    pub async fn get(&self, batch_id: Uuid) -> Result<batch::Model, ServiceError> {
        batch::Entity::find_by_id(batch_id)
            .one(self.db())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("batch {batch_id}")))
    }

    /// Asks the running batch to stop at its next page boundary (whichever instance runs it).
    pub async fn cancel(&self, batch_id: Uuid, actor: &str) -> Result<batch::Model, ServiceError> {
        let batch = self.get(batch_id).await?;
        if batch.status == BatchStatus::Running.code() {
            batch::Entity::update_many()
                .col_expr(batch::Column::CancelRequested, Expr::value(true))
                .filter(batch::Column::Id.eq(batch_id))
                .exec(self.db())
                .await?;
            queries::audit(
                self.db(),
                "sync.cancel",
                actor,
                Some(format!("batch {batch_id}")),
            )
            .await?;
            self.inner.status_cache.invalidate();
        }
        self.get(batch_id).await
    }

    pub async fn list(
        &self,
        limit: u64,
        offset: u64,
        status: Option<BatchStatus>,
    ) -> Result<Page<batch::Model>, ServiceError> {
        Ok(queries::batches(self.db(), status, limit, offset).await?)
    }

    pub async fn issues(
        &self,
        batch_id: Uuid,
        severity: Severity,
        limit: u64,
        offset: u64,
    ) -> Result<Page<batch_issue::Model>, ServiceError> {
        self.get(batch_id).await?;
        Ok(queries::issues(self.db(), batch_id, severity, limit, offset).await?)
    }

    /// A batch's change report (`batch.changes`): total and one page.
    pub async fn changes(
        &self,
        batch_id: Uuid,
        outcome: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<Page<entity::batch_change::Model>, ServiceError> {
        self.get(batch_id).await?;
        Ok(crate::store::changes::page(self.db(), batch_id, outcome, limit, offset).await?)
    }

    pub async fn set_enabled(
        &self,
        enabled: bool,
        reason: Option<String>,
        actor: &str,
    ) -> Result<bool, ServiceError> {
        let txn = self.db().begin().await?;
        let setting = integration_setting::ActiveModel {
            id: Set(1),
            enabled: Set(enabled),
            changed_by: Set(Some(actor.to_string())),
            changed_at: Set(Some(Utc::now())),
            reason: Set(reason.clone()),
        };
        setting.update(&txn).await?;
        let detail = json!({"enabled": enabled, "reason": reason}).to_string();
        queries::audit(&txn, "integration.set_enabled", actor, Some(detail)).await?;
        txn.commit().await?;
        self.inner.status_cache.invalidate();
        self.inner
            .run
            .metrics
            .integration_enabled
            .set(i64::from(enabled));
        tracing::info!(enabled, actor, "integration enabled flag changed");
        Ok(enabled)
    }

    /// Search by name, STR number or NIK (a NIK is matched through its blind index, never in clear).
    pub async fn search_workers(
        &self,
        query: Option<&str>,
        profession: Option<ProfessionCode>,
        missing: bool,
        limit: u64,
        offset: u64,
    ) -> Result<Page<health_worker::Model>, ServiceError> {
        let text = query.map(str::trim).filter(|t| !t.is_empty());
        let nik_index = text
            .and_then(|t| Nik::parse(t, Utc::now().date_naive()).ok())
            .map(|nik| self.inner.run.indexer.index(&nik));
        let search = queries::WorkerSearch {
            text,
            nik_index,
            profession: profession.map(ProfessionCode::as_str),
            missing,
        };
        Ok(queries::workers(self.db(), &search, limit, offset).await?)
    }
}

/// The row of a batch that starts running now.
fn running_batch(
    batch_id: Uuid,
    trace_id: &str,
    request: &StartRequest,
    schedule_slot: Option<String>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    instance_id: &str,
) -> batch::ActiveModel {
    let professions: Vec<&str> = request.professions.iter().map(|p| p.as_str()).collect();
    batch::ActiveModel {
        id: Set(batch_id),
        trace_id: Set(trace_id.to_string()),
        trigger: Set(request.trigger.code().into()),
        mode: Set(request.mode.code().into()),
        status: Set(BatchStatus::Running.code().into()),
        requested_by: Set(request.actor.clone()),
        schedule_slot: Set(schedule_slot),
        professions: Set((!professions.is_empty()).then(|| professions.join(","))),
        window_since: Set(since),
        window_until: Set(Some(now)),
        started_at: Set(now),
        finished_at: Set(None),
        duration_ms: Set(None),
        error: Set(None),
        instance_id: Set(instance_id.to_string()),
        dry_run: Set(request.dry_run),
        ..queries::empty_batch()
    }
}

/// What the run of a started batch reads: a retry's windows, or the mode's window per profession.
fn run_plan(
    batch_id: Uuid,
    trace_id: String,
    request: &StartRequest,
    window: &ReadWindow,
    now: DateTime<Utc>,
) -> RunPlan {
    RunPlan {
        batch_id,
        trace_id,
        queries: match &request.retry {
            Some(retry) => retry.queries.clone(),
            None => page_queries(request, window.since, now),
        },
        until: now,
        moves_watermark: window.moves_watermark && !request.dry_run,
        retry: request.retry.clone(),
        dry_run: request.dry_run,
        marks_missing: request.mode == Mode::Full
            && request.professions.is_empty()
            && request.updated_since.is_none()
            && request.retry.is_none()
            && !request.dry_run,
        // The caller's trace (an RPC request's `traceparent`), so the batch's spans join it.
        parent: tracing_opentelemetry::OpenTelemetrySpanExt::context(&tracing::Span::current()),
    }
}

/// One query per requested profession (or one unfiltered), all pinned to `until`.
fn page_queries(
    request: &StartRequest,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
) -> Vec<PageQuery> {
    let base = PageQuery {
        updated_since: since,
        updated_until: Some(until),
        ..PageQuery::default()
    };
    if request.professions.is_empty() {
        return vec![base];
    }
    request
        .professions
        .iter()
        .map(|p| PageQuery {
            jenis: Some(p.as_str().to_string()),
            ..base.clone()
        })
        .collect()
}

fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
