//! `review.list`, `review.get` (readers) and `review.decide` (Verifikator or admin; audited).

use super::envelope::RpcError;
use super::params;
use super::CallContext;
use crate::domain::review::{CaseStatus, Decision};
use crate::domain::RejectReason;
use crate::rules::decide::needs_review;
use crate::service::review::DecisionRequest;
use crate::service::SyncService;
use crate::views::{case_view, view};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    kind: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn list(service: &SyncService, p: ListParams) -> Result<Value, RpcError> {
    let (limit, offset) = params::page(p.limit, p.offset)?;
    let status = match p.status.as_deref() {
        None => CaseStatus::Open,
        Some(s) => CaseStatus::parse(s).ok_or_else(|| {
            RpcError::invalid_param("status", format!("{s:?} is not open or resolved"))
        })?,
    };
    if let Some(kind) = p.kind.as_deref() {
        if !RejectReason::from_code(kind).is_some_and(needs_review) {
            return Err(RpcError::invalid_param(
                "kind",
                format!("{kind:?} is not identity_conflict or duplicate_str"),
            ));
        }
    }
    let (total, files) = service
        .review_list(status, p.kind.as_deref(), limit, offset)
        .await?;
    Ok(json!({"total": total, "cases": files.iter().map(case_view).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    case_id: String,
}

pub async fn get(service: &SyncService, p: GetParams) -> Result<Value, RpcError> {
    let id = params::uuid("case_id", &p.case_id)?;
    Ok(json!({"case": case_view(&service.review_get(id).await?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideParams {
    case_id: String,
    decision: String,
    note: Option<String>,
}

pub async fn decide(
    service: &SyncService,
    p: DecideParams,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    let case_id = params::uuid("case_id", &p.case_id)?;
    let decision = Decision::parse(&p.decision).ok_or_else(|| {
        RpcError::invalid_param(
            "decision",
            format!("{:?} is not accept_registry or keep_sdmk", p.decision),
        )
    })?;
    let note = p
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let (file, batch) = service
        .review_decide(DecisionRequest {
            case_id,
            decision,
            note,
            actor: ctx.caller.login.clone(),
        })
        .await?;
    Ok(json!({"case": case_view(&file), "batch": batch.as_ref().map(view)}))
}
