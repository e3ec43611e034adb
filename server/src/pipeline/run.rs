//! Runs one batch: fetch page n+1 while page n is stored, heartbeat the lease, stop at a page boundary on
//! cancel, and finish the batch (status, watermark, lease, metrics, notifications) exactly once.

use crate::domain::batch::{BatchStatus, Counts};
use crate::domain::worker_fields::FieldCounts;
use crate::metrics::{Metrics, OutcomeLabel, ReasonLabel, StatusLabel};
use crate::notify::{alert_action, AlertAction};
use crate::pipeline::commit_chain::{CommitChain, Finished, Link, Raced};
use crate::pipeline::read_ahead::{Progress, ReadyPage, RecentWrites};
use crate::pipeline::reader::{self, PageTask};
use crate::rules::first_load::{FirstLoad, KeyFilter};
use crate::rules::outcome::{self as batch_rules, RunEnd, RunError};
use crate::rules::page::{LookedUp, PageInput, PageOutcome, PrepareContext, PreparedPage};
use crate::rules::seen::Seen;
use crate::rules::transform::TransformContext;
use crate::rules::unknown_fields::UnknownFields;
use crate::store::lease;
use crate::store::page::{store_page, Handoff};
use crate::store::queries;
use crate::store::upstream_fields;
use crate::store::writes;
use chrono::{DateTime, Utc};
use entity::{batch, health_worker, sync_state};
use futures_util::future::{self, Either};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub use super::plan::{RunContext, RunPlan, StatusListener};

/// Runs the batch to its end and returns the finished batch row.
pub async fn run_batch(ctx: RunContext, plan: RunPlan) -> Result<batch::Model, DbErr> {
    let span =
        tracing::info_span!("sync_batch", batch_id = %plan.batch_id, trace_id = %plan.trace_id);
    if let Err(err) =
        tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, plan.parent.clone())
    {
        tracing::debug!(error = %err, "the batch starts a trace of its own");
    }
    run_instrumented(ctx, plan).instrument(span).await
}

async fn run_instrumented(ctx: RunContext, plan: RunPlan) -> Result<batch::Model, DbErr> {
    let started = Instant::now();
    ctx.metrics.running.set(1);
    tracing::info!(
        pages_queries = plan.queries.len(),
        dry_run = plan.dry_run,
        "sync batch started"
    );
    let (end, gathered) = match dry_run_copy(&ctx, &plan).await {
        Ok(Some(shadow)) => {
            let ctx = RunContext {
                store: shadow.clone(),
                ..ctx.clone()
            };
            let ran = run_pages(&ctx, &plan).await;
            crate::store::dry_run::close(shadow).await;
            ran
        }
        Ok(None) => run_pages(&ctx, &plan).await,
        Err(end) => (end, Gathered::default()),
    };
    let finished = finish(&ctx, &plan, end, started, gathered).await;
    ctx.metrics.running.set(0);
    finished
}

/// A dry run's own copy of the workers (`store::dry_run`); `None` for a real run.
async fn dry_run_copy(
    ctx: &RunContext,
    plan: &RunPlan,
) -> Result<Option<DatabaseConnection>, RunEnd> {
    if !plan.dry_run {
        return Ok(None);
    }
    crate::store::dry_run::open(&ctx.db)
        .await
        .map(Some)
        .map_err(|err| {
            tracing::error!(error = %err, "the dry run's copy of the workers could not be made");
            RunEnd::Failed(RunError::DryRunCopy {
                cause: err.to_string(),
            })
        })
}

/// Fetches and stores the pages while keeping the lease; what the run gathered for its batch row.
async fn run_pages(ctx: &RunContext, plan: &RunPlan) -> (RunEnd, Gathered) {
    let gathered = RefCell::new(Gathered::default());
    let end = {
        let pages = fetch_and_store(ctx, plan, &gathered);
        let heartbeat = keep_lease(ctx, plan);
        futures_util::pin_mut!(pages, heartbeat);
        match future::select(pages, heartbeat).await {
            Either::Left((end, _)) => end,
            Either::Right((end, _)) => end,
        }
    };
    (end, gathered.into_inner())
}

