//! One page's transaction. The page arrives prepared (`rules::page`: scanned, fast-path probes answered,
//! the rest transformed off the async thread); `store_page` then runs three steps in one transaction:
//! look up what the store holds for the page's keys (one query, or the read-ahead's answer when it still
//! holds), decide every record (`rules::decide::decide_page`, pure), and write the plan (workers, STR
//! history, rejections, warnings, the batch counters): a page is committed whole or not at all, and after
//! the page before it (`Handoff`, `pipeline::commit_chain`).

use crate::rules::decide::{decide_page, PagePlan};
use crate::rules::first_load::FirstLoad;
use crate::rules::page::{lookup_keys, LookedUp, PageInput, PageOutcome, PreparedPage, Written};
use crate::store::page_txn::PageTxn;
use crate::store::writes;
use entity::batch;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryTrait};
use tokio::sync::oneshot;

/// Reads ahead, in a transaction of its own, what `store_page` would look up for `page`.
pub async fn look_ahead(
    db: &DatabaseConnection,
    page: &PreparedPage,
    first_load: &FirstLoad,
) -> Result<LookedUp, DbErr> {
    let keys = lookup_keys(&page.valid, &page.str_counts, first_load);
    if keys.is_empty() {
        return Ok(LookedUp { rows: Vec::new() });
    }
    let mut txn = PageTxn::begin(db).await?;
    let rows = writes::lookup(&mut txn, &keys).await?;
    txn.commit().await?;
    Ok(LookedUp { rows })
}

/// How a page's transaction meets the one before it, which may still be open: pages are decided and
/// written while the page before is written too, and committed in order.
pub struct Handoff {
    /// Resolves when the page before has committed: `true` to go on, `false` or dropped to roll back.
    /// `None` when it is committed already.
    pub after: Option<oneshot::Receiver<bool>>,
    /// Told what this page writes, once decided and before writing: the next page checks its reads
    /// against it.
    pub decided: oneshot::Sender<Written>,
    /// Told when this page has committed, and whether the run goes on (no cancel).
    pub committed: oneshot::Sender<bool>,
}

impl Handoff {
    /// For a page stored on its own, after every page before it.
    #[cfg(test)]
    pub fn alone() -> Handoff {
        Handoff {
            after: None,
            decided: oneshot::channel().0,
            committed: oneshot::channel().0,
        }
    }
}

/// Waits until the page before has committed: a read in this transaction must see its writes, and
/// this page must not commit before it (its checkpoint would cover that page's records).
async fn settle(after: &mut Option<oneshot::Receiver<bool>>) -> Result<(), DbErr> {
    match after.take() {
        None => Ok(()),
        Some(committed) => match committed.await {
            Ok(true) => Ok(()),
            _ => Err(DbErr::Custom(
                "the page before was not stored; this page is rolled back with it".into(),
            )),
        },
    }
}

/// Stores a page in one transaction. `looked_up`, when given, replaces the lookup in the transaction:
/// `PreparedPage::revalidate` has checked it still holds, including against the page before's writes.
pub async fn store_page(
    db: &DatabaseConnection,
    mut page: PreparedPage,
    looked_up: Option<LookedUp>,
    input: PageInput,
    handoff: Handoff,
) -> Result<PageOutcome, DbErr> {
    let started = std::time::Instant::now();
    let Handoff {
        mut after,
        decided,
        committed,
    } = handoff;
    let mut txn = PageTxn::begin(db).await?;
    let mut stored = match looked_up {
        Some(ahead) => ahead.rows,
        None => {
            settle(&mut after).await?;
            let keys = lookup_keys(&page.valid, &page.str_counts, &input.first_load);
            writes::lookup(&mut txn, &keys).await?
        }
    };
    if page.reaches_skipped(&stored) {
        settle(&mut after).await?;
        page.transform_skipped();
        let keys = lookup_keys(&page.valid, &page.str_counts, &input.first_load);
        stored = writes::lookup(&mut txn, &keys).await?;
    }
    let looked_up_at = started.elapsed();
    let plan = decide_page(page, stored, &input);
    let decided_at = started.elapsed();
    if let Some(filter) = &input.first_load {
        // Every key the page's workers are written under is among what it wrote.
        filter.borrow_mut().insert_all(plan.outcome.written.keys());
    }
    let _ = decided.send(plan.outcome.written.clone());
    let PagePlan {
        mut outcome,
        inserts,
        updates,
        refreshed,
        history,
        issues,
        cases,
    } = plan;
    let changes = super::changes::report(&mut txn, &inserts, &updates, &input).await?;
    writes::write_workers(&mut txn, inserts, updates).await?;
    super::changes::insert(&mut txn, changes).await?;
    writes::refresh_hashes(&mut txn, refreshed).await?;
    let written_at = started.elapsed();
    // A dry run keeps no history and opens no review case: those are what a real run writes.
    if !input.dry_run {
        writes::insert_history(&mut txn, history).await?;
        super::review::record_sightings(&mut txn, cases, input.batch_id, input.now).await?;
    }
    writes::insert_issues(&mut txn, issues).await?;
    settle(&mut after).await?;
    outcome.cancel_requested = add_counts(&mut txn, &input, &outcome).await?;
    txn.commit().await?;
    let _ = committed.send(!outcome.cancel_requested);
    tracing::debug!(
        page = input.page_no,
        lookup_ms = looked_up_at.as_millis() as u64,
        decide_ms = (decided_at - looked_up_at).as_millis() as u64,
        write_workers_ms = (written_at - decided_at).as_millis() as u64,
        rest_ms = (started.elapsed() - written_at).as_millis() as u64,
        "page timing"
    );
    Ok(outcome)
}

/// Adds the page's counts to its batch in the page's transaction, so counts always match stored data;
/// returns whether a cancel was requested (checked at every page boundary).
async fn add_counts(
    txn: &mut PageTxn,
    input: &PageInput,
    outcome: &PageOutcome,
) -> Result<bool, DbErr> {
    use batch::Column as B;
    let c = &outcome.counts;
    let mut update = batch::Entity::update_many().col_expr(B::Pages, Expr::col(B::Pages).add(1));
    for (column, count) in c.by_column() {
        update = update.col_expr(column, Expr::col(column).add(count));
    }
    if let Some(at) = outcome.last_updated_at {
        update = update.col_expr(B::Checkpoint, Expr::value(at));
    }
    // The cancel flag comes back with the update: one round trip.
    let mut update = update.filter(B::Id.eq(input.batch_id)).into_query();
    update.returning_col(B::CancelRequested);
    match txn.query_all(txn.backend().build(&update)).await?.first() {
        Some(row) => row.try_get_by_index::<bool>(0),
        None => Ok(false),
    }
}
