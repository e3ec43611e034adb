//! `worker.search`: by name, STR number or NIK; NIKs are only ever shown masked.

use super::envelope::RpcError;
use super::params;
use crate::domain::ProfessionCode;
use crate::service::SyncService;
use crate::views::worker_view;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    query: Option<String>,
    profession: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    /// Only the workers the registry no longer has.
    missing: Option<bool>,
}

pub async fn search(service: &SyncService, p: SearchParams) -> Result<Value, RpcError> {
    let (limit, offset) = params::page(p.limit, p.offset)?;
    let profession = p
        .profession
        .as_deref()
        .map(ProfessionCode::parse)
        .transpose()
        .map_err(|err| RpcError::invalid_param("profession", err.to_string()))?;
    if p.query.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(RpcError::invalid_param(
            "query",
            "must be at most 200 characters",
        ));
    }
    let page = service
        .search_workers(
            p.query.as_deref(),
            profession,
            p.missing.unwrap_or(false),
            limit,
            offset,
        )
        .await?;
    Ok(
        json!({"total": page.total, "workers": page.items.iter().map(worker_view).collect::<Vec<_>>()}),
    )
}