async fn keep_lease(ctx: &RunContext, plan: &RunPlan) -> RunEnd {
    let period = ctx.settings.lease_ttl / 3;
    loop {
        actix_rt::time::sleep(period).await;
        match lease::heartbeat(&ctx.db, plan.batch_id, ctx.settings.lease_ttl, Utc::now()).await {
            Ok(true) => {}
            Ok(false) => return RunEnd::Failed(RunError::LeaseLost),
            Err(err) => tracing::warn!(error = %err, "lease heartbeat failed; will retry"),
        }
    }
}

/// Rows inserted in a batch before the first refresh of planner statistics; then at every doubling.
const ANALYZE_FIRST_AT: i64 = 10_000;

/// Pages fetched ahead of the one being stored (bounded, so memory does not grow with the data).
const PIPELINE_DEPTH: usize = 2;

/// A key filter for the batch when it starts on an empty store (`first_load`); none if the store holds
/// workers or cannot tell (then every page looks its keys up).
async fn first_load(db: &DatabaseConnection) -> FirstLoad {
    match health_worker::Entity::find().one(db).await {
        Ok(None) => Some(Rc::new(RefCell::new(KeyFilter::default()))),
        Ok(Some(_)) => None,
        Err(err) => {
            tracing::warn!(error = %err, "could not tell whether the store is empty; pages look every key up");
            None
        }
    }
}

/// Three stages that overlap: fetching (the upstream), making pages ready (CPU off this thread, reads
/// ahead), storing (the database, in page order).
/// `gathered` takes what the committed pages tell the batch's report.
async fn fetch_and_store(ctx: &RunContext, plan: &RunPlan, gathered: &RefCell<Gathered>) -> RunEnd {
    let (pages_tx, mut pages_rx) = tokio::sync::mpsc::channel(PIPELINE_DEPTH);
    let progress = Rc::new(Progress {
        fast_path: Cell::new(ctx.settings.unchanged_fast_path),
        first_load: first_load(&ctx.store).await,
        change_budget: Rc::new(Cell::new(crate::store::changes::PER_BATCH)),
        seen: RefCell::new(seen_at_start(ctx, plan).await),
        ..Progress::default()
    });
    let prepare = Arc::new(PrepareContext {
        transform: TransformContext {
            today: crate::domain::time::jakarta_date(plan.until),
            catalogue: ctx.settings.professions.0,
        },
        indexer: ctx.indexer.clone(),
    });
    // In the batch's span, so the fetch's retry and failure lines carry its trace_id and batch_id.
    let fetcher = actix_rt::spawn(
        reader::fetch_pages(
            ctx.clone(),
            plan.clone(),
            prepare,
            progress.clone(),
            pages_tx,
        )
        .in_current_span(),
    );
    let end = store_pages(ctx, plan, &progress, &mut pages_rx).await;
    // Stop fetching ahead once storing has stopped (cancel, failure).
    fetcher.abort();
    let mut gathered = gathered.borrow_mut();
    gathered
        .changed_fields
        .merge(&progress.changed_fields.borrow());
    gathered
        .upstream_warnings
        .extend(progress.upstream_warnings.take());
    gathered.unknown_fields = progress.unknown_fields.take();
    gathered.seen = progress.seen.take();
    end
}

/// A complete full read notes the workers it sees (`rules::seen`) among those stored when it starts.
async fn seen_at_start(ctx: &RunContext, plan: &RunPlan) -> Option<Seen> {
    if !plan.marks_missing {
        return None;
    }
    match crate::store::missing::last_seq(&ctx.store).await {
        Ok(last) => Some(Seen::new(last)),
        Err(err) => {
            tracing::warn!(error = %err, "could not number the stored workers; this run marks no one missing");
            None
        }
    }
}

/// What a run gathered for its batch row besides the counters.
#[derive(Default)]
struct Gathered {
    changed_fields: FieldCounts,
    /// What the upstream announced that the read did not find, as warnings on the batch.
    upstream_warnings: Vec<String>,
    unknown_fields: UnknownFields,
    /// The stored workers a complete full read saw (`None` for other runs).
    seen: Option<Seen>,
}

/// The next page, ready to store, in page order.
async fn next_page(
    pages: &mut tokio::sync::mpsc::Receiver<Result<PageTask, RunError>>,
) -> Option<Result<ReadyPage, RunError>> {
    Some(match pages.recv().await? {
        Ok(task) => task.await.unwrap_or_else(|err| {
            Err(RunError::PrepareStopped {
                cause: err.to_string(),
            })
        }),
        Err(error) => Err(error),
    })
}

