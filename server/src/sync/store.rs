//! One page. `scan_page` reads each record only for its STR number and hashes it, and one query finds
//! the records the store holds byte for byte (`unchanged`); `prepare_page` is pure CPU work on the rest
//! (transform, NIK index, content hash) and runs off the async thread, overlapping the database.
//! `store_page` then runs three steps in one transaction: look up what the store holds for the page's
//! keys (one query), decide every record (`decide::decide_page`, pure), and write the plan (workers, STR
//! history, rejections, warnings, the batch counters): a page is committed whole or not at all.

use super::batch::Counts;
use super::bulk;
use super::decide::{decide_page, PagePlan};
use super::first_load::FirstLoad;
use super::identity::{NikColumns, NikIndexer};
use super::page_txn::PageTxn;
use super::transform::{transform, Candidate, Rejection, TransformContext, Transformed};
use super::unchanged::{self, Probe, Skipped};
use crate::domain::worker_fields::FieldCounts;
use crate::domain::RejectReason;
use chrono::{DateTime, Utc};
use entity::batch;
use foldhash::{HashMap, HashMapExt, HashSet};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryTrait};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

/// A valid record ready for matching.
pub struct Prepared {
    pub(super) candidate: Box<Candidate>,
    pub(super) nik: NikColumns,
    pub(super) hash: String,
    /// Per field group (`domain::worker_fields`): what an update changed.
    pub(super) fingerprint: String,
    pub(super) source_hash: String,
    pub(super) position: usize,
}

/// What transforming a record needs besides the record.
pub struct PrepareContext {
    pub transform: TransformContext,
    pub indexer: NikIndexer,
}

/// A page as received, with the records that may take the fast path.
pub struct ScannedPage {
    records: Vec<Box<RawValue>>,
    probes: Vec<Probe>,
}

/// A page after the CPU work: records found unchanged on the fast path, valid records, rejections, and
/// how often each STR number occurs.
pub struct PreparedPage {
    pub(super) records: Vec<Box<RawValue>>,
    pub(super) skipped: Vec<Skipped>,
    pub(super) valid: Vec<Prepared>,
    pub(super) rejections: Vec<(usize, Option<String>, Rejection)>,
    pub(super) str_counts: HashMap<String, u32>,
    pub(super) last_updated_at: Option<DateTime<Utc>>,
    pub(super) context: Arc<PrepareContext>,
}

pub struct PageInput {
    pub batch_id: Uuid,
    pub page_no: i64,
    pub now: DateTime<Utc>,
    pub first_load: FirstLoad,
}

#[derive(Debug, Default)]
pub struct PageOutcome {
    pub counts: Counts,
    pub rejected_by_reason: BTreeMap<RejectReason, i64>,
    /// The greatest upstream `updated_at` among the page's records: everything before it is committed.
    pub last_updated_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub written: Written,
    /// Records found unchanged on the fast path (counted in `counts.unchanged` too).
    pub fast_path: i64,
    /// Which field groups the page's updates changed.
    pub changed_fields: FieldCounts,
}

/// Finds the records that may take the fast path; `fast_path` off (a first load) skips even that.
pub fn scan_page(records: Vec<Box<RawValue>>, fast_path: bool) -> ScannedPage {
    let probes = if fast_path {
        unchanged::probes(&records)
    } else {
        Vec::new()
    };
    ScannedPage { records, probes }
}

impl ScannedPage {
    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }
}

/// Transforms the records of the page that the fast path did not find unchanged (`found`: position and
/// worker of those it did).
pub fn prepare_page(
    scanned: ScannedPage,
    found: &[(usize, Uuid)],
    context: Arc<PrepareContext>,
) -> PreparedPage {
    let ScannedPage { records, probes } = scanned;
    let (skipped, hashes) = unchanged::skipped(probes, found, records.len());
    let mut page = PreparedPage {
        valid: Vec::with_capacity(records.len() - skipped.len()),
        rejections: Vec::new(),
        str_counts: HashMap::with_capacity(records.len()),
        last_updated_at: skipped.iter().filter_map(|s| s.updated_at).max(),
        records,
        skipped,
        context,
    };
    let skipped_at: HashSet<usize> = page.skipped.iter().map(|s| s.position).collect();
    for (position, hash) in hashes.into_iter().enumerate() {
        if !skipped_at.contains(&position) {
            page.prepare_record(position, hash);
        }
    }
    page
}

