//! Applies one page: transform every record, load what the store holds for the page's keys with one
//! query, decide each record in page order (`matching`), and write inserts/updates, STR history,
//! rejections, warnings and the batch counters in one transaction. A page is committed whole or not at all.

use super::batch::Counts;
use super::identity::{NikColumns, NikIndexer};
use super::matching::{Decision, Incoming, MatchView, StoredWorker};
use super::transform::{transform, Candidate, Rejection, TransformContext, Transformed};
use crate::domain::health_worker::StrActivity;
use crate::domain::nik::mask;
use crate::domain::RejectReason;
use chrono::{DateTime, NaiveDate, Utc};
use entity::{batch, batch_issue, health_worker, str_history};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QuerySelect, TransactionTrait,
};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Rows per INSERT statement: 30 columns × 500 stays under SQLite's 32 766 bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

pub struct PageInput<'a> {
    pub batch_id: Uuid,
    pub page_no: i64,
    pub records: &'a [Box<RawValue>],
    pub ctx: &'a TransformContext,
    pub indexer: &'a NikIndexer,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct PageOutcome {
    pub counts: Counts,
    pub rejected_by_reason: BTreeMap<RejectReason, i64>,
    /// The greatest upstream `updated_at` among the page's records: everything before it is committed.
    pub last_updated_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
}

#[derive(Debug, FromQueryResult)]
struct LookupRow {
    id: Uuid,
    str_number: String,
    nik_index: String,
    nik_masked: String,
    name_norm: String,
    birth_place_norm: String,
    content_hash: String,
    str_status: String,
    str_valid_until: Option<NaiveDate>,
}

struct Prepared {
    candidate: Box<Candidate>,
    nik: NikColumns,
    hash: String,
    position: usize,
}

/// The STR state whose changes go to the history: number, status and validity.
fn str_state(number: &str, status: &str, valid_until: Option<NaiveDate>) -> String {
    format!("{number}|{status}|{valid_until:?}")
}

