//! Params → typed requests. A bad param gets `-32602` naming the param and the problem.

use super::envelope::{ErrorCode, RpcError};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The first string in `value` holding a control character (NUL included), as a param path.
fn control_character_at(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) if text.chars().any(char::is_control) => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_character_at(item, &format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            control_character_at(item, &inner)
        }),
        _ => None,
    }
}

/// Typed params. Strings with control characters are refused first: no param of the contract may hold
/// one, and PostgreSQL would refuse a NUL deep inside a query.
pub fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    if let Some(path) = control_character_at(&params, "") {
        return Err(RpcError::invalid_param(
            &path,
            "contains a control character (such as NUL)",
        ));
    }
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