impl PreparedPage {
    /// Transforms one record; `source_hash` when the scan already computed it.
    fn prepare_record(&mut self, position: usize, source_hash: Option<String>) {
        let raw = self.records[position].get();
        let transformed = transform(raw, &self.context.transform);
        if let Some(number) = transformed.str_number() {
            *self.str_counts.entry(number.to_string()).or_default() += 1;
        }
        match transformed {
            Transformed::Valid(candidate) => {
                if let Some(at) = candidate.worker.upstream_updated_at {
                    self.last_updated_at = Ord::max(self.last_updated_at, Some(at));
                }
                let nik = self.context.indexer.columns(&candidate.worker.nik);
                let hash = candidate.worker.content_hash();
                let fingerprint = candidate.worker.field_fingerprint();
                self.valid.push(Prepared {
                    candidate,
                    nik,
                    hash,
                    fingerprint,
                    source_hash: source_hash.unwrap_or_else(|| unchanged::source_hash(raw)),
                    position,
                });
            }
            Transformed::Rejected {
                rejection,
                str_number,
            } => self.rejections.push((position, str_number, rejection)),
        }
    }

    /// Sends the records found unchanged on the fast path through the full path after all (transform,
    /// lookup, matching), in page order.
    fn transform_skipped(&mut self) {
        for skipped in std::mem::take(&mut self.skipped) {
            self.prepare_record(skipped.position, None);
        }
        self.valid.sort_by_key(|p| p.position);
        self.rejections.sort_by_key(|r| r.0);
    }

    /// Whether the fast path's answer, read while `previous` was being written, still holds: that page
    /// changed none of the workers it found, and gave none their STR numbers.
    fn skipped_still_valid_after(&self, previous: &Written) -> bool {
        self.skipped.iter().all(|s| {
            !previous.ids.contains(&s.worker_id) && !previous.str_numbers.contains(&s.str_number)
        })
    }

    /// Applies what the pages committed since this page's reads wrote (`since`; `None` when they are no
    /// longer all known): returns the read-ahead lookup if it still holds, and sends records found
    /// unchanged that may no longer be through the full path.
    pub fn revalidate(
        &mut self,
        looked_up: Option<LookedUp>,
        since: Option<Vec<&Written>>,
    ) -> Option<LookedUp> {
        let Some(since) = since else {
            self.transform_skipped();
            return None;
        };
        let mut looked_up =
            looked_up.filter(|l| since.iter().all(|w| l.still_valid_after(self, w)));
        if !since.iter().all(|w| self.skipped_still_valid_after(w)) {
            self.transform_skipped();
            looked_up = None;
        }
        looked_up
    }

    /// Whether the stored workers loaded for the page's other records include one found unchanged: a
    /// record of the page may then change it, and matching must see the page whole.
    fn reaches_skipped(&self, stored: &[bulk::LookupRow]) -> bool {
        if self.skipped.is_empty() {
            return false;
        }
        let ids: HashSet<Uuid> = self.skipped.iter().map(|s| s.worker_id).collect();
        stored.iter().any(|r| ids.contains(&r.id))
    }
}

