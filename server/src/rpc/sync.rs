//! `sync.start`, `sync.status`, `sync.cancel`.

use super::envelope::RpcError;
use super::params;
use super::CallContext;
use crate::domain::batch::{Mode, Trigger};
use crate::domain::ProfessionCode;
use crate::service::{StartRequest, SyncService};
use crate::views::view;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartParams {
    mode: Option<String>,
    professions: Option<Vec<String>>,
    updated_since: Option<String>,
    trigger: Option<String>,
}

pub async fn start(
    service: &SyncService,
    p: StartParams,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    let mode = match p.mode.as_deref() {
        None | Some("incremental") => Mode::Incremental,
        Some("full") => Mode::Full,
        Some(other) => {
            return Err(RpcError::invalid_param(
                "mode",
                format!("must be \"incremental\" or \"full\", got {other:?}"),
            ))
        }
    };
    let trigger = match p.trigger.as_deref() {
        None | Some("manual") => Trigger::Manual,
        Some("cron") => Trigger::Cron,
        Some(other) => {
            return Err(RpcError::invalid_param(
                "trigger",
                format!("must be \"manual\" or \"cron\", got {other:?}"),
            ))
        }
    };
    let updated_since = p
        .updated_since
        .as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    RpcError::invalid_param(
                        "updated_since",
                        format!("{t:?} is not an RFC 3339 timestamp"),
                    )
                })
        })
        .transpose()?;
    let request = StartRequest {
        mode,
        professions: ProfessionCode::parse_list(&p.professions.unwrap_or_default())
            .map_err(|err| RpcError::invalid_param("professions", err.to_string()))?,
        updated_since,
        trigger,
        actor: Some(ctx.caller.login.clone()),
        trace_id: Some(ctx.request_id.clone()).filter(|id| !id.is_empty()),
    };
    let started = service.start(request).await?;
    Ok(json!({"batch": view(&started.batch), "already_running": started.already_running}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {}

pub async fn status(service: &SyncService, _p: StatusParams) -> Result<Value, RpcError> {
    Ok(crate::views::status(&*service.status().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelParams {
    batch_id: String,
}

pub async fn cancel(
    service: &SyncService,
    p: CancelParams,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    let id = params::uuid("batch_id", &p.batch_id)?;
    let batch = service.cancel(id, &ctx.caller.login).await?;
    Ok(json!({"batch": view(&batch)}))
}
