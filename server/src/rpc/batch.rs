//! `batch.list`, `batch.get`, `batch.errors` (and `batch.warnings`).

use super::envelope::RpcError;
use super::params;
use crate::domain::batch::{BatchStatus, Severity};
use crate::service::SyncService;
use crate::views::{issue_view, view};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// `{"total": n, "<errors|warnings>": [rows]}`.
struct IssuesAnswer<'a> {
    total: u64,
    key: &'static str,
    rows: &'a [crate::views::IssueView<'a>],
}

impl serde::Serialize for IssuesAnswer<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("total", &self.total)?;
        map.serialize_entry(self.key, self.rows)?;
        map.end()
    }
}

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

/// Written straight from the rows, raw records as stored (already JSON): a page of 200 rejected rows is
/// never a tree of values.
pub async fn issues(
    service: &SyncService,
    p: IssuesParams,
    severity: Severity,
) -> Result<Box<RawValue>, RpcError> {
    let id = params::uuid("batch_id", &p.batch_id)?;
    let (limit, offset) = params::page(p.limit, p.offset)?;
    let page = service.issues(id, severity, limit, offset).await?;
    let key = match severity {
        Severity::Error => "errors",
        Severity::Warning => "warnings",
    };
    let rows: Vec<_> = page.items.iter().map(issue_view).collect();
    Ok(super::envelope::raw(&IssuesAnswer {
        total: page.total,
        key,
        rows: &rows,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryParams {
    batch_id: String,
    reasons: Option<Vec<String>>,
    str_numbers: Option<Vec<String>>,
}

/// `batch.retry` (admin): the chosen rejected rows read again, as a new batch with trigger `retry`.
pub async fn retry(
    service: &SyncService,
    p: RetryParams,
    ctx: &super::CallContext,
) -> Result<Value, RpcError> {
    use crate::domain::RejectReason;
    use crate::service::retry::{RetryRequest, MAX_RETRY_ROWS};
    let batch_id = params::uuid("batch_id", &p.batch_id)?;
    let reasons = p
        .reasons
        .unwrap_or_default()
        .iter()
        .map(|code| {
            RejectReason::from_code(code).ok_or_else(|| {
                RpcError::invalid_param("reasons", format!("{code:?} is not a reason code"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let str_numbers = p.str_numbers.unwrap_or_default();
    if str_numbers.len() as u64 > MAX_RETRY_ROWS {
        return Err(RpcError::invalid_param(
            "str_numbers",
            format!("at most {MAX_RETRY_ROWS} at a time"),
        ));
    }
    let started = service
        .retry(RetryRequest {
            batch_id,
            reasons,
            str_numbers,
            actor: Some(ctx.caller.login.clone()),
            trace_id: Some(ctx.request_id.clone()).filter(|id| !id.is_empty()),
        })
        .await?;
    Ok(json!({"batch": view(&started.batch), "already_running": started.already_running}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    batch_id: String,
    outcome: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `batch.changes`: what the batch wrote, field by field (its first 1 000 inserts and updates).
pub async fn changes(service: &SyncService, p: ChangesParams) -> Result<Value, RpcError> {
    let id = params::uuid("batch_id", &p.batch_id)?;
    let (limit, offset) = params::page(p.limit, p.offset)?;
    if let Some(outcome) = p.outcome.as_deref() {
        if !["inserted", "updated"].contains(&outcome) {
            return Err(RpcError::invalid_param(
                "outcome",
                format!("{outcome:?} is not inserted or updated"),
            ));
        }
    }
    let page = service
        .changes(id, p.outcome.as_deref(), limit, offset)
        .await?;
    let changes: Vec<Value> = page
        .items
        .iter()
        .map(|row| {
            let fields: Value = serde_json::from_str(&row.fields).unwrap_or_else(|_| json!([]));
            json!({"str_number": row.str_number, "outcome": row.outcome, "fields": fields})
        })
        .collect();
    Ok(json!({"total": page.total, "changes": changes}))
}