/// What the store loop keeps between pages.
struct StoreState<'a> {
    ctx: &'a RunContext,
    dry_run: bool,
    progress: &'a Progress,
    recent: RecentWrites,
    inserted: i64,
    analyze_at: i64,
    analyzing: Option<tokio::task::JoinHandle<()>>,
}

impl StoreState<'_> {
    /// Takes a stored page's outcome in: metrics, statistics, what it wrote. A failed or cancelled page
    /// ends the run.
    fn page_done(&mut self, finished: Finished<Result<PageOutcome, DbErr>>) -> Result<(), RunEnd> {
        let page = finished.page;
        let outcome = match finished.result {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(err)) => {
                tracing::error!(error = %err, page, "storing a page failed; the page was rolled back");
                return Err(RunEnd::Failed(RunError::Store {
                    page,
                    cause: err.to_string(),
                }));
            }
            Err(err) => {
                tracing::error!(error = %err, page, "storing a page stopped");
                return Err(RunEnd::Failed(RunError::StoreStopped {
                    page,
                    cause: err.to_string(),
                }));
            }
        };
        let ctx = self.ctx;
        // A dry run wrote no record: the records counters are what was written.
        if !self.dry_run {
            record_page_metrics(&ctx.metrics, &outcome);
        }
        self.inserted += outcome.counts.inserted;
        if self.inserted >= self.analyze_at
            && self.analyzing.as_ref().is_none_or(|a| a.is_finished())
        {
            self.analyze_at *= 2;
            // On its own pooled connection, beside the pages: at a million rows it takes about a
            // second, which the run need not wait for. (A dry run's copy is a table of its own.)
            let db = ctx.store.clone();
            self.analyzing = Some(actix_rt::spawn(async move {
                if let Err(err) = writes::refresh_statistics(&db).await {
                    tracing::warn!(error = %err, "refreshing planner statistics failed");
                }
            }));
        }
        tracing::info!(
            page,
            received = outcome.counts.received,
            inserted = outcome.counts.inserted,
            updated = outcome.counts.updated,
            unchanged = outcome.counts.unchanged,
            rejected = outcome.counts.rejected,
            "page stored"
        );
        if outcome.cancel_requested {
            return Err(RunEnd::Cancelled);
        }
        self.progress.committed.set(page);
        self.progress
            .changed_fields
            .borrow_mut()
            .merge(&outcome.changed_fields);
        self.progress
            .unknown_fields
            .borrow_mut()
            .merge(&outcome.unknown_fields);
        if let Some(seen) = self.progress.seen.borrow_mut().as_mut() {
            for seq in &outcome.seen {
                seen.note(*seq);
            }
        }
        self.progress
            .fast_path
            .set(ctx.settings.unchanged_fast_path && outcome.counts.unchanged > 0);
        self.recent.push(page, outcome.written);
        Ok(())
    }
}

/// Stores pages in order through the commit chain (`commit_chain`): page n+1 is decided and written
/// while page n is still being written, once page n has decided (its reads are checked against what
/// page n writes), and commits after it.
async fn store_pages(
    ctx: &RunContext,
    plan: &RunPlan,
    progress: &Progress,
    pages: &mut tokio::sync::mpsc::Receiver<Result<PageTask, RunError>>,
) -> RunEnd {
    let mut state = StoreState {
        ctx,
        dry_run: plan.dry_run,
        progress,
        recent: RecentWrites::default(),
        inserted: 0,
        analyze_at: ANALYZE_FIRST_AT,
        analyzing: None,
    };
    let mut chain = CommitChain::default();
    let mut batch_page: i64 = 0;
    loop {
        let next = match next_ready(&mut chain, &mut state, pages).await {
            Ok(next) => next,
            Err(end) => return end,
        };
        let ReadyPage {
            mut prepared,
            total_pages,
            looked_up,
            read_after,
        } = match next {
            None | Some(Err(_)) => {
                // The page in flight is whole and valid: let it commit before the run ends.
                if let Some(finished) = chain.drain().await {
                    if let Err(end) = state.page_done(finished) {
                        return end;
                    }
                }
                return match next {
                    Some(Err(error)) => RunEnd::Failed(error),
                    _ => RunEnd::Completed,
                };
            }
            Some(Ok(ready)) => ready,
        };
        batch_page += 1;
        if batch_page == 1 {
            record_total_pages(ctx, plan, total_pages).await;
        }
        let link = match next_link(&mut chain, &mut state).await {
            Ok(link) => link,
            Err(end) => return end,
        };
        let (handoff, in_flight_writes, started) = link.split();
        // This page's reads are checked against the pages committed since, and the one in flight.
        let since = state.recent.since(read_after, batch_page).map(|mut since| {
            since.extend(in_flight_writes.as_ref());
            since
        });
        let looked_up = prepared.revalidate(looked_up, since);
        let input = PageInput {
            batch_id: plan.batch_id,
            page_no: batch_page,
            now: Utc::now(),
            first_load: progress.first_load.clone(),
            change_budget: Some(progress.change_budget.clone()),
            dry_run: plan.dry_run,
            note_seen: progress.seen.borrow().is_some(),
        };
        let task = spawn_store(ctx, prepared, looked_up, input, handoff);
        // The page before finishes (its commit lets this one commit) before the next page is taken.
        if let Some(before) = chain.start(batch_page, task, started) {
            if let Err(end) = state.page_done(before.finish().await) {
                // This page waits on that commit and rolls back without it.
                let _ = chain.drain().await;
                return end;
            }
        }
    }
}

