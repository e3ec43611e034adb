//! JSON-RPC 2.0 envelope and the error codes of CONTRACT §3, defined once.

use crate::service::ServiceError;
use serde_json::value::RawValue;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    Internal,
    Unauthorized,
    Forbidden,
    NotFound,
    IntegrationDisabled,
    /// The action needs the single-flight lease a running sync holds.
    Busy,
    RateLimited,
}

impl ErrorCode {
    /// Whether the caller sent something wrong (as opposed to the server failing or refusing).
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            ErrorCode::ParseError
                | ErrorCode::InvalidRequest
                | ErrorCode::MethodNotFound
                | ErrorCode::InvalidParams
        )
    }

    pub fn code(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::Unauthorized => -32001,
            ErrorCode::Forbidden => -32003,
            ErrorCode::NotFound => -32004,
            ErrorCode::IntegrationDisabled => -32010,
            ErrorCode::Busy => -32011,
            ErrorCode::RateLimited => -32029,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl RpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_param(param: &str, problem: impl std::fmt::Display) -> Self {
        RpcError::new(
            ErrorCode::InvalidParams,
            format!("invalid params: `{param}` {problem}"),
        )
    }
}

impl From<ServiceError> for RpcError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Disabled => RpcError::new(
                ErrorCode::IntegrationDisabled,
                "the RegNakes integration is disabled; enable it with integration.set_enabled",
            ),
            ServiceError::NotFound(what) => {
                RpcError::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            ServiceError::InvalidParam { param, problem } => {
                RpcError::invalid_param(param, problem)
            }
            ServiceError::Busy(problem) => RpcError::new(ErrorCode::Busy, problem),
            ServiceError::Inconsistent(_) | ServiceError::Database(_) => {
                let err = anyhow::Error::from(err);
                tracing::error!(error = ?err, "RPC call failed on the database");
                RpcError::new(
                    ErrorCode::Internal,
                    "internal error; see the server log for this request id",
                )
            }
        }
    }
}

pub fn error_body(id: Value, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": error.code.code(), "message": error.message}})
}

/// JSON written once, kept as text.
pub fn raw<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("answers are plain data and serialise")
}

#[derive(serde::Serialize)]
struct Response<'a, R: serde::Serialize + ?Sized> {
    jsonrpc: &'static str,
    id: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a R>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

/// A call's answer around its written result.
pub fn result_response(id: &Value, result: &RawValue) -> Box<RawValue> {
    raw(&Response {
        jsonrpc: "2.0",
        id,
        result: Some(result),
        error: None,
    })
}

/// A call's error answer.
pub fn error_response(id: &Value, error: &RpcError) -> Box<RawValue> {
    raw(&error_body(id.clone(), error))
}

pub struct Request {
    pub id: Option<Value>,
    pub method: String,
    pub params: Value,
}

impl Request {
    pub fn parse(call: Value) -> Result<Request, (Value, RpcError)> {
        let invalid = |id: Value, why: &str| {
            Err((
                id,
                RpcError::new(ErrorCode::InvalidRequest, format!("invalid request: {why}")),
            ))
        };
        let Value::Object(mut obj) = call else {
            return invalid(Value::Null, "a call must be a JSON object");
        };
        let id = obj.remove("id");
        let id_for_error = id.clone().unwrap_or(Value::Null);
        if !matches!(
            id,
            None | Some(Value::Null | Value::String(_) | Value::Number(_))
        ) {
            return invalid(Value::Null, "`id` must be a string, a number or null");
        }
        if obj.get("jsonrpc") != Some(&json!("2.0")) {
            return invalid(id_for_error, "`jsonrpc` must be \"2.0\"");
        }
        let Some(Value::String(method)) = obj.remove("method") else {
            return invalid(id_for_error, "`method` must be a string");
        };
        let params = obj.remove("params").unwrap_or(Value::Null);
        Ok(Request { id, method, params })
    }
}
