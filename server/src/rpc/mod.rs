//! `POST /jsonrpc` (CONTRACT §3): JSON-RPC 2.0 for Odoo. Rate limit → auth → envelope → typed params →
//! `sync::service`. The caller sees a clear, opaque error; the log gets the whole cause chain.

pub mod auth;
pub mod batch;
pub mod envelope;
pub mod integration;
pub mod params;
pub mod sync;
pub mod worker;

use crate::sync::service::SyncService;
use crate::telemetry::RequestId;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use auth::{Caller, JwtVerifier, Role};
use envelope::{ErrorCode, RpcError};
use governor::{clock::Clock, DefaultKeyedRateLimiter};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;

pub struct RpcState {
    pub service: SyncService,
    pub verifier: JwtVerifier,
    pub limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

/// What a method handler knows of its caller.
pub struct CallContext {
    pub caller: Caller,
    pub request_id: String,
}

pub async fn endpoint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RpcState>,
) -> HttpResponse {
    let ip = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    if let Err(not_until) = state.limiter.check_key(&ip) {
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.max(1).to_string()))
            .json(envelope::error_body(
                Value::Null,
                &RpcError::new(ErrorCode::RateLimited, "too many requests; retry later"),
            ));
    }
    let caller = match state.verifier.verify(req.headers().get("Authorization")) {
        Ok(caller) => caller,
        Err(problem) => {
            tracing::info!(%problem, "RPC call refused: authentication");
            return HttpResponse::Unauthorized().json(envelope::error_body(
                Value::Null,
                &RpcError::new(ErrorCode::Unauthorized, problem),
            ));
        }
    };
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let ctx = CallContext { caller, request_id };

    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(err) => {
            let error = RpcError::new(ErrorCode::ParseError, format!("parse error: {err}"));
            return HttpResponse::Ok().json(envelope::error_body(Value::Null, &error));
        }
    };
    match parsed {
        Value::Array(calls) if calls.is_empty() => HttpResponse::Ok().json(envelope::error_body(
            Value::Null,
            &RpcError::new(ErrorCode::InvalidRequest, "invalid request: empty batch"),
        )),
        Value::Array(calls) => {
            let mut responses = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(response) = handle_one(call, &state.service, &ctx).await {
                    responses.push(response);
                }
            }
            if responses.is_empty() {
                HttpResponse::NoContent().finish()
            } else {
                HttpResponse::Ok().json(Value::Array(responses))
            }
        }
        call => match handle_one(call, &state.service, &ctx).await {
            Some(response) if is_forbidden(&response) => HttpResponse::Forbidden().json(response),
            Some(response) => HttpResponse::Ok().json(response),
            None => HttpResponse::NoContent().finish(),
        },
    }
}

/// One call; `None` for a notification (no `id`), which gets no response.
async fn handle_one(call: Value, service: &SyncService, ctx: &CallContext) -> Option<Value> {
    let request = match envelope::Request::parse(call) {
        Ok(request) => request,
        Err((id, error)) => return Some(envelope::error_body(id, &error)),
    };
    let result = match required_role(&request.method) {
        Some(role) if ctx.caller.role < role => {
            tracing::info!(method = %request.method, login = %ctx.caller.login, "RPC call refused: role");
            Err(RpcError::new(
                ErrorCode::Forbidden,
                format!(
                    "forbidden: {} needs the role {}",
                    request.method,
                    auth::ROLE_ADMIN
                ),
            ))
        }
        _ => dispatch(&request.method, request.params, service, ctx).await,
    };
    let id = request.id?;
    Some(match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => envelope::error_body(id, &error),
    })
}

/// The least role a method needs (CONTRACT §3); `None` for an unknown method.
fn required_role(method: &str) -> Option<Role> {
    match method {
        "sync.start" | "sync.cancel" | "integration.set_enabled" => Some(Role::Admin),
        "sync.status" | "batch.list" | "batch.get" | "batch.errors" | "batch.warnings"
        | "worker.search" => Some(Role::Viewer),
        _ => None,
    }
}

fn is_forbidden(response: &Value) -> bool {
    response["error"]["code"].as_i64() == Some(ErrorCode::Forbidden.code())
}

async fn dispatch(
    method: &str,
    params: Value,
    service: &SyncService,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    match method {
        "sync.start" => sync::start(service, params::parse(params)?, ctx).await,
        "sync.status" => sync::status(service, params::parse(params)?).await,
        "sync.cancel" => sync::cancel(service, params::parse(params)?, ctx).await,
        "batch.list" => batch::list(service, params::parse(params)?).await,
        "batch.get" => batch::get(service, params::parse(params)?).await,
        "batch.errors" => batch::issues(service, params::parse(params)?, "error").await,
        "batch.warnings" => batch::issues(service, params::parse(params)?, "warning").await,
        "integration.set_enabled" => {
            integration::set_enabled(service, params::parse(params)?, ctx).await
        }
        "worker.search" => worker::search(service, params::parse(params)?).await,
        other => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("method not found: {other:?}"),
        )),
    }
}
