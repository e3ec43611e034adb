//! RPC authentication: `Authorization: Bearer <JWT>`, HS256 with `RPC_JWT_SECRET`, `aud` = `sdmk-regnakes`
//! and `exp` required, `sub` = the Odoo user's login (recorded on audited actions).

use crate::config::Secret;
use actix_web::http::header::HeaderValue;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const AUDIENCE: &str = "sdmk-regnakes";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub exp: u64,
    #[serde(default)]
    pub sub: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Caller {
    /// The Odoo login, or `unknown` when the token names none.
    pub login: String,
}

pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl JwtVerifier {
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.leeway = 5;
        JwtVerifier {
            key: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, header: Option<&HeaderValue>) -> Result<Caller, String> {
        let value = header
            .ok_or("missing Authorization header (expected: Bearer <JWT>)")?
            .to_str()
            .map_err(|_| "Authorization header is not text")?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or("Authorization must use the Bearer scheme")?;
        let data = decode::<Claims>(token.trim(), &self.key, &self.validation)
            .map_err(|e| format!("invalid token: {}", describe(&e)))?;
        Ok(Caller {
            login: data.claims.sub.unwrap_or_else(|| "unknown".into()),
        })
    }
}

fn describe(err: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match err.kind() {
        K::ExpiredSignature => "expired",
        K::InvalidAudience => "wrong audience",
        K::InvalidSignature => "bad signature",
        K::MissingRequiredClaim(_) => "a required claim (exp, aud) is missing",
        K::InvalidAlgorithm => "algorithm must be HS256",
        _ => "malformed",
    }
}

/// Signs arbitrary claims with HS256 (for operators' scripts and tests that need unusual tokens).
pub fn sign_claims(claims: &serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of JSON claims cannot fail")
}

/// Issues a token (the demo prints one; tests and operators' scripts use it).
pub fn issue_token(secret: &Secret, sub: &str, valid_for_secs: u64) -> String {
    let exp = chrono::Utc::now().timestamp() as u64 + valid_for_secs;
    let claims = Claims {
        aud: AUDIENCE.into(),
        exp,
        sub: Some(sub.into()),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("HS256 signing of plain claims cannot fail")
}
