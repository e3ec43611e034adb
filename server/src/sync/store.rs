//! One page, in three steps. `scan_page` reads each record only for its STR number and hashes it, and one
//! query finds the records the store holds byte for byte (`unchanged`); `prepare_page` is pure CPU work on
//! the rest (transform, NIK index, content hash) and runs off the async thread, overlapping the database. `store_page` loads what the store holds
//! for the page's keys with one query, decides each record in page order (`matching`), and writes
//! inserts/updates, STR history, rejections, warnings and the batch counters in one transaction: a page is
//! committed whole or not at all.

use super::batch::Counts;
use super::bulk::{self, HistoryRow};
use super::first_load::FirstLoad;
use super::identity::{NikColumns, NikIndexer};
use super::matching::{Decision, Incoming, MatchView, StoredWorker};
use super::page_txn::PageTxn;
use super::transform::{transform, Candidate, Rejection, TransformContext, Transformed};
use super::unchanged::{self, Probe, Skipped};
use crate::domain::health_worker::StrActivity;
use crate::domain::nik::mask;
use crate::domain::worker_fields::FieldCounts;
use crate::domain::RejectReason;
use chrono::{DateTime, NaiveDate, Utc};
use entity::{batch, batch_issue, health_worker};
use foldhash::{HashMap, HashMapExt, HashSet};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryTrait,
};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

/// A valid record ready for matching.
struct Prepared {
    candidate: Box<Candidate>,
    nik: NikColumns,
    hash: String,
    /// Per field group (`domain::worker_fields`): what an update changed.
    fingerprint: String,
    source_hash: String,
    position: usize,
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
    records: Vec<Box<RawValue>>,
    skipped: Vec<Skipped>,
    valid: Vec<Prepared>,
    rejections: Vec<(usize, Option<String>, Rejection)>,
    str_counts: HashMap<String, u32>,
    last_updated_at: Option<DateTime<Utc>>,
    context: Arc<PrepareContext>,
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

/// A worker's STR as the history records it: number, status and validity.
#[derive(Clone, PartialEq, Eq)]
struct StrState {
    number: String,
    status: String,
    valid_until: Option<NaiveDate>,
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
    ids: HashSet<Uuid>,
    str_numbers: HashSet<String>,
    nik_indexes: HashSet<String>,
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
    let PreparedPage {
        records,
        skipped,
        valid,
        mut rejections,
        str_counts,
        last_updated_at,
        context: _,
    } = page;
    let mut outcome = PageOutcome {
        last_updated_at,
        ..PageOutcome::default()
    };
    outcome.counts.received = records.len() as i64;
    outcome.counts.unchanged = skipped.len() as i64;
    outcome.fast_path = skipped.len() as i64;
    // The source hash each stored worker was written from: one found unchanged by matching but written
    // from other bytes gets the new hash, so the next re-sync finds it on the fast path.
    let source_hashes: HashMap<Uuid, Option<String>> = stored
        .iter()
        .map(|r| (r.id, r.source_hash.clone()))
        .collect();
    let mut refreshed: Vec<(Uuid, String)> = Vec::new();
    let looked_up_at = started.elapsed();
    // The STR each worker holds now; when an update changes it, the previous one goes to the history (the
    // current one lives on the worker row, so a new worker costs no history row).
    let mut str_states: HashMap<Uuid, StrState> = stored
        .iter()
        .map(|r| {
            let state = StrState {
                number: r.str_number.clone(),
                status: r.str_status.clone(),
                valid_until: r.str_valid_until,
            };
            (r.id, state)
        })
        .collect();
    let mut view = MatchView::new(stored.into_iter().map(|r| StoredWorker {
        id: r.id,
        str_number: r.str_number,
        nik_index: r.nik_index,
        nik_masked: r.nik_masked,
        name_norm: r.name_norm,
        birth_place_norm: r.birth_place_norm,
        content_hash: r.content_hash,
        field_fingerprint: r.field_fingerprint,
    }));

