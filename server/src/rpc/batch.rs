//! `batch.list`, `batch.get`, `batch.errors` (and `batch.warnings`).

use super::envelope::RpcError;
use super::params;
use crate::domain::batch::{BatchStatus, Severity};
use crate::service::SyncService;
use crate::views::{issue_view, view};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    limit: Option<i64>,
    offset: Option<i64>,
    status: Option<String>,
}

pub async fn list(service: &SyncService, p: ListParams) -> Result<Value, RpcError> {
    let (limit, offset) = params::page(p.limit, p.offset)?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            BatchStatus::parse(s).ok_or_else(|| {
                RpcError::invalid_param("status", format!("{s:?} is not one of running, succeeded, partial, failed, cancelled, skipped"))
            })
        })
        .transpose()?;
    let page = service.list(limit, offset, status).await?;
    Ok(json!({"total": page.total, "batches": page.items.iter().map(view).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    batch_id: String,
}

pub async fn get(service: &SyncService, p: GetParams) -> Result<Value, RpcError> {
    let id = params::uuid("batch_id", &p.batch_id)?;
    Ok(json!({"batch": view(&service.get(id).await?)}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuesParams {
    batch_id: String,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn issues(
    service: &SyncService,
    p: IssuesParams,
    severity: Severity,
) -> Result<Value, RpcError> {
    let id = params::uuid("batch_id", &p.batch_id)?;
    let (limit, offset) = params::page(p.limit, p.offset)?;
    let page = service.issues(id, severity, limit, offset).await?;
    let key = match severity {
        Severity::Error => "errors",
        Severity::Warning => "warnings",
    };
    Ok(json!({"total": page.total, key: page.items.iter().map(issue_view).collect::<Vec<_>>()}))
}