/// The next page's link to the one in flight (`CommitChain::link`); a page in flight that stopped
/// before deciding is taken in here, and its outcome may end the run.
async fn next_link(
    chain: &mut CommitChain<Result<PageOutcome, DbErr>>,
    state: &mut StoreState<'_>,
) -> Result<Link, RunEnd> {
    loop {
        match chain.link().await {
            Ok(link) => return Ok(link),
            Err(finished) => state.page_done(finished)?,
        }
    }
}

/// Stores a page in a task of its own, in a `store_page` span of the batch's trace.
fn spawn_store(
    ctx: &RunContext,
    prepared: PreparedPage,
    looked_up: Option<LookedUp>,
    input: PageInput,
    handoff: Handoff,
) -> tokio::task::JoinHandle<Result<PageOutcome, DbErr>> {
    let db = ctx.store.clone();
    let span = tracing::info_span!(target: crate::telemetry::PAGE_SPANS, "store_page", page = input.page_no);
    actix_rt::spawn(
        async move { store_page(&db, prepared, looked_up, input, handoff).await }.instrument(span),
    )
}

/// The next page, while the page in flight is stored; if that one ends first, its outcome is taken in
/// at once (a failure or cancel does not wait for the next page).
async fn next_ready(
    chain: &mut CommitChain<Result<PageOutcome, DbErr>>,
    state: &mut StoreState<'_>,
    pages: &mut tokio::sync::mpsc::Receiver<Result<PageTask, RunError>>,
) -> Result<Option<Result<ReadyPage, RunError>>, RunEnd> {
    let following = next_page(pages);
    futures_util::pin_mut!(following);
    match chain.race(following.as_mut()).await {
        Raced::Next(next) => Ok(next),
        Raced::Finished(finished) => {
            state.page_done(finished)?;
            Ok(following.await)
        }
    }
}

/// The first page tells how many pages the window has: the batch shows it as its progress' total.
async fn record_total_pages(ctx: &RunContext, plan: &RunPlan, total_pages: Option<u64>) {
    if let Some(total) = total_pages {
        let _ = batch::Entity::update_many()
            .col_expr(batch::Column::TotalPages, Expr::value(total as i64))
            .filter(batch::Column::Id.eq(plan.batch_id))
            .exec(&ctx.db)
            .await;
    }
}

fn record_page_metrics(metrics: &Metrics, outcome: &crate::rules::page::PageOutcome) {
    let c = &outcome.counts;
    metrics.unchanged_fast_path.inc_by(outcome.fast_path as u64);
    for (name, value) in [
        ("inserted", c.inserted),
        ("updated", c.updated),
        ("unchanged", c.unchanged),
        ("rejected", c.rejected),
    ] {
        metrics
            .records
            .get_or_create(&OutcomeLabel {
                outcome: name.into(),
            })
            .inc_by(value as u64);
    }
    for (reason, count) in &outcome.rejected_by_reason {
        metrics
            .rejected
            .get_or_create(&ReasonLabel {
                reason: reason.code().into(),
            })
            .inc_by(*count as u64);
    }
}

