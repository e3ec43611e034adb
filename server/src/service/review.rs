//! The Verifikator's desk (CONTRACT §3, `review.*`): the cases the sync kept for a person, and their
//! decisions. `accept_registry` is applied at once, as a batch with trigger `review`, under the same
//! single-flight lease as a sync (a decision never races a run over the same worker).

use super::{ServiceError, SyncService};
use crate::domain::batch::{BatchStatus, Mode, Trigger};
use crate::domain::review::{CaseStatus, Decision, NOTE_MAX_CHARS};
use crate::domain::worker_fields::{ChangedFields, FieldCounts};
use crate::rules::decide::worker_row;
use crate::rules::page::{prepare_page, scan_page, PageInput, PrepareContext, Prepared};
use crate::rules::transform::TransformContext;
use crate::store::review::{self, CaseFile};
use crate::store::{lease, queries};
use chrono::{DateTime, Utc};
use entity::{batch, health_worker, identity_history, review_case, str_history};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use std::sync::Arc;
use uuid::Uuid;

/// A decision as asked for.
pub struct DecisionRequest {
    pub case_id: Uuid,
    pub decision: Decision,
    pub note: Option<String>,
    pub actor: String,
}

impl SyncService {
    pub async fn review_list(
        &self,
        status: CaseStatus,
        kind: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<(u64, Vec<CaseFile>), ServiceError> {
        let page = review::list(self.db(), status, kind, limit, offset).await?;
        let total = page.total;
        let mut files = Vec::with_capacity(page.items.len());
        for case in page.items {
            files.push(self.case_file(self.db(), case).await?);
        }
        Ok((total, files))
    }

    pub async fn review_get(&self, case_id: Uuid) -> Result<CaseFile, ServiceError> {
        let case = self.find_case(self.db(), case_id).await?;
        self.case_file(self.db(), case).await
    }

    /// Records a decision; `accept_registry` also applies it, and returns its `review` batch.
    pub async fn review_decide(
        &self,
        request: DecisionRequest,
    ) -> Result<(CaseFile, Option<batch::Model>), ServiceError> {
        if request
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > NOTE_MAX_CHARS)
        {
            return Err(ServiceError::InvalidParam {
                param: "note",
                problem: format!("is longer than {NOTE_MAX_CHARS} characters"),
            });
        }
        let _gate = self.inner.start_gate.lock().await;
        let now = Utc::now();
        let txn = self.db().begin().await?;
        let case = self.find_case(&txn, request.case_id).await?;
        if case.status != CaseStatus::Open.code() {
            return Err(ServiceError::InvalidParam {
                param: "case_id",
                problem: format!("case {} was decided already", case.id),
            });
        }
        let applied = match request.decision {
            Decision::KeepSdmk => None,
            Decision::AcceptRegistry => {
                Some(self.apply_registry(&txn, &case, &request, now).await?)
            }
        };
        let detail = format!(
            "case {} ({}, STR {}): {}{}",
            case.id,
            case.kind,
            case.str_number,
            request.decision.code(),
            request
                .note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
        let mut resolved = case.into_active_model();
        resolved.status = Set(CaseStatus::Resolved.code().into());
        resolved.decision = Set(Some(request.decision.code().into()));
        resolved.decision_note = Set(request.note.clone());
        resolved.decided_by = Set(Some(request.actor.clone()));
        resolved.decided_at = Set(Some(now));
        resolved.applied_batch_id = Set(applied.as_ref().map(|b| b.id));
        let case = resolved.update(&txn).await?;
        queries::audit(&txn, "review.decide", &request.actor, Some(detail)).await?;
        txn.commit().await?;
        if let Some(batch) = &applied {
            self.review_batch_done(batch);
        }
        Ok((self.case_file(self.db(), case).await?, applied))
    }

    async fn find_case<C: ConnectionTrait>(
        &self,
        db: &C,
        case_id: Uuid,
    ) -> Result<review_case::Model, ServiceError> {
        review_case::Entity::find_by_id(case_id)
            .one(db)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("review case {case_id}")))
    }

    async fn case_file<C: ConnectionTrait>(
        &self,
        db: &C,
        case: review_case::Model,
    ) -> Result<CaseFile, ServiceError> {
        let stored = health_worker::Entity::find()
            .filter(health_worker::Column::StrNumber.eq(&case.str_number))
            .one(db)
            .await?;
        let incoming = self.read_sealed(&case);
        Ok(CaseFile {
            case,
            stored,
            incoming,
        })
    }

    /// The case's record as today's rules read it; `None` if it cannot be opened or is no longer valid.
    fn read_sealed(&self, case: &review_case::Model) -> Option<Prepared> {
        let indexer = &self.inner.run.indexer;
        let raw = match indexer.reveal(&case.incoming_sealed) {
            Ok(raw) => raw,
            Err(err) => {
                tracing::warn!(case = %case.id, error = %err, "a review case's record cannot be decrypted");
                return None;
            }
        };
        let raw = crate::regnakes::RawRecord::from_string(raw)?;
        let context = Arc::new(PrepareContext {
            transform: TransformContext {
                today: crate::domain::time::jakarta_date(Utc::now()),
                catalogue: self.inner.run.settings.professions.0,
            },
            indexer: indexer.clone(),
        });
        let scanned = scan_page(vec![raw], false, indexer);
        prepare_page(scanned, &[], context).valid.pop()
    }

    /// `accept_registry`: the STR's holder takes the record, identity included; its previous identity
    /// (and STR state, if it changes) go to its history. One `review` batch, counted as one update.
    async fn apply_registry<C: ConnectionTrait>(
        &self,
        txn: &C,
        case: &review_case::Model,
        request: &DecisionRequest,
        now: DateTime<Utc>,
    ) -> Result<batch::Model, ServiceError> {
        let settings = &self.inner.run.settings;
        let batch_id = Uuid::now_v7();
        if !lease::try_acquire(
            txn,
            batch_id,
            &settings.instance_id,
            settings.lease_ttl,
            now,
        )
        .await?
        {
            return Err(ServiceError::Busy(
                "a sync is running; decide again when it has ended".into(),
            ));
        }
        let file = self.case_file(txn, case.clone()).await?;
        let Some(prepared) = file.incoming else {
            return Err(ServiceError::InvalidParam {
                param: "decision",
                problem: "the registry's record no longer passes today's rules; the next sync reports why"
                    .into(),
            });
        };
        let Some(holder) = file.stored else {
            return Err(ServiceError::InvalidParam {
                param: "decision",
                problem: format!(
                    "no stored worker holds STR {} any more; the next sync settles the record",
                    case.str_number
                ),
            });
        };
        let input = PageInput::new(batch_id, now);
        let changed =
            ChangedFields::between(holder.field_fingerprint.as_deref(), &prepared.fingerprint);
        keep_history(txn, &holder, case.id, &prepared, batch_id, now).await?;
        let incoming = worker_row(holder.id, prepared, &input);
        // The review batch reports its one update like any batch (`batch.changes`).
        crate::store::changes::row(&input, &incoming, Some(&holder), "updated")
            .insert(txn)
            .await?;
        // Every column written (a model converted as is would write nothing), but the creation ones.
        let mut row = health_worker::ActiveModel::from(incoming).reset_all();
        row.first_batch_id = NotSet;
        row.created_at = NotSet;
        row.update(txn).await?;
        let mut counts = FieldCounts::default();
        counts.add(changed);
        let batch = review_batch(
            batch_id,
            &request.actor,
            &counts,
            now,
            &settings.instance_id,
        )
        .insert(txn)
        .await?;
        lease::release(txn, batch_id).await?;
        Ok(batch)
    }

    /// After a `review` batch committed: `sync.status`, the metrics and Odoo see it.
    fn review_batch_done(&self, batch: &batch::Model) {
        self.inner.status_cache.invalidate();
        self.inner
            .run
            .metrics
            .batches
            .get_or_create(&crate::metrics::StatusLabel {
                status: batch.status.clone(),
            })
            .inc();
        self.announce(batch, true);
    }
}

