//! A page before it meets the store, pure CPU work: `scan_page` reads each record only for its STR number
//! and hashes it (the fast path's probes); `prepare_page` transforms the rest (transform, NIK columns,
//! content hash and field fingerprint). Also what the page's lookup asks for (`lookup_keys`), what a
//! page writes (`Written`), and the rules that keep pages decided while the page before is still being
//! written correct (`PreparedPage::revalidate`, `LookedUp::still_valid_after`).

use super::first_load::FirstLoad;
use super::identity::{NikColumns, NikIndexer};
use super::key_hash::{KeyHash, KeyHashes};
use super::transform::{transform_noting, Candidate, Rejection, TransformContext, Transformed};
use super::unchanged::{self, Probe, Skipped};
use super::unknown_fields::UnknownFields;
use crate::domain::batch::Counts;
use crate::domain::worker_fields::FieldCounts;
use crate::domain::RejectReason;
use crate::regnakes::RawRecord;
use chrono::{DateTime, Utc};
use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// A valid record ready for matching.
#[derive(Clone)]
pub struct Prepared {
    pub(crate) candidate: Box<Candidate>,
    pub(crate) nik: NikColumns,
    pub(crate) hash: String,
    /// The stored form of the worker's licences, made once with the content hash.
    pub(crate) licences_json: String,
    /// Per field group (`domain::worker_fields`): what an update changed.
    pub(crate) fingerprint: String,
    pub(crate) source_hash: String,
    /// The hashes of its STR number and NIK index (what the run's thread asks about them).
    pub(crate) keys: KeyHashes,
    pub(crate) position: usize,
}

/// What transforming a record needs besides the record.
pub struct PrepareContext {
    pub transform: TransformContext,
    pub indexer: NikIndexer,
}

/// A page as received, with the records that may take the fast path.
pub struct ScannedPage {
    records: Vec<RawRecord>,
    probes: Vec<Probe>,
}

/// A page after the CPU work: records found unchanged on the fast path, valid records, rejections, and
/// how often each STR number occurs.
pub struct PreparedPage {
    pub(crate) records: Vec<RawRecord>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) valid: Vec<Prepared>,
    pub(crate) rejections: Vec<(usize, Option<String>, Rejection)>,
    pub(crate) str_counts: HashMap<String, u32>,
    pub(crate) last_updated_at: Option<DateTime<Utc>>,
    pub(crate) context: Arc<PrepareContext>,
    /// Paths the mapping does not know, in the records transformed.
    pub(crate) unknown_fields: UnknownFields,
}

pub struct PageInput {
    pub batch_id: Uuid,
    pub page_no: i64,
    pub now: DateTime<Utc>,
    pub first_load: FirstLoad,
    /// How many more inserts and updates the batch reports field by field (`batch.changes`), shared
    /// by its pages; `None` reports none.
    pub change_budget: Option<std::rc::Rc<std::cell::Cell<u32>>>,
    /// A dry run: decide and report, but write no history or review case (the workers it writes are
    /// its own copy's, `store::dry_run`).
    pub dry_run: bool,
    /// Note which stored workers the page's records are (`PageOutcome::seen`), for a complete full read.
    pub note_seen: bool,
}

impl PageInput {
    /// A page of one record or a few, decided on its own (a review decision, a test).
    pub fn new(batch_id: Uuid, now: DateTime<Utc>) -> PageInput {
        PageInput {
            batch_id,
            page_no: 1,
            now,
            first_load: None,
            change_budget: None,
            dry_run: false,
            note_seen: false,
        }
    }
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
    /// The stored workers (`LookupRow::seq`) the page's records are, when `PageInput::note_seen`.
    pub seen: Vec<i64>,
    /// Record paths the mapping does not know, in the records the page transformed.
    pub unknown_fields: UnknownFields,
}