    // Rows keyed by worker id: a worker touched twice in a page is written once, with its last state
    // (an insert stays an insert).
    // (Rows are large: sized once, and never copied into other vectors.)
    let mut inserts: Vec<health_worker::Model> = Vec::with_capacity(valid.len());
    let mut updates: Vec<health_worker::Model> = Vec::new();
    let mut row_slot: HashMap<Uuid, (bool, usize)> = HashMap::with_capacity(valid.len());
    let mut history = Vec::new();
    let mut issues = Vec::new();

    for prepared in &valid {
        let worker = &prepared.candidate.worker;
        let cert = &worker.str_certificate;
        let incoming = Incoming {
            str_number: cert.number.as_str(),
            nik_index: &prepared.nik.index,
            nik_masked: &prepared.nik.masked,
            name_norm: worker.name.normalized(),
            birth_place_norm: worker.birth_place.normalized(),
            content_hash: &prepared.hash,
            field_fingerprint: &prepared.fingerprint,
            inactive: inactive_rejection(prepared),
        };
        let repeated = str_counts.get(cert.number.as_str()).copied().unwrap_or(0) > 1;
        let (id, is_new) = match view.decide(&incoming, repeated) {
            Decision::Reject(rejection) => {
                rejections.push((prepared.position, Some(cert.number.to_string()), rejection));
                continue;
            }
            Decision::Unchanged { id } => {
                outcome.counts.unchanged += 1;
                if let Some(stored) = source_hashes.get(&id) {
                    if stored.as_deref() != Some(prepared.source_hash.as_str()) {
                        refreshed.push((id, prepared.source_hash.clone()));
                    }
                }
                continue;
            }
            Decision::Insert { id } => {
                outcome.counts.inserted += 1;
                (id, true)
            }
            Decision::Update { id, changed, .. } => {
                outcome.counts.updated += 1;
                outcome.changed_fields.add(changed);
                (id, false)
            }
        };
        let state = StrState {
            number: cert.number.to_string(),
            status: cert.status.code().to_string(),
            valid_until: cert.valid_until,
        };
        if let Some(previous) = str_states.insert(id, state.clone()).filter(|p| *p != state) {
            history.push(HistoryRow {
                worker_id: id,
                str_number: previous.number,
                str_status: previous.status,
                str_valid_until: previous.valid_until,
                batch_id: input.batch_id,
                recorded_at: input.now,
            });
        }
        outcome.counts.warnings += prepared.candidate.warnings.len() as i64;
        for warning in &prepared.candidate.warnings {
            issues.push(issue(
                &input,
                "warning",
                Some(cert.number.to_string()),
                warning.code,
                &warning.message,
                None,
            ));
        }
        let row = worker_row(id, prepared, &input);
        let (slot_new, slot) = *row_slot.entry(id).or_insert_with(|| {
            let rows = if is_new { &inserts } else { &updates };
            (is_new, rows.len())
        });
        let rows = if slot_new { &mut inserts } else { &mut updates };
        match rows.get_mut(slot) {
            Some(existing) => *existing = row,
            None => rows.push(row),
        }
    }
    let decided_at = started.elapsed();

    for (position, str_number, rejection) in &rejections {
        *outcome
            .rejected_by_reason
            .entry(rejection.reason)
            .or_default() += 1;
        issues.push(issue(
            &input,
            "error",
            str_number.clone(),
            rejection.reason.code(),
            &rejection.message,
            Some(masked_raw(records[*position].get())),
        ));
    }
    outcome.counts.rejected = rejections.len() as i64;