/// The holder's identity before the decision, and its STR state if the record changes it.
async fn keep_history<C: ConnectionTrait>(
    txn: &C,
    holder: &health_worker::Model,
    case_id: Uuid,
    prepared: &Prepared,
    batch_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    identity_history::ActiveModel {
        id: NotSet,
        worker_id: Set(holder.id),
        nik: Set(holder.nik.clone()),
        nik_masked: Set(holder.nik_masked.clone()),
        name: Set(holder.name.clone()),
        sex: Set(holder.sex.clone()),
        birth_place: Set(holder.birth_place.clone()),
        birth_date: Set(holder.birth_date),
        case_id: Set(case_id),
        batch_id: Set(batch_id),
        recorded_at: Set(now),
    }
    .insert(txn)
    .await?;
    let cert = &prepared.candidate.worker.str_certificate;
    if holder.str_status != cert.status.code() || holder.str_valid_until != cert.valid_until {
        str_history::ActiveModel {
            id: NotSet,
            worker_id: Set(holder.id),
            str_number: Set(holder.str_number.clone()),
            str_status: Set(holder.str_status.clone()),
            str_valid_until: Set(holder.str_valid_until),
            batch_id: Set(batch_id),
            recorded_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The finished batch of an `accept_registry`: one record received, one update.
fn review_batch(
    batch_id: Uuid,
    actor: &str,
    changed: &FieldCounts,
    now: DateTime<Utc>,
    instance_id: &str,
) -> batch::ActiveModel {
    batch::ActiveModel {
        id: Set(batch_id),
        trace_id: Set(format!("rgn-{}", Uuid::new_v4().simple())),
        trigger: Set(Trigger::Review.code().into()),
        mode: Set(Mode::Incremental.code().into()),
        status: Set(BatchStatus::Succeeded.code().into()),
        requested_by: Set(Some(actor.to_string())),
        schedule_slot: Set(None),
        started_at: Set(now),
        finished_at: Set(Some(now)),
        duration_ms: Set(Some(0)),
        error: Set(None),
        instance_id: Set(instance_id.to_string()),
        pages: Set(1),
        received: Set(1),
        updated: Set(1),
        changed_fields: Set(Some(changed.to_json().to_string())),
        ..queries::empty_batch()
    }
}