/// Finds the records that may take the fast path; `fast_path` off (a first load) skips even that.
pub fn scan_page(records: Vec<RawRecord>, fast_path: bool, indexer: &NikIndexer) -> ScannedPage {
    let probes = if fast_path {
        unchanged::probes(&records, indexer)
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
    found: &[super::unchanged::Found],
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
        unknown_fields: UnknownFields::default(),
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
        let mut unknown = Vec::new();
        let transformed = transform_noting(raw, &self.context.transform, &mut unknown);
        if !unknown.is_empty() {
            self.unknown_fields.add_record(unknown);
        }
        if let Some(number) = transformed.str_number() {
            *self.str_counts.entry(number.to_string()).or_default() += 1;
        }
        match transformed {
            Transformed::Valid(candidate) => {
                if let Some(at) = candidate.worker.upstream_updated_at {
                    self.last_updated_at = Ord::max(self.last_updated_at, Some(at));
                }
                let nik = self.context.indexer.columns(&candidate.worker.nik);
                let licences = candidate.worker.licences_json();
                let hash = self
                    .context
                    .indexer
                    .content_hash_with(&candidate.worker, &licences);
                let fingerprint = candidate.worker.field_fingerprint();
                let keys =
                    KeyHashes::of(candidate.worker.str_certificate.number.as_str(), &nik.index);
                self.valid.push(Prepared {
                    candidate,
                    nik,
                    hash,
                    licences_json: licences,
                    fingerprint,
                    source_hash: source_hash
                        .unwrap_or_else(|| unchanged::source_hash(&self.context.indexer, raw)),
                    keys,
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
    pub fn transform_skipped(&mut self) {
        for skipped in std::mem::take(&mut self.skipped) {
            self.prepare_record(skipped.position, None);
        }
        self.valid.sort_by_key(|p| p.position);
        self.rejections.sort_by_key(|r| r.0);
    }

    /// Whether the fast path's answer, read while `previous` was being written, still holds: that page
    /// changed none of the workers it found, and gave none their STR numbers.
    fn skipped_still_valid_after(&self, previous: &Written) -> bool {
        previous.is_empty()
            || self.skipped.iter().all(|s| {
                !previous.ids.contains(&s.worker_id)
                    && !previous.may_have_str_number(KeyHash::of(&s.str_number))
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
    pub fn reaches_skipped(&self, stored: &[LookupRow]) -> bool {
        if self.skipped.is_empty() {
            return false;
        }
        let ids: HashSet<Uuid> = self.skipped.iter().map(|s| s.worker_id).collect();
        stored.iter().any(|r| ids.contains(&r.id))
    }
}

/// The keys a page's lookup asks for: in a first load, only those the store may hold.
pub fn lookup_keys<'a>(
    valid: &'a [Prepared],
    str_counts: &HashMap<String, u32>,
    first_load: &FirstLoad,
) -> Vec<LookupKey<'a>> {
    let may_be_stored = first_load.as_ref().map(|filter| {
        let pairs: Vec<_> = valid
            .iter()
            .map(|p| (p.keys.str_number, p.keys.nik_index))
            .collect();
        filter.borrow().may_contain_either(&pairs)
    });
    valid
        .iter()
        .enumerate()
        .filter(|(at, _)| may_be_stored.as_ref().is_none_or(|maybe| maybe[*at]))
        .map(|(_, p)| {
            let str_number = p.candidate.worker.str_certificate.number.as_str();
            LookupKey {
                str_number,
                nik_index: &p.nik.index,
                str_repeated: str_counts.get(str_number).copied().unwrap_or(0) > 1,
            }
        })
        .collect()
}

/// The stored workers a page's records may match, read before the page's own transaction (while the
/// previous page is being written).
pub struct LookedUp {
    pub(crate) rows: Vec<LookupRow>,
}

/// Workers a page wrote, by id and by their (new) STR number and NIK index. The numbers and indexes are
/// kept as hashes (`KeyHash`): a page's are copied to every page read ahead of it, and a hash that two
/// keys share only makes a later page look its workers up again, never keeps a stale read.
#[derive(Debug, Default, Clone)]
pub struct Written {
    pub(crate) ids: HashSet<Uuid>,
    str_numbers: HashSet<KeyHash>,
    nik_indexes: HashSet<KeyHash>,
}

impl Written {
    /// Notes a worker the page writes, under its STR number and NIK index as written.
    pub fn note(&mut self, id: Uuid, keys: KeyHashes) {
        self.ids.insert(id);
        self.str_numbers.insert(keys.str_number);
        self.nik_indexes.insert(keys.nik_index);
    }

    /// Whether the page wrote nothing (an unchanged re-sync's pages): nothing read before it is stale.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.str_numbers.is_empty() && self.nik_indexes.is_empty()
    }

    /// Whether the page may have given a worker this STR number.
    pub fn may_have_str_number(&self, str_number: KeyHash) -> bool {
        self.str_numbers.contains(&str_number)
    }

    /// Whether the page may have given a worker this NIK index.
    pub fn may_have_nik_index(&self, nik_index: KeyHash) -> bool {
        self.nik_indexes.contains(&nik_index)
    }

    /// The STR numbers and NIK indexes the page gave its workers.
    pub fn keys(&self) -> impl Iterator<Item = KeyHash> + '_ {
        self.str_numbers.iter().chain(&self.nik_indexes).copied()
    }
}

impl LookedUp {
    #[cfg(test)]
    pub fn from_rows(rows: Vec<LookupRow>) -> Self {
        LookedUp { rows }
    }

    /// Whether rows read while `previous` was being written are still what the store holds for `page`.
    /// The sync is the only writer of workers (one sync at a time), and a lookup is one statement, so it
    /// saw the previous page whole or not at all; if not, a worker it returned may since have changed
    /// (its id was written), or a worker it could not see may now match (a record's STR number or NIK
    /// index was written).
    pub fn still_valid_after(&self, page: &PreparedPage, previous: &Written) -> bool {
        previous.is_empty()
            || (self.rows.iter().all(|r| !previous.ids.contains(&r.id))
                && page.valid.iter().all(|p| {
                    !previous.may_have_str_number(p.keys.str_number)
                        && !previous.may_have_nik_index(p.keys.nik_index)
                }))
    }
}

/// What matching needs of a stored worker, plus its STR state for the history.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct LookupRow {
    pub id: Uuid,
    pub str_number: String,
    pub nik_index: String,
    pub nik_masked: String,
    pub name_norm: String,
    pub birth_place_norm: String,
    pub content_hash: String,
    pub source_hash: Option<String>,
    pub str_status: String,
    pub str_valid_until: Option<chrono::NaiveDate>,
    pub field_fingerprint: Option<String>,
    /// The worker's number in the store (`pipeline::missing`).
    pub seq: i64,
}

impl LookupRow {
    /// What the store reads back of a worker row it holds as its `seq`-th.
    pub fn of_row(row: &entity::health_worker::Model, seq: i64) -> LookupRow {
        LookupRow {
            id: row.id,
            str_number: row.str_number.clone(),
            nik_index: row.nik_index.clone(),
            nik_masked: row.nik_masked.clone(),
            name_norm: row.name_norm.clone(),
            birth_place_norm: row.birth_place_norm.clone(),
            content_hash: row.content_hash.clone(),
            source_hash: row.source_hash.clone(),
            str_status: row.str_status.clone(),
            str_valid_until: row.str_valid_until,
            field_fingerprint: row.field_fingerprint.clone(),
            seq,
        }
    }
}

/// The matching keys of one record of the page.
pub struct LookupKey<'a> {
    pub str_number: &'a str,
    pub nik_index: &'a str,
    /// The STR number occurs more than once in the page: matching falls back on the NIK whatever.
    pub str_repeated: bool,
}

/// A worker's replaced STR, for `str_history`.
#[derive(Clone)]
pub struct HistoryRow {
    pub worker_id: Uuid,
    pub str_number: String,
    pub str_status: String,
    pub str_valid_until: Option<chrono::NaiveDate>,
    pub batch_id: Uuid,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}