/// A retry names the chosen rows it could not find again (CONTRACT §3, `batch.retry`) in its error.
async fn not_found<C: sea_orm::ConnectionTrait>(
    txn: &C,
    batch_id: uuid::Uuid,
    retry: &crate::pipeline::plan::RetryTarget,
    error: Option<String>,
) -> Result<Option<String>, DbErr> {
    let wanted: Vec<String> = retry.wanted.iter().cloned().collect();
    let found = queries::met_in_batch(txn, batch_id, &wanted).await?;
    let mut missing: Vec<&str> = retry
        .wanted
        .iter()
        .filter(|number| !found.contains(*number))
        .chain(&retry.unlocated)
        .map(String::as_str)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(error);
    }
    let text = format!("not found in RegNakes any more: {}", missing.join(", "));
    Ok(Some(match error {
        Some(error) => format!("{error}; {text}"),
        None => text,
    }))
}

/// Writes the final status, settles who is missing, moves the watermark, releases the lease, then
/// reports.
async fn finish(
    ctx: &RunContext,
    plan: &RunPlan,
    end: RunEnd,
    started: Instant,
    mut gathered: Gathered,
) -> Result<batch::Model, DbErr> {
    let changed_during = changed_during(ctx, plan, &end, &mut gathered).await;
    let now = Utc::now();
    let txn = ctx.db.begin().await?;
    let row = batch::Entity::find_by_id(plan.batch_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("batch {}", plan.batch_id)))?;
    let counts = Counts::of(&row);
    let (status, error) = status_of(&txn, ctx, plan, &end, &counts).await?;
    // Only a complete read that ended well may tell who the registry no longer has.
    let missing = match (&gathered.seen, changed_during) {
        (Some(seen), Some(changed)) if status.counts_as_success() => {
            let settled =
                crate::store::missing::settle(&txn, plan.batch_id, row.started_at, seen, &changed)
                    .await?;
            tracing::info!(
                marked = settled.marked,
                cleared = settled.cleared,
                "workers missing from the registry settled"
            );
            settled.marked
        }
        _ => 0,
    };
    let new_fields =
        upstream_fields::record(&txn, &gathered.unknown_fields, plan.batch_id, now).await?;
    let duration_ms = started.elapsed().as_millis() as i64;
    let checkpoint = row.checkpoint;
    let warnings = row.warnings + gathered.upstream_warnings.len() as i64;
    for warning in &gathered.upstream_warnings {
        queries::upstream_warning(&txn, plan.batch_id, warning, now).await?;
    }
    let mut active: batch::ActiveModel = row.into();
    active.warnings = Set(warnings);
    active.status = Set(status.code().to_string());
    active.error = Set(error);
    active.finished_at = Set(Some(now));
    active.duration_ms = Set(Some(duration_ms));
    active.failure_rate = Set(counts.failure_rate());
    active.changed_fields = Set(Some(gathered.changed_fields.to_json().to_string()));
    active.missing = Set(missing);
    active.unknown_fields = Set(Some(gathered.unknown_fields.to_json().to_string()));
    let finished = active.update(&txn).await?;
    let state = lease::state(&txn).await?;
    let watermark = batch_rules::next_watermark(
        plan.moves_watermark,
        &end,
        state.watermark,
        checkpoint,
        plan.until,
    );
    // A dry run is a preview: it neither counts as a sync nor raises or clears an alert.
    let action = match plan.dry_run {
        true => AlertAction::None,
        false => alert_action(state.alerting, status == BatchStatus::Failed),
    };
    let mut state_update: sync_state::ActiveModel = state.clone().into();
    state_update.watermark = Set(watermark);
    if status.counts_as_success() && !plan.dry_run {
        state_update.last_success_at = Set(Some(now));
    }
    match action {
        AlertAction::Failing => state_update.alerting = Set(true),
        AlertAction::Recovered => state_update.alerting = Set(false),
        AlertAction::None => {}
    }
    state_update.update(&txn).await?;
    lease::release(&txn, plan.batch_id).await?;
    txn.commit().await?;
    ctx.status.status_changed();
    announce(ctx, plan, &finished, &counts, &new_fields, action, now);
    Ok(finished)
}

