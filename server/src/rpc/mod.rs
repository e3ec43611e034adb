//! `POST /jsonrpc` (CONTRACT §3): JSON-RPC 2.0 for Odoo. Auth (failures limited per address) → envelope
//! → limits per caller, every call of a batch charged → role → typed params → `service`. The
//! caller sees a clear, opaque error; the log gets the whole cause chain (bad input: one WARN line).

pub mod auth;
pub mod batch;
pub mod budget;
pub mod envelope;
pub mod integration;
pub mod limits;
pub mod params;
pub mod review;
pub mod sync;
pub mod worker;

use crate::domain::batch::Severity;
use crate::http_body;
use crate::service::SyncService;
use crate::telemetry::RequestId;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use auth::{Caller, JwtVerifier, Role};
use budget::AnswerBudget;
use envelope::{ErrorCode, RpcError};
use limits::{Limits, RetryAfter};
use serde_json::value::RawValue;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The most calls one JSON-RPC batch may hold. With each call's own bounds (at most 200 rows a page),
/// this bounds a response too.
pub const MAX_BATCH_CALLS: usize = 50;
/// The largest request body accepted (CONTRACT §3: more is HTTP 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a request body may take to arrive: a caller that trickles it in holds a connection no longer.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

pub struct RpcState {
    pub service: SyncService,
    pub verifier: JwtVerifier,
    pub limits: Arc<Limits>,
    /// The last `sync.status` answer as written (`sync::WrittenStatus`).
    pub written_status: sync::WrittenStatus,
    /// The memory answers in flight may take, shared by all callers.
    pub budget: AnswerBudget,
}

/// What a method handler knows of its caller.
pub struct CallContext {
    pub caller: Caller,
    pub request_id: String,
}

fn rate_limited(retry: RetryAfter, why: &str) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header(("Retry-After", retry.seconds().to_string()))
        .json(envelope::error_body(
            Value::Null,
            &RpcError::new(ErrorCode::RateLimited, why),
        ))
}

fn too_many_requests(retry: RetryAfter) -> HttpResponse {
    rate_limited(retry, "too many requests; retry later")
}

fn invalid_request(why: String) -> HttpResponse {
    tracing::warn!(problem = %why, "RPC request refused: bad input");
    HttpResponse::Ok().json(envelope::error_body(
        Value::Null,
        &RpcError::new(ErrorCode::InvalidRequest, why),
    ))
}

/// Any method but POST on `/jsonrpc`: 405 with `Allow: POST` and a JSON-RPC body.
pub async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", "POST"))
        .json(envelope::error_body(
            Value::Null,
            &RpcError::new(
                ErrorCode::InvalidRequest,
                "invalid request: /jsonrpc takes POST only",
            ),
        ))
}

enum BodyError {
    TooLarge,
    TooSlow,
    Broken,
}

/// Reads the request body, at most `MAX_BODY_BYTES`, within `BODY_DEADLINE`.
async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<Vec<u8>, BodyError> {
    let declared = http_body::declared_length(req.headers());
    let read = http_body::read_to_end(payload, declared, MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_DEADLINE, read).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(http_body::BodyError::TooLarge)) => Err(BodyError::TooLarge),
        Ok(Err(http_body::BodyError::Broken(_))) => Err(BodyError::Broken),
        Err(_) => Err(BodyError::TooSlow),
    }
}

fn body_refused(error: BodyError) -> HttpResponse {
    let (mut response, why) = match error {
        BodyError::TooLarge => (
            HttpResponse::PayloadTooLarge(),
            format!("invalid request: the body is larger than {MAX_BODY_BYTES} bytes"),
        ),
        BodyError::TooSlow => (
            HttpResponse::RequestTimeout(),
            format!(
                "invalid request: the body did not arrive within {} s",
                BODY_DEADLINE.as_secs()
            ),
        ),
        BodyError::Broken => (
            HttpResponse::BadRequest(),
            "invalid request: the body could not be read".to_string(),
        ),
    };
    tracing::warn!(problem = %why, "RPC request refused: bad input");
    // What is left of the body is not read: the connection ends with this answer.
    response.force_close().json(envelope::error_body(
        Value::Null,
        &RpcError::new(ErrorCode::InvalidRequest, why),
    ))
}