    // A worker written from this page already carries the page's hash.
    refreshed.retain(|(id, _)| !row_slot.contains_key(id));
    outcome
        .written
        .ids
        .extend(refreshed.iter().map(|(id, _)| *id));
    for row in inserts.iter().chain(&updates) {
        outcome.written.ids.insert(row.id);
        outcome.written.str_numbers.insert(row.str_number.clone());
        outcome.written.nik_indexes.insert(row.nik_index.clone());
    }
    if let Some(filter) = &input.first_load {
        let mut filter = filter.borrow_mut();
        let written = &outcome.written;
        for key in written.str_numbers.iter().chain(&written.nik_indexes) {
            filter.insert(key);
        }
    }
    let _ = decided.send(outcome.written.clone());
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

fn inactive_rejection(prepared: &Prepared) -> Option<Rejection> {
    let cert = &prepared.candidate.worker.str_certificate;
    match prepared.candidate.activity {
        StrActivity::Active => None,
        StrActivity::Inactive => Some(Rejection {
            reason: RejectReason::StrInactive,
            message: format!(
                "field `str.status` value {:?}: STR {} is not active and the worker is not known",
                cert.status.code(),
                cert.number
            ),
        }),
        StrActivity::Expired => Some(Rejection {
            reason: RejectReason::StrExpired,
            message: format!(
                "field `str.berlaku_sampai` value {:?}: STR {} expired and the worker is not known",
                cert.valid_until.map(|d| d.to_string()).unwrap_or_default(),
                cert.number
            ),
        }),
    }
}

fn worker_row(id: Uuid, prepared: &Prepared, input: &PageInput) -> health_worker::Model {
    let w = &prepared.candidate.worker;
    let cert = &w.str_certificate;
    health_worker::Model {
        id,
        str_number: cert.number.to_string(),
        nik_index: prepared.nik.index.clone(),
        nik: prepared.nik.stored.clone(),
        nik_masked: prepared.nik.masked.clone(),
        name: w.name.as_str().to_string(),
        name_norm: w.name.normalized().to_string(),
        sex: w.sex.map(|s| s.code().to_string()),
        birth_place: w.birth_place.as_str().to_string(),
        birth_place_norm: w.birth_place.normalized().to_string(),
        birth_date: w.birth_date,
        profession_code: w.profession.code.to_string(),
        profession_group: w.profession.group_code.to_string(),
        str_kind: cert.kind.clone(),
        str_council: cert.council.clone(),
        str_issued_on: cert.issued_on,
        str_valid_until: cert.valid_until,
        str_status: cert.status.code().to_string(),
        licences_json: serde_json::to_string(&w.licences).unwrap_or_else(|_| "[]".into()),
        address_line: w.address.line.clone(),
        province_code: w.address.province_code.clone(),
        regency_code: w.address.regency_code.clone(),
        content_hash: prepared.hash.clone(),
        source_hash: Some(prepared.source_hash.clone()),
        field_fingerprint: Some(prepared.fingerprint.clone()),
        upstream_updated_at: w.upstream_updated_at,
        // Kept on conflict (bulk::UPSERT_KEEPS): an update keeps the creation time and first batch.
        first_batch_id: input.batch_id,
        last_batch_id: input.batch_id,
        created_at: input.now,
        updated_at: input.now,
    }
}

fn issue(
    input: &PageInput,
    severity: &str,
    str_number: Option<String>,
    reason: &str,
    message: &str,
    raw: Option<String>,
) -> batch_issue::ActiveModel {
    batch_issue::ActiveModel {
        id: NotSet,
        batch_id: Set(input.batch_id),
        severity: Set(severity.to_string()),
        str_number: Set(str_number),
        reason: Set(reason.to_string()),
        message: Set(message.to_string()),
        page: Set(input.page_no),
        raw: Set(raw),
        created_at: Set(input.now),
    }
}

/// The raw record as received, for human review, with the NIK masked (it may be kept for years).
fn masked_raw(raw: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(raw) else {
        return raw.to_string();
    };
    if let Some(nik) = value.get_mut("nik") {
        let text = match nik {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if let Some(text) = text {
            *nik = serde_json::Value::String(mask(&text));
        }
    }
    value.to_string()
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
