//! The page decision, pure: from a prepared page and the stored workers its records may match, what the
//! page writes (`PagePlan`): each valid record matched in page order (`matching`), a worker touched twice
//! written once with its last state, the STR a change replaces kept as history, rejections and warnings
//! as issues with the raw record (NIK masked), and what the page writes for the pages after it to check
//! their reads against (`Written`). No I/O: `store::page::store_page` looks up before and writes after.

use crate::domain::batch::Severity;
use crate::domain::health_worker::StrActivity;
use crate::domain::nik::{mask, mask_nik_like};
use crate::domain::RejectReason;
use crate::regnakes::RawRecord;
use crate::rules::identity::{NikIndexer, StoredHash};
use crate::rules::matching::{Decision, Incoming, MatchView, StoredWorker};
use crate::rules::page::{HistoryRow, LookupRow};
use crate::rules::page::{PageInput, PageOutcome, Prepared, PreparedPage};
use crate::rules::transform::Rejection;
use chrono::NaiveDate;
use entity::{batch_issue, health_worker};
use foldhash::{HashMap, HashMapExt};
use sea_orm::ActiveValue::{NotSet, Set};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use uuid::Uuid;

/// What a page writes, and its outcome (counts, reasons, what it wrote).
pub struct PagePlan {
    pub outcome: PageOutcome,
    pub inserts: Vec<health_worker::Model>,
    pub updates: Vec<health_worker::Model>,
    /// Workers matching found unchanged but written from other bytes, or holding an earlier release's
    /// content hash: (id, source hash, content hash) to store, so the next re-sync finds them on the
    /// fast path.
    pub refreshed: Vec<(Uuid, String, String)>,
    pub history: Vec<HistoryRow>,
    pub issues: Vec<batch_issue::ActiveModel>,
    /// Records only a person may settle (`identity_conflict`, `duplicate_str`): review cases.
    pub cases: Vec<CaseSighting>,
}

/// A record that opens (or is seen again by) a review case.
pub struct CaseSighting {
    pub kind: RejectReason,
    pub str_number: String,
    pub content_hash: String,
    /// The record as read, every NIK masked.
    pub incoming: String,
    /// The record as read, encrypted with the NIK key.
    pub incoming_sealed: String,
}

impl CaseSighting {
    /// What makes a case one: the STR number and the record's content.
    pub fn case_key(&self) -> String {
        format!("{} {}", self.str_number, self.content_hash)
    }
}

/// Whether a rejection is for a person to settle (CONTRACT §2: kept for human review).
pub fn needs_review(reason: RejectReason) -> bool {
    matches!(
        reason,
        RejectReason::IdentityConflict | RejectReason::DuplicateStr
    )
}

/// A worker's STR as the history records it: number, status and validity.
#[derive(Clone, PartialEq, Eq)]
struct StrState {
    number: String,
    status: String,
    valid_until: Option<NaiveDate>,
}

/// Decides every record of `page` against `stored`, the workers the store holds for its keys.
pub fn decide_page(page: PreparedPage, stored: Vec<LookupRow>, input: &PageInput) -> PagePlan {
    let PreparedPage {
        records,
        skipped,
        valid,
        rejections,
        str_counts,
        last_updated_at,
        context,
        unknown_fields,
    } = page;
    let seen = if input.note_seen {
        seen_workers(&skipped, &str_counts, &stored)
    } else {
        Vec::new()
    };
    let mut decider = Decider::new(stored, input, valid.len(), rejections);
    decider.outcome.seen = seen;
    decider.outcome.unknown_fields = unknown_fields;
    decider.indexer = Some(&context.indexer);
    decider.outcome.last_updated_at = last_updated_at;
    decider.outcome.counts.received = records.len() as i64;
    decider.outcome.counts.unchanged = skipped.len() as i64;
    decider.outcome.fast_path = skipped.len() as i64;
    for prepared in valid {
        let number = prepared.candidate.worker.str_certificate.number.as_str();
        let repeated = str_counts.get(number).copied().unwrap_or(0) > 1;
        decider.decide(prepared, repeated);
    }
    decider.finish(&records)
}