/// The keys a page's lookup asks for: in a first load, only those the store may hold.
fn lookup_keys<'a>(
    valid: &'a [Prepared],
    str_counts: &HashMap<String, u32>,
    first_load: &FirstLoad,
) -> Vec<bulk::LookupKey<'a>> {
    let filter = first_load.as_ref().map(|f| f.borrow());
    valid
        .iter()
        .map(|p| {
            let str_number = p.candidate.worker.str_certificate.number.as_str();
            bulk::LookupKey {
                str_number,
                nik_index: &p.nik.index,
                str_repeated: str_counts.get(str_number).copied().unwrap_or(0) > 1,
            }
        })
        .filter(|k| {
            filter
                .as_ref()
                .is_none_or(|f| f.may_contain(k.str_number) || f.may_contain(k.nik_index))
        })
        .collect()
}

/// The stored workers a page's records may match, read before the page's own transaction (while the
/// previous page is being written).
pub struct LookedUp {
    rows: Vec<bulk::LookupRow>,
}

/// Workers a page wrote, by id and by their (new) STR number and NIK index.
#[derive(Debug, Default, Clone)]
pub struct Written {
    pub(super) ids: HashSet<Uuid>,
    pub(super) str_numbers: HashSet<String>,
    pub(super) nik_indexes: HashSet<String>,
}

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
    let rows = bulk::lookup(&mut txn, &keys).await?;
    txn.commit().await?;
    Ok(LookedUp { rows })
}

impl LookedUp {
    #[cfg(test)]
    pub(super) fn from_rows(rows: Vec<bulk::LookupRow>) -> Self {
        LookedUp { rows }
    }

    /// Whether rows read while `previous` was being written are still what the store holds for `page`.
    /// The sync is the only writer of workers (one sync at a time), and a lookup is one statement, so it
    /// saw the previous page whole or not at all; if not, a worker it returned may since have changed
    /// (its id was written), or a worker it could not see may now match (a record's STR number or NIK
    /// index was written).
    pub fn still_valid_after(&self, page: &PreparedPage, previous: &Written) -> bool {
        self.rows.iter().all(|r| !previous.ids.contains(&r.id))
            && page.valid.iter().all(|p| {
                !previous
                    .str_numbers
                    .contains(p.candidate.worker.str_certificate.number.as_str())
                    && !previous.nik_indexes.contains(&p.nik.index)
            })
    }
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
            bulk::lookup(&mut txn, &keys).await?
        }
    };
    if page.reaches_skipped(&stored) {
        settle(&mut after).await?;
        page.transform_skipped();
        let keys = lookup_keys(&page.valid, &page.str_counts, &input.first_load);
        stored = bulk::lookup(&mut txn, &keys).await?;
    }
    let looked_up_at = started.elapsed();
    let plan = decide_page(page, stored, &input);
    let decided_at = started.elapsed();
    if let Some(filter) = &input.first_load {
        let mut filter = filter.borrow_mut();
        let written = &plan.outcome.written;
        for key in written.str_numbers.iter().chain(&written.nik_indexes) {
            filter.insert(key);
        }
    }
    let _ = decided.send(plan.outcome.written.clone());
    let PagePlan {
        mut outcome,
        inserts,
        updates,
        refreshed,
        history,
        issues,
    } = plan;
    bulk::write_workers(&mut txn, inserts, updates).await?;
    bulk::refresh_source_hashes(&mut txn, refreshed).await?;
    let written_at = started.elapsed();
    bulk::insert_history(&mut txn, history).await?;
    bulk::insert_issues(&mut txn, issues).await?;
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
    let mut update = batch::Entity::update_many()
        .col_expr(B::Pages, Expr::col(B::Pages).add(1))
        .col_expr(B::Received, Expr::col(B::Received).add(c.received))
        .col_expr(B::Inserted, Expr::col(B::Inserted).add(c.inserted))
        .col_expr(B::Updated, Expr::col(B::Updated).add(c.updated))
        .col_expr(B::Unchanged, Expr::col(B::Unchanged).add(c.unchanged))
        .col_expr(B::Rejected, Expr::col(B::Rejected).add(c.rejected))
        .col_expr(B::Warnings, Expr::col(B::Warnings).add(c.warnings));
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
