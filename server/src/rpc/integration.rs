//! `integration.set_enabled`: audited with the caller's login and the time.

use super::envelope::RpcError;
use super::CallContext;
use crate::service::SyncService;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetEnabledParams {
    enabled: bool,
    reason: Option<String>,
}

pub async fn set_enabled(
    service: &SyncService,
    p: SetEnabledParams,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    if p.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(RpcError::invalid_param(
            "reason",
            "must be at most 500 characters",
        ));
    }
    let enabled = service
        .set_enabled(p.enabled, p.reason, &ctx.caller.login)
        .await?;
    Ok(json!({"enabled": enabled}))
}