pub async fn endpoint(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<RpcState>,
) -> HttpResponse {
    let (caller, parsed) = match read_request(&req, payload, &state).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    // The shape is checked before anything is charged: a batch too long is refused whatever its size.
    let calls = match parsed {
        Value::Array(calls) if calls.is_empty() => {
            return invalid_request("invalid request: empty batch".into())
        }
        Value::Array(calls) if calls.len() > MAX_BATCH_CALLS => {
            return invalid_request(format!(
                "invalid request: a batch holds at most {MAX_BATCH_CALLS} calls, this one {}",
                calls.len()
            ))
        }
        Value::Array(calls) => Calls::Batch(calls),
        call => Calls::One(call),
    };
    if let Err(retry) = state.limits.charge_caller(&caller.login, calls.len()) {
        return too_many_requests(retry);
    }
    let ctx = CallContext { caller, request_id };
    answer(calls, &state, &ctx).await
}

/// The caller, authenticated, and the request's JSON; or the answer that refuses it.
async fn read_request(
    req: &HttpRequest,
    payload: web::Payload,
    state: &RpcState,
) -> Result<(Caller, Value), HttpResponse> {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let caller = match state.verifier.verify(req.headers().get("Authorization")) {
        Ok(caller) => caller,
        Err(problem) => {
            // Bad tokens spend their address's failure budget, never a valid caller's.
            if let Err(retry) = state.limits.charge_auth_failure(peer) {
                return Err(too_many_requests(retry));
            }
            tracing::info!(%problem, "RPC call refused: authentication");
            return Err(HttpResponse::Unauthorized().json(envelope::error_body(
                Value::Null,
                &RpcError::new(ErrorCode::Unauthorized, problem),
            )));
        }
    };
    let body = read_body(req, payload).await.map_err(body_refused)?;
    match serde_json::from_slice(&body) {
        Ok(parsed) => Ok((caller, parsed)),
        Err(err) => {
            if let Err(retry) = state.limits.charge_caller(&caller.login, 1) {
                return Err(too_many_requests(retry));
            }
            let error = RpcError::new(ErrorCode::ParseError, format!("parse error: {err}"));
            tracing::warn!(problem = %error.message, "RPC request refused: bad input");
            Err(HttpResponse::Ok().json(envelope::error_body(Value::Null, &error)))
        }
    }
}

fn busy() -> HttpResponse {
    rate_limited(
        RetryAfter(Duration::from_secs(1)),
        "the server is busy answering; retry later",
    )
}

/// Runs the calls within the answer budget: reserved before they run, grown if an answer is larger,
/// held until the response has been sent.
async fn answer(calls: Calls, state: &RpcState, ctx: &CallContext) -> HttpResponse {
    let reservation_bytes = calls.estimate();
    let Ok(mut reservation) = state.budget.reserve(reservation_bytes, budget::WAIT).await else {
        return busy();
    };
    let (answer, forbidden) = match calls {
        Calls::Batch(calls) => {
            // Reserved whole: pages of an allocation this large are only taken as they are written.
            let mut answer = Vec::with_capacity(reservation_bytes);
            answer.push(b'[');
            for call in calls {
                if let Some(response) = handle_one(call, state, ctx).await {
                    if answer.len() > 1 {
                        answer.push(b',');
                    }
                    answer.extend_from_slice(response.json.get().as_bytes());
                    if reservation.cover(answer.len(), budget::WAIT).await.is_err() {
                        return busy();
                    }
                }
            }
            if answer.len() == 1 {
                return HttpResponse::NoContent().finish();
            }
            answer.push(b']');
            (answer, false)
        }
        Calls::One(call) => match handle_one(call, state, ctx).await {
            Some(response) => (response.json.get().as_bytes().to_vec(), response.forbidden),
            None => return HttpResponse::NoContent().finish(),
        },
    };
    if reservation.cover(answer.len(), budget::WAIT).await.is_err() {
        return busy();
    }
    let mut response = if forbidden {
        HttpResponse::Forbidden()
    } else {
        HttpResponse::Ok()
    };
    response
        .content_type("application/json")
        .body(reservation.body(answer.into()))
}

/// A request's calls: one, or a batch (an array).
enum Calls {
    One(Value),
    Batch(Vec<Value>),
}

impl Calls {
    fn len(&self) -> usize {
        match self {
            Calls::One(_) => 1,
            Calls::Batch(calls) => calls.len(),
        }
    }