pub async fn apply_page(
    db: &DatabaseConnection,
    input: PageInput<'_>,
) -> Result<PageOutcome, DbErr> {
    let mut outcome = PageOutcome::default();
    let mut valid = Vec::new();
    let mut rejections: Vec<(usize, Option<String>, Rejection)> = Vec::new();
    let mut str_counts: HashMap<String, u32> = HashMap::new();

    for (position, raw) in input.records.iter().enumerate() {
        let transformed = transform(raw.get(), input.ctx);
        if let Some(number) = transformed.str_number() {
            *str_counts.entry(number.to_string()).or_default() += 1;
        }
        match transformed {
            Transformed::Valid(candidate) => {
                if let Some(at) = candidate.worker.upstream_updated_at {
                    outcome.last_updated_at = Ord::max(outcome.last_updated_at, Some(at));
                }
                let nik = input.indexer.columns(&candidate.worker.nik);
                let hash = candidate.worker.content_hash();
                valid.push(Prepared {
                    candidate,
                    nik,
                    hash,
                    position,
                });
            }
            Transformed::Rejected {
                rejection,
                str_number,
            } => rejections.push((position, str_number, rejection)),
        }
    }
    outcome.counts.received = input.records.len() as i64;

    let txn = db.begin().await?;
    let stored = load_stored(&txn, &valid).await?;
    let mut str_states: HashMap<Uuid, String> = stored
        .iter()
        .map(|r| {
            (
                r.id,
                str_state(&r.str_number, &r.str_status, r.str_valid_until),
            )
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
    }));

    // Upserts keyed by worker id: a worker touched twice in a page is written once, with its last state.
    let mut upserts: Vec<health_worker::ActiveModel> = Vec::new();
    let mut upsert_slot: HashMap<Uuid, usize> = HashMap::new();
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
            inactive: inactive_rejection(prepared),
        };
        let repeated = str_counts.get(cert.number.as_str()).copied().unwrap_or(0) > 1;
        let decision = view.decide(&incoming, repeated);
        let id = match decision {
            Decision::Reject(rejection) => {
                rejections.push((prepared.position, Some(cert.number.to_string()), rejection));
                continue;
            }
            Decision::Unchanged { .. } => {
                outcome.counts.unchanged += 1;
                continue;
            }
            Decision::Insert { id } => {
                outcome.counts.inserted += 1;
                id
            }
            Decision::Update { id, .. } => {
                outcome.counts.updated += 1;
                id
            }
        };
        let state = str_state(cert.number.as_str(), cert.status.code(), cert.valid_until);
        if str_states.get(&id) != Some(&state) {
            history.push(str_history::ActiveModel {
                id: NotSet,
                worker_id: Set(id),
                str_number: Set(cert.number.to_string()),
                str_status: Set(cert.status.code().to_string()),
                str_valid_until: Set(cert.valid_until),
                batch_id: Set(input.batch_id),
                recorded_at: Set(input.now),
            });
            str_states.insert(id, state);
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
        let model = worker_row(id, prepared, &input);
        match upsert_slot.get(&id) {
            // Touched earlier in this page: one write with the last state.
            Some(&slot) => upserts[slot] = model,
            None => {
                upsert_slot.insert(id, upserts.len());
                upserts.push(model);
            }
        }
    }

    for (position, str_number, rejection) in &rejections {
        *outcome
            .rejected_by_reason
            .entry(rejection.reason)
            .or_default() += 1;
        let raw = masked_raw(input.records[*position].get());
        issues.push(issue(
            &input,
            "error",
            str_number.clone(),
            rejection.reason.code(),
            &rejection.message,
            Some(raw),
        ));
    }
    outcome.counts.rejected = rejections.len() as i64;

    write_workers(&txn, upserts).await?;
    for chunk in history.chunks(ROWS_PER_STATEMENT) {
        str_history::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in issues.chunks(ROWS_PER_STATEMENT) {
        batch_issue::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    outcome.cancel_requested = add_counts(&txn, &input, &outcome).await?;
    txn.commit().await?;
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

async fn load_stored<C: ConnectionTrait>(
    db: &C,
    valid: &[Prepared],
) -> Result<Vec<LookupRow>, DbErr> {
    if valid.is_empty() {
        return Ok(Vec::new());
    }
    let mut strs: Vec<&str> = valid
        .iter()
        .map(|p| p.candidate.worker.str_certificate.number.as_str())
        .collect();
    strs.sort_unstable();
    strs.dedup();
    let mut niks: Vec<&str> = valid.iter().map(|p| p.nik.index.as_str()).collect();
    niks.sort_unstable();
    niks.dedup();
    use health_worker::Column as C;
    health_worker::Entity::find()
        .select_only()
        .columns([
            C::Id,
            C::StrNumber,
            C::NikIndex,
            C::NikMasked,
            C::NameNorm,
            C::BirthPlaceNorm,
            C::ContentHash,
            C::StrStatus,
            C::StrValidUntil,
        ])
        .filter(
            Condition::any()
                .add(C::StrNumber.is_in(strs))
                .add(C::NikIndex.is_in(niks)),
        )
        .into_model::<LookupRow>()
        .all(db)
        .await
}

fn worker_row(id: Uuid, prepared: &Prepared, input: &PageInput) -> health_worker::ActiveModel {
    let w = &prepared.candidate.worker;
    let cert = &w.str_certificate;
    health_worker::ActiveModel {
        id: Set(id),
        str_number: Set(cert.number.to_string()),
        nik_index: Set(prepared.nik.index.clone()),
        nik: Set(prepared.nik.stored.clone()),
        nik_masked: Set(prepared.nik.masked.clone()),
        name: Set(w.name.as_str().to_string()),
        name_norm: Set(w.name.normalized().to_string()),
        sex: Set(w.sex.map(|s| s.code().to_string())),
        birth_place: Set(w.birth_place.as_str().to_string()),
        birth_place_norm: Set(w.birth_place.normalized().to_string()),
        birth_date: Set(w.birth_date),
        profession_code: Set(w.profession.code.to_string()),
        profession_group: Set(w.profession.group_code.to_string()),
        str_kind: Set(cert.kind.clone()),
        str_council: Set(cert.council.clone()),
        str_issued_on: Set(cert.issued_on),
        str_valid_until: Set(cert.valid_until),
        str_status: Set(cert.status.code().to_string()),
        licences_json: Set(serde_json::to_string(&w.licences).unwrap_or_else(|_| "[]".into())),
        address_line: Set(w.address.line.clone()),
        province_code: Set(w.address.province_code.clone()),
        regency_code: Set(w.address.regency_code.clone()),
        content_hash: Set(prepared.hash.clone()),
        upstream_updated_at: Set(w.upstream_updated_at),
        first_batch_id: Set(input.batch_id),
        last_batch_id: Set(input.batch_id),
        // Not in the conflict update list: an update keeps the stored creation time and first batch.
        created_at: Set(input.now),
        updated_at: Set(input.now),
    }
}

async fn write_workers<C: ConnectionTrait>(
    db: &C,
    rows: Vec<health_worker::ActiveModel>,
) -> Result<(), DbErr> {
    use health_worker::Column as C;
    let update_columns = [
        C::StrNumber,
        C::NikIndex,
        C::Nik,
        C::NikMasked,
        C::Name,
        C::NameNorm,
        C::Sex,
        C::BirthPlace,
        C::BirthPlaceNorm,
        C::BirthDate,
        C::ProfessionCode,
        C::ProfessionGroup,
        C::StrKind,
        C::StrCouncil,
        C::StrIssuedOn,
        C::StrValidUntil,
        C::StrStatus,
        C::LicencesJson,
        C::AddressLine,
        C::ProvinceCode,
        C::RegencyCode,
        C::ContentHash,
        C::UpstreamUpdatedAt,
        C::LastBatchId,
        C::UpdatedAt,
    ];
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        health_worker::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(C::Id)
                    .update_columns(update_columns)
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
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
async fn add_counts<C: ConnectionTrait>(
    db: &C,
    input: &PageInput<'_>,
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
    update.filter(B::Id.eq(input.batch_id)).exec(db).await?;
    let cancel: Option<bool> = batch::Entity::find_by_id(input.batch_id)
        .select_only()
        .column(B::CancelRequested)
        .into_tuple()
        .one(db)
        .await?;
    Ok(cancel.unwrap_or(false))
}
