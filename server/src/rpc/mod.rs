//! `POST /jsonrpc` (CONTRACT §3): JSON-RPC 2.0 for Odoo. Auth (failures limited per address) → envelope
//! → limits per caller, every call of a batch charged → role → typed params → `service`. The
//! caller sees a clear, opaque error; the log gets the whole cause chain (bad input: one WARN line).

pub mod auth;
pub mod batch;
pub mod envelope;
pub mod integration;
pub mod limits;
pub mod params;
pub mod sync;
pub mod worker;

use crate::domain::batch::Severity;
use crate::service::SyncService;
use crate::telemetry::RequestId;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use auth::{Caller, JwtVerifier, Role};
use envelope::{ErrorCode, RpcError};
use limits::{Limits, RetryAfter};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// The most calls one JSON-RPC batch may hold. With each call's own bounds (at most 200 rows a page),
/// this bounds a response too.
pub const MAX_BATCH_CALLS: usize = 50;

pub struct RpcState {
    pub service: SyncService,
    pub verifier: JwtVerifier,
    pub limits: Arc<Limits>,
    /// The last `sync.status` answer as written (`sync::WrittenStatus`).
    pub written_status: sync::WrittenStatus,
}

/// What a method handler knows of its caller.
pub struct CallContext {
    pub caller: Caller,
    pub request_id: String,
}

fn too_many_requests(retry: RetryAfter) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header(("Retry-After", retry.seconds().to_string()))
        .json(envelope::error_body(
            Value::Null,
            &RpcError::new(ErrorCode::RateLimited, "too many requests; retry later"),
        ))
}

fn invalid_request(why: String) -> HttpResponse {
    tracing::warn!(problem = %why, "RPC request refused: bad input");
    HttpResponse::Ok().json(envelope::error_body(
        Value::Null,
        &RpcError::new(ErrorCode::InvalidRequest, why),
    ))
}

pub async fn endpoint(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<RpcState>,
) -> HttpResponse {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let caller = match state.verifier.verify(req.headers().get("Authorization")) {
        Ok(caller) => caller,
        Err(problem) => {
            // Bad tokens spend their address's failure budget, never a valid caller's.
            if let Err(retry) = state.limits.charge_auth_failure(peer) {
                return too_many_requests(retry);
            }
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

    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(err) => {
            if let Err(retry) = state.limits.charge_caller(&caller.login, 1) {
                return too_many_requests(retry);
            }
            let error = RpcError::new(ErrorCode::ParseError, format!("parse error: {err}"));
            tracing::warn!(problem = %error.message, "RPC request refused: bad input");
            return HttpResponse::Ok().json(envelope::error_body(Value::Null, &error));
        }
    };
    let calls = match &parsed {
        Value::Array(calls) => calls.len(),
        _ => 1,
    };
    if let Err(retry) = state.limits.charge_caller(&caller.login, calls) {
        return too_many_requests(retry);
    }
    let ctx = CallContext { caller, request_id };
    match parsed {
        Value::Array(calls) if calls.is_empty() => {
            invalid_request("invalid request: empty batch".into())
        }
        Value::Array(calls) if calls.len() > MAX_BATCH_CALLS => invalid_request(format!(
            "invalid request: a batch holds at most {MAX_BATCH_CALLS} calls, this one {}",
            calls.len()
        )),
        Value::Array(calls) => {
            let mut responses = Vec::with_capacity(calls.len());
            for call in calls {
                if let Some(response) = handle_one(call, &state, &ctx).await {
                    responses.push(response);
                }
            }
            if responses.is_empty() {
                HttpResponse::NoContent().finish()
            } else {
                HttpResponse::Ok().json(Value::Array(responses))
            }
        }
        call => match handle_one(call, &state, &ctx).await {
            Some(response) if is_forbidden(&response) => HttpResponse::Forbidden().json(response),
            Some(response) => HttpResponse::Ok().json(response),
            None => HttpResponse::NoContent().finish(),
        },
    }
}

/// One call; `None` for a notification (no `id`), which gets no response.
async fn handle_one(call: Value, state: &RpcState, ctx: &CallContext) -> Option<Value> {
    let request = match envelope::Request::parse(call) {
        Ok(request) => request,
        Err((id, error)) => {
            tracing::warn!(problem = %error.message, "RPC call refused: bad input");
            return Some(envelope::error_body(id, &error));
        }
    };
    let result = match Method::named(&request.method) {
        None => Err(RpcError::new(
            ErrorCode::MethodNotFound,
            format!("method not found: {:?}", request.method),
        )),
        Some((_, role)) if ctx.caller.role < role => {
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
        Some((method, _)) => dispatch(method, request.params, state, ctx).await,
    };
    if let Err(error) = &result {
        if error.code.is_bad_input() {
            // The caller's mistake, not ours: one line, no backtrace, not an ERROR an alert could count.
            tracing::warn!(method = %request.method, code = error.code.code(), problem = %error.message, "RPC call refused: bad input");
        }
    }
    let id = request.id?;
    Some(match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => envelope::error_body(id, &error),
    })
}

/// The least role a method needs (CONTRACT §3); `None` for an unknown method.
/// The methods of the RPC surface (CONTRACT §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    SyncStart,
    SyncStatus,
    SyncCancel,
    BatchList,
    BatchGet,
    BatchErrors,
    BatchWarnings,
    IntegrationSetEnabled,
    WorkerSearch,
}