    /// What the answers may take, reserved before any call runs.
    fn estimate(&self) -> usize {
        let one = |call: &Value| {
            budget::estimate(
                call.get("method").and_then(Value::as_str).unwrap_or(""),
                call.get("params").unwrap_or(&Value::Null),
            )
        };
        match self {
            Calls::One(call) => one(call),
            Calls::Batch(calls) => calls.iter().map(one).sum(),
        }
    }
}

/// One call's response, written, and whether the call was beyond the caller's role (a lone call is then
/// answered HTTP 403).
struct Answered {
    json: Box<RawValue>,
    forbidden: bool,
}

/// One call; `None` for a notification (no `id`), which gets no response. The response is written once,
/// here: answers are never held as JSON trees.
async fn handle_one(call: Value, state: &RpcState, ctx: &CallContext) -> Option<Answered> {
    let request = match envelope::Request::parse(call) {
        Ok(request) => request,
        Err((id, error)) => {
            tracing::warn!(problem = %error.message, "RPC call refused: bad input");
            return Some(Answered {
                json: envelope::error_response(&id, &error),
                forbidden: false,
            });
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
        Ok(result) => Answered {
            json: envelope::result_response(&id, &result),
            forbidden: false,
        },
        Err(error) => Answered {
            json: envelope::error_response(&id, &error),
            forbidden: error.code == ErrorCode::Forbidden,
        },
    })
}

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
    ReviewList,
    ReviewGet,
    ReviewDecide,
    BatchRetry,
    BatchChanges,
}

/// Each method's wire name and the least role that may call it: the one list of the surface (`dispatch`
/// must handle every `Method`, the compiler sees to that).
const METHODS: [(&str, Method, Role); 14] = [
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
    ("review.list", Method::ReviewList, Role::Viewer),
    ("review.get", Method::ReviewGet, Role::Viewer),
    ("review.decide", Method::ReviewDecide, Role::Verifier),
    ("batch.retry", Method::BatchRetry, Role::Admin),
    ("batch.changes", Method::BatchChanges, Role::Viewer),
];

impl Method {
    fn named(name: &str) -> Option<(Method, Role)> {
        METHODS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, method, role)| (method, role))
    }
}

/// Runs one method; its result is written to JSON once (most as a tree first; the heavy reads straight
/// from their rows).
async fn dispatch(
    method: Method,
    params: Value,
    state: &RpcState,
    ctx: &CallContext,
) -> Result<Box<RawValue>, RpcError> {
    let service = &state.service;
    let written = |value: Result<Value, RpcError>| value.map(|v| envelope::raw(&v));
    match method {
        Method::SyncStart => written(sync::start(service, params::parse(params)?, ctx).await),
        Method::SyncStatus => {
            written(sync::status(service, &state.written_status, params::parse(params)?).await)
        }
        Method::SyncCancel => written(sync::cancel(service, params::parse(params)?, ctx).await),
        Method::BatchList => written(batch::list(service, params::parse(params)?).await),
        Method::BatchGet => written(batch::get(service, params::parse(params)?).await),
        Method::BatchErrors => {
            batch::issues(service, params::parse(params)?, Severity::Error).await
        }
        Method::BatchWarnings => {
            batch::issues(service, params::parse(params)?, Severity::Warning).await
        }
        Method::IntegrationSetEnabled => {
            written(integration::set_enabled(service, params::parse(params)?, ctx).await)
        }
        Method::WorkerSearch => written(worker::search(service, params::parse(params)?).await),
        Method::ReviewList => written(review::list(service, params::parse(params)?).await),
        Method::ReviewGet => written(review::get(service, params::parse(params)?).await),
        Method::ReviewDecide => written(review::decide(service, params::parse(params)?, ctx).await),
        Method::BatchRetry => written(batch::retry(service, params::parse(params)?, ctx).await),
        Method::BatchChanges => written(batch::changes(service, params::parse(params)?).await),
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
            [
                "sync.start",
                "sync.cancel",
                "integration.set_enabled",
                "batch.retry"
            ]
        );
        let verifier: Vec<&str> = METHODS
            .iter()
            .filter(|(_, _, role)| *role == Role::Verifier)
            .map(|(name, _, _)| *name)
            .collect();
        assert_eq!(verifier, ["review.decide"]);
        assert_eq!(
            Method::named("batch.get"),
            Some((Method::BatchGet, Role::Viewer))
        );
        assert_eq!(Method::named("batch.delete"), None);
    }
}
