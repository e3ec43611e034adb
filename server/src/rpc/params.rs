//! Params → typed requests. A bad param gets `-32602` naming the param and the problem.

use super::envelope::{ErrorCode, RpcError};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = match params {
        Value::Null => Value::Object(Default::default()),
        Value::Object(obj) => Value::Object(obj),
        _ => {
            return Err(RpcError::new(
                ErrorCode::InvalidParams,
                "invalid params: must be an object of named params",
            ))
        }
    };
    serde_path_to_error::deserialize(params).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if path == "." {
            RpcError::new(ErrorCode::InvalidParams, format!("invalid params: {inner}"))
        } else {
            RpcError::invalid_param(&path, inner)
        }
    })
}

/// `limit` within 1..=200 (default 20) and `offset` ≥ 0.
pub fn page(limit: Option<i64>, offset: Option<i64>) -> Result<(u64, u64), RpcError> {
    let limit = limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(RpcError::invalid_param(
            "limit",
            format!("must be between 1 and 200, got {limit}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(RpcError::invalid_param(
            "offset",
            format!("must be 0 or more, got {offset}"),
        ));
    }
    Ok((limit as u64, offset as u64))
}

pub fn uuid(param: &'static str, text: &str) -> Result<uuid::Uuid, RpcError> {
    uuid::Uuid::parse_str(text.trim())
        .map_err(|_| RpcError::invalid_param(param, format!("{text:?} is not a batch id (UUID)")))
}