/// Each method's wire name and the least role that may call it: the one list of the surface (`dispatch`
/// must handle every `Method`, the compiler sees to that).
const METHODS: [(&str, Method, Role); 9] = [
    ("sync.start", Method::SyncStart, Role::Admin),
    ("sync.status", Method::SyncStatus, Role::Viewer),
    ("sync.cancel", Method::SyncCancel, Role::Admin),
    ("batch.list", Method::BatchList, Role::Viewer),
    ("batch.get", Method::BatchGet, Role::Viewer),
    ("batch.errors", Method::BatchErrors, Role::Viewer),
    ("batch.warnings", Method::BatchWarnings, Role::Viewer),
    (
        "integration.set_enabled",
        Method::IntegrationSetEnabled,
        Role::Admin,
    ),
    ("worker.search", Method::WorkerSearch, Role::Viewer),
];

impl Method {
    fn named(name: &str) -> Option<(Method, Role)> {
        METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, method, role)| (method, role))
    }
}

fn is_forbidden(response: &Value) -> bool {
    response["error"]["code"].as_i64() == Some(ErrorCode::Forbidden.code())
}

async fn dispatch(
    method: Method,
    params: Value,
    state: &RpcState,
    ctx: &CallContext,
) -> Result<Value, RpcError> {
    let service = &state.service;
    match method {
        Method::SyncStart => sync::start(service, params::parse(params)?, ctx).await,
        Method::SyncStatus => {
            sync::status(service, &state.written_status, params::parse(params)?).await
        }
        Method::SyncCancel => sync::cancel(service, params::parse(params)?, ctx).await,
        Method::BatchList => batch::list(service, params::parse(params)?).await,
        Method::BatchGet => batch::get(service, params::parse(params)?).await,
        Method::BatchErrors => {
            batch::issues(service, params::parse(params)?, Severity::Error).await
        }
        Method::BatchWarnings => {
            batch::issues(service, params::parse(params)?, Severity::Warning).await
        }
        Method::IntegrationSetEnabled => {
            integration::set_enabled(service, params::parse(params)?, ctx).await
        }
        Method::WorkerSearch => worker::search(service, params::parse(params)?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::{Method, METHODS};
    use crate::rpc::auth::Role;

    #[test]
    fn every_method_is_listed_once_and_only_the_changing_ones_need_an_admin() {
        for (i, (name, method, _)) in METHODS.iter().enumerate() {
            assert!(
                METHODS[i + 1..]
                    .iter()
                    .all(|(n, m, _)| n != name && m != method),
                "{name} listed twice"
            );
        }
        let admin: Vec<&str> = METHODS
            .iter()
            .filter(|(_, _, role)| *role == Role::Admin)
            .map(|(name, _, _)| *name)
            .collect();
        assert_eq!(
            admin,
            ["sync.start", "sync.cancel", "integration.set_enabled"]
        );
        assert_eq!(
            Method::named("batch.get"),
            Some((Method::BatchGet, Role::Viewer))
        );
        assert_eq!(Method::named("batch.delete"), None);
    }
}
