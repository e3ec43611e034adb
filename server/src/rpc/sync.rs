//! `sync.start`, `sync.status`, `sync.cancel`.

use super::envelope::RpcError;
use super::params;
use super::CallContext;
use crate::domain::batch::SyncStatus;
use crate::domain::batch::{Mode, Trigger};
use crate::domain::ProfessionCode;
use crate::service::{StartRequest, SyncService};
use crate::views::view;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartParams {
    mode: Option<String>,
    professions: Option<Vec<String>>,
    updated_since: Option<String>,
    trigger: Option<String>,
    dry_run: Option<bool>,
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
        retry: None,
        dry_run: p.dry_run.unwrap_or(false),
    };
    let started = service.start(request).await?;
    Ok(json!({"batch": view(&started.batch), "already_running": started.already_running}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusParams {}

/// The last `sync.status` answer as written, with the status it was written from: dashboards poll it
/// hundreds of times a second, and the service shares one `SyncStatus` among the requests of a short
/// window, so each is written once (holding the `Arc` keeps its address from being reused).
#[derive(Default)]
pub struct WrittenStatus(std::sync::Mutex<Option<(Arc<SyncStatus>, Value)>>);

impl WrittenStatus {
    fn answer(&self, status: Arc<SyncStatus>) -> Value {
        let mut written = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((from, answer)) = written.as_ref() {
            if Arc::ptr_eq(from, &status) {
                return answer.clone();
            }
        }
        let answer = crate::views::status(&status);
        *written = Some((status, answer.clone()));
        answer
    }
}

pub async fn status(
    service: &SyncService,
    written: &WrittenStatus,
    _p: StatusParams,
) -> Result<Value, RpcError> {
    Ok(written.answer(service.status().await?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status(enabled: bool) -> Arc<SyncStatus> {
        Arc::new(SyncStatus {
            enabled,
            enabled_change: None,
            running: None,
            last: None,
            last_success_at: None,
            next_run_at: None,
            watermark: None,
            missing_workers: 0,
        })
    }

    #[test]
    fn a_status_is_written_once_and_a_new_one_is_written_again() {
        let written = WrittenStatus::default();
        let first = status(true);
        assert_eq!(written.answer(first.clone())["enabled"], true);
        assert_eq!(written.answer(first)["enabled"], true);
        // A new status (the cache refreshed, or the integration was disabled) is never served the old
        // answer, even when it says the same.
        assert_eq!(written.answer(status(false))["enabled"], false);
        assert_eq!(written.answer(status(true))["enabled"], true);
    }
}