/// The batch's final status and error. A retry reads rows that were rejected already: those still
/// rejected are `partial`, not a new failure to alert on (the threshold judges what a sync newly met).
async fn status_of<C: sea_orm::ConnectionTrait>(
    txn: &C,
    ctx: &RunContext,
    plan: &RunPlan,
    end: &RunEnd,
    counts: &Counts,
) -> Result<(BatchStatus, Option<String>), DbErr> {
    let threshold = match plan.retry {
        Some(_) => 1.0,
        None => ctx.settings.failure_threshold,
    };
    let (status, error) = batch_rules::final_status(end, counts, threshold);
    let error = match &plan.retry {
        Some(retry) => not_found(txn, plan.batch_id, retry, error).await?,
        None => error,
    };
    let error = match (plan.dry_run, error) {
        (true, Some(error)) => Some(format!("{error} (dry run: nothing was written)")),
        (_, error) => error,
    };
    Ok((status, error))
}

/// After the batch's end is committed: metrics, the log, the name index, and Odoo (and Slack).
fn announce(
    ctx: &RunContext,
    plan: &RunPlan,
    finished: &batch::Model,
    counts: &Counts,
    new_fields: &[String],
    action: AlertAction,
    now: DateTime<Utc>,
) {
    let status = BatchStatus::parse(&finished.status).unwrap_or(BatchStatus::Failed);
    if !new_fields.is_empty() {
        ctx.metrics
            .upstream_new_fields
            .inc_by(new_fields.len() as u64);
        tracing::warn!(paths = %new_fields.join(", "), "RegNakes records carry fields no earlier batch met: the upstream's shape changed");
    }
    report(ctx, finished, status, counts, now);
    if counts.inserted + counts.updated > 0 && !plan.dry_run {
        let db = ctx.db.clone();
        actix_rt::spawn(async move { queries::settle_name_index(&db).await });
    }
    let notifier = ctx.notifier.clone();
    let view = crate::views::view(finished);
    let trace_id = plan.trace_id.clone();
    actix_rt::spawn(
        async move { notifier.batch_finished(view, action, trace_id).await }.in_current_span(),
    );
}

/// For a complete full read that ran to its end: the STR numbers of the records changed while it ran
/// (`reader::changed_since`), which it could not see. `None` when nobody may be marked missing; a
/// failed read of them says so on the batch.
async fn changed_during(
    ctx: &RunContext,
    plan: &RunPlan,
    end: &RunEnd,
    gathered: &mut Gathered,
) -> Option<crate::rules::seen::ChangedDuring> {
    if gathered.seen.is_none() || *end != RunEnd::Completed {
        return None;
    }
    // From `SYNC_LOOKBACK` before the read's end, as an incremental run reads: a record changed during
    // the read may carry a stamp from before its end (a lagging replica) and still have been passed.
    let since = plan.until - ctx.settings.sync_lookback;
    match reader::changed_since(ctx, since, &plan.trace_id).await {
        Ok(changed) => Some(changed),
        Err(err) => {
            tracing::warn!(error = %err, "reading what changed during the sync failed; no worker is marked missing");
            gathered.upstream_warnings.push(format!(
                "workers missing from RegNakes were not marked: reading the records changed during the sync failed ({err})"
            ));
            None
        }
    }
}

/// A finished batch in the metrics (a real run's) and the log.
fn report(
    ctx: &RunContext,
    finished: &batch::Model,
    status: BatchStatus,
    counts: &Counts,
    now: DateTime<Utc>,
) {
    let m = &ctx.metrics;
    let duration_ms = finished.duration_ms.unwrap_or_default();
    // A dry run is a preview, not a sync: the batch metrics (and the alerts on them) do not count it.
    if !finished.dry_run {
        m.batches
            .get_or_create(&StatusLabel {
                status: status.code().into(),
            })
            .inc();
        m.batch_duration.observe(duration_ms as f64 / 1000.0);
        m.last_failure_ratio.set(counts.failure_rate());
        if status.counts_as_success() {
            m.last_success.set(now.timestamp_millis() as f64 / 1000.0);
        }
    }
    let dry_run = finished.dry_run;
    if status == BatchStatus::Failed {
        tracing::error!(
            dry_run,
            status = status.code(),
            error = finished.error.as_deref().unwrap_or(""),
            received = counts.received,
            rejected = counts.rejected,
            "sync batch failed"
        );
    } else {
        tracing::info!(
            dry_run,
            status = status.code(),
            received = counts.received,
            inserted = counts.inserted,
            updated = counts.updated,
            unchanged = counts.unchanged,
            rejected = counts.rejected,
            duration_ms,
            "sync batch finished"
        );
    }
}