/// The stored workers the page's records are: those found unchanged, and the holders of the STR
/// numbers the page's records carry (a worker loaded only for its NIK is not one of them). Records
/// rejected before the lookup are told apart at the end of the read by their STR numbers
/// (`store::missing`).
fn seen_workers(
    skipped: &[super::unchanged::Skipped],
    str_counts: &foldhash::HashMap<String, u32>,
    stored: &[LookupRow],
) -> Vec<i64> {
    skipped
        .iter()
        .map(|s| s.seq)
        .chain(
            stored
                .iter()
                .filter(|row| str_counts.contains_key(&row.str_number))
                .map(|row| row.seq),
        )
        .collect()
}

/// The decision's state while it walks a page.
struct Decider<'a> {
    input: &'a PageInput,
    view: MatchView,
    /// The source hash each stored worker was written from, and whether its content hash is keyed.
    stored_hashes: HashMap<Uuid, (Option<String>, bool)>,
    /// Whether a stored worker of the page holds an earlier release's content hash: records are then
    /// compared in that form too.
    any_legacy: bool,
    indexer: Option<&'a NikIndexer>,
    /// The STR each worker holds now; when an update changes it, the previous one goes to the history
    /// (the current one lives on the worker row, so a new worker costs no history row).
    str_states: HashMap<Uuid, StrState>,
    outcome: PageOutcome,
    // Rows are large: sized once, and never copied into other vectors.
    inserts: Vec<health_worker::Model>,
    updates: Vec<health_worker::Model>,
    /// Worker id → (in `inserts`?, position): a worker touched twice is written once, with its last
    /// state (an insert stays an insert).
    row_slot: HashMap<Uuid, (bool, usize)>,
    history: Vec<HistoryRow>,
    issues: Vec<batch_issue::ActiveModel>,
    refreshed: Vec<(Uuid, String, String)>,
    /// (position in the page, STR number, why).
    rejections: Vec<(usize, Option<String>, Rejection)>,
    /// Position in the page → content hash, of the rejections that need review.
    review_hashes: HashMap<usize, String>,
}

impl<'a> Decider<'a> {
    fn new(
        stored: Vec<LookupRow>,
        input: &'a PageInput,
        valid: usize,
        rejections: Vec<(usize, Option<String>, Rejection)>,
    ) -> Self {
        let stored_hashes: HashMap<Uuid, (Option<String>, bool)> = stored
            .iter()
            .map(|r| {
                let keyed = StoredHash::of(&r.content_hash) == StoredHash::Keyed;
                (r.id, (r.source_hash.clone(), keyed))
            })
            .collect();
        let any_legacy = stored_hashes.values().any(|(_, keyed)| !keyed);
        // Every worker the page writes joins these: room for them up front.
        let mut str_states = HashMap::with_capacity(stored.len() + valid);
        str_states.extend(stored.iter().map(|r| {
            let state = StrState {
                number: r.str_number.clone(),
                status: r.str_status.clone(),
                valid_until: r.str_valid_until,
            };
            (r.id, state)
        }));
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
        view.reserve(valid);
        Decider {
            input,
            view,
            stored_hashes,
            any_legacy,
            indexer: None,
            str_states,
            outcome: PageOutcome::default(),
            inserts: Vec::with_capacity(valid),
            updates: Vec::new(),
            row_slot: HashMap::with_capacity(valid),
            history: Vec::new(),
            issues: Vec::new(),
            refreshed: Vec::new(),
            rejections,
            review_hashes: HashMap::new(),
        }
    }

    fn decide(&mut self, prepared: Prepared, repeated: bool) {
        let worker = &prepared.candidate.worker;
        let legacy = match (self.any_legacy, self.indexer) {
            (true, Some(indexer)) => {
                let legacy = worker.legacy_content_hash();
                let wrapped = indexer.wrap_legacy(&legacy);
                Some((legacy, wrapped))
            }
            _ => None,
        };
        let incoming = Incoming {
            legacy_content_hashes: legacy.as_ref().map(|(l, w)| (l.as_str(), w.as_str())),
            str_number: worker.str_certificate.number.as_str(),
            nik_index: &prepared.nik.index,
            nik_masked: &prepared.nik.masked,
            name_norm: worker.name.normalized(),
            birth_place_norm: worker.birth_place.normalized(),
            content_hash: &prepared.hash,
            field_fingerprint: &prepared.fingerprint,
            inactive: inactive_rejection(&prepared),
        };
        let decision = self.view.decide(&incoming, repeated);
        match decision {
            Decision::Reject(rejection) => {
                let number = Some(worker.str_certificate.number.to_string());
                if needs_review(rejection.reason) {
                    self.review_hashes.insert(prepared.position, prepared.hash);
                }
                self.rejections.push((prepared.position, number, rejection));
            }
            Decision::Unchanged { id } => {
                self.outcome.counts.unchanged += 1;
                if let Some((source, keyed)) = self.stored_hashes.get(&id) {
                    if !keyed || source.as_deref() != Some(prepared.source_hash.as_str()) {
                        self.refreshed
                            .push((id, prepared.source_hash, prepared.hash));
                    }
                }
            }
            Decision::Insert { id } => {
                self.outcome.counts.inserted += 1;
                self.write(id, true, prepared);
            }
            Decision::Update { id, changed, .. } => {
                self.outcome.counts.updated += 1;
                self.outcome.changed_fields.add(changed);
                self.write(id, false, prepared);
            }
        }
    }

    /// The worker's row, its replaced STR as history, and its warnings.
    fn write(&mut self, id: Uuid, is_new: bool, prepared: Prepared) {
        let cert = &prepared.candidate.worker.str_certificate;
        let state = StrState {
            number: cert.number.to_string(),
            status: cert.status.code().to_string(),
            valid_until: cert.valid_until,
        };
        let replaced = match self.str_states.entry(id) {
            Entry::Occupied(mut held) => {
                let previous = std::mem::replace(held.get_mut(), state);
                Some(previous).filter(|p| p != held.get())
            }
            Entry::Vacant(slot) => {
                slot.insert(state);
                None
            }
        };
        if let Some(previous) = replaced {
            self.history.push(HistoryRow {
                worker_id: id,
                str_number: previous.number,
                str_status: previous.status,
                str_valid_until: previous.valid_until,
                batch_id: self.input.batch_id,
                recorded_at: self.input.now,
            });
        }
        self.outcome.counts.warnings += prepared.candidate.warnings.len() as i64;
        for warning in &prepared.candidate.warnings {
            let number = Some(cert.number.to_string());
            let issue = issue(
                self.input,
                Severity::Warning,
                number,
                warning.code,
                &warning.message,
                None,
            );
            self.issues.push(issue);
        }
        // Noted before its row is made (which takes the record): a worker written twice in the page
        // is noted under both records' keys, which only makes a later page look up again.
        self.outcome.written.note(id, prepared.keys);
        let row = worker_row(id, prepared, self.input);
        let (inserts, updates) = (&self.inserts, &self.updates);
        let (slot_new, slot) = *self
            .row_slot
            .entry(id)
            .or_insert_with(|| (is_new, if is_new { inserts.len() } else { updates.len() }));
        let rows = if slot_new {
            &mut self.inserts
        } else {
            &mut self.updates
        };
        match rows.get_mut(slot) {
            Some(existing) => *existing = row,
            None => rows.push(row),
        }
    }

    /// Rejections become issues with the raw record; what the page writes is gathered for the pages
    /// after it.
    fn finish(mut self, records: &[RawRecord]) -> PagePlan {
        let mut cases = Vec::new();
        for (position, str_number, rejection) in &self.rejections {
            *self
                .outcome
                .rejected_by_reason
                .entry(rejection.reason)
                .or_default() += 1;
            let raw = records[*position].get();
            let masked = masked_raw(raw);
            if let (Some(hash), Some(number), Some(indexer)) =
                (self.review_hashes.get(position), str_number, self.indexer)
            {
                cases.push(CaseSighting {
                    kind: rejection.reason,
                    str_number: number.clone(),
                    content_hash: hash.clone(),
                    incoming: masked.clone(),
                    incoming_sealed: indexer.encrypt(raw),
                });
            }
            self.issues.push(issue(
                self.input,
                Severity::Error,
                str_number.clone(),
                rejection.reason.code(),
                &rejection.message,
                Some(masked),
            ));
        }
        self.outcome.counts.rejected = self.rejections.len() as i64;
        // A worker written from this page already carries the page's hash.
        let row_slot = &self.row_slot;
        self.refreshed
            .retain(|(id, _, _)| !row_slot.contains_key(id));
        let written = &mut self.outcome.written;
        written
            .ids
            .extend(self.refreshed.iter().map(|(id, _, _)| *id));
        PagePlan {
            outcome: self.outcome,
            inserts: self.inserts,
            updates: self.updates,
            refreshed: self.refreshed,
            history: self.history,
            issues: self.issues,
            cases,
        }
    }
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

pub(crate) fn worker_row(id: Uuid, prepared: Prepared, input: &PageInput) -> health_worker::Model {
    let Prepared {
        candidate,
        nik,
        hash,
        licences_json,
        fingerprint,
        source_hash,
        ..
    } = prepared;
    let w = candidate.worker;
    let cert = w.str_certificate;
    let (name, name_norm) = w.name.into_parts();
    let (birth_place, birth_place_norm) = w.birth_place.into_parts();
    health_worker::Model {
        id,
        str_number: cert.number.into_string(),
        nik_index: nik.index,
        nik: nik.stored,
        nik_masked: nik.masked,
        name,
        name_norm,
        sex: w.sex.map(|s| s.code().to_string()),
        birth_place,
        birth_place_norm,
        birth_date: w.birth_date,
        profession_code: w.profession.code.to_string(),
        profession_group: w.profession.group_code.to_string(),
        str_kind: cert.kind,
        str_council: cert.council,
        str_issued_on: cert.issued_on,
        str_valid_until: cert.valid_until,
        str_status: cert.status.code().to_string(),
        licences_json,
        address_line: w.address.line,
        province_code: w.address.province_code,
        regency_code: w.address.regency_code,
        content_hash: hash,
        source_hash: Some(source_hash),
        field_fingerprint: Some(fingerprint),
        upstream_updated_at: w.upstream_updated_at,
        // Kept on conflict (writes::UPSERT_KEEPS): an update keeps the creation time and first batch.
        first_batch_id: input.batch_id,
        last_batch_id: input.batch_id,
        created_at: input.now,
        updated_at: input.now,
        // Written from a record the registry holds: it is not missing (any mark is cleared).
        missing_since: None,
    }
}

fn issue(
    input: &PageInput,
    severity: Severity,
    str_number: Option<String>,
    reason: &str,
    message: &str,
    raw: Option<String>,
) -> batch_issue::ActiveModel {
    batch_issue::ActiveModel {
        id: NotSet,
        batch_id: Set(input.batch_id),
        severity: Set(severity.code().to_string()),
        str_number: Set(str_number),
        reason: Set(reason.to_string()),
        message: Set(message.to_string()),
        page: Set(input.page_no),
        raw: Set(raw),
        created_at: Set(input.now),
    }
}

/// The raw record as received, for human review, with every NIK masked (it may be kept for years): the
/// value of any key named `nik` (any case, any depth, whatever its type), every run of 16 or more digits in
/// any string, number or key, and a bare value alike.
pub(crate) fn masked_raw(raw: &str) -> String {
    match serde_json::from_str::<Value>(raw) {
        Ok(value) => mask_value(value, false).to_string(),
        Err(_) => mask_nik_like(raw).into_owned(),
    }
}

fn mask_value(value: Value, under_nik: bool) -> Value {
    match value {
        Value::String(text) if under_nik => Value::String(mask(&text)),
        Value::String(text) => match mask_nik_like(&text) {
            Cow::Borrowed(_) => Value::String(text),
            Cow::Owned(masked) => Value::String(masked),
        },
        Value::Number(n) => {
            let text = n.to_string();
            if under_nik {
                Value::String(mask(&text))
            } else {
                match mask_nik_like(&text) {
                    Cow::Borrowed(_) => Value::Number(n),
                    Cow::Owned(masked) => Value::String(masked),
                }
            }
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| mask_value(item, under_nik))
                .collect(),
        ),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, item)| {
                    let is_nik = key.eq_ignore_ascii_case("nik");
                    let key = mask_nik_like(&key).into_owned();
                    (key, mask_value(item, under_nik || is_nik))
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn raw_records_are_masked_whatever_their_shape() {
        let nik = "3205195211900003";
        let cases = [
            format!(r#"{{"nik":"{nik}","nama":"A"}}"#),
            format!(r#"{{"nik":{nik}}}"#),
            format!(r#""{nik}""#),
            nik.to_string(),
            format!(r#"{{"data":{{"nik":"{nik}"}}}}"#),
            format!(r#"{{"NIK":"{nik}"}}"#),
            format!(r#"{{"nik":["{nik}"]}}"#),
            format!(r#"{{"nik":{{"value":"{nik}"}}}}"#),
            format!(r#"{{"catatan":"NIK {nik} salah"}}"#),
            format!(r#"{{"{nik}":1}}"#),
            r#"{"nik":"3205 1952 1190 0003"}"#.to_string(),
            format!(r#"{{"ids":[{nik}.0]}}"#),
            format!(r#"not json {nik}"#),
        ];
        for raw in cases {
            let masked = masked_raw(&raw);
            assert!(!masked.contains("5211900"), "{raw} → {masked}");
            assert!(masked.contains("3205**"), "{raw} → {masked}");
        }
        // A 15-digit NIK under its own key is masked too; other numbers and text stay as they are.
        let kept = masked_raw(r#"{"nik":"320519521190003","str":{"nomor":"3171.2.1"},"n":42}"#);
        assert!(!kept.contains("5211900"), "{kept}");
        assert!(
            kept.contains(r#""nomor":"3171.2.1""#) && kept.contains(r#""n":42"#),
            "{kept}"
        );
    }

    use super::*;
    use crate::config::{NikKey, NikKeys, Secret};
    use crate::rules::identity::NikIndexer;
    use crate::rules::page::{prepare_page, scan_page, PrepareContext};
    use chrono::{TimeZone, Utc};
    use serde_json::{json, Value};
    use std::sync::Arc;

    fn context() -> Arc<PrepareContext> {
        let keys = NikKeys {
            current: NikKey::parse("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap(),
            previous: Vec::new(),
        };
        Arc::new(PrepareContext {
            transform: crate::rules::samples::transform_context(),
            indexer: NikIndexer::new(Secret::new("index-key"), &keys),
        })
    }

    use crate::rules::samples::{budi, siti, with};

    fn input() -> PageInput {
        PageInput::new(
            Uuid::nil(),
            Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap(),
        )
    }

    fn page(records: &[Value]) -> PreparedPage {
        let raw = records
            .iter()
            .map(|r| RawRecord::from_string(r.to_string()).unwrap())
            .collect();
        let context = context();
        let scanned = scan_page(raw, false, &context.indexer);
        prepare_page(scanned, &[], context)
    }

    /// The store as it is after these records were written (each its own page, in order).
    fn store_of(records: &[Value]) -> Vec<LookupRow> {
        let mut stored: Vec<LookupRow> = Vec::new();
        for record in records {
            let plan = decide_page(page(std::slice::from_ref(record)), stored.clone(), &input());
            for row in plan.inserts.into_iter().chain(plan.updates) {
                stored.retain(|s| s.id != row.id);
                stored.push(LookupRow::of_row(&row, 0));
            }
        }
        stored
    }

    /// What a case expects of the plan.
    #[derive(Debug, PartialEq)]
    struct Expect {
        inserted: i64,
        updated: i64,
        unchanged: i64,
        rejected: Vec<&'static str>,
        /// Worker rows written (a worker touched twice is one row).
        rows: usize,
        /// STR numbers moved to the history.
        history: Vec<&'static str>,
    }

    fn expect(inserted: i64, updated: i64, unchanged: i64, rows: usize) -> Expect {
        Expect {
            inserted,
            updated,
            unchanged,
            rejected: Vec::new(),
            rows,
            history: Vec::new(),
        }
    }

    fn observed(plan: &PagePlan) -> Expect {
        let c = &plan.outcome.counts;
        let mut rejected: Vec<&'static str> = Vec::new();
        for (reason, n) in &plan.outcome.rejected_by_reason {
            rejected.extend(std::iter::repeat_n(reason.code(), *n as usize));
        }
        let history = plan
            .history
            .iter()
            .map(|h| match h.str_number.as_str() {
                "1234567887654321" => "siti's first STR",
                "9876543212345678" => "budi's STR",
                _ => "another STR",
            })
            .collect();
        Expect {
            inserted: c.inserted,
            updated: c.updated,
            unchanged: c.unchanged,
            rejected,
            rows: plan.inserts.len() + plan.updates.len(),
            history,
        }
    }

    #[test]
    fn each_record_is_decided_against_the_store_and_the_page_before_it() {
        let renewed = with(siti(), &["str", "nomor"], json!("1111222233334444"));
        let moved = with(siti(), &["alamat", "line"], json!("Jl. Baru 2"));
        let inactive = with(siti(), &["str", "status"], json!("nonaktif"));
        let siti_with_budis_str = with(siti(), &["str", "nomor"], json!("9876543212345678"));
        let other_nik = with(siti(), &["nik"], json!("3205195211900011"));
        let cases: Vec<(&str, Vec<Value>, Vec<Value>, Expect)> = vec![
            ("a new worker is inserted", vec![], vec![siti()], expect(1, 0, 0, 1)),
            ("the same record again is unchanged", vec![siti()], vec![siti()], expect(0, 0, 1, 0)),
            ("a changed address updates the worker", vec![siti()], vec![moved.clone()], expect(0, 1, 0, 1)),
            (
                "a renewal (new STR number, same person) updates and keeps the old STR as history",
                vec![siti()],
                vec![renewed.clone()],
                Expect { history: vec!["siti's first STR"], ..expect(0, 1, 0, 1) },
            ),
            (
                "a known worker's STR turning inactive updates it and keeps the active one as history",
                vec![siti()],
                vec![inactive.clone()],
                Expect { history: vec!["siti's first STR"], ..expect(0, 1, 0, 1) },
            ),
            (
                "an inactive STR of an unknown worker is rejected",
                vec![],
                vec![inactive],
                Expect { rejected: vec!["str_inactive"], ..expect(0, 0, 0, 0) },
            ),
            (
                "an STR held by another NIK is an identity conflict",
                vec![siti()],
                vec![other_nik],
                Expect { rejected: vec!["identity_conflict"], ..expect(0, 0, 0, 0) },
            ),
            (
                "a renewal to an STR number another person holds is refused as an identity conflict",
                vec![siti(), budi()],
                vec![siti_with_budis_str.clone()],
                Expect { rejected: vec!["identity_conflict"], ..expect(0, 0, 0, 0) },
            ),
            (
                "one person twice in a page is one row with the later state (an insert stays an insert)",
                vec![],
                vec![siti(), moved.clone()],
                expect(1, 1, 0, 1),
            ),
            (
                "two people with one STR number in a page: the second is a duplicate",
                vec![],
                vec![budi(), siti_with_budis_str],
                Expect { rejected: vec!["duplicate_str"], ..expect(1, 0, 0, 1) },
            ),
            (
                "a record matches what an earlier record of the same page wrote",
                vec![siti()],
                vec![renewed.clone(), with(renewed, &["alamat", "line"], json!("Jl. Baru 2"))],
                Expect { history: vec!["siti's first STR"], ..expect(0, 2, 0, 1) },
            ),
            (
                "a record that does not parse is rejected with its reason, the rest go on",
                vec![],
                vec![with(siti(), &["tanggal_lahir"], json!("kemarin")), budi()],
                Expect { rejected: vec!["invalid_birth_date"], ..expect(1, 0, 0, 1) },
            ),
        ];
        for (name, stored, records, expected) in cases {
            let plan = decide_page(page(&records), store_of(&stored), &input());
            assert_eq!(observed(&plan), expected, "{name}");
            let c = &plan.outcome.counts;
            assert_eq!(
                c.received,
                c.inserted + c.updated + c.unchanged + c.rejected,
                "{name}: every record counted once"
            );
            assert_eq!(
                plan.issues.len() as i64,
                c.rejected + c.warnings,
                "{name}: an issue per rejection and warning"
            );
        }
    }

    #[test]
    fn rejected_rows_keep_the_raw_record_with_the_nik_masked() {
        let plan = decide_page(
            page(&[with(siti(), &["str", "status"], json!("nonaktif"))]),
            vec![],
            &input(),
        );
        let raw = match &plan.issues[0].raw {
            sea_orm::ActiveValue::Set(Some(raw)) => raw.clone(),
            other => panic!("{other:?}"),
        };
        assert!(raw.contains("3205**********03"), "{raw}");
        assert!(!raw.contains("3205195211900003"), "{raw}");
    }

    #[test]
    fn what_a_page_writes_is_told_to_the_pages_after_it() {
        use crate::rules::key_hash::KeyHash;
        let stored = store_of(&[siti()]);
        let renewed = with(siti(), &["str", "nomor"], json!("1111222233334444"));
        let plan = decide_page(page(&[renewed, budi()]), stored.clone(), &input());
        let written = &plan.outcome.written;
        assert!(written.ids.contains(&stored[0].id));
        assert!(written.may_have_str_number(KeyHash::of("1111222233334444")));
        assert!(written.may_have_str_number(KeyHash::of("9876543212345678")));
        assert!(
            !written.may_have_str_number(KeyHash::of("1234567887654321")),
            "siti's old number"
        );
        let rows = plan.inserts.iter().chain(&plan.updates).collect::<Vec<_>>();
        assert_eq!(rows.len(), 2);
        assert!(rows
            .iter()
            .all(|w| written.may_have_nik_index(KeyHash::of(&w.nik_index))));
        assert!(!written.may_have_nik_index(KeyHash::of("an index no one has")));
        // A page read while that one was written no longer holds if it looked up one of its workers or
        // one of its records carries an STR number or NIK that page wrote.
        let later = page(&[budi()]);
        assert!(!crate::rules::page::LookedUp::from_rows(stored.clone())
            .still_valid_after(&later, written));
        let unrelated = page(&[with(
            with(
                with(budi(), &["nik"], json!("3205191508850019")),
                &["nama"],
                json!("Ani"),
            ),
            &["str", "nomor"],
            json!("5555666677778888"),
        )]);
        assert!(crate::rules::page::LookedUp::from_rows(Vec::new())
            .still_valid_after(&unrelated, written));
    }
}
